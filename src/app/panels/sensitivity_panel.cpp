#include "sensitivity_panel.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>

#include <imgui.h>

#include "actmap/io/files.h"
#include "actmap/model/generator.h"
#include "ui_probe.h"

namespace actmap::app {

void SensitivityPanel::poll(EditorContext& ctx) {
  if (auto r = job_.take()) {
    result_ = std::move(*r);
    result_card_ = job_card_;
    probe::value("sensitivity_top", result_->ranking().front());
  }
  const std::string error = job_.take_error();
  if (!error.empty()) ctx.report("sensitivity: " + error);
}

void SensitivityPanel::draw(EditorContext& ctx) {
  const TapInfo* tap = ctx.selected_tap();
  if (!tap) return ImGui::TextDisabled("No layer selected.");
  ImGui::SetNextItemWidth(ImGui::GetFontSize() * 6);
  if (ImGui::InputInt("samples##sens", &samples_)) samples_ = std::clamp(samples_, 1, 4096);
  if (ImGui::IsItemHovered()) ImGui::SetTooltip("Latents (seeds 0, 1, ...) the change is averaged over");
  ImGui::SameLine();
  ImGui::SetNextItemWidth(ImGui::GetFontSize() * 7);
  const char* ops[] = {"ablate", "scale"};
  ImGui::Combo("##sensop", &op_, ops, 2);
  if (ImGui::IsItemHovered()) ImGui::SetTooltip("ablate: set the channel to 0; scale: multiply it by the factor");
  if (op_ == 1) {
    ImGui::SameLine();
    ImGui::SetNextItemWidth(ImGui::GetFontSize() * 6);
    ImGui::InputFloat("factor##sens", &factor_, 0.5f, 1.0f, "%.2f");
  }
  ImGui::SameLine();
  if (job_.running()) {
    ImGui::ProgressBar(job_.progress(), ImVec2(ImGui::GetFontSize() * 8, 0));
    ImGui::SameLine();
    if (ImGui::Button("Cancel##sens")) job_.cancel();
  } else if (ImGui::Button("Compute##sens")) {
    SensitivityOptions o;
    o.samples = samples_;
    o.ablate = op_ == 0;
    o.factor = factor_;
    o.synthesis = ctx.session().synthesis;
    if (o.synthesis.noise_mode == NoiseMode::Random) o.synthesis.noise_mode = NoiseMode::Const;
    const std::string card = ctx.session().card_path, device = ctx.options.device, name = tap->name;
    job_card_ = card;
    job_.start([card, device, name, o](const ProgressFn& progress) {
      return channel_sensitivity(*load_generator(load_model_card(card), device), name, o, progress);
    });
  }
  probe::item("sensitivity/compute");
  if (!result_ || result_->tap != tap->name || result_card_ != ctx.session().card_path) {
    ImGui::TextDisabled("How much the output changes when each channel alone is switched off. Compute to see.");
    return;
  }
  const SensitivityResult& r = *result_;
  ImGui::SameLine();
  if (ImGui::SmallButton("Export CSV")) {
    ctx.ask_for_file(kExportTitle, FileBrowser::Mode::Save, std::filesystem::current_path().string(),
                     tap->name + "-sensitivity.csv", {".csv"}, [this, &ctx](const std::string& path) { export_csv(ctx, path); });
  }
  ImGui::SetNextItemWidth(ImGui::GetFontSize() * 8);
  const char* sorts[] = {"by change", "by channel"};
  ImGui::Combo("sort", &sort_, sorts, 2);
  ImGui::SameLine();
  ImGui::TextDisabled("%d samples, %.0f ms; click a bar to select its channel", r.samples, r.ms);

  std::vector<int> order = r.ranking();
  if (sort_ == 1) std::sort(order.begin(), order.end());
  const double top = r.change.empty() ? 0.0 : *std::max_element(r.change.begin(), r.change.end());
  ImGui::BeginChild("bars");
  ImDrawList* dl = ImGui::GetWindowDrawList();
  const float row = ImGui::GetTextLineHeightWithSpacing(), label_w = ImGui::GetFontSize() * 4.5f;
  for (std::size_t i = 0; i < order.size(); ++i) {
    const int c = order[i];
    const double v = r.change[std::size_t(c)];
    ImGui::PushID(c);
    const ImVec2 p0 = ImGui::GetCursorScreenPos();
    const float w = ImGui::GetContentRegionAvail().x;
    if (ImGui::InvisibleButton("bar", ImVec2(w, row))) {
      ctx.selection.focus = c;
      ctx.selection.channels = {c};
      ctx.selection.last_clicked = c;
    }
    if (i < 3) probe::item("sensitivity/bar/" + std::to_string(i));
    const bool on = ctx.selection.channels.count(c) > 0;
    const float bar_w = top > 0 ? float(v / top) * (w - label_w - ImGui::GetFontSize() * 4) : 0.0f;
    dl->AddRectFilled(ImVec2(p0.x + label_w, p0.y + 2), ImVec2(p0.x + label_w + std::max(bar_w, 1.0f), p0.y + row - 2),
                      on ? IM_COL32(250, 180, 60, 255) : IM_COL32(90, 140, 220, 255));
    char text[64];
    std::snprintf(text, sizeof text, "ch %d", c);
    dl->AddText(p0, IM_COL32(220, 220, 220, 255), text);
    std::snprintf(text, sizeof text, "%.3f", v);
    dl->AddText(ImVec2(p0.x + label_w + bar_w + 4, p0.y), IM_COL32(200, 200, 200, 255), text);
    ImGui::PopID();
  }
  ImGui::EndChild();
}

void SensitivityPanel::export_csv(EditorContext& ctx, const std::string& path) {
  if (!result_) return;
  try {
    write_file_atomic(path, sensitivity_csv(*result_));
    ctx.report("wrote " + path);
  } catch (const std::exception& e) {
    ctx.report(e.what());
  }
}

}  // namespace actmap::app
