#include "panel_layout.h"

#include <algorithm>

#include <imgui.h>
#include <nlohmann/json.hpp>

#include "actmap/io/files.h"
#include "ui_probe.h"

namespace actmap::app {

void PanelLayout::clamp() {
  left = std::clamp(left, 0.08f, 0.6f);
  middle = std::clamp(middle, 0.12f, 0.92f - left - 0.15f);
  model = std::clamp(model, 0.1f, 0.9f);
  grid = std::clamp(grid, 0.1f, 0.9f);
  output = std::clamp(output, 0.1f, 0.9f);
}

PanelLayout PanelLayout::load(const std::string& path) {
  PanelLayout l;
  try {
    const nlohmann::json j = nlohmann::json::parse(read_file_text(path));
    l.left = j.value("left", l.left);
    l.middle = j.value("middle", l.middle);
    l.model = j.value("model", l.model);
    l.grid = j.value("grid", l.grid);
    l.output = j.value("output", l.output);
  } catch (const std::exception&) {
    return standard();  // no file yet, or not ours to understand: the standard layout
  }
  l.clamp();
  return l;
}

bool PanelLayout::save(const std::string& path) const {
  try {
    const nlohmann::json j = {{"left", left}, {"middle", middle}, {"model", model}, {"grid", grid}, {"output", output}};
    write_file_atomic(path, j.dump(2) + "\n");
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

bool draw_splitter(const char* id, float x, float y, float w, float h, bool vertical, float extent, float* fraction) {
  ImGui::SetNextWindowPos(ImVec2(x, y));
  ImGui::SetNextWindowSize(ImVec2(w, h));
  ImGui::PushStyleVar(ImGuiStyleVar_WindowPadding, ImVec2(0, 0));
  ImGui::PushStyleVar(ImGuiStyleVar_WindowMinSize, ImVec2(1, 1));
  ImGui::PushStyleVar(ImGuiStyleVar_WindowBorderSize, 0.0f);
  const ImGuiWindowFlags flags = ImGuiWindowFlags_NoDecoration | ImGuiWindowFlags_NoMove | ImGuiWindowFlags_NoSavedSettings |
                                 ImGuiWindowFlags_NoBackground | ImGuiWindowFlags_NoFocusOnAppearing |
                                 ImGuiWindowFlags_NoScrollWithMouse;
  bool released = false;
  if (ImGui::Begin(id, nullptr, flags)) {
    ImGui::InvisibleButton("handle", ImVec2(w, h));
    probe::item(std::string("splitter/") + id);
    const bool hot = ImGui::IsItemHovered() || ImGui::IsItemActive();
    if (hot) ImGui::SetMouseCursor(vertical ? ImGuiMouseCursor_ResizeEW : ImGuiMouseCursor_ResizeNS);
    if (ImGui::IsItemActive() && extent > 0.0f) {
      const ImVec2 d = ImGui::GetIO().MouseDelta;
      *fraction += (vertical ? d.x : d.y) / extent;
    }
    released = ImGui::IsItemDeactivated();
    ImGui::GetWindowDrawList()->AddRectFilled(ImVec2(x, y), ImVec2(x + w, y + h),
                                              hot ? IM_COL32(255, 200, 60, 160) : IM_COL32(60, 60, 66, 255));
  }
  ImGui::End();
  ImGui::PopStyleVar(3);
  return released;
}

}  // namespace actmap::app
