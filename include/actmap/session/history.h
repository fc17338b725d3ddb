// Undo and redo for a session: every change goes through a command that stores what it changed
// (old and new values) with a description for the history list. No LibTorch types here.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "actmap/session/session.h"

namespace actmap {

class SessionHistory {
 public:
  // `memory_limit` bounds the bytes the undo steps hold; the oldest steps go first. Depth is
  // otherwise unlimited.
  explicit SessionHistory(Session session, std::size_t memory_limit = std::size_t(64) << 20);

  const Session& session() const { return session_; }
  // Increases with every change, undo and redo: what the renderer and the autosaver watch.
  std::uint64_t revision() const { return revision_; }

  // Commands. Each validates first (throwing actmap::Error, changing nothing) and is one undo
  // step. Commands given the same non-empty `gesture` key one after another merge into one step
  // (a drag of a slider, one brush stroke: the add and every later change of that edit).
  // Returns the edit's id (assigned "eN" when empty or taken).
  std::string add_edit(Edit edit, std::size_t index = SIZE_MAX, const std::string& gesture = "");
  void remove_edit(const std::string& id);
  void move_edit(const std::string& id, std::size_t new_index);
  void set_enabled(const std::string& id, bool enabled);
  // Changes parameters (validated against the op registry; missing ones keep their values).
  void set_params(const std::string& id, const nlohmann::json& params, const std::string& gesture = "");
  // Replaces an edit wholesale (tap, channels, op, params, mask); the id stays.
  void replace_edit(const std::string& id, Edit edit, const std::string& description, const std::string& gesture = "");
  void set_latent(const SessionLatent& latent, const std::string& gesture = "");
  void set_synthesis(const SynthesisOptions& options, const std::string& gesture = "");  // truncation, noise
  void set_clusters(const std::string& tap, std::vector<int> labels);
  // Not undoable: view state and notes do not change pixels.
  Session& untracked() { return session_; }

  bool can_undo() const { return position_ > 0; }
  bool can_redo() const { return position_ < steps_.size(); }
  bool undo();
  bool redo();
  // Ends the current gesture: the next command never merges into the step before it.
  void end_gesture() { open_gesture_.clear(); }

  // The history list: descriptions oldest first; the first `position()` are applied.
  std::vector<std::string> descriptions() const;
  std::size_t position() const { return position_; }
  std::size_t memory_used() const { return bytes_; }

  // Save tracking: dirty() is false right after mark_saved() and again after undoing back to it.
  void mark_saved();
  // The session differs from every saved state (e.g. it was recovered after a crash).
  void mark_unsaved() { saved_position_ = -1; }
  bool dirty() const;

 private:
  struct Step {
    enum class Kind { Insert, Remove, Move, Replace, Latent, Clusters, Synthesis };
    Step(Kind k, std::string d) : kind(k), description(std::move(d)) {}
    Kind kind;
    std::string description;
    std::size_t index = 0, to = 0;  // edit position; Move: from index to `to`
    Edit before, after;             // Insert: after; Remove: before; Replace: both
    SessionLatent latent_before, latent_after;
    SynthesisOptions synthesis_before, synthesis_after;
    std::string tap;
    std::vector<int> clusters_before, clusters_after;
    bool had_clusters_before = false;
    std::size_t bytes = 0;
  };

  std::size_t index_of(const std::string& id) const;
  void push(Step step, const std::string& gesture);
  void apply(const Step& step, bool forward);
  static std::size_t estimate_bytes(const Step& step);

  Session session_;
  std::vector<Step> steps_;
  std::size_t position_ = 0;
  std::size_t memory_limit_;
  std::size_t bytes_ = 0;
  std::uint64_t revision_ = 0;
  std::string open_gesture_;
  // The step count at the last save, adjusted as old steps are dropped; -1 when unreachable.
  long long saved_position_ = 0;
};

}  // namespace actmap
