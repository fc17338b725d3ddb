// The Record tab: an animation of one edit parameter and/or a walk through seeds, rendered in the
// background and written as MP4, GIF or PNG frames.
#pragma once

#include <string>

#include "background_job.h"
#include "editor_context.h"

namespace actmap::app {

class RecordPanel {
 public:
  static constexpr const char* kBrowseTitle = "Record animation to";
  void poll(EditorContext& ctx);
  void draw(EditorContext& ctx);
  bool busy() const { return job_.running(); }

 private:
  BackgroundJob<std::string> job_{wake_ui};
  int param_ = -1;  // index into numeric_pointers(session), -1: none
  std::string walk_;
  float from_ = 0.0f, to_ = 360.0f;
  int frames_ = 60, fps_ = 30, scale_ = 4, format_ = 0;  // mp4, gif, png frames
  std::string path_, message_;
};

}  // namespace actmap::app
