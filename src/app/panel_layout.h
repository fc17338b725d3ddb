// Where the editor's panels go: three columns (model and layers; channels and the slice editor;
// the output and the tabs), each split in two rows, with splitters the user drags (ImGui 1.86 has
// no docking). The sizes are kept between runs in the config folder; presets reset them.
#pragma once

#include <string>

namespace actmap::app {

struct PanelLayout {
  // Fractions of the window's width (left, middle column) and of each column's height (its top row).
  float left = 0.22f, middle = 0.40f;
  float model = 0.36f, grid = 0.48f, output = 0.50f;

  static PanelLayout standard() { return {}; }
  // Most of the window for the output, for looking at the picture while editing.
  static PanelLayout big_output() { return {0.17f, 0.30f, 0.36f, 0.45f, 0.72f}; }

  // Keeps every panel usable whatever a file or a drag asked for.
  void clamp();
  bool operator==(const PanelLayout& o) const {
    return left == o.left && middle == o.middle && model == o.model && grid == o.grid && output == o.output;
  }

  // config_dir()/layout.json; a missing or unreadable file gives the standard layout.
  static PanelLayout load(const std::string& path);
  // Atomically; returns false (and leaves the old file) when it cannot be written.
  bool save(const std::string& path) const;
};

// A splitter handle: a thin window over the gap between two panels, dragged along `vertical`
// (a vertical bar moves left and right). `fraction` changes by the drag over `extent` pixels.
// Returns true on the frame the drag ends.
bool draw_splitter(const char* id, float x, float y, float w, float h, bool vertical, float extent, float* fraction);

}  // namespace actmap::app
