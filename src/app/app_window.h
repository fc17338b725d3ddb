// The editor's window: GLFW, OpenGL through libepoxy, Dear ImGui, and the frame loop (events,
// dropped files, signals, scripted screenshots, frame statistics).
#pragma once

#include <string>

#include "editor_context.h"

namespace actmap::app {

struct WindowOptions {
  int width = 1600, height = 1000;
  double ui_scale = 0.0;    // 0: the monitor's content scale, or ACTMAP_UI_SCALE
  std::string screenshot;   // save the window as a PNG once settled, then exit
  int frames = 3;           // frames drawn (once settled) before the screenshot
  std::string stats_out;    // on exit: frame times and change-to-screen latencies (JSON)
  int frame_delay_ms = 0;   // for tests: sleep this long after every frame (a slow machine)
};

// Opens the window and runs the editor until it quits; returns the process exit code.
int run_editor_window(const EditorOptions& editor, const WindowOptions& window);

}  // namespace actmap::app
