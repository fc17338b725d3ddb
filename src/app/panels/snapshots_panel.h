// The Snapshots tab (A/B): keep the current output as a named snapshot, then compare any two of
// the snapshots, the current output and the original, side by side, toggled or as their
// difference. Snapshots are saved with the session (its "view": the state each one shows, not
// pixels), and a session opened with snapshots renders them again in the background.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "actmap/io/image.h"
#include "background_job.h"
#include "editor_context.h"
#include "texture.h"

namespace actmap::app {

class SnapshotsPanel {
 public:
  void poll(EditorContext& ctx);
  void draw(EditorContext& ctx);
  bool busy() const { return job_.running(); }
  // The session was replaced (opened, new, recovered): its snapshots are read from its view.
  void reset() { needs_load_ = true; }

 private:
  struct Snapshot {
    std::string name;
    nlohmann::json state;  // a session document without its view: what the snapshot shows
    Image image;
    Texture texture;
  };
  enum class Compare { SideBySide, Toggle, Difference };

  void load_from_session(EditorContext& ctx);
  void store_in_session(EditorContext& ctx) const;
  const Texture* texture_of(const EditorContext& ctx, int which) const;
  const Image* image_of(const EditorContext& ctx, int which) const;
  std::string label_of(int which) const;

  std::vector<Snapshot> snapshots_;
  bool needs_load_ = true;  // a new session: read its snapshots
  BackgroundJob<std::vector<Image>> job_{wake_ui};  // renders snapshots read from a file
  std::string name_ = "A";
  int a_ = -1, b_ = -2;  // -1: the current output, -2: the original, k: snapshot k
  Compare compare_ = Compare::SideBySide;
  bool show_b_ = false;  // Toggle mode
  Image diff_;
  Texture diff_tex_;
  std::string diff_for_;
};

}  // namespace actmap::app
