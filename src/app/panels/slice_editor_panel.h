// The slice editor: one channel large, the painting tools on it (brush, erase, fill, rectangle),
// the geometry and value tools, and what they apply to.
#pragma once

#include <algorithm>
#include <array>
#include <optional>
#include <string>

#include <imgui.h>
#include <nlohmann/json.hpp>

#include "editor_context.h"

namespace actmap::app {

enum class Tool { Brush, Erase, Fill, Rect, Rotate, Scale, Translate, Flip, Multiply, Threshold };

class SliceEditorPanel {
 public:
  void draw(EditorContext& ctx);
  void set_tool(Tool tool) { tool_ = tool; }
  // [ and ]: a smaller or larger brush.
  void shrink_brush() { brush_radius_ = std::max(0.5f, brush_radius_ / 1.25f); }
  void grow_brush() { brush_radius_ = std::min(64.0f, brush_radius_ * 1.25f); }
  // Ends the stroke being drawn (before an undo, or when another session is adopted).
  void end_stroke() { stroke_edit_.clear(); }

 private:
  void draw_tools(EditorContext& ctx);
  void draw_slice(EditorContext& ctx, const TapInfo& tap);
  void drag_geometry(EditorContext& ctx, std::array<float, 2> mouse, std::array<float, 2> centre, float width, float height);
  void draw_geometry_handles(ImDrawList* dl, ImVec2 p0, ImVec2 p1, float zoom) const;

  Tool tool_ = Tool::Brush;
  float brush_radius_ = 2.0f, brush_strength_ = 2.0f;
  bool brush_soft_ = true;
  float fill_value_ = 0.0f, rect_value_ = 3.0f;
  float rotate_deg_ = 90.0f, scale_factor_ = 1.5f, translate_dx_ = 0.25f, translate_dy_ = 0.0f;
  bool flip_vertical_ = false;
  float multiply_factor_ = 2.0f, threshold_t_ = 0.5f;
  // The stroke or rectangle being drawn.
  std::string stroke_edit_, stroke_gesture_;
  nlohmann::json stroke_points_ = nlohmann::json::array();
  std::optional<std::array<float, 2>> rect_start_;
  std::string rect_edit_;               // the rectangle being dragged, an edit from the first frame
  nlohmann::json rect_shown_;           // its corners as last sent
  std::optional<std::array<float, 2>> drag_origin_;  // where a geometry drag started (screen)
  std::string geometry_edit_;           // the rotate, scale or translate edit being dragged
  int gesture_counter_ = 0;
};

}  // namespace actmap::app
