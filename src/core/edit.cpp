#include "actmap/edit.h"

#include <algorithm>
#include <numeric>
#include <set>

#include "actmap/error.h"
#include "actmap/files.h"
#include "actmap/latent.h"
#include "actmap/ops.h"

using nlohmann::json;

namespace actmap {
namespace {

std::int64_t channel_index(const json& v, const std::string& where) {
  if (!v.is_number_integer() || v.get<std::int64_t>() < 0) {
    throw Error(where + ": channel indices must be non-negative integers, got " + v.dump());
  }
  return v.get<std::int64_t>();
}

}  // namespace

ChannelSelector ChannelSelector::from_json(const json& j, const std::string& where) {
  ChannelSelector s;
  if (j.is_string()) {
    if (j.get<std::string>() != "all") throw Error(where + ": the only string selector is \"all\", got " + j.dump());
    s.kind = Kind::All;
  } else if (j.is_number()) {
    s.kind = Kind::List;
    s.single = true;
    s.list = {channel_index(j, where)};
  } else if (j.is_array()) {
    s.kind = Kind::List;
    if (j.empty()) throw Error(where + ": an empty channel list selects nothing");
    for (const auto& v : j) s.list.push_back(channel_index(v, where));
  } else if (j.is_object() && j.contains("range")) {
    const json& r = j.at("range");
    if (!r.is_array() || r.size() != 2) throw Error(where + ".range: must be [first, last]");
    s.kind = Kind::Range;
    s.first = channel_index(r[0], where + ".range");
    s.last = channel_index(r[1], where + ".range");
    if (s.first > s.last) throw Error(where + ".range: first " + r[0].dump() + " is after last " + r[1].dump());
  } else if (j.is_object() && j.contains("cluster")) {
    if (!j.at("cluster").is_number_integer() || j.at("cluster").get<int>() < 0) {
      throw Error(where + ".cluster: must be a non-negative integer");
    }
    s.kind = Kind::Cluster;
    s.cluster = j.at("cluster").get<int>();
  } else if (j.is_object() && j.contains("random")) {
    const json& f = j.at("random");
    if (!f.is_number() || !(f.get<double>() > 0.0) || f.get<double>() > 1.0) {
      throw Error(where + ".random: must be a fraction in (0, 1], got " + f.dump());
    }
    s.kind = Kind::Random;
    s.fraction = f.get<double>();
    if (j.contains("seed")) {
      const json& seed = j.at("seed");
      if (!seed.is_number_integer() || (!seed.is_number_unsigned() && seed.get<std::int64_t>() < 0)) {
        throw Error(where + ".seed: must be a non-negative integer, got " + seed.dump());
      }
      s.seed = j.at("seed").get<std::uint64_t>();
    }
  } else {
    throw Error(where + ": not a channel selector (use an index, a list, {\"range\": [a, b]}, \"all\", "
                        "{\"cluster\": k} or {\"random\": fraction, \"seed\": s}), got " + j.dump());
  }
  return s;
}

json ChannelSelector::to_json() const {
  switch (kind) {
    case Kind::All: return "all";
    case Kind::List: return single && list.size() == 1 ? json(list[0]) : json(list);
    case Kind::Range: return {{"range", {first, last}}};
    case Kind::Cluster: return {{"cluster", cluster}};
    case Kind::Random: return {{"random", fraction}, {"seed", seed}};
  }
  return "all";
}

std::vector<std::int64_t> ChannelSelector::resolve(std::int64_t channels, const std::string& tap,
                                                   const std::vector<int>& cluster_labels) const {
  std::vector<std::int64_t> out;
  auto check = [&](std::int64_t c) {
    if (c >= channels) {
      throw Error("channel " + std::to_string(c) + " is out of range for tap '" + tap + "' (" +
                  std::to_string(channels) + " channels: 0.." + std::to_string(channels - 1) + ")");
    }
  };
  switch (kind) {
    case Kind::All:
      out.resize(static_cast<std::size_t>(channels));
      std::iota(out.begin(), out.end(), 0);
      break;
    case Kind::List:
      for (auto c : list) check(c);
      out = list;
      break;
    case Kind::Range:
      check(last);
      for (auto c = first; c <= last; ++c) out.push_back(c);
      break;
    case Kind::Cluster:
      if (cluster_labels.empty()) throw Error("tap '" + tap + "' has no clusters; cluster it first");
      if (static_cast<std::int64_t>(cluster_labels.size()) != channels) {
        throw Error("tap '" + tap + "' has " + std::to_string(cluster_labels.size()) + " cluster labels for " +
                    std::to_string(channels) + " channels");
      }
      for (std::int64_t c = 0; c < channels; ++c) {
        if (cluster_labels[c] == cluster) out.push_back(c);
      }
      if (out.empty()) throw Error("tap '" + tap + "' has no cluster " + std::to_string(cluster));
      break;
    case Kind::Random: {
      // A seeded Fisher-Yates shuffle with the same SplitMix64 as the latents: portable.
      std::vector<std::int64_t> all(static_cast<std::size_t>(channels));
      std::iota(all.begin(), all.end(), 0);
      SplitMix64 rng(seed);
      for (std::int64_t i = channels - 1; i > 0; --i) {
        const auto j = static_cast<std::int64_t>(rng.next() % static_cast<std::uint64_t>(i + 1));
        std::swap(all[i], all[j]);
      }
      const auto n = std::max<std::int64_t>(1, static_cast<std::int64_t>(std::llround(fraction * channels)));
      out.assign(all.begin(), all.begin() + std::min(n, channels));
      break;
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

Edit Edit::from_json(const json& j, const std::string& where) {
  if (!j.is_object()) throw Error(where + ": an edit must be an object");
  static const std::set<std::string> known = {"id", "tap", "channels", "op", "params", "enabled"};
  for (const auto& [key, value] : j.items()) {
    if (key == "mask") throw Error(where + ".mask: spatial masks are not supported by this build yet");
    if (!known.count(key)) throw Error(where + "." + key + ": unknown key in an edit");
  }
  Edit e;
  if (j.contains("id")) {
    if (!j.at("id").is_string() || j.at("id").get<std::string>().empty()) throw Error(where + ".id: must be a non-empty string");
    e.id = j.at("id").get<std::string>();
  }
  if (!j.contains("tap") || !j.at("tap").is_string()) throw Error(where + ".tap: missing (the tap's name)");
  e.tap = j.at("tap").get<std::string>();
  if (!j.contains("op") || !j.at("op").is_string()) throw Error(where + ".op: missing (the operation's name)");
  e.op = j.at("op").get<std::string>();
  e.channels = ChannelSelector::from_json(j.value("channels", json("all")), where + ".channels");
  e.params = validate_op_params(e.op, j.value("params", json::object()), where);
  if (j.contains("enabled")) {
    if (!j.at("enabled").is_boolean()) throw Error(where + ".enabled: must be true or false");
    e.enabled = j.at("enabled").get<bool>();
  }
  return e;
}

json Edit::to_json() const {
  return {{"id", id}, {"tap", tap}, {"channels", channels.to_json()}, {"op", op}, {"params", params}, {"enabled", enabled}};
}

std::vector<Edit> edits_from_json(const json& j, const std::string& where) {
  const json* list = &j;
  std::string at = where;
  if (j.is_object() && j.contains("edits")) {
    list = &j.at("edits");
    at += ": edits";
  }
  if (!list->is_array()) throw Error(where + ": expected a list of edits or {\"edits\": [...]}");
  std::vector<Edit> edits;
  std::set<std::string> ids;
  for (std::size_t i = 0; i < list->size(); ++i) {
    Edit e = Edit::from_json((*list)[i], at + "[" + std::to_string(i) + "]");
    if (!e.id.empty() && !ids.insert(e.id).second) {
      throw Error(at + "[" + std::to_string(i) + "].id: '" + e.id + "' is used twice");
    }
    edits.push_back(std::move(e));
  }
  int next = 1;
  for (auto& e : edits) {
    if (!e.id.empty()) continue;
    while (ids.count("e" + std::to_string(next))) ++next;
    e.id = "e" + std::to_string(next);
    ids.insert(e.id);
  }
  return edits;
}

std::vector<Edit> load_edits(const std::string& path) {
  json j;
  try {
    j = json::parse(read_file_text(path));
  } catch (const json::exception& e) {
    throw Error(path + ": not valid JSON: " + e.what());
  }
  return edits_from_json(j, path);
}

json edits_to_json(const std::vector<Edit>& edits) {
  json list = json::array();
  for (const auto& e : edits) list.push_back(e.to_json());
  return list;
}

}  // namespace actmap
