// Edits are data: which tap, which channels, which operation with which parameters. They replay
// on any latent. No LibTorch types here.
#pragma once

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

  static ChannelSelector from_json(const nlohmann::json& j, const std::string& where);
  nlohmann::json to_json() const;

  // Sorted, distinct channel indices for a tap with `channels` channels. `cluster_labels` holds
  // one label per channel (empty when the tap has no clusters). Errors name the tap.
  std::vector<std::int64_t> resolve(std::int64_t channels, const std::string& tap,
                                    const std::vector<int>& cluster_labels = {}) const;
};

struct Edit {
  std::string id;
  std::string tap;
  ChannelSelector channels;
  std::string op;
  nlohmann::json params = nlohmann::json::object();
  bool enabled = true;

  static Edit from_json(const nlohmann::json& j, const std::string& where);
  nlohmann::json to_json() const;
};

// An ordered edit list, e.g. {"edits": [...]} or a bare array. Ids are filled in ("e1", "e2",
// ...) where missing and must be unique. Ops and parameters are checked against the registry.
std::vector<Edit> edits_from_json(const nlohmann::json& j, const std::string& where);
std::vector<Edit> load_edits(const std::string& path);
nlohmann::json edits_to_json(const std::vector<Edit>& edits);

}  // namespace actmap
