// Edits are data: which tap, which channels, which operation with which parameters. They replay
// on any latent. No LibTorch types here.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace actmap {

// Which channels of a tap an edit touches. JSON forms: 5 | [1, 4, 9] | {"range": [a, b]} (inclusive)
// | "all" | {"cluster": k} | {"random": fraction, "seed": s} | {"random": fraction, "seed": s,
// "rule": "network_bending"[, "draws_before": [[C, k], ...]]}.
struct ChannelSelector {
  enum class Kind { All, List, Range, Cluster, Random };
  // How a random selection is drawn from C channels:
  //  Actmap          round(fraction C) channels, at least one, by a seeded Fisher-Yates shuffle on
  //                  SplitMix64 (the meaning of every session saved without a "rule");
  //  NetworkBending  int(fraction C) channels (truncated, maybe none) as Network Bending draws them
  //                  (util.py, create_random_transform_dict): Python's random.seed(seed) then
  //                  random.sample(range(C), k). Fractions from 0 to 1.
  enum class RandomRule { Actmap, NetworkBending };
  Kind kind = Kind::All;
  std::vector<std::int64_t> list;   // List (a single index is a list of one)
  std::int64_t first = 0, last = 0; // Range
  int cluster = 0;                  // Cluster
  double fraction = 0.0;            // Random
  std::uint64_t seed = 0;           // Random
  RandomRule rule = RandomRule::Actmap;  // Random
  // NetworkBending: draws [C_i, k_i] Python's stream made after random.seed(seed) and before this
  // one (Network Bending draws every random transform of a config from one stream, in order).
  std::vector<std::array<std::int64_t, 2>> draws_before;
  bool single = false;              // written as a bare index

  // `where` is the selector's JSON pointer (e.g. "/edits/0/channels").
  static ChannelSelector from_json(const nlohmann::json& j, const std::string& where);
  nlohmann::json to_json() const;
  // The form a person types: "5", "1, 4, 9", "2-7", "all", "cluster 2" (spaces and case do not
  // matter). Errors say which forms there are. to_text() gives it back ("" for Random).
  static ChannelSelector from_text(const std::string& text);
  std::string to_text() const;

  // Sorted, distinct channel indices for a tap with `channels` channels. `cluster_labels` holds
  // one label per channel (empty when the tap has no clusters; -1: the channel is in no cluster).
  // A cluster no channel is in selects nothing (as in Network Bending), and so may a random
  // selection with the network_bending rule; edits that select nothing change nothing. Errors
  // name the tap.
  std::vector<std::int64_t> resolve(std::int64_t channels, const std::string& tap,
                                    const std::vector<int>& cluster_labels = {}) const;
};

// Where on the map an edit acts: the result is mask * edited + (1 - mask) * unedited, per pixel.
// JSON forms (tap pixels; the centre of the pixel in row r, column c is (c, r)):
//   {"rect": [x0, y0, x1, y1]}          pixels whose centres lie in the rectangle (inclusive)
//   {"ellipse": [cx, cy, rx, ry]}       pixels whose centres lie in the ellipse
//   {"values": [[w, ...], ...]}         weights in [0, 1], rows of equal length
//   {"file": "mask.png"}                a grey image (white = 1), relative to the session file
// each optionally with "invert": true. Value and file masks of another size than the tap are
// resampled to it (area average when shrinking, bilinear when enlarging).
struct SpatialMask {
  enum class Kind { None, Rect, Ellipse, Values, File };
  Kind kind = Kind::None;
  std::array<double, 4> shape{};   // Rect: x0, y0, x1, y1; Ellipse: cx, cy, rx, ry
  std::int64_t height = 0, width = 0;
  std::vector<float> values;       // Values and File (loaded on parse), row-major height x width
  std::string file;                // File: as written in the session
  bool invert = false;

  bool empty() const { return kind == Kind::None; }
  // `base_dir` resolves a relative "file"; `where` is the JSON pointer for errors.
  static SpatialMask from_json(const nlohmann::json& j, const std::string& where, const std::string& base_dir = "");
  nlohmann::json to_json() const;
};

struct Edit {
  std::string id;
  std::string tap;
  ChannelSelector channels;
  std::string op;
  nlohmann::json params = nlohmann::json::object();
  bool enabled = true;
  SpatialMask mask;

  // `where` is the edit's JSON pointer (e.g. "/edits/3"); errors start with it.
  static Edit from_json(const nlohmann::json& j, const std::string& where, const std::string& base_dir = "");
  nlohmann::json to_json() const;
};

// An ordered edit list, e.g. {"edits": [...]} or a bare array. Ids are filled in ("e1", "e2",
// ...) where missing and must be unique. Ops and parameters are checked against the registry.
// `where` is the JSON pointer of the list's parent ("" for the document root).
std::vector<Edit> edits_from_json(const nlohmann::json& j, const std::string& where = "",
                                  const std::string& base_dir = "");
std::vector<Edit> load_edits(const std::string& path);  // errors start with the path
nlohmann::json edits_to_json(const std::vector<Edit>& edits);

}  // namespace actmap
