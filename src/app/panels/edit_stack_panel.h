// The edit stack: any op of the registry added at the selected tap, and every edit with its
// enable box, live parameters, drag-to-reorder, delete, "Show layer" and "Sweep depth".
#pragma once

#include <string>

#include "editor_context.h"

namespace actmap::app {

class EditStackPanel {
 public:
  EditStackPanel();
  void draw(EditorContext& ctx);

 private:
  void draw_target(EditorContext& ctx, const Edit& e);

  int chosen_op_ = 0;  // index into op_registry()
  std::string editing_channels_;  // the edit whose channels field is being typed in
  std::string channels_text_;
};

}  // namespace actmap::app
