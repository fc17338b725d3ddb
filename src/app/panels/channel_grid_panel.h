// Every channel of the selected tap as a grid of thumbnails: colours, scale, the layer's
// histogram, selection by click, Ctrl+click and Shift+click, PNG export.
#pragma once

#include <string>

#include "editor_context.h"

namespace actmap::app {

class ChannelGridPanel {
 public:
  static constexpr const char* kExportTitle = "Export channel grid";
  void draw(EditorContext& ctx);
  // The shown grid as a PNG (4x enlarged, 2 px gaps); the result is reported.
  static void export_grid(EditorContext& ctx, const std::string& path);

 private:
  float cell_ = 48.0f;  // thumbnail size on screen
  bool log_counts_ = false;  // the histogram's bars as log(1 + count)
};

}  // namespace actmap::app
