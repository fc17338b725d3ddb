#include "slice_editor_panel.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include <imgui.h>

#include "ui_probe.h"

namespace actmap::app {

namespace {

struct ToolInfo {
  Tool tool;
  const char* name;
  const char* help;
};

const ToolInfo kTools[] = {
    {Tool::Brush, "Brush", "Drag to paint (adds; hold Shift to subtract). [ and ] change the size."},
    {Tool::Erase, "Erase", "Drag to restore the unedited activation under the stroke."},
    {Tool::Fill, "Fill", "Click to set the whole channel to a value."},
    {Tool::Rect, "Rect", "Drag a rectangle to set to a value."},
    {Tool::Rotate, "Rotate", "Rotate the map about its centre (counter-clockwise)."},
    {Tool::Scale, "Scale", "Zoom the map about its centre."},
    {Tool::Translate, "Translate", "Shift the map by fractions of its size."},
    {Tool::Flip, "Flip", "Mirror the whole map."},
    {Tool::Multiply, "Multiply", "Scale the values (0 ablates)."},
    {Tool::Threshold, "Threshold", "1 where the value exceeds t, else 0."},
};

}  // namespace

void SliceEditorPanel::draw(EditorContext& ctx) {
  const TapInfo* tap = ctx.selected_tap();
  if (!tap) return ImGui::TextDisabled("No layer selected.");
  draw_tools(ctx);
  // Right: the channel, large.
  ImGui::SameLine();
  draw_slice(ctx, *tap);
}

// Left: the tools, their settings, what they apply to, Predict and Auto.
void SliceEditorPanel::draw_tools(EditorContext& ctx) {
  const TapInfo* tap = ctx.selected_tap();
  const float tools_w = ImGui::GetFontSize() * 15;
  ImGui::BeginChild("tools", ImVec2(tools_w, 0), false);
  for (std::size_t i = 0; i < std::size(kTools); ++i) {
    if (i % 2) ImGui::SameLine(tools_w * 0.5f);
    if (ImGui::RadioButton(kTools[i].name, tool_ == kTools[i].tool)) tool_ = kTools[i].tool;
    probe::item(std::string("tool/") + kTools[i].name);
    tip(kTools[i].help);
  }
  ImGui::Separator();
  ImGui::PushItemWidth(ImGui::GetFontSize() * 8);
  auto apply_button = [&](const char* op, nlohmann::json params) {
    if (ImGui::Button("Apply")) ctx.add_edit(op, std::move(params));
    probe::item("tool/apply");
    tip("Add this operation to the edit stack, for the channels chosen under Apply to");
  };
  switch (tool_) {
    case Tool::Brush:
    case Tool::Erase:
      ImGui::SliderFloat("Size", &brush_radius_, 0.5f, 32.0f, "%.1f px");
      tip("Brush radius in this layer's pixels ([ and ])");
      if (tool_ == Tool::Brush) {
        ImGui::SliderFloat("Strength", &brush_strength_, 0.0f, 10.0f, "%.2f");
        tip("How much each stroke adds (or subtracts with Shift)");
      }
      ImGui::Checkbox("Soft edge", &brush_soft_);
      tip("Soft: the effect falls off towards the edge of the brush; hard: full strength inside");
      break;
    case Tool::Fill:
      ImGui::SliderFloat("Value", &fill_value_, -10.0f, 10.0f, "%.2f");
      tip("Click the slice to fill the channel with this value");
      break;
    case Tool::Rect:
      ImGui::SliderFloat("Value", &rect_value_, -10.0f, 10.0f, "%.2f");
      tip("Drag on the slice: the rectangle is set to this value");
      break;
    case Tool::Rotate:
      ImGui::SliderFloat("Degrees", &rotate_deg_, -180.0f, 180.0f, "%.1f");
      apply_button("rotate", {{"degrees", rotate_deg_}});
      break;
    case Tool::Scale:
      ImGui::SliderFloat("Factor", &scale_factor_, 0.25f, 4.0f, "%.2f");
      apply_button("scale", {{"factor", scale_factor_}});
      break;
    case Tool::Translate:
      ImGui::SliderFloat("dx", &translate_dx_, -1.0f, 1.0f, "%.2f");
      ImGui::SliderFloat("dy", &translate_dy_, -1.0f, 1.0f, "%.2f");
      apply_button("translate", {{"dx", translate_dx_}, {"dy", translate_dy_}});
      break;
    case Tool::Flip:
      ImGui::Checkbox("Vertical", &flip_vertical_);
      tip("Off: left and right swap; on: top and bottom swap");
      apply_button("flip", {{"axis", flip_vertical_ ? "vertical" : "horizontal"}});
      break;
    case Tool::Multiply:
      ImGui::SliderFloat("Factor", &multiply_factor_, -8.0f, 8.0f, "%.2f");
      apply_button("multiply", {{"factor", multiply_factor_}});
      break;
    case Tool::Threshold:
      ImGui::SliderFloat("t", &threshold_t_, -5.0f, 5.0f, "%.2f");
      apply_button("threshold", {{"t", threshold_t_}});
      break;
  }
  ImGui::PopItemWidth();

  ImGui::Separator();
  ImGui::TextUnformatted("Apply to");
  if (ImGui::RadioButton("this channel", ctx.selection.apply_to == ApplyTo::Channel)) ctx.selection.apply_to = ApplyTo::Channel;
  tip("Only the channel shown large");
  char sel[64];
  std::snprintf(sel, sizeof sel, "selected (%zu)", ctx.selection.channels.size());
  ImGui::SameLine();
  if (ImGui::RadioButton(sel, ctx.selection.apply_to == ApplyTo::Selected)) ctx.selection.apply_to = ApplyTo::Selected;
  tip("The channels selected in the grid (Ctrl+click, Shift+click)");
  if (ImGui::RadioButton("all channels", ctx.selection.apply_to == ApplyTo::All)) ctx.selection.apply_to = ApplyTo::All;
  tip("Every channel of this layer");
  const std::vector<int> labels = ctx.session().cluster_labels(tap->name);
  if (!labels.empty()) {
    ImGui::SameLine();
    if (ImGui::RadioButton("cluster", ctx.selection.apply_to == ApplyTo::Cluster)) ctx.selection.apply_to = ApplyTo::Cluster;
    tip("The channels of one cluster of this layer");
    if (ctx.selection.apply_to == ApplyTo::Cluster) {
      ImGui::SetNextItemWidth(ImGui::GetFontSize() * 6);
      ImGui::InputInt("##cluster", &ctx.selection.cluster);
      ctx.selection.cluster = std::max(0, ctx.selection.cluster);
    }
  } else if (ctx.selection.apply_to == ApplyTo::Cluster) {
    ctx.selection.apply_to = ApplyTo::Channel;
  }

  ImGui::Separator();
  if (ImGui::Button("Predict")) ctx.render.predict_now = true;
  probe::item("button/predict");
  tip("Run the model with the current edits");
  ImGui::SameLine();
  ImGui::Checkbox("Auto", &ctx.render.auto_predict);
  probe::item("checkbox/auto");
  tip("Re-run the model live after every change, while painting too");
  ImGui::EndChild();

}

// The focused channel, large, and the painting tools' gestures on it.
void SliceEditorPanel::draw_slice(EditorContext& ctx, const TapInfo& tap) {
  ImGui::BeginChild("slice", ImVec2(0, 0), false, ImGuiWindowFlags_NoScrollbar | ImGuiWindowFlags_NoScrollWithMouse);
  const TapView* view = ctx.shown_view();
  ImGui::Text("%s  channel %d", tap.name.c_str(), ctx.selection.focus);
  if (view && view->focus.width > 0) {
    ImGui::SameLine();
    ImGui::TextDisabled("min %.3g  max %.3g  mean %.3g", view->focus_stats.min, view->focus_stats.max,
                        view->focus_stats.mean);
  }
  const ImVec2 avail = ImGui::GetContentRegionAvail();
  const float w = float(tap.width), h = float(tap.height);
  // Whole-number zoom keeps every activation pixel the same size on screen.
  const float zoom = std::max(1.0f, std::floor(std::min(avail.x / w, avail.y / h)));
  const ImVec2 p0 = ImGui::GetCursorScreenPos();
  const ImVec2 size(w * zoom, h * zoom);
  ImGui::InvisibleButton("slice image", size);
  probe::item("slice/image");
  probe::value("slice_zoom", zoom);
  ImDrawList* dl = ImGui::GetWindowDrawList();
  const ImVec2 p1(p0.x + size.x, p0.y + size.y);
  if (view && view->request.focus_channel == ctx.selection.focus && ctx.render.focus().valid()) {
    dl->AddImage(ctx.render.focus().handle(), p0, p1);
  } else {
    dl->AddRectFilled(p0, p1, IM_COL32(30, 30, 30, 255));
  }
  dl->AddRect(p0, p1, IM_COL32(90, 90, 90, 255));

  // Mouse to tap pixels: the centre of the pixel in row r, column c is (c, r).
  const ImVec2 m = ImGui::GetIO().MousePos;
  const std::array<float, 2> at = {(m.x - p0.x) / zoom - 0.5f, (m.y - p0.y) / zoom - 0.5f};
  const bool shift = ImGui::GetIO().KeyShift;
  const bool stroke_tool = tool_ == Tool::Brush || tool_ == Tool::Erase;

  if (ImGui::IsItemActivated()) {
    stroke_gesture_ = "stroke-" + std::to_string(++gesture_counter_);
    if (stroke_tool) {
      stroke_points_ = nlohmann::json::array({{at[0], at[1]}});
      nlohmann::json p = {{"points", stroke_points_}, {"radius", brush_radius_}, {"edge", brush_soft_ ? "soft" : "hard"}};
      if (tool_ == Tool::Brush) {
        p["strength"] = brush_strength_;
        p["mode"] = shift ? "subtract" : "add";
      }
      stroke_edit_ = ctx.add_edit(tool_ == Tool::Brush ? "brush" : "erase", p, stroke_gesture_);
    } else if (tool_ == Tool::Rect) {
      rect_start_ = at;
    } else if (tool_ == Tool::Fill) {
      ctx.add_edit("fill", {{"value", fill_value_}});
    }
  }
  if (ImGui::IsItemActive() && !stroke_edit_.empty() && !stroke_points_.empty()) {
    const auto& last = stroke_points_.back();
    const float dx = at[0] - last[0].get<float>(), dy = at[1] - last[1].get<float>();
    if (dx * dx + dy * dy >= 0.0625f && stroke_points_.size() < 4000) {
      stroke_points_.push_back({at[0], at[1]});
      try {
        ctx.history().set_params(stroke_edit_, {{"points", stroke_points_}}, stroke_gesture_);
      } catch (const std::exception& e) {
        ctx.report(e.what());
        stroke_edit_.clear();
      }
    }
  }
  if (ImGui::IsItemActive() && rect_start_) {
    const ImVec2 a(p0.x + (std::min(rect_start_->at(0), at[0]) + 0.5f) * zoom, p0.y + (std::min(rect_start_->at(1), at[1]) + 0.5f) * zoom);
    const ImVec2 b(p0.x + (std::max(rect_start_->at(0), at[0]) + 0.5f) * zoom, p0.y + (std::max(rect_start_->at(1), at[1]) + 0.5f) * zoom);
    dl->AddRect(a, b, IM_COL32(255, 220, 0, 255), 0, 0, 1.5f);
  }
  if (ImGui::IsItemDeactivated()) {
    if (rect_start_) {
      const float x0 = std::round(std::min(rect_start_->at(0), at[0])), x1 = std::round(std::max(rect_start_->at(0), at[0]));
      const float y0 = std::round(std::min(rect_start_->at(1), at[1])), y1 = std::round(std::max(rect_start_->at(1), at[1]));
      ctx.add_edit("rect", {{"x0", x0}, {"y0", y0}, {"x1", x1}, {"y1", y1}, {"value", rect_value_}});
      rect_start_.reset();
    }
    ctx.history().end_gesture();
    stroke_edit_.clear();
    stroke_points_ = nlohmann::json::array();
  }

  // The brush outline under the mouse, and the stroke being drawn (visible even with Auto off).
  if (ImGui::IsItemHovered() && stroke_tool) {
    dl->AddCircle(m, brush_radius_ * zoom, shift ? IM_COL32(120, 170, 255, 255) : IM_COL32(255, 255, 255, 200), 32, 1.0f);
  }
  if (!stroke_edit_.empty() && stroke_points_.size() > 1) {
    for (std::size_t i = 1; i < stroke_points_.size(); ++i) {
      auto to_screen = [&](const nlohmann::json& p) {
        return ImVec2(p0.x + (p[0].get<float>() + 0.5f) * zoom, p0.y + (p[1].get<float>() + 0.5f) * zoom);
      };
      dl->AddLine(to_screen(stroke_points_[i - 1]), to_screen(stroke_points_[i]), IM_COL32(255, 220, 0, 160), 1.5f);
    }
  }
  if (ImGui::IsItemHovered()) {
    const int cx = int(std::floor(at[0] + 0.5f)), cy = int(std::floor(at[1] + 0.5f));
    ImGui::SetTooltip("x %d, y %d%s", cx, cy, stroke_tool ? "\nShift: subtract" : "");
  }
  ImGui::EndChild();
}

}  // namespace actmap::app
