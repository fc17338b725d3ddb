#include "dissect_panel.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include <imgui.h>

#include "actmap/model/generator.h"
#include "job_progress.h"
#include "ui_probe.h"

namespace actmap::app {

void DissectPanel::poll(EditorContext& ctx) {
  if (auto r = job_.take()) dissection_ = std::move(*r);
  if (auto r = effect_job_.take()) effect_ = *r;
  for (const auto& [what, error] : {std::pair<std::string, std::string>{"dissection", job_.take_error()},
                                    {"measuring the effect", effect_job_.take_error()}}) {
    if (!error.empty()) ctx.report(what + ": " + error);
  }
  if (probe::enabled()) probe::value("effect", effect_ ? nlohmann::json{effect_->inside, effect_->outside} : nlohmann::json());
}

void DissectPanel::draw_region_overlay(const EditorContext& ctx, float x, float y, float zoom) {
  const int w = ctx.render.output().width(), h = ctx.render.output().height();
  if (region_.width != w || region_.height != h) {
    region_.width = w;
    region_.height = h;
    region_.inside.assign(std::size_t(w) * std::size_t(h), 0);
    region_dirty_ = true;
  }
  if (ImGui::IsItemHovered() && ImGui::IsMouseDown(ImGuiMouseButton_Left)) {
    const ImVec2 m = ImGui::GetIO().MousePos;
    const float cx = (m.x - x) / zoom, cy = (m.y - y) / zoom;
    const std::uint8_t value = ImGui::GetIO().KeyShift ? 0 : 1;
    const float r = region_brush_;
    for (int py = std::max(0, int(cy - r)); py <= std::min(h - 1, int(cy + r)); ++py) {
      for (int px = std::max(0, int(cx - r)); px <= std::min(w - 1, int(cx + r)); ++px) {
        const float dx = float(px) + 0.5f - cx, dy = float(py) + 0.5f - cy;
        if (dx * dx + dy * dy <= r * r) region_.inside[std::size_t(py) * std::size_t(w) + std::size_t(px)] = value;
      }
    }
    region_dirty_ = true;
  }
  if (region_dirty_) {
    Image im;
    im.width = w;
    im.height = h;
    im.channels = 4;
    im.pixels.resize(std::size_t(w) * std::size_t(h) * 4);
    for (std::size_t i = 0; i < region_.inside.size(); ++i) {
      const bool in = region_.inside[i] != 0;
      im.pixels[i * 4 + 0] = 255;
      im.pixels[i * 4 + 1] = 40;
      im.pixels[i * 4 + 2] = 40;
      im.pixels[i * 4 + 3] = in ? 130 : 0;
    }
    region_tex_.upload(im);
    region_dirty_ = false;
  }
  if (region_tex_.valid()) {
    ImGui::GetWindowDrawList()->AddImage(region_tex_.handle(), ImVec2(x, y), ImVec2(x + float(w) * zoom, y + float(h) * zoom));
  }
  if (probe::enabled()) probe::value("region_pixels", region_.count());
}

void DissectPanel::draw(EditorContext& ctx) {
  const TapInfo* tap = ctx.selected_tap();
  if (!tap) return ImGui::TextDisabled("No layer selected.");
  const std::int64_t painted = region_.count();
  if (painted == 0) {
    ImGui::TextUnformatted("Region: none yet. Paint it on the output in Dissect mode.");
  } else {
    ImGui::Text("Region: %lld of %d x %d output pixels", (long long)painted, region_.width, region_.height);
  }
  probe::value("dissect_region_text", painted == 0 ? "none" : "painted");
  ImGui::SameLine();
  if (ImGui::SmallButton("Clear")) {
    std::fill(region_.inside.begin(), region_.inside.end(), 0);
    region_dirty_ = true;
  }
  ImGui::SameLine();
  if (ctx.output_mode != OutputMode::Dissect && ImGui::SmallButton("Paint it")) ctx.output_mode = OutputMode::Dissect;
  tip("Switch the output to Dissect mode: drag on the image to paint the region, Shift+drag to erase");
  ImGui::SetNextItemWidth(ImGui::GetFontSize() * 8);
  ImGui::SliderFloat("brush", &region_brush_, 0.5f, 16.0f, "%.1f px");
  tip("Radius of the region brush, in output pixels");

  ImGui::Text("Layer %s: %lld channels", tap->name.c_str(), (long long)tap->channels);
  ImGui::SetNextItemWidth(ImGui::GetFontSize() * 6);
  if (ImGui::InputInt("samples##dissect", &samples_)) samples_ = std::clamp(samples_, 1, 4096);
  tip("Latents (seeds 0, 1, ...) the scores are computed over");
  ImGui::SameLine();
  ImGui::SetNextItemWidth(ImGui::GetFontSize() * 6);
  if (ImGui::InputInt("top", &top_)) top_ = std::clamp(top_, 1, int(tap->channels));
  tip("How many of the best units the buttons below edit");
  ImGui::SameLine();
  ImGui::SetNextItemWidth(ImGui::GetFontSize() * 6);
  ImGui::SliderFloat("quantile", &quantile_, 0.5f, 0.999f, "%.3f");
  tip("A unit is 'on' where its activation exceeds this quantile of all its values (GAN Dissection uses 0.99)");

  if (job_.running()) {
    job_progress(job_.progress(), "dissecting");
    ImGui::SameLine();
    if (ImGui::Button("Cancel##dissect")) job_.cancel();
  } else {
    ImGui::BeginDisabled(painted == 0 || painted == std::int64_t(region_.inside.size()));
    if (ImGui::Button("Run dissection")) {
      DissectOptions o;
      o.samples = samples_;
      o.quantile = quantile_;
      const std::string card = ctx.session().card_path, device = ctx.options.device, name = tap->name;
      const Region region = region_;
      dissection_.reset();
      effect_.reset();
      job_.start([card, device, name, o, region](const ProgressFn& progress) {
        const auto gen = load_generator(load_model_card(card), device);
        return dissect_tap(*gen, name, region, o, progress);
      });
    }
    probe::item("dissect/run");
    tip("Rank this layer's channels by how their activations concentrate inside the painted region");
    ImGui::EndDisabled();
  }

  if (!dissection_ || dissection_->tap != tap->name) return;
  const DissectResult& d = *dissection_;
  const int top = std::min<int>(top_, int(d.units.size()));
  std::vector<int> best;
  for (int i = 0; i < top; ++i) best.push_back(d.units[std::size_t(i)].channel);
  auto apply = [&](bool ablate) {
    try {
      const Edit e = unit_edit(d.tap, best, ablate, boost_factor_);
      const std::vector<Edit> base = ctx.session().edits;
      const auto clusters = ctx.session().clusters;
      ctx.history().add_edit(e);
      const std::string card = ctx.session().card_path, device = ctx.options.device;
      const Region region = region_;
      const int samples = samples_;
      effect_.reset();
      char label[96];
      std::snprintf(label, sizeof label, "%s top %d of %s", ablate ? "ablating" : "boosting", top, d.tap.c_str());
      effect_label_ = label;
      effect_job_.start([card, device, base, e, clusters, region, samples](const ProgressFn& progress) {
        const auto gen = load_generator(load_model_card(card), device);
        return measure_edit_effect(*gen, base, e, clusters, region, samples, 0, progress);
      });
    } catch (const std::exception& ex) {
      ctx.report(ex.what());
    }
  };
  char ablate_label[48], boost_label[48];
  std::snprintf(ablate_label, sizeof ablate_label, "Ablate top %d", top);
  std::snprintf(boost_label, sizeof boost_label, "Boost top %d", top);
  if (ImGui::Button(ablate_label)) apply(true);
  probe::item("dissect/ablate");
  tip("Add an edit that switches these units off (op ablate), then measure what it does inside and outside the region");
  ImGui::SameLine();
  if (ImGui::Button(boost_label)) apply(false);
  probe::item("dissect/boost");
  tip("Add an edit that multiplies these units by the factor, then measure its effect");
  ImGui::SameLine();
  ImGui::SetNextItemWidth(ImGui::GetFontSize() * 5);
  ImGui::InputFloat("factor", &boost_factor_, 0.5f, 1.0f, "%.1f");
  if (effect_job_.running()) {
    job_progress(effect_job_.progress(), "measuring");
  } else if (effect_) {
    ImGui::TextWrapped("Effect of %s over %d samples: mean |change| %.2f inside the region, %.2f outside (8-bit values)",
                effect_label_.c_str(), effect_->samples, effect_->inside, effect_->outside);
  }
  if (probe::enabled()) probe::value("dissect_best", best);
  if (ImGui::BeginTable("units", 5, ImGuiTableFlags_Borders | ImGuiTableFlags_RowBg | ImGuiTableFlags_ScrollY | ImGuiTableFlags_SizingFixedFit,
                        ImVec2(0, ImGui::GetContentRegionAvail().y))) {
    ImGui::TableSetupScrollFreeze(0, 1);
    for (const char* h : {"rank", "channel", "IoU", "inside", "in/out"}) ImGui::TableSetupColumn(h);
    ImGui::TableHeadersRow();
    for (std::size_t i = 0; i < d.units.size() && i < 64; ++i) {
      const UnitScore& u = d.units[i];
      ImGui::TableNextRow();
      ImGui::TableNextColumn();
      char label[32];
      std::snprintf(label, sizeof label, "%zu##u%zu", i + 1, i);
      if (ImGui::Selectable(label, int(i) < top, ImGuiSelectableFlags_SpanAllColumns)) {
        ctx.selection.focus = u.channel;
        ctx.selection.channels = {u.channel};
      }
      tip("Open this channel in the slice editor");
      ImGui::TableNextColumn();
      ImGui::Text("%d", u.channel);
      ImGui::TableNextColumn();
      ImGui::Text("%.4f", u.iou);
      ImGui::TableNextColumn();
      ImGui::Text("%.3f", u.inside_mean);
      ImGui::TableNextColumn();
      if (std::isinf(u.ratio)) ImGui::TextUnformatted("inf");
      else ImGui::Text("%.2f", u.ratio);
    }
    ImGui::EndTable();
  }
}

}  // namespace actmap::app
