// A strip under the output: the session's edits on N other seeds, rendered in the background by a
// worker of its own that gives way to the main render (it starts only when the main one is idle
// and stops between layers when a new main request comes). It shows at once whether a bend is a
// reliable effect or an accident of one latent; clicking a seed makes it the current one.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "actmap/render/render_worker.h"
#include "editor_context.h"
#include "texture.h"

namespace actmap::app {

class SeedStripPanel {
 public:
  explicit SeedStripPanel(const RenderLink& main);
  // Takes the strip worker's reply and sends the next seed when the main render is idle.
  void poll(EditorContext& ctx);
  // The strip, `height` pixels high (thumbnails and their controls).
  void draw(EditorContext& ctx);
  float height() const;
  bool busy() const { return enabled_ && (worker_.busy() || next_slot() >= 0); }

 private:
  struct Slot {
    std::uint64_t seed = 0;
    std::string key;  // the session state its image shows ("" : none yet)
    Texture image;
    std::uint32_t checksum = 0;  // FNV-1a of the RGB bytes (GUI tests compare with actmap-cli)
  };
  int next_slot() const;  // the first slot whose image is not for the current state, -1: none
  std::string state_key(const Session& s) const;

  RenderWorker worker_;
  const RenderLink& main_;
  bool configured_ = false;  // from the command line, on the first frame
  bool enabled_ = true;
  int count_ = 4;
  std::uint64_t first_seed_ = 0;
  std::vector<Slot> slots_;
  std::string key_;            // the session state the strip should show
  int in_flight_ = -1;         // the slot being rendered
  std::string in_flight_key_;
  std::uint64_t in_flight_stamp_ = 0;
};

}  // namespace actmap::app
