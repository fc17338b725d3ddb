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
    {Tool::Brush, "Brush", "Drag to paint (adds; hold Shift to subtract). [ and ] change the size. (B)"},
    {Tool::Erase, "Erase", "Drag to restore the unedited activation under the stroke. (E)"},
    {Tool::Fill, "Fill", "Click to set the whole channel to a value. (F)"},
    {Tool::Rect, "Rect", "Drag a rectangle to set to a value; the output follows the drag. (R)"},
    {Tool::Rotate, "Rotate", "Drag around the centre of the slice to rotate the map (counter-clockwise is positive), or set degrees and Apply. (T)"},
    {Tool::Scale, "Scale", "Drag away from the centre (or a corner) to zoom the map, towards it to shrink, or set a factor and Apply. (S)"},
    {Tool::Translate, "Translate", "Drag the map to move it (fractions of its size), or set dx, dy and Apply. (G)"},
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

// Rotate, scale or translate by dragging on the slice: the edit appears once the mouse has moved
// and follows it live (one gesture, so one undo step when the button is released).
void SliceEditorPanel::drag_geometry(EditorContext& ctx, std::array<float, 2> mouse, std::array<float, 2> centre,
                                     float width, float height) {
  const std::array<float, 2>& o = *drag_origin_;
  const float mx = mouse[0] - o[0], my = mouse[1] - o[1];
  if (geometry_edit_.empty() && mx * mx + my * my < 9.0f) return;  // a click is not a drag
  std::string op;
  nlohmann::json params;
  if (tool_ == Tool::Rotate) {
    // Counter-clockwise on screen is positive: screen y grows downwards.
    const double a0 = std::atan2(-(o[1] - centre[1]), o[0] - centre[0]);
    const double a1 = std::atan2(-(mouse[1] - centre[1]), mouse[0] - centre[0]);
    double deg = (a1 - a0) * 180.0 / M_PI;
    while (deg > 180.0) deg -= 360.0;
    while (deg < -180.0) deg += 360.0;
    rotate_deg_ = float(std::round(deg * 10.0) / 10.0);
    op = "rotate";
    params = {{"degrees", rotate_deg_}};
  } else if (tool_ == Tool::Scale) {
    const float d0 = std::hypot(o[0] - centre[0], o[1] - centre[1]);
    const float d1 = std::hypot(mouse[0] - centre[0], mouse[1] - centre[1]);
    if (d0 < 4.0f) return;  // started on the centre: no lever
    scale_factor_ = std::clamp(std::round(d1 / d0 * 100.0f) / 100.0f, 0.05f, 20.0f);
    op = "scale";
    params = {{"factor", scale_factor_}};
  } else {
    translate_dx_ = std::round(mx / width * 1000.0f) / 1000.0f;
    translate_dy_ = std::round(my / height * 1000.0f) / 1000.0f;
    op = "translate";
    params = {{"dx", translate_dx_}, {"dy", translate_dy_}};
  }
  try {
    if (geometry_edit_.empty()) {
      geometry_edit_ = ctx.add_edit(op, params, stroke_gesture_);
    } else {
      ctx.history().set_params(geometry_edit_, params, stroke_gesture_);
    }
  } catch (const std::exception& e) {
    ctx.report(e.what());
    drag_origin_.reset();
  }
}

