// The depth sweep window ("Sweep depth" on an edit): the edit applied at every layer in turn, in
// the background, as a strip of outputs and a table of the mean change per layer.
#pragma once

#include <optional>
#include <string>

#include "actmap/analysis/sweep.h"
#include "background_job.h"
#include "editor_context.h"
#include "texture.h"

namespace actmap::app {

class SweepWindow {
 public:
  void start(const EditorContext& ctx, const std::string& edit_id);
  void poll(EditorContext& ctx);
  void draw();
  bool busy() const { return job_.running(); }

 private:
  BackgroundJob<SweepResult> job_{wake_ui};
  std::optional<SweepResult> result_;
  std::string edit_;
  Texture strip_;
  bool open_ = false;
};

}  // namespace actmap::app
