#include "status_bar.h"

#include <string>

#include <imgui.h>

namespace actmap::app {

void StatusBar::draw(const EditorContext& ctx) {
  const ImVec4 red(1.0f, 0.45f, 0.45f, 1.0f);
  if (ctx.render.started()) {
    if (ctx.render.reply()) {
      const RenderReply& r = *ctx.render.reply();
      ImGui::Text("render %.1f ms (from layer %zu) + view %.1f ms", r.render_ms, r.first_stage, r.view_ms);
      ImGui::SameLine();
    }
  } else if (!ctx.session().card_path.empty()) {
    ImGui::Text("loading the model...");
    ImGui::SameLine();
  }
  ImGui::TextDisabled("| %s | %.0f fps", ctx.options.device.c_str(), ImGui::GetIO().Framerate);
  if (!ctx.render.latencies_ms().empty()) {
    ImGui::SameLine();
    ImGui::TextDisabled("| change to screen %.0f ms", ctx.render.latencies_ms().back());
  }
  if (ctx.render.busy()) {
    ImGui::SameLine();
    ImGui::TextDisabled("| rendering");
  }
  ImGui::SameLine();
  if (!ctx.render.error().empty()) {
    ImGui::TextColored(red, "| %s", ctx.render.error().c_str());
  } else if (!ctx.status_message().empty() && ImGui::GetTime() - ctx.status_time() < 6.0) {
    ImGui::TextUnformatted(("| " + ctx.status_message()).c_str());
  }
  if (ImGui::IsItemHovered() && !ctx.log().empty()) {
    std::string all;
    for (const auto& l : ctx.log()) all += l + "\n";
    ImGui::SetTooltip("%s", all.c_str());
  }
}

}  // namespace actmap::app
