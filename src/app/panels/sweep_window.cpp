#include "sweep_window.h"

#include <algorithm>

#include <imgui.h>

#include "actmap/model/generator.h"
#include "actmap/render/renderer.h"
#include "ui_probe.h"

namespace actmap::app {

void SweepWindow::start(const EditorContext& ctx, const std::string& edit_id) {
  const Session s = ctx.session();
  const std::string device = ctx.options.device;
  edit_ = edit_id;
  result_.reset();
  open_ = true;
  job_.start([s, device, edit_id](const ProgressFn& progress) {
    Renderer renderer(load_generator(load_model_card(s.card_path), device));
    return sweep_edit(renderer, s, edit_id, progress);
  });
}

void SweepWindow::poll(EditorContext& ctx) {
  if (auto r = job_.take()) {
    result_ = std::move(*r);
    strip_.upload(sweep_strip(*result_));
  }
  const std::string error = job_.take_error();
  if (!error.empty()) ctx.report("depth sweep: " + error);
}

void SweepWindow::draw() {
  if (!open_) return;
  ImGui::SetNextWindowSize(ImVec2(ImGui::GetFontSize() * 56, ImGui::GetFontSize() * 34), ImGuiCond_FirstUseEver);
  ImGui::SetNextWindowPos(ImGui::GetMainViewport()->GetCenter(), ImGuiCond_FirstUseEver, ImVec2(0.5f, 0.5f));
  if (ImGui::Begin("Depth sweep", &open_)) {
    probe::item("sweep/window");
    ImGui::TextWrapped("Edit %s applied at every layer in turn (strokes and rectangles rescaled to each layer, channels "
                       "mapped by fraction); the number is the mean |change| of the output's 8-bit pixels.",
                       edit_.c_str());
    if (job_.running()) {
      ImGui::ProgressBar(job_.progress(), ImVec2(ImGui::GetFontSize() * 16, 0), "sweeping");
      ImGui::SameLine();
      if (ImGui::Button("Cancel##sweep")) job_.cancel();
    }
    if (result_) {
      probe::value("sweep_taps", int(result_->steps.size()));
      ImGui::Text("%zu layers in %.0f ms", result_->steps.size(), result_->total_ms);
      if (strip_.valid()) {
        const float w = std::min(ImGui::GetContentRegionAvail().x, float(strip_.width()));
        ImGui::Image(strip_.handle(), ImVec2(w, w * float(strip_.height()) / float(strip_.width())));
        probe::item("sweep/strip");
      }
      if (ImGui::BeginTable("sweep", 4, ImGuiTableFlags_RowBg | ImGuiTableFlags_Borders | ImGuiTableFlags_SizingFixedFit)) {
        ImGui::TableSetupColumn("layer");
        ImGui::TableSetupColumn("size");
        ImGui::TableSetupColumn("mean |change|");
        ImGui::TableSetupColumn("ms");
        ImGui::TableHeadersRow();
        for (const auto& st : result_->steps) {
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

}  // namespace actmap::app
