// Sessions: the single source of truth of an editing session and the JSON document a user saves
// (schema version 1, documented in docs/sessions.md, JSON Schema in assets/session.schema.json).
// No LibTorch types here.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "actmap/edit/edit.h"
#include "actmap/model/model_card.h"
#include "actmap/model/synthesis.h"

namespace actmap {

constexpr int kSessionVersion = 1;

// Which latent the session renders: {"seed": N} | {"z": [...]} | {"z_file": "z.npy"}, or for
// models with a mapping network W+ itself, which skips the mapping: {"ws": [[...], ...]} (num_ws
// rows of w_dim) | {"ws_file": "ws.npy"} ([num_ws, w_dim] or [1, num_ws, w_dim]).
struct SessionLatent {
  enum class Kind { Seed, Z, ZFile, WS, WSFile };
  Kind kind = Kind::Seed;
  std::uint64_t seed = 0;
  std::vector<float> z;  // Z and WS (W+ row-major), and the file kinds once loaded
  std::string z_file;    // ZFile and WSFile: as written (relative to the session file)
  std::int64_t ws_rows = 0;  // WS and WSFile: rows of W+

  bool is_ws() const { return kind == Kind::WS || kind == Kind::WSFile; }
  bool is_file() const { return kind == Kind::ZFile || kind == Kind::WSFile; }

  static SessionLatent from_seed(std::uint64_t seed);
  static SessionLatent from_z(std::vector<float> z);
  std::string describe() const;  // "seed 42", "explicit z", "z from z.npy"
  // The latent values for a model with this latent spec (seeded ones are generated); throws for W+.
  std::vector<float> values(const LatentSpec& spec) const;
  bool operator==(const SessionLatent& o) const;
  bool operator!=(const SessionLatent& o) const { return !(*this == o); }
};

struct Session {
  std::string model;           // as written: a card path (relative to the session file), a model name, or a
                               // checkpoint file (.pkl, .pt, ...; its converted card is card_path)
  std::string card_path;       // the card file it resolved to
  std::string weights_sha256;  // of the weights the session was made with, or of the checkpoint file ("" if unknown)
  SessionLatent latent;
  std::vector<Edit> edits;
  std::map<std::string, std::vector<int>> clusters;  // tap -> cluster label per channel
  SynthesisOptions synthesis;  // truncation and noise (StyleGAN2); written only when not the default
  nlohmann::json view = nlohmann::json::object();    // GUI state; kept, not interpreted
  std::string notes;
  std::string base_dir;        // directory that relative paths resolve from ("" = current)
  std::string recovered_from;  // recovery files only: the session file they stand for

  const Edit* find_edit(const std::string& id) const;
  std::vector<int> cluster_labels(const std::string& tap) const;  // empty when none
};

// A new session on a model card (path or name): seed 0, no edits, the weights' sha256 recorded.
// `model` may be a checkpoint file (.pkl, .pt, ...) already converted (open_model_file): the
// session names the file and records the file's own sha256.
Session new_session(const std::string& model);

// Parses and checks a whole session: structure, ops and parameters, the model card it names,
// taps, channels, clusters and the latent against that card, and the files it refers to. Any
// fault throws actmap::Error "SOURCE: /json/pointer: what" and nothing is half-applied.
// A weights sha256 that differs from the file on disk is a warning (actmap::warn), not an error.
// A session whose model is a checkpoint file not converted yet throws CheckpointNotConverted
// (model/checkpoint_cache.h): convert it with open_model_file and parse again.
// `source` names the document in messages and its directory resolves relative paths.
inline constexpr std::size_t kMaxSessionBytes = std::size_t{16} << 20;  // larger session files are refused unparsed
Session parse_session(const std::string& text, const std::string& source);
Session load_session(const std::string& path);

// Checks edits and clusters against a model card's taps; errors use JSON pointers.
void check_session_against_card(const Session& s, const ModelCard& card);

// The document, with paths written relative to `dir` (absolute when `dir` is empty).
nlohmann::json session_to_json(const Session& s, const std::string& dir);
// Writes atomically (temporary file, flush, rename); relative paths are rewritten so they still
// point at the same files from the new location. Sets s.base_dir to the file's directory.
void save_session(Session& s, const std::string& path);

// The taps a card's generator will have (names after tap_names), without loading weights.
std::vector<TapInfo> card_taps(const ModelCard& card);

// Crash recovery: the GUI autosaves the open session to a recovery file and offers it at the
// next start. Recovery files hold absolute paths and name the session file they stand for.
std::string recovery_dir();  // $XDG_STATE_HOME/actmap/recovery or ~/.local/state/actmap/recovery
struct RecoveryFile {
  std::string path;          // the recovery file
  std::string session_path;  // the file it stands for ("" for an unsaved session)
  std::int64_t saved_unix = 0;
};
std::vector<RecoveryFile> list_recovery_files(const std::string& dir);  // newest first
// A new recovery file's path in `dir`: session-<unix time>-<pid>-<n>.json, n counting the calls in
// this process. The process id keeps two editors started in the same second apart; n, two in one
// process.
std::string new_recovery_path(const std::string& dir);

class Autosaver {
 public:
  // Writes the session to `recovery_path` at most every `interval_s` seconds while it changes.
  Autosaver(std::string recovery_path, double interval_s = 5.0);
  // Call after changes and now and then; `revision` changes whenever the session does. Returns
  // true when it wrote. Never throws: a failed write is reported once through actmap::warn.
  bool tick(const Session& s, std::uint64_t revision, const std::string& session_path, double now_s);
  bool flush(const Session& s, std::uint64_t revision, const std::string& session_path);
  void discard();  // after a clean save or exit: the recovery file goes
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  double interval_s_;
  double last_write_s_ = -1e300;
  std::optional<std::uint64_t> written_revision_;
  bool warned_ = false;
};

}  // namespace actmap
