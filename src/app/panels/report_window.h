// File > Write HTML report: the session's reproducible report (what `actmap-cli report` writes),
// made in the background on a generator of its own, with progress, Cancel and where it went.
#pragma once

#include <optional>
#include <string>

#include "actmap/analysis/report.h"
#include "background_job.h"
#include "editor_context.h"

namespace actmap::app {

class ReportWindow {
 public:
  static constexpr const char* kFolderTitle = "Write the HTML report into";
  // Asks for a folder, then writes the report of the session as it is now.
  void ask(EditorContext& ctx);
  void start(const EditorContext& ctx, const std::string& dir);
  void poll(EditorContext& ctx);
  void draw();
  bool busy() const { return job_.running(); }

 private:
  BackgroundJob<ReportResult> job_{wake_ui};
  std::optional<ReportResult> result_;
  std::string dir_, error_;
  bool open_ = false;
};

}  // namespace actmap::app
