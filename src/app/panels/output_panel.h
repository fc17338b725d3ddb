// The output: edited and original side by side, toggled, or their difference; zoom; export; and
// the Dissect mode, where an overlay (the dissection region) is painted on the image.
#pragma once

#include <functional>
#include <string>

#include "editor_context.h"

namespace actmap::app {

class OutputPanel {
 public:
  // Draws over the image in Dissect mode: its top-left corner on screen and the screen pixels per
  // output pixel.
  using Overlay = std::function<void(float x, float y, float zoom)>;
  static constexpr const char* kExportTitle = "Export output";
  static constexpr const char* kExportLargeTitle = "Export output (enlarged)";
  explicit OutputPanel(Overlay dissect_overlay) : dissect_overlay_(std::move(dissect_overlay)) {}
  void draw(EditorContext& ctx);
  // The latest output as a PNG, enlarged `scale` times (nearest neighbour); the result is reported.
  static void export_output(EditorContext& ctx, const std::string& path, int scale);

 private:
  Overlay dissect_overlay_;
  int zoom_ = 4;
  bool show_original_ = false;
};

}  // namespace actmap::app
