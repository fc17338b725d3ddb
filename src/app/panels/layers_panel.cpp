// The model's taps as a list with a preview of each.
#include "layers_panel.h"

#include <algorithm>
#include <cstdio>

#include <imgui.h>

#include "ui_probe.h"

namespace actmap::app {

void LayersPanel::draw(EditorContext& ctx) {
  const float thumb = ImGui::GetFontSize() * 2.2f;
  std::set<std::string> edited_taps;
  for (const Edit& e : ctx.session().edits) {
    if (e.enabled) edited_taps.insert(e.tap);
  }
  for (std::size_t i = 0; i < ctx.taps().size(); ++i) {
    const TapInfo& t = ctx.taps()[i];
    ImGui::PushID(int(i));
    const ImVec2 start = ImGui::GetCursorScreenPos();
    char label[160];
    std::snprintf(label, sizeof label, "%s%s", t.name.c_str(), edited_taps.count(t.name) ? "  *" : "");
    if (ImGui::Selectable("##tap", ctx.selection.tap == i, 0, ImVec2(0, thumb))) {
      if (ctx.selection.tap != i) {
        ctx.selection.tap = i;
        ctx.selection.focus = std::min<int>(ctx.selection.focus, int(t.channels) - 1);
        ctx.selection.channels = {ctx.selection.focus};
      }
    }
    probe::item("tap/" + t.name);
    if (ImGui::IsItemHovered()) {
      ImGui::SetTooltip("%s: %lld channels of %lld x %lld, depth %zu%s", t.name.c_str(), (long long)t.channels,
                        (long long)t.height, (long long)t.width, i, edited_taps.count(t.name) ? "\nhas edits" : "");
    }
    ImDrawList* dl = ImGui::GetWindowDrawList();
    if (i < ctx.render.overview().size() && ctx.render.overview()[i].valid()) {
      dl->AddImage(ctx.render.overview()[i].handle(), start, ImVec2(start.x + thumb, start.y + thumb));
    }
    const float tx = start.x + thumb + ImGui::GetStyle().ItemSpacing.x;
    dl->AddText(ImVec2(tx, start.y), ImGui::GetColorU32(ImGuiCol_Text), label);
    char shape[96];
    std::snprintf(shape, sizeof shape, "%lld x %lld x %lld   depth %zu", (long long)t.channels, (long long)t.height,
                  (long long)t.width, i);
    dl->AddText(ImVec2(tx, start.y + ImGui::GetFontSize() * 1.1f), ImGui::GetColorU32(ImGuiCol_TextDisabled), shape);
    ImGui::PopID();
  }
  ImGui::Spacing();
  ImGui::TextDisabled("Previews: mean over channels, after edits.\n* marks layers with edits.");
}

}  // namespace actmap::app
