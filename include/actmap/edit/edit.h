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
// | "all" | {"cluster": k} | {"random": fraction, "seed": s}.
struct ChannelSelector {
  enum class Kind { All, List, Range, Cluster, Random };
  Kind kind = Kind::All;
  std::vector<std::int64_t> list;   // List (a single index is a list of one)
  std::int64_t first = 0, last = 0; // Range
  int cluster = 0;                  // Cluster
  double fraction = 0.0;            // Random
  std::uint64_t seed = 0;           // Random
  bool single = false;              // written as a bare index

  // `where` is the selector's JSON pointer (e.g. "/edits/0/channels").
  static ChannelSelector from_json(const nlohmann::json& j, const std::string& where);
  nlohmann::json to_json() const;
  // The form a person types: "5", "1, 4, 9", "2-7", "all", "cluster 2" (spaces and case do not
  // matter). Errors say which forms there are. to_text() gives it back ("" for Random).
  static ChannelSelector from_text(const std::string& text);
  std::string to_text() const;

  // Sorted, distinct channel indices for a tap with `channels` channels. `cluster_labels` holds
  // one label per channel (empty when the tap has no clusters). Errors name the tap.
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
