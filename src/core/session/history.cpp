#include "actmap/session/history.h"

#include <cstdio>

#include <algorithm>
#include <set>

#include "actmap/edit/ops.h"
#include "actmap/io/error.h"

using nlohmann::json;

namespace actmap {
namespace {

std::string label(const Edit& e) { return e.op + " at " + e.tap; }

std::size_t edit_bytes(const Edit& e) {
  return sizeof(Edit) + e.params.dump().size() + e.mask.values.size() * sizeof(float) + e.id.size() + e.tap.size();
}

// An edit with its op and parameters checked and defaults filled in; `where` names it in errors.
Edit validated(Edit e, const std::string& where) {
  e.params = validate_op_params(e.op, e.params, where);
  return e;
}

}  // namespace

SessionHistory::SessionHistory(Session session, std::size_t memory_limit)
    : session_(std::move(session)), memory_limit_(memory_limit) {}

std::size_t SessionHistory::index_of(const std::string& id) const {
  for (std::size_t i = 0; i < session_.edits.size(); ++i) {
    if (session_.edits[i].id == id) return i;
  }
  throw Error("no edit with id '" + id + "' in the session");
}

std::size_t SessionHistory::estimate_bytes(const Step& s) {
  std::size_t b = sizeof(Step) + s.description.size();
  if (s.kind == Step::Kind::Insert || s.kind == Step::Kind::Replace) b += edit_bytes(s.after);
  if (s.kind == Step::Kind::Remove || s.kind == Step::Kind::Replace) b += edit_bytes(s.before);
  b += (s.latent_before.z.size() + s.latent_after.z.size()) * sizeof(float);
  b += (s.clusters_before.size() + s.clusters_after.size()) * sizeof(int);
  return b;
}

void SessionHistory::apply(const Step& s, bool forward) {
  auto& edits = session_.edits;
  const auto at = [&](std::size_t i) { return edits.begin() + static_cast<std::ptrdiff_t>(i); };
  switch (s.kind) {
    case Step::Kind::Insert:
      if (forward) edits.insert(at(s.index), s.after);
      else edits.erase(at(s.index));
      break;
    case Step::Kind::Remove:
      if (forward) edits.erase(at(s.index));
      else edits.insert(at(s.index), s.before);
      break;
    case Step::Kind::Move: {
      const std::size_t from = forward ? s.index : s.to, to = forward ? s.to : s.index;
      Edit e = std::move(edits[from]);
      edits.erase(at(from));
      edits.insert(at(to), std::move(e));
      break;
    }
    case Step::Kind::Replace:
      edits[s.index] = forward ? s.after : s.before;
      break;
    case Step::Kind::Latent:
      session_.latent = forward ? s.latent_after : s.latent_before;
      break;
    case Step::Kind::Synthesis:
      session_.synthesis = forward ? s.synthesis_after : s.synthesis_before;
      break;
    case Step::Kind::Clusters:
      if (forward) session_.clusters[s.tap] = s.clusters_after;
      else if (s.had_clusters_before) session_.clusters[s.tap] = s.clusters_before;
      else session_.clusters.erase(s.tap);
      break;
  }
  ++revision_;
}

void SessionHistory::push(Step step, const std::string& gesture) {
  apply(step, true);
  // A new change forgets the steps that were undone.
  while (steps_.size() > position_) {
    bytes_ -= steps_.back().bytes;
    steps_.pop_back();
  }
  if (saved_position_ > static_cast<long long>(position_)) saved_position_ = -1;

  bool merged = false;
  if (!gesture.empty() && gesture == open_gesture_ && !steps_.empty()) {
    Step& top = steps_.back();
    const bool same_edit = top.index == step.index;
    if (step.kind == Step::Kind::Replace && same_edit && (top.kind == Step::Kind::Insert || top.kind == Step::Kind::Replace)) {
      top.after = step.after;
      if (top.kind == Step::Kind::Replace) top.description = step.description;
      merged = true;
    } else if (step.kind == Step::Kind::Latent && top.kind == Step::Kind::Latent) {
      top.latent_after = step.latent_after;
      top.description = step.description;
      merged = true;
    } else if (step.kind == Step::Kind::Synthesis && top.kind == Step::Kind::Synthesis) {
      top.synthesis_after = step.synthesis_after;
      top.description = step.description;
      merged = true;
    }
    if (merged) {
      bytes_ -= top.bytes;
      top.bytes = estimate_bytes(top);
      bytes_ += top.bytes;
      // The saved state was the one this step led to; it is gone now.
      if (saved_position_ == static_cast<long long>(position_)) saved_position_ = -1;
    }
  }
  if (!merged) {
    step.bytes = estimate_bytes(step);
    bytes_ += step.bytes;
    steps_.push_back(std::move(step));
    position_ = steps_.size();
  }
  open_gesture_ = gesture;
  // Within the memory bound, oldest first; the newest step always stays.
  while (bytes_ > memory_limit_ && steps_.size() > 1) {
    bytes_ -= steps_.front().bytes;
    steps_.erase(steps_.begin());
    --position_;
    saved_position_ = saved_position_ <= 0 ? -1 : saved_position_ - 1;
  }
}

std::string SessionHistory::add_edit(Edit edit, std::size_t index, const std::string& gesture) {
  edit = validated(std::move(edit), "new edit");
  std::set<std::string> ids;
  for (const auto& e : session_.edits) ids.insert(e.id);
  if (edit.id.empty() || ids.count(edit.id)) {
    int n = 1;
    while (ids.count("e" + std::to_string(n))) ++n;
    edit.id = "e" + std::to_string(n);
  }
  Step s{Step::Kind::Insert, "Add " + label(edit)};
  s.index = std::min(index, session_.edits.size());
  s.after = std::move(edit);
  const std::string id = s.after.id;
  push(std::move(s), gesture);
  return id;
}

void SessionHistory::remove_edit(const std::string& id) {
  const std::size_t i = index_of(id);
  Step s{Step::Kind::Remove, "Remove " + label(session_.edits[i])};
  s.index = i;
  s.before = session_.edits[i];
  push(std::move(s), "");
}

void SessionHistory::move_edit(const std::string& id, std::size_t new_index) {
  const std::size_t i = index_of(id);
  const std::size_t to = std::min(new_index, session_.edits.size() - 1);
  if (to == i) return;
  Step s{Step::Kind::Move, "Move " + label(session_.edits[i]) + " to position " + std::to_string(to + 1)};
  s.index = i;
  s.to = to;
  push(std::move(s), "");
}

void SessionHistory::set_enabled(const std::string& id, bool enabled) {
  const std::size_t i = index_of(id);
  if (session_.edits[i].enabled == enabled) return;
  Edit e = session_.edits[i];
  e.enabled = enabled;
  replace_edit(id, std::move(e), (enabled ? "Enable " : "Disable ") + label(session_.edits[i]));
}

void SessionHistory::set_params(const std::string& id, const json& params, const std::string& gesture) {
  if (!params.is_object()) throw Error("parameters must be a JSON object, got " + params.dump());
  const std::size_t i = index_of(id);
  Edit e = session_.edits[i];
  std::string names;
  for (const auto& [key, value] : params.items()) {
    e.params[key] = value;
    names += (names.empty() ? "" : ", ") + key;
  }
  replace_edit(id, std::move(e), "Change " + label(session_.edits[i]) + " (" + names + ")", gesture);
}

void SessionHistory::replace_edit(const std::string& id, Edit edit, const std::string& description,
                                  const std::string& gesture) {
  const std::size_t i = index_of(id);
  edit.id = id;
  edit = validated(std::move(edit), "edit '" + id + "'");
  Step s{Step::Kind::Replace, description};
  s.index = i;
  s.before = session_.edits[i];
  s.after = std::move(edit);
  push(std::move(s), gesture);
}

void SessionHistory::set_latent(const SessionLatent& latent, const std::string& gesture) {
  if (latent == session_.latent) return;
  Step s{Step::Kind::Latent, "Latent: " + latent.describe()};
  s.latent_before = session_.latent;
  s.latent_after = latent;
  push(std::move(s), gesture);
}

void SessionHistory::set_synthesis(const SynthesisOptions& options, const std::string& gesture) {
  if (options == session_.synthesis) return;
  char text[160];
  if (options.input_rotate != session_.synthesis.input_rotate || options.input_translate != session_.synthesis.input_translate) {
    std::snprintf(text, sizeof text, "Input transform: rotate %.1f, translate %.3f, %.3f", options.input_rotate,
                  options.input_translate[0], options.input_translate[1]);
  } else if (options.class_index != session_.synthesis.class_index || options.c != session_.synthesis.c) {
    if (options.c.empty()) {
      std::snprintf(text, sizeof text, "Class %lld", static_cast<long long>(options.class_index.value_or(0)));
    } else {
      std::snprintf(text, sizeof text, "Label c (%zu values)", options.c.size());
    }
  } else {
    std::snprintf(text, sizeof text, "Truncation %.2f%s, noise %s", options.truncation_psi,
                  options.truncation_cutoff ? (" (first " + std::to_string(*options.truncation_cutoff) + " rows)").c_str() : "",
                  noise_mode_name(options.noise_mode));
  }
  Step s{Step::Kind::Synthesis, text};
  s.synthesis_before = session_.synthesis;
  s.synthesis_after = options;
  push(std::move(s), gesture);
}

void SessionHistory::set_clusters(const std::string& tap, std::vector<int> labels) {
  int k = 0;
  for (int l : labels) k = std::max(k, l + 1);
  Step s{Step::Kind::Clusters, "Cluster " + tap + " (" + std::to_string(k) + " clusters)"};
  s.tap = tap;
  const auto it = session_.clusters.find(tap);
  s.had_clusters_before = it != session_.clusters.end();
  if (s.had_clusters_before) s.clusters_before = it->second;
  s.clusters_after = std::move(labels);
  push(std::move(s), "");
}

bool SessionHistory::undo() {
  if (!can_undo()) return false;
  apply(steps_[--position_], false);
  open_gesture_.clear();
  return true;
}

bool SessionHistory::redo() {
  if (!can_redo()) return false;
  apply(steps_[position_++], true);
  open_gesture_.clear();
  return true;
}

std::vector<std::string> SessionHistory::descriptions() const {
  std::vector<std::string> out;
  for (const auto& s : steps_) out.push_back(s.description);
  return out;
}

void SessionHistory::mark_saved() { saved_position_ = static_cast<long long>(position_); }

bool SessionHistory::dirty() const { return saved_position_ != static_cast<long long>(position_); }

}  // namespace actmap
