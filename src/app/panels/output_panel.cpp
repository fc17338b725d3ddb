// The output (edited and original, toggle, difference, zoom, export) and the status bar.
#include <algorithm>
#include <cmath>
#include <filesystem>

#include <imgui.h>

#include "editor.h"
#include "ui_probe.h"

namespace actmap::app {

void Editor::draw_output_panel() {
  int mode = int(output_mode_);
  ImGui::RadioButton("Side by side", &mode, int(OutputMode::SideBySide));
  if (ImGui::IsItemHovered()) ImGui::SetTooltip("The edited output and the original (no edits) next to each other");
  ImGui::SameLine();
  ImGui::RadioButton("Toggle", &mode, int(OutputMode::Toggle));
  if (ImGui::IsItemHovered()) ImGui::SetTooltip("One image; hold the mouse on it (or tick Original) to see the original");
  ImGui::SameLine();
  ImGui::RadioButton("Difference", &mode, int(OutputMode::Difference));
  if (ImGui::IsItemHovered()) ImGui::SetTooltip("|edited - original| per colour channel, amplified 4x");
  ImGui::SameLine();
  ImGui::RadioButton("Dissect", &mode, int(OutputMode::Dissect));
  probe::item("output/dissect");
  if (ImGui::IsItemHovered()) ImGui::SetTooltip("Paint a region on the output (drag; Shift+drag erases) for the Dissect tab");
  output_mode_ = OutputMode(mode);
  ImGui::SetNextItemWidth(ImGui::GetFontSize() * 6);
  ImGui::SliderInt("Zoom", &output_zoom_, 1, 16, "%dx");
  if (ImGui::IsItemHovered()) ImGui::SetTooltip("Nearest-neighbour zoom: every output pixel stays sharp");
  ImGui::SameLine();
  if (ImGui::Button("Export PNG")) {
    browser_.open("Export output", FileBrowser::Mode::Save,
                  session_path_.empty() ? std::filesystem::current_path().string()
                                        : std::filesystem::path(session_path_).parent_path().string(),
                  "output.png", {".png"});
  }
  probe::item("output/export");
  if (ImGui::IsItemHovered()) ImGui::SetTooltip("Save the edited output at its native size: the same pixels actmap-cli render writes");
  ImGui::SameLine();
  if (ImGui::Button("Export 8x")) {
    browser_.open("Export output (enlarged)", FileBrowser::Mode::Save, std::filesystem::current_path().string(),
                  "output-8x.png", {".png"});
  }
  if (ImGui::IsItemHovered()) ImGui::SetTooltip("Save the edited output enlarged 8 times (nearest neighbour)");
  if (output_mode_ == OutputMode::Toggle) {
    ImGui::SameLine();
    ImGui::Checkbox("Original", &show_original_);
  }

  if (!output_tex_.valid()) {
    ImGui::TextDisabled(session().card_path.empty() ? "No model." : "Rendering...");
    return;
  }
  // Fit the zoom to the panel when it would not fit.
  const ImVec2 avail = ImGui::GetContentRegionAvail();
  const float ow = float(output_tex_.width()), oh = float(output_tex_.height());
  const int panes = output_mode_ == OutputMode::SideBySide ? 2 : 1;
  const float gap = ImGui::GetStyle().ItemSpacing.x;
  const float fit = std::floor(std::min((avail.x - gap * float(panes - 1)) / (ow * float(panes)), (avail.y - ImGui::GetFontSize() * 1.5f) / oh));
  const float zoom = std::max(1.0f, std::min(float(output_zoom_), fit));
  const ImVec2 size(ow * zoom, oh * zoom);

  auto labelled = [&](const char* label, const Texture& tex, const char* probe_name) {
    ImGui::BeginGroup();
    ImGui::TextUnformatted(label);
    ImGui::Image(tex.handle(), size);
    probe::item(probe_name);
    ImGui::EndGroup();
  };
  switch (output_mode_) {
    case OutputMode::SideBySide:
      labelled("edited", output_tex_, "output/edited");
      ImGui::SameLine();
      labelled("original", original_tex_.valid() ? original_tex_ : output_tex_, "output/original");
      break;
    case OutputMode::Toggle: {
      const bool original = show_original_ || (ImGui::IsMouseDown(0) && ImGui::IsMouseHoveringRect(ImGui::GetCursorScreenPos(), ImVec2(ImGui::GetCursorScreenPos().x + size.x, ImGui::GetCursorScreenPos().y + size.y + ImGui::GetFontSize() * 1.5f)));
      labelled(original ? "original" : "edited", original && original_tex_.valid() ? original_tex_ : output_tex_, "output/edited");
      break;
    }
    case OutputMode::Difference:
      labelled("|edited - original| x4", diff_tex_.valid() ? diff_tex_ : output_tex_, "output/edited");
      break;
    case OutputMode::Dissect: {
      ImGui::BeginGroup();
      ImGui::TextUnformatted("region: drag to paint, Shift+drag to erase");
      const ImVec2 p = ImGui::GetCursorScreenPos();
      ImGui::Image(output_tex_.handle(), size);
      probe::item("output/edited");
      draw_region_overlay(p.x, p.y, zoom);
      ImGui::EndGroup();
      break;
    }
  }
}

void Editor::draw_status_bar() {
  const ImVec4 red(1.0f, 0.45f, 0.45f, 1.0f);
  if (shown_stamp_ > 0) {
    if (good_reply_) {
      const RenderReply& r = *good_reply_;
      ImGui::Text("render %.1f ms (from layer %zu) + view %.1f ms", r.render_ms, r.first_stage, r.view_ms);
      ImGui::SameLine();
    }
  } else if (!session().card_path.empty()) {
    ImGui::Text("loading the model...");
    ImGui::SameLine();
  }
  ImGui::TextDisabled("| %s | %.0f fps", options_.device.c_str(), ImGui::GetIO().Framerate);
  if (!latencies_ms_.empty()) {
    ImGui::SameLine();
    ImGui::TextDisabled("| change to screen %.0f ms", latencies_ms_.back());
  }
  if (worker_.busy()) {
    ImGui::SameLine();
    ImGui::TextDisabled("| rendering");
  }
  ImGui::SameLine();
  if (!render_error_.empty()) {
    ImGui::TextColored(red, "| %s", render_error_.c_str());
  } else if (!status_message_.empty() && ImGui::GetTime() - status_time_ < 6.0) {
    ImGui::TextUnformatted(("| " + status_message_).c_str());
  }
  if (ImGui::IsItemHovered() && !log_.empty()) {
    std::string all;
    for (const auto& l : log_) all += l + "\n";
    ImGui::SetTooltip("%s", all.c_str());
  }
}

}  // namespace actmap::app
