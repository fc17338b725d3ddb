// The Channels window's Sensitivity tab: how much the output changes when each channel of the
// selected tap alone is ablated or scaled (in the background), as sortable bars; CSV export.
#pragma once

#include <optional>
#include <string>

#include "actmap/analysis/sensitivity.h"
#include "background_job.h"
#include "editor_context.h"

namespace actmap::app {

class SensitivityPanel {
 public:
  static constexpr const char* kExportTitle = "Export sensitivity CSV";
  void poll(EditorContext& ctx);
  void draw(EditorContext& ctx);
  bool busy() const { return job_.running(); }

 private:
  void export_csv(EditorContext& ctx, const std::string& path);

  BackgroundJob<SensitivityResult> job_{wake_ui};
  std::optional<SensitivityResult> result_;
  std::string job_card_, result_card_;
  int samples_ = 16, op_ = 0, sort_ = 0;
  float factor_ = 2.0f;
};

}  // namespace actmap::app
