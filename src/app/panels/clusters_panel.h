// The Clusters tab: k-means of the selected tap's channels in the background (on a generator of
// its own), silhouette per k, the session's clusters with mean-map previews, "Select" a cluster.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "actmap/analysis/clustering.h"
#include "background_job.h"
#include "editor_context.h"
#include "texture.h"

namespace actmap::app {

class ClustersPanel {
 public:
  // Takes a finished job's result (every frame, drawn or not).
  void poll(EditorContext& ctx);
  void draw(EditorContext& ctx);
  bool busy() const { return job_.running(); }

 private:
  void update_previews(const ClusterResult& result, const std::vector<int>& labels, int k, const std::string& tap);

  BackgroundJob<ClusterResult> job_{wake_ui};
  std::string job_card_;
  std::optional<ClusterResult> result_;  // the latest, for result_card_
  std::string result_card_;
  int k_ = 0;  // 0: the default for the layer
  int samples_ = 64, restarts_ = 10;
  std::vector<Texture> previews_;     // mean-map preview per cluster of the session's labels
  std::vector<int> preview_labels_;   // the labels the previews were made for
  std::string preview_tap_;
};

}  // namespace actmap::app
