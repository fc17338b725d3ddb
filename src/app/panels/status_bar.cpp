#include "status_bar.h"

#include <string>

#include <imgui.h>

#include "ui_probe.h"

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
  // The message on one line (cut at the window's edge); all of it on hover, the log on a click.
  const std::string& message = !ctx.render.error().empty() ? ctx.render.error() : ctx.status_message();
  const bool recent = !ctx.render.error().empty() || (!message.empty() && ImGui::GetTime() - ctx.status_time() < 6.0);
  if (recent) {
    if (!ctx.render.error().empty()) ImGui::PushStyleColor(ImGuiCol_Text, red);
    ImGui::TextUnformatted(("| " + message).c_str());
    if (!ctx.render.error().empty()) ImGui::PopStyleColor();
    probe::item("status/message");
    if (ImGui::IsItemHovered()) {
      ImGui::BeginTooltip();
      ImGui::PushTextWrapPos(ImGui::GetFontSize() * 40);
      ImGui::TextUnformatted(message.c_str());
      ImGui::TextDisabled("Click for the log of every message");
      ImGui::PopTextWrapPos();
      ImGui::EndTooltip();
    }
    if (ImGui::IsItemClicked()) show_log_ = true;
  }
}

void StatusBar::draw_log(const EditorContext& ctx) {
  if (!show_log_) return;
  ImGui::SetNextWindowSize(ImVec2(ImGui::GetFontSize() * 44, ImGui::GetFontSize() * 20), ImGuiCond_FirstUseEver);
  ImGui::SetNextWindowPos(ImGui::GetMainViewport()->GetCenter(), ImGuiCond_FirstUseEver, ImVec2(0.5f, 0.5f));
  if (ImGui::Begin("Log", &show_log_)) {
    probe::item("log/window");
    if (ImGui::SmallButton("Copy all")) {
      std::string all;
      for (const auto& l : ctx.log()) all += l + "\n";
      ImGui::SetClipboardText(all.c_str());
    }
    ImGui::Separator();
    ImGui::BeginChild("messages");
    ImGui::PushTextWrapPos(0.0f);
    for (const auto& l : ctx.log()) ImGui::TextUnformatted(l.c_str());
    ImGui::PopTextWrapPos();
    if (ImGui::GetScrollY() >= ImGui::GetScrollMaxY()) ImGui::SetScrollHereY(1.0f);
    ImGui::EndChild();
  }
  ImGui::End();
}

}  // namespace actmap::app
