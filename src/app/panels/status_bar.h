// The status bar: render times, device, frame rate, change-to-screen latency, the latest message
// or render error (the log on hover).
#pragma once

#include "editor_context.h"

namespace actmap::app {

class StatusBar {
 public:
  void draw(const EditorContext& ctx);
};

}  // namespace actmap::app
