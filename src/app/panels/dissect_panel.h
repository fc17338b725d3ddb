// The Dissect tab (GAN Dissection): a region painted on the output, the selected tap's units
// ranked by how they concentrate inside it, ablate or boost the best and measure the effect. The
// computations run as background jobs on a generator of their own.
#pragma once

#include <optional>
#include <string>

#include "actmap/analysis/dissection.h"
#include "background_job.h"
#include "editor_context.h"
#include "texture.h"

namespace actmap::app {

class DissectPanel {
 public:
  void poll(EditorContext& ctx);
  void draw(EditorContext& ctx);
  // The region over the output image at (x, y), `zoom` screen pixels per output pixel; painted
  // with the mouse (the output panel calls this in Dissect mode).
  void draw_region_overlay(const EditorContext& ctx, float x, float y, float zoom);
  bool busy() const { return job_.running() || effect_job_.running(); }

 private:
  Region region_;  // at the output's size
  Texture region_tex_;
  bool region_dirty_ = true;
  float region_brush_ = 3.0f;
  BackgroundJob<DissectResult> job_{wake_ui};
  std::optional<DissectResult> dissection_;
  int samples_ = 64, top_ = 5;
  float quantile_ = 0.99f, boost_factor_ = 3.0f;
  BackgroundJob<EditEffect> effect_job_{wake_ui};
  std::optional<EditEffect> effect_;
  std::string effect_label_;
};

}  // namespace actmap::app
