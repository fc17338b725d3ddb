// The edit stack: any op of the registry added at the selected tap, and every edit with its
// enable box, live parameters, drag-to-reorder, delete, "Show layer" and "Sweep depth".
#pragma once

#include "editor_context.h"

namespace actmap::app {

class EditStackPanel {
 public:
  EditStackPanel();
  void draw(EditorContext& ctx);

 private:
  int chosen_op_ = 0;  // index into op_registry()
};

}  // namespace actmap::app
