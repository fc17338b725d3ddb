#include "history_panel.h"

#include <optional>

#include <imgui.h>

namespace actmap::app {

void HistoryPanel::draw(EditorContext& ctx) {
  const std::vector<std::string> steps = ctx.history().descriptions();
  const std::size_t pos = ctx.history().position();
  ImGui::BeginDisabled(!ctx.history().can_undo());
  if (ImGui::Button("Undo")) ctx.history().undo();
  ImGui::EndDisabled();
  if (ImGui::IsItemHovered()) ImGui::SetTooltip("Ctrl+Z");
  ImGui::SameLine();
  ImGui::BeginDisabled(!ctx.history().can_redo());
  if (ImGui::Button("Redo")) ctx.history().redo();
  ImGui::EndDisabled();
  if (ImGui::IsItemHovered()) ImGui::SetTooltip("Ctrl+Shift+Z or Ctrl+Y");
  ImGui::SameLine();
  ImGui::TextDisabled("click a step to go back or forward to it");
  ImGui::BeginChild("steps");
  std::optional<std::size_t> target;
  if (ImGui::Selectable("(as opened)", pos == 0)) target = 0;
  for (std::size_t i = 0; i < steps.size(); ++i) {
    ImGui::PushID(int(i));
    if (i >= pos) ImGui::PushStyleColor(ImGuiCol_Text, ImGui::GetColorU32(ImGuiCol_TextDisabled));
    if (ImGui::Selectable(steps[i].c_str(), i + 1 == pos)) target = i + 1;
    if (i >= pos) ImGui::PopStyleColor();
    ImGui::PopID();
  }
  ImGui::EndChild();
  if (target) {
    while (ctx.history().position() > *target && ctx.history().undo()) {
    }
    while (ctx.history().position() < *target && ctx.history().redo()) {
    }
  }
}

}  // namespace actmap::app
