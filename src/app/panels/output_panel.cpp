#include "output_panel.h"

#include <algorithm>
#include <cmath>
#include <filesystem>

#include <imgui.h>

#include "actmap/io/image.h"
#include "ui_probe.h"

namespace actmap::app {
namespace {

// Nearest-neighbour enlargement by a whole factor.
Image enlarge(const Image& in, int scale) {
  if (scale <= 1) return in;
  Image out;
  out.width = in.width * scale;
  out.height = in.height * scale;
  out.channels = in.channels;
  out.pixels.resize(std::size_t(out.width) * out.height * out.channels);
  for (int y = 0; y < out.height; ++y) {
    for (int x = 0; x < out.width; ++x) {
      const std::size_t src = (std::size_t(y / scale) * in.width + x / scale) * in.channels;
      const std::size_t dst = (std::size_t(y) * out.width + x) * out.channels;
      std::copy_n(in.pixels.begin() + src, in.channels, out.pixels.begin() + dst);
    }
  }
  return out;
}

}  // namespace

void OutputPanel::export_output(EditorContext& ctx, const std::string& path, int scale) {
  if (!ctx.render.reply()) return ctx.report("nothing rendered yet to export");
  try {
    write_png(path, enlarge(ctx.render.reply()->output, scale));
    ctx.report("exported " + path);
  } catch (const std::exception& e) {
    ctx.report(e.what());
  }
}

void OutputPanel::draw(EditorContext& ctx) {
  int mode = int(ctx.output_mode);
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
  ctx.output_mode = OutputMode(mode);
  ImGui::SetNextItemWidth(ImGui::GetFontSize() * 6);
  ImGui::SliderInt("Zoom", &zoom_, 1, 16, "%dx");
  if (ImGui::IsItemHovered()) ImGui::SetTooltip("Nearest-neighbour zoom: every output pixel stays sharp");
  ImGui::SameLine();
  if (ImGui::Button("Export PNG")) {
    ctx.ask_for_file(kExportTitle, FileBrowser::Mode::Save, dir_of(ctx.session_path), "output.png", {".png"},
                     [&ctx](const std::string& path) { export_output(ctx, path, 1); });
  }
  probe::item("output/export");
  if (ImGui::IsItemHovered()) ImGui::SetTooltip("Save the edited output at its native size: the same pixels actmap-cli render writes");
  ImGui::SameLine();
  if (ImGui::Button("Export 8x")) {
    ctx.ask_for_file(kExportLargeTitle, FileBrowser::Mode::Save, std::filesystem::current_path().string(),
                     "output-8x.png", {".png"}, [&ctx](const std::string& path) { export_output(ctx, path, 8); });
  }
  if (ImGui::IsItemHovered()) ImGui::SetTooltip("Save the edited output enlarged 8 times (nearest neighbour)");
  if (ctx.output_mode == OutputMode::Toggle) {
    ImGui::SameLine();
    ImGui::Checkbox("Original", &show_original_);
  }

  if (!ctx.render.output().valid()) {
    ImGui::TextDisabled(ctx.session().card_path.empty() ? "No model." : "Rendering...");
    return;
  }
  // Fit the zoom to the panel when it would not fit.
  const ImVec2 avail = ImGui::GetContentRegionAvail();
  const float ow = float(ctx.render.output().width()), oh = float(ctx.render.output().height());
  const int panes = ctx.output_mode == OutputMode::SideBySide ? 2 : 1;
  const float gap = ImGui::GetStyle().ItemSpacing.x;
  const float fit = std::floor(std::min((avail.x - gap * float(panes - 1)) / (ow * float(panes)), (avail.y - ImGui::GetFontSize() * 1.5f) / oh));
  const float zoom = std::max(1.0f, std::min(float(zoom_), fit));
  const ImVec2 size(ow * zoom, oh * zoom);

  auto labelled = [&](const char* label, const Texture& tex, const char* probe_name) {
    ImGui::BeginGroup();
    ImGui::TextUnformatted(label);
    ImGui::Image(tex.handle(), size);
    probe::item(probe_name);
    ImGui::EndGroup();
  };
  switch (ctx.output_mode) {
    case OutputMode::SideBySide:
      labelled("edited", ctx.render.output(), "output/edited");
      ImGui::SameLine();
      labelled("original", ctx.render.original().valid() ? ctx.render.original() : ctx.render.output(), "output/original");
      break;
    case OutputMode::Toggle: {
      const bool original = show_original_ || (ImGui::IsMouseDown(0) && ImGui::IsMouseHoveringRect(ImGui::GetCursorScreenPos(), ImVec2(ImGui::GetCursorScreenPos().x + size.x, ImGui::GetCursorScreenPos().y + size.y + ImGui::GetFontSize() * 1.5f)));
      labelled(original ? "original" : "edited", original && ctx.render.original().valid() ? ctx.render.original() : ctx.render.output(), "output/edited");
      break;
    }
    case OutputMode::Difference:
      labelled("|edited - original| x4", ctx.render.difference().valid() ? ctx.render.difference() : ctx.render.output(), "output/edited");
      break;
    case OutputMode::Dissect: {
      ImGui::BeginGroup();
      ImGui::TextUnformatted("region: drag to paint, Shift+drag to erase");
      const ImVec2 p = ImGui::GetCursorScreenPos();
      ImGui::Image(ctx.render.output().handle(), size);
      probe::item("output/edited");
      if (dissect_overlay_) dissect_overlay_(p.x, p.y, zoom);
      ImGui::EndGroup();
      break;
    }
  }
}

}  // namespace actmap::app
