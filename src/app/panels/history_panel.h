// The undo history as a list of steps: click one to go back or forward to it.
#pragma once

#include "editor_context.h"

namespace actmap::app {

class HistoryPanel {
 public:
  void draw(EditorContext& ctx);
};

}  // namespace actmap::app
