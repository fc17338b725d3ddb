// The status bar: render times, device, frame rate, change-to-screen latency, the latest message
// or render error (all of it on hover; a click opens the log).
#pragma once

#include "editor_context.h"

namespace actmap::app {

class StatusBar {
 public:
  void draw(const EditorContext& ctx);
  // The log of every message, in a window of its own (opened by clicking the message).
  void draw_log(const EditorContext& ctx);
  void open_log() { show_log_ = true; }

 private:
  bool show_log_ = false;
};

}  // namespace actmap::app
