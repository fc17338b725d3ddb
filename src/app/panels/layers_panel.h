// The model's taps as a list with a preview of each (mean over channels, after edits).
#pragma once

#include "editor_context.h"

namespace actmap::app {

class LayersPanel {
 public:
  void draw(EditorContext& ctx);
};

}  // namespace actmap::app
