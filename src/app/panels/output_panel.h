// The output: edited and original side by side, toggled, or their difference; zoom; export; and
// the Dissect mode, where an overlay (the dissection region) is painted on the image.
#pragma once

#include <array>
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
  // Leaves `reserve` pixels at the bottom of the window for what comes below (the seed strip).
  void draw(EditorContext& ctx, float reserve = 0.0f);
  // The latest output as a PNG, enlarged `scale` times (nearest neighbour); the result is reported.
  static void export_output(EditorContext& ctx, const std::string& path, int scale);

 private:
  Overlay dissect_overlay_;
  bool fit_ = true;                  // fit the panel (else zoom_ and pan_)
  float zoom_ = 4.0f;                // screen pixels per output pixel
  float shown_zoom_ = 0.0f;          // as drawn last frame
  std::array<float, 2> pan_ = {0.0f, 0.0f};  // the image centre's offset from the pane centre
  bool show_original_ = false;
};

}  // namespace actmap::app