// The handles of the geometry tools, and the map's outline as the drag moves it.
void SliceEditorPanel::draw_geometry_handles(ImDrawList* dl, ImVec2 p0, ImVec2 p1, float zoom) const {
  const ImU32 yellow = IM_COL32(255, 220, 0, 230), faint = IM_COL32(255, 220, 0, 110);
  const ImVec2 c((p0.x + p1.x) * 0.5f, (p0.y + p1.y) * 0.5f);
  const float hw = (p1.x - p0.x) * 0.5f, hh = (p1.y - p0.y) * 0.5f, k = std::max(4.0f, zoom * 0.6f);
  dl->AddLine(ImVec2(c.x - k, c.y), ImVec2(c.x + k, c.y), yellow, 1.5f);
  dl->AddLine(ImVec2(c.x, c.y - k), ImVec2(c.x, c.y + k), yellow, 1.5f);
  const bool dragging = !geometry_edit_.empty();
  // The corners of the map after the transform being dragged (screen coordinates).
  double deg = 0.0, f = 1.0, tx = 0.0, ty = 0.0;
  if (dragging && tool_ == Tool::Rotate) deg = rotate_deg_;
  if (dragging && tool_ == Tool::Scale) f = scale_factor_;
  if (dragging && tool_ == Tool::Translate) {
    tx = translate_dx_ * (p1.x - p0.x);
    ty = translate_dy_ * (p1.y - p0.y);
  }
  const double r = deg * M_PI / 180.0, cs = std::cos(r), sn = std::sin(r);
  ImVec2 corners[4];
  const float sx[4] = {-1, 1, 1, -1}, sy[4] = {-1, -1, 1, 1};
  for (int i = 0; i < 4; ++i) {
    const double x = sx[i] * hw * f, y = sy[i] * hh * f;
    corners[i] = ImVec2(float(c.x + tx + x * cs + y * sn), float(c.y + ty - x * sn + y * cs));
  }
  dl->AddPolyline(corners, 4, dragging ? yellow : faint, ImDrawFlags_Closed, 1.5f);
  if (tool_ == Tool::Scale) {
    for (const ImVec2& q : corners) dl->AddRectFilled(ImVec2(q.x - 4, q.y - 4), ImVec2(q.x + 4, q.y + 4), yellow);
  } else if (tool_ == Tool::Rotate) {
    dl->AddCircle(c, std::min(hw, hh) * 0.85f, faint, 48, 1.0f);
  }
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

  const bool geometry_tool = tool_ == Tool::Rotate || tool_ == Tool::Scale || tool_ == Tool::Translate;
  const ImVec2 centre((p0.x + p1.x) * 0.5f, (p0.y + p1.y) * 0.5f);

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
      // The rectangle is an edit from the first frame, so the output follows the drag live.
      rect_start_ = at;
      const float x = std::round(at[0]), y = std::round(at[1]);
      rect_edit_ = ctx.add_edit("rect", {{"x0", x}, {"y0", y}, {"x1", x}, {"y1", y}, {"value", rect_value_}}, stroke_gesture_);
    } else if (tool_ == Tool::Fill) {
      ctx.add_edit("fill", {{"value", fill_value_}});
    } else if (geometry_tool) {
      drag_origin_ = {m.x, m.y};
      geometry_edit_.clear();
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
    const float x0 = std::round(std::min(rect_start_->at(0), at[0])), x1 = std::round(std::max(rect_start_->at(0), at[0]));
    const float y0 = std::round(std::min(rect_start_->at(1), at[1])), y1 = std::round(std::max(rect_start_->at(1), at[1]));
    const ImVec2 a(p0.x + x0 * zoom, p0.y + y0 * zoom), b(p0.x + (x1 + 1.0f) * zoom, p0.y + (y1 + 1.0f) * zoom);
    dl->AddRect(a, b, IM_COL32(255, 220, 0, 255), 0, 0, 1.5f);
    const nlohmann::json rect = {{"x0", x0}, {"y0", y0}, {"x1", x1}, {"y1", y1}};
    if (!rect_edit_.empty() && rect != rect_shown_) {
      rect_shown_ = rect;
      try {
        ctx.history().set_params(rect_edit_, rect, stroke_gesture_);
      } catch (const std::exception& e) {
        ctx.report(e.what());
        rect_edit_.clear();
      }
    }
  }
  if (ImGui::IsItemActive() && geometry_tool && drag_origin_) {
    drag_geometry(ctx, {m.x, m.y}, {centre.x, centre.y}, size.x, size.y);
  }
  if (ImGui::IsItemDeactivated()) {
    rect_start_.reset();
    rect_edit_.clear();
    rect_shown_ = nullptr;
    drag_origin_.reset();
    geometry_edit_.clear();
    ctx.history().end_gesture();
    stroke_edit_.clear();
    stroke_points_ = nlohmann::json::array();
  }
  if (geometry_tool) draw_geometry_handles(dl, p0, p1, zoom);

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
  if (ImGui::IsItemHovered() && !ImGui::IsItemActive()) {
    const int cx = int(std::floor(at[0] + 0.5f)), cy = int(std::floor(at[1] + 0.5f));
    ImGui::SetTooltip("x %d, y %d%s", cx, cy,
                      stroke_tool            ? "\nShift: subtract"
                      : tool_ == Tool::Rotate ? "\nDrag around the centre to rotate"
                      : tool_ == Tool::Scale  ? "\nDrag away from or towards the centre to scale"
                      : tool_ == Tool::Translate ? "\nDrag to move the map"
                                             : "");
  }
  ImGui::EndChild();
}

}  // namespace actmap::app
