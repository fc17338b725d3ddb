#include "output_panel.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>
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

void OutputPanel::draw(EditorContext& ctx, float reserve) {
  int mode = int(ctx.output_mode);
  ImGui::RadioButton("Side by side", &mode, int(OutputMode::SideBySide));
  tip("The edited output and the original (no edits) next to each other");
  ImGui::SameLine();
  ImGui::RadioButton("Toggle", &mode, int(OutputMode::Toggle));
  tip("One image; hold the left button on it (or tick Original) to see the original");
  ImGui::SameLine();
  ImGui::RadioButton("Difference", &mode, int(OutputMode::Difference));
  tip("|edited - original| per colour channel, amplified 4x");
  ImGui::SameLine();
  ImGui::RadioButton("Dissect", &mode, int(OutputMode::Dissect));
  probe::item("output/dissect");
  tip("Paint a region on the output (drag; Shift+drag erases) for the Dissect tab");
  ctx.output_mode = OutputMode(mode);

  // Zoom: fit to the panel (the default), 1:1, or wheel zoom about the cursor; right or middle
  // drag pans; a double click fits again.
  if (ImGui::Checkbox("Fit", &fit_) && fit_) pan_ = {0.0f, 0.0f};
  probe::item("output/fit");
  tip("Fit the output to the panel (double-click the image). The mouse wheel zooms about the cursor, "
      "a right or middle drag pans.");
  ImGui::SameLine();
  if (ImGui::SmallButton("1:1")) {
    fit_ = false;
    zoom_ = 1.0f;
    pan_ = {0.0f, 0.0f};
  }
  probe::item("output/one-to-one");
  tip("One screen pixel per output pixel");
  ImGui::SameLine();
  ImGui::TextDisabled("%.0f%%", double(shown_zoom_) * 100.0);
  probe::value("output_zoom", shown_zoom_);
  probe::value("output_pan", {pan_[0], pan_[1]});
  ImGui::SameLine();
  if (ImGui::SmallButton("Export PNG")) {
    ctx.ask_for_file(kExportTitle, FileBrowser::Mode::Save, dir_of(ctx.session_path), "output.png", {".png"},
                     [&ctx](const std::string& path) { export_output(ctx, path, 1); });
  }
  probe::item("output/export");
  tip("Save the edited output at its native size: the same pixels actmap-cli render writes");
  ImGui::SameLine();
  if (ImGui::SmallButton("Export 8x")) {
    ctx.ask_for_file(kExportLargeTitle, FileBrowser::Mode::Save, std::filesystem::current_path().string(),
                     "output-8x.png", {".png"}, [&ctx](const std::string& path) { export_output(ctx, path, 8); });
  }
  tip("Save the edited output enlarged 8 times (nearest neighbour)");
  if (ctx.output_mode == OutputMode::Toggle) {
    ImGui::SameLine();
    ImGui::Checkbox("Original", &show_original_);
  }

  const Texture& out = ctx.render.output();
  if (!out.valid()) {
    ImGui::TextDisabled(ctx.session().card_path.empty() ? "No model." : "Rendering...");
    return;
  }
  const ImGuiStyle& style = ImGui::GetStyle();
  const float line = ImGui::GetTextLineHeightWithSpacing();
  const ImVec2 avail = ImGui::GetContentRegionAvail();
  const int panes = ctx.output_mode == OutputMode::SideBySide ? 2 : 1;
  const float gap = style.ItemSpacing.x;
  // Each pane: a label line, the view, and below all panes the mean change.
  const float pane_w = std::max(16.0f, (avail.x - gap * float(panes - 1)) / float(panes));
  const float pane_h = std::max(16.0f, avail.y - 2.0f * line - reserve);
  const float ow = float(out.width()), oh = float(out.height());
  const float fit_zoom = std::min(pane_w / ow, pane_h / oh);
  if (fit_) zoom_ = fit_zoom;
  shown_zoom_ = zoom_;

  const ImVec2 top = ImGui::GetCursorScreenPos();
  ImDrawList* dl = ImGui::GetWindowDrawList();
  const bool original_held = ctx.output_mode == OutputMode::Toggle && ImGui::IsMouseDown(ImGuiMouseButton_Left) &&
                             ImGui::IsMouseHoveringRect(top, ImVec2(top.x + avail.x, top.y + line + pane_h));
  struct Pane {
    const char* label;
    const Texture* tex;
    const char* probe_name;
  };
  std::vector<Pane> shown;
  shown.reserve(2);
  const Texture& original = ctx.render.original().valid() ? ctx.render.original() : out;
  switch (ctx.output_mode) {
    case OutputMode::SideBySide:
      shown.push_back(Pane{"edited", &out, "output/edited"});
      shown.push_back(Pane{"original", &original, "output/original"});
      break;
    case OutputMode::Toggle: {
      const bool show = show_original_ || original_held;
      shown.push_back(Pane{show ? "original" : "edited", show ? &original : &out, "output/edited"});
      break;
    }
    case OutputMode::Difference:
      shown.push_back(Pane{"|edited - original| x4", ctx.render.difference().valid() ? &ctx.render.difference() : &out,
                           "output/edited"});
      break;
    case OutputMode::Dissect: shown.push_back(Pane{"region: drag to paint, Shift+drag to erase", &out, "output/edited"}); break;
  }

  // One invisible button over every pane takes the mouse (left for Toggle and Dissect, right and
  // middle to pan); the images are drawn clipped to their panes.
  ImGui::SetCursorScreenPos(ImVec2(top.x, top.y + line));
  ImGui::InvisibleButton("output view", ImVec2(avail.x, pane_h),
                         ImGuiButtonFlags_MouseButtonLeft | ImGuiButtonFlags_MouseButtonRight | ImGuiButtonFlags_MouseButtonMiddle);
  probe::item("output/view");
  const bool hovered = ImGui::IsItemHovered();
  const ImGuiIO& io = ImGui::GetIO();
  const ImVec2 m = io.MousePos;
  if (hovered && io.MouseWheel != 0.0f) {
    // Zoom about the cursor: the output pixel under it stays under it.
    const int pane = std::clamp(int((m.x - top.x) / (pane_w + gap)), 0, panes - 1);
    const float cx = top.x + float(pane) * (pane_w + gap) + pane_w * 0.5f, cy = top.y + line + pane_h * 0.5f;
    const float ux = (m.x - (cx + pan_[0])) / zoom_, uy = (m.y - (cy + pan_[1])) / zoom_;
    const float z = std::clamp(zoom_ * std::pow(1.2f, io.MouseWheel), 0.05f, 256.0f);
    pan_ = {m.x - ux * z - cx, m.y - uy * z - cy};
    zoom_ = z;
    fit_ = false;
  }
  if (ImGui::IsItemActive() && (ImGui::IsMouseDragging(ImGuiMouseButton_Right, 0.0f) || ImGui::IsMouseDragging(ImGuiMouseButton_Middle, 0.0f))) {
    pan_[0] += io.MouseDelta.x;
    pan_[1] += io.MouseDelta.y;
    fit_ = false;
  }
  if (hovered && ImGui::IsMouseDoubleClicked(ImGuiMouseButton_Left) && ctx.output_mode != OutputMode::Dissect) {
    fit_ = true;
    pan_ = {0.0f, 0.0f};
  }

  const double pending = ctx.render.pending_ms();
  for (int i = 0; i < int(shown.size()); ++i) {
    const float px = top.x + float(i) * (pane_w + gap);
    const ImVec2 p0(px, top.y + line), p1(px + pane_w, top.y + line + pane_h);
    dl->AddText(ImVec2(px, top.y), ImGui::GetColorU32(ImGuiCol_Text), shown[std::size_t(i)].label);
    const float x = p0.x + pane_w * 0.5f + pan_[0] - ow * zoom_ * 0.5f;
    const float y = p0.y + pane_h * 0.5f + pan_[1] - oh * zoom_ * 0.5f;
    const ImVec2 i0(x, y), i1(x + ow * zoom_, y + oh * zoom_);
    dl->PushClipRect(p0, p1, true);
    dl->AddImage(shown[std::size_t(i)].tex->handle(), i0, i1);
    if (ctx.output_mode == OutputMode::Dissect && dissect_overlay_) dissect_overlay_(x, y, zoom_);
    if (pending > 150.0) {
      // The picture is older than the session: dim it and say for how long it has been rendering.
      dl->AddRectFilled(p0, p1, IM_COL32(0, 0, 0, 70));
      const ImVec2 c(p0.x + line * 0.8f, p0.y + line * 0.8f);
      const float a = float(ImGui::GetTime()) * 6.0f;
      dl->PathArcTo(c, line * 0.45f, a, a + 4.2f, 16);
      dl->PathStroke(IM_COL32(255, 220, 0, 255), 0, 2.5f);
      char text[48];
      std::snprintf(text, sizeof text, "rendering %.1f s", pending / 1000.0);
      dl->AddText(ImVec2(c.x + line * 0.8f, c.y - line * 0.5f), IM_COL32(255, 220, 0, 255), text);
    }
    dl->PopClipRect();
    probe::rect(shown[std::size_t(i)].probe_name, std::max(i0.x, p0.x), std::max(i0.y, p0.y), std::min(i1.x, p1.x),
                std::min(i1.y, p1.y));
  }
  probe::value("output_stale", pending > 150.0);

  // How much the edits change the picture, in numbers.
  ImGui::SetCursorScreenPos(ImVec2(top.x, top.y + line + pane_h + style.ItemSpacing.y));
  if (ctx.render.mean_change() >= 0.0) {
    ImGui::Text("mean |edited - original|: %.2f of 255", ctx.render.mean_change());
    tip("The mean absolute difference of the 8-bit output values, over every pixel and colour");
  } else {
    ImGui::TextDisabled("no original to compare with yet");
  }
  probe::value("mean_change", ctx.render.mean_change());
}

}  // namespace actmap::app
