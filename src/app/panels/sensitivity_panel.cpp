// The depth sweep window ("Sweep depth" on an edit) and the channel sensitivity bar chart (the
// Channels window's Sensitivity tab). Both compute in the background on their own generator.
#include <algorithm>
#include <filesystem>

#include <imgui.h>

#include "actmap/files.h"
#include "actmap/generator.h"
#include "actmap/renderer.h"
#include "editor.h"
#include "ui_probe.h"

namespace actmap::app {

const char* Editor::kSensitivityCsvTitle = "Export sensitivity CSV";

void Editor::start_sweep(const std::string& edit_id) {
  const Session s = session();
  const std::string device = options_.device;
  sweep_edit_ = edit_id;
  sweep_.reset();
  show_sweep_ = true;
  sweep_job_.start([s, device, edit_id](const ProgressFn& progress) {
    Renderer renderer(load_generator(load_model_card(s.card_path), device));
    return sweep_edit(renderer, s, edit_id, progress);
  });
}

void Editor::draw_sweep_window() {
  if (!show_sweep_) return;
  ImGui::SetNextWindowSize(ImVec2(ImGui::GetFontSize() * 56, ImGui::GetFontSize() * 34), ImGuiCond_FirstUseEver);
  ImGui::SetNextWindowPos(ImGui::GetMainViewport()->GetCenter(), ImGuiCond_FirstUseEver, ImVec2(0.5f, 0.5f));
  if (ImGui::Begin("Depth sweep", &show_sweep_)) {
    probe::item("sweep/window");
    ImGui::TextWrapped("Edit %s applied at every layer in turn (strokes and rectangles rescaled to each layer, channels "
                       "mapped by fraction); the number is the mean |change| of the output's 8-bit pixels.",
                       sweep_edit_.c_str());
    if (sweep_job_.running()) {
      ImGui::ProgressBar(sweep_job_.progress(), ImVec2(ImGui::GetFontSize() * 16, 0), "sweeping");
      ImGui::SameLine();
      if (ImGui::Button("Cancel##sweep")) sweep_job_.cancel();
    }
    if (sweep_) {
      probe::value("sweep_taps", int(sweep_->steps.size()));
      ImGui::Text("%zu layers in %.0f ms", sweep_->steps.size(), sweep_->total_ms);
      if (sweep_tex_.valid()) {
        const float w = std::min(ImGui::GetContentRegionAvail().x, float(sweep_tex_.width()));
        ImGui::Image(sweep_tex_.handle(), ImVec2(w, w * float(sweep_tex_.height()) / float(sweep_tex_.width())));
        probe::item("sweep/strip");
      }
      if (ImGui::BeginTable("sweep", 4, ImGuiTableFlags_RowBg | ImGuiTableFlags_Borders | ImGuiTableFlags_SizingFixedFit)) {
        ImGui::TableSetupColumn("layer");
        ImGui::TableSetupColumn("size");
        ImGui::TableSetupColumn("mean |change|");
        ImGui::TableSetupColumn("ms");
        ImGui::TableHeadersRow();
        for (const auto& st : sweep_->steps) {
          ImGui::TableNextRow();
          ImGui::TableNextColumn();
          ImGui::TextUnformatted(st.tap.name.c_str());
          ImGui::TableNextColumn();
          ImGui::Text("%lldx%lld x%lld", (long long)st.tap.height, (long long)st.tap.width, (long long)st.tap.channels);
          ImGui::TableNextColumn();
          if (st.applied) ImGui::Text("%.3f", st.mean_abs_change);
          else ImGui::TextDisabled("skipped: %s", st.skipped.c_str());
          ImGui::TableNextColumn();
          if (st.applied) ImGui::Text("%.1f", st.ms);
        }
        ImGui::EndTable();
      }
    }
  }
  ImGui::End();
}

void Editor::draw_sensitivity_panel() {
  const TapInfo* tap = selected_tap();
  if (!tap) return ImGui::TextDisabled("No layer selected.");
  ImGui::SetNextItemWidth(ImGui::GetFontSize() * 6);
  if (ImGui::InputInt("samples##sens", &sens_samples_)) sens_samples_ = std::clamp(sens_samples_, 1, 4096);
  if (ImGui::IsItemHovered()) ImGui::SetTooltip("Latents (seeds 0, 1, ...) the change is averaged over");
  ImGui::SameLine();
  ImGui::SetNextItemWidth(ImGui::GetFontSize() * 7);
  const char* ops[] = {"ablate", "scale"};
  ImGui::Combo("##sensop", &sens_op_, ops, 2);
  if (ImGui::IsItemHovered()) ImGui::SetTooltip("ablate: set the channel to 0; scale: multiply it by the factor");
  if (sens_op_ == 1) {
    ImGui::SameLine();
    ImGui::SetNextItemWidth(ImGui::GetFontSize() * 6);
    ImGui::InputFloat("factor##sens", &sens_factor_, 0.5f, 1.0f, "%.2f");
  }
  ImGui::SameLine();
  if (sens_job_.running()) {
    ImGui::ProgressBar(sens_job_.progress(), ImVec2(ImGui::GetFontSize() * 8, 0));
    ImGui::SameLine();
    if (ImGui::Button("Cancel##sens")) sens_job_.cancel();
  } else if (ImGui::Button("Compute##sens")) {
    SensitivityOptions o;
    o.samples = sens_samples_;
    o.ablate = sens_op_ == 0;
    o.factor = sens_factor_;
    o.synthesis = session().synthesis;
    if (o.synthesis.noise_mode == NoiseMode::Random) o.synthesis.noise_mode = NoiseMode::Const;
    const std::string card = session().card_path, device = options_.device, name = tap->name;
    sens_job_card_ = card;
    sens_job_.start([card, device, name, o](const ProgressFn& progress) {
      return channel_sensitivity(*load_generator(load_model_card(card), device), name, o, progress);
    });
  }
  probe::item("sensitivity/compute");
  if (!sensitivity_ || sensitivity_->tap != tap->name || sens_result_card_ != session().card_path) {
    ImGui::TextDisabled("How much the output changes when each channel alone is switched off. Compute to see.");
    return;
  }
  const SensitivityResult& r = *sensitivity_;
  ImGui::SameLine();
  if (ImGui::SmallButton("Export CSV")) {
    browser_.open(kSensitivityCsvTitle, FileBrowser::Mode::Save, std::filesystem::current_path().string(),
                  tap->name + "-sensitivity.csv", {".csv"});
  }
  ImGui::SetNextItemWidth(ImGui::GetFontSize() * 8);
  const char* sorts[] = {"by change", "by channel"};
  ImGui::Combo("sort", &sens_sort_, sorts, 2);
  ImGui::SameLine();
  ImGui::TextDisabled("%d samples, %.0f ms; click a bar to select its channel", r.samples, r.ms);

  std::vector<int> order = r.ranking();
  if (sens_sort_ == 1) std::sort(order.begin(), order.end());
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
      focus_ = c;
      selected_ = {c};
      last_clicked_ = c;
    }
    if (i < 3) probe::item("sensitivity/bar/" + std::to_string(i));
    const bool on = selected_.count(c) > 0;
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

void Editor::take_research_results() {
  if (auto r = sweep_job_.take()) {
    sweep_ = std::move(*r);
    sweep_tex_.upload(sweep_strip(*sweep_));
  }
  if (auto r = sens_job_.take()) {
    sensitivity_ = std::move(*r);
    sens_result_card_ = sens_job_card_;
    probe::value("sensitivity_top", sensitivity_->ranking().front());
  }
  for (auto [what, error] : {std::pair<std::string, std::string>{"depth sweep", sweep_job_.take_error()},
                             {"sensitivity", sens_job_.take_error()}}) {
    if (!error.empty()) report(what + ": " + error);
  }
}

void Editor::export_sensitivity(const std::string& path) {
  if (!sensitivity_) return;
  try {
    write_file_atomic(path, sensitivity_csv(*sensitivity_));
    report("wrote " + path);
  } catch (const std::exception& e) {
    report(e.what());
  }
}

}  // namespace actmap::app
