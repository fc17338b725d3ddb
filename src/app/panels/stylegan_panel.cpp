#include "stylegan_panel.h"

#include <algorithm>
#include <cstdio>

#include <imgui.h>

#include "ui_probe.h"

namespace actmap::app {

namespace {

// The resolution a W+ row styles: row 0 the 4x4 convolution, then two rows per resolution (the
// ToRGB before a block shares its row with that block's first convolution).
int row_resolution(std::size_t row) { return 4 << ((row + 1) / 2); }

}  // namespace

void StyleGanPanel::add_w_edit(EditorContext& ctx, const std::string& op, nlohmann::json params) {
  std::vector<std::int64_t> rows;
  for (std::size_t r = 0; r < rows_.size(); ++r) {
    if (rows_[r]) rows.push_back(std::int64_t(r));
  }
  if (rows.empty()) {
    ctx.report("Tick at least one W+ row first");
    return;
  }
  try {
    Edit e;
    e.tap = "mapping";
    e.channels = ChannelSelector::from_json(rows, "/channels");
    e.op = op;
    e.params = std::move(params);
    ctx.history().add_edit(std::move(e));
  } catch (const std::exception& err) {
    ctx.report(err.what());
  }
}

void StyleGanPanel::draw_class_picker(EditorContext& ctx) {
  const std::int64_t c_dim = ctx.c_dim();
  const SynthesisOptions& o = ctx.session().synthesis;
  const bool vector = !o.c.empty();  // an explicit c vector from the session file
  const std::int64_t current = o.class_index.value_or(0);
  // One undo step per choice; the class replaces a c vector.
  auto choose = [&ctx, &o](std::int64_t k) {
    SynthesisOptions n = o;
    n.class_index = k;
    n.c.clear();
    ctx.history().set_synthesis(n);
  };
  ImGui::TextUnformatted("Class");
  ImGui::SameLine();
  if (ImGui::ArrowButton("##class-prev", ImGuiDir_Left) && !vector && current > 0) choose(current - 1);
  probe::item("sg/class-prev");
  ImGui::SameLine(0, ImGui::GetStyle().ItemInnerSpacing.x);
  ImGui::SetNextItemWidth(ImGui::GetFontSize() * 7);
  const std::string preview = vector ? "c vector" : "class " + std::to_string(current);
  if (ImGui::BeginCombo("##class", preview.c_str())) {
    for (std::int64_t k = 0; k < c_dim; ++k) {
      const bool selected = !vector && k == current;
      if (ImGui::Selectable(("class " + std::to_string(k)).c_str(), selected) && !selected) choose(k);
      probe::item("sg/class/" + std::to_string(k));
      if (selected) ImGui::SetItemDefaultFocus();
    }
    ImGui::EndCombo();
  }
  probe::item("sg/class");
  tip("The label of this conditional generator: class k is the one-hot c with a 1 at k");
  ImGui::SameLine(0, ImGui::GetStyle().ItemInnerSpacing.x);
  if (ImGui::ArrowButton("##class-next", ImGuiDir_Right) && (vector || current + 1 < c_dim)) choose(vector ? 0 : current + 1);
  probe::item("sg/class-next");
  ImGui::SameLine();
  ImGui::TextDisabled("c_dim %lld%s", static_cast<long long>(c_dim), vector ? ", c vector from the session" : "");
  probe::value("c_dim", c_dim);
}

void StyleGanPanel::draw(EditorContext& ctx) {
  if (!ctx.is_stylegan()) {
    ImGui::TextWrapped("Truncation, noise and W+ edits are for StyleGAN models; this model has no mapping network.");
    return;
  }
  const std::size_t num_ws = std::size_t(ctx.taps().front().channels);
  if (rows_.size() != num_ws) rows_.assign(num_ws, false);
  if (probe::enabled()) {
    probe::value("synthesis", ctx.session().synthesis.to_json());
    std::vector<int> ticked;
    for (std::size_t r = 0; r < num_ws; ++r) {
      if (rows_[r]) ticked.push_back(int(r));
    }
    probe::value("ws_rows", ticked);
  }

  if (ctx.c_dim() > 0) draw_class_picker(ctx);

  // Synthesis settings: one undo step per slider drag.
  SynthesisOptions o = ctx.session().synthesis;
  float psi = float(o.truncation_psi);
  ImGui::TextUnformatted("Truncation psi");
  ImGui::SameLine();
  ImGui::SetNextItemWidth(ImGui::GetFontSize() * 12);
  if (ImGui::SliderFloat("##psi", &psi, 0.0f, 1.5f, "%.2f")) {
    o.truncation_psi = psi;
    ctx.history().set_synthesis(o, "truncation");
  }
  if (ImGui::IsItemDeactivated()) ctx.history().end_gesture();
  probe::item("sg/psi");
  tip("w_avg + psi (w - w_avg): 1 = no truncation, lower = closer to the average image");
  bool all_rows = !o.truncation_cutoff.has_value();
  if (ImGui::Checkbox("All rows", &all_rows)) {
    o.truncation_cutoff = all_rows ? std::nullopt : std::optional<std::int64_t>(std::int64_t(num_ws / 2));
    ctx.history().set_synthesis(o);
  }
  tip("Truncate every W+ row, or only the first rows (the coarse styles)");
  if (o.truncation_cutoff) {
    ImGui::SameLine();
    int cutoff = int(*o.truncation_cutoff);
    ImGui::SetNextItemWidth(ImGui::GetFontSize() * 7);
    if (ImGui::SliderInt("first rows", &cutoff, 0, int(num_ws))) {
      o.truncation_cutoff = cutoff;
      ctx.history().set_synthesis(o, "cutoff");
    }
    if (ImGui::IsItemDeactivated()) ctx.history().end_gesture();
  }
  const bool sg3 = ctx.family() == "stylegan3";
  if (sg3) {
    // The input transform, as gen_images.py's --rotate and --translate: one undo step per drag.
    ImGui::TextUnformatted("Input transform");
    float rotate = float(o.input_rotate);
    ImGui::SetNextItemWidth(ImGui::GetFontSize() * 12);
    if (ImGui::SliderFloat("rotate", &rotate, -180.0f, 180.0f, "%.1f deg")) {
      o.input_rotate = rotate;
      ctx.history().set_synthesis(o, "input-rotate");
    }
    if (ImGui::IsItemDeactivated()) ctx.history().end_gesture();
    probe::item("sg/input-rotate");
    tip("Turns the image by rotating the Fourier-feature input (StyleGAN3's input transform), degrees");
    float translate[2] = {float(o.input_translate[0]), float(o.input_translate[1])};
    ImGui::SetNextItemWidth(ImGui::GetFontSize() * 12);
    if (ImGui::DragFloat2("translate", translate, 0.005f, -2.0f, 2.0f, "%.3f")) {
      o.input_translate = {translate[0], translate[1]};
      ctx.history().set_synthesis(o, "input-translate");
    }
    if (ImGui::IsItemDeactivated()) ctx.history().end_gesture();
    probe::item("sg/input-translate");
    tip("Moves the image by translating the input: x and y in image widths (drag, or Ctrl+click to type)");
    if (o.has_input_transform() && ImGui::SmallButton("Reset transform")) {
      o.input_rotate = 0.0;
      o.input_translate = {0.0, 0.0};
      ctx.history().set_synthesis(o);
    }
  }
  if (!sg3) ImGui::TextUnformatted("Noise");
  for (NoiseMode m : {NoiseMode::Const, NoiseMode::Random, NoiseMode::None}) {
    if (sg3) break;  // StyleGAN3 has no noise inputs
    ImGui::SameLine();
    if (ImGui::RadioButton(noise_mode_name(m), m == o.noise_mode) && m != o.noise_mode) {
      o.noise_mode = m;
      ctx.history().set_synthesis(o);
    }
    probe::item(std::string("sg/noise/") + noise_mode_name(m));
    tip("const: the model's stored noise maps; random: fresh noise from the noise seed; none: no noise");
  }
  if (o.noise_mode == NoiseMode::Random) {
    std::uint64_t seed = o.noise_seed;
    const std::uint64_t step = 1;
    ImGui::SetNextItemWidth(ImGui::GetFontSize() * 7);
    if (ImGui::InputScalar("noise seed", ImGuiDataType_U64, &seed, &step, nullptr, "%llu")) {
      o.noise_seed = seed;
      ctx.history().set_synthesis(o, "noise-seed");
    }
    if (ImGui::IsItemDeactivated()) ctx.history().end_gesture();
  }

  ImGui::Separator();
  ImGui::TextUnformatted("W+ rows");
  ImGui::PushTextWrapPos(0.0f);
  ImGui::TextDisabled("Tick rows, then mix them from another seed or edit them. Each action is an edit at 'mapping'.");
  ImGui::PopTextWrapPos();
  if (ImGui::SmallButton("All")) std::fill(rows_.begin(), rows_.end(), true);
  ImGui::SameLine();
  if (ImGui::SmallButton("None")) std::fill(rows_.begin(), rows_.end(), false);
  if (!sg3) ImGui::SameLine();
  if (!sg3 && ImGui::SmallButton("Coarse")) {
    for (std::size_t r = 0; r < num_ws; ++r) rows_[r] = row_resolution(r) <= 8;
  }
  if (!sg3) tip("Rows styling 4x4 and 8x8: pose, face shape");
  if (!sg3) ImGui::SameLine();
  if (!sg3 && ImGui::SmallButton("Middle")) {
    for (std::size_t r = 0; r < num_ws; ++r) rows_[r] = row_resolution(r) >= 16 && row_resolution(r) <= 32;
  }
  if (!sg3) tip("Rows styling 16x16 and 32x32: features, hair style");
  if (!sg3) ImGui::SameLine();
  if (!sg3 && ImGui::SmallButton("Fine")) {
    for (std::size_t r = 0; r < num_ws; ++r) rows_[r] = row_resolution(r) >= 64;
  }
  if (!sg3) tip("Rows styling 64x64 and up: colours, micro-structure");
  const int per_line = std::max(1, int(ImGui::GetContentRegionAvail().x / (ImGui::GetFontSize() * 4.2f)));
  for (std::size_t r = 0; r < num_ws; ++r) {
    char label[32];
    std::snprintf(label, sizeof label, "%zu##row", r);
    bool on = rows_[r];
    if (r % std::size_t(per_line) != 0) ImGui::SameLine();
    if (ImGui::Checkbox(label, &on)) rows_[r] = on;
    probe::item("sg/row/" + std::to_string(r));
    if (ImGui::IsItemHovered()) {
      const int res = row_resolution(r);
      if (sg3) {
        ImGui::SetTooltip("W+ row %zu: styles layer %s", r, r == 0 ? "input" : ("L" + std::to_string(r - 1)).c_str());
      } else {
        ImGui::SetTooltip("W+ row %zu: styles the %dx%d layers%s", r, res, res, r + 1 == num_ws ? " (the last ToRGB)" : "");
      }
    }
  }

  std::uint64_t other = other_seed_;
  const std::uint64_t step = 1;
  ImGui::SetNextItemWidth(ImGui::GetFontSize() * 8);
  if (ImGui::InputScalar("Other seed", ImGuiDataType_U64, &other, &step, nullptr, "%llu")) other_seed_ = other;
  probe::item("sg/other-seed");
  tip("The second latent that style mixing, swapping and interpolation take from");
  if (ImGui::Button("Style mix")) add_w_edit(ctx, "style_mix", {{"seed", other_seed_}});
  probe::item("sg/mix");
  tip("The ticked rows come from the other seed's W+");
  ImGui::SameLine();
  if (ImGui::Button("Swap")) add_w_edit(ctx, "w_swap", {{"seed", other_seed_}, {"show", "other"}});
  tip("Show the other seed with this latent's ticked rows");
  ImGui::SameLine();
  ImGui::SetNextItemWidth(ImGui::GetFontSize() * 6);
  ImGui::SliderFloat("##pos", &interp_position_, 0.0f, 1.0f, "t %.2f");
  ImGui::SameLine();
  if (ImGui::Button("Interpolate")) add_w_edit(ctx, "interpolate", {{"seed", other_seed_}, {"position", interp_position_}, {"space", "w"}});
  tip("Lerp the ticked rows towards the other seed's W (the position can be tuned in the edit stack; space z slerps z)");
  if (ImGui::Button("Negate")) add_w_edit(ctx, "w_negate", {{"about", "average"}});
  tip("Reflect the ticked rows through the average W");
  ImGui::SameLine();
  ImGui::SetNextItemWidth(ImGui::GetFontSize() * 6);
  ImGui::SliderFloat("##noise", &w_noise_strength_, 0.0f, 4.0f, "sd %.2f");
  ImGui::SameLine();
  if (ImGui::Button("Add noise")) add_w_edit(ctx, "w_noise", {{"strength", w_noise_strength_}, {"seed", other_seed_}});
  tip("Add seeded Gaussian noise to the ticked rows");
}

}  // namespace actmap::app
