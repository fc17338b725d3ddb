#include "actmap/edit/edit.h"

#include <cctype>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <numeric>
#include <set>

#include "actmap/edit/ops.h"
#include "actmap/io/error.h"
#include "actmap/io/files.h"
#include "actmap/io/image.h"
#include "actmap/io/json_text.h"
#include "actmap/model/latent.h"
#include "edit/python_random.h"

using nlohmann::json;

namespace actmap {
namespace {

std::int64_t channel_index(const json& v, const std::string& where) {
  if (!v.is_number_integer() || v.get<std::int64_t>() < 0) {
    throw Error(where + ": expected a non-negative channel index, got " + v.dump());
  }
  return v.get<std::int64_t>();
}

}  // namespace

ChannelSelector ChannelSelector::from_text(const std::string& text) {
  std::string t;
  for (char c : text) {
    if (c != ' ' && c != '\t') t += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  const std::string forms = "expected a channel (5), a list (1, 4, 9), a range (2-7), all, or cluster K";
  auto number = [&](const std::string& part) -> std::int64_t {
    std::size_t used = 0;
    long long v = 0;
    try {
      v = std::stoll(part, &used);
    } catch (const std::logic_error&) {  // invalid_argument, out_of_range
      used = 0;
    }
    if (part.empty() || used != part.size()) throw Error("channels '" + text + "': " + forms);
    return v;
  };
  json j;
  if (t == "all") {
    j = "all";
  } else if (t.rfind("cluster", 0) == 0) {
    j = {{"cluster", number(t.substr(7))}};
  } else if (const std::size_t dash = t.find('-'); dash != std::string::npos && dash > 0) {
    j = {{"range", {number(t.substr(0, dash)), number(t.substr(dash + 1))}}};
  } else if (t.find(',') != std::string::npos) {
    j = json::array();
    std::size_t start = 0;
    while (start <= t.size()) {
      const std::size_t end = std::min(t.find(',', start), t.size());
      j.push_back(number(t.substr(start, end - start)));
      start = end + 1;
    }
  } else {
    j = number(t);
  }
  try {
    return from_json(j, "channels");
  } catch (const Error& e) {
    throw Error("channels '" + text + "': " + e.what());
  }
}

std::string ChannelSelector::to_text() const {
  switch (kind) {
    case Kind::All: return "all";
    case Kind::List: {
      std::string out;
      for (std::int64_t c : list) out += (out.empty() ? "" : ", ") + std::to_string(c);
      return out;
    }
    case Kind::Range: return std::to_string(first) + "-" + std::to_string(last);
    case Kind::Cluster: return "cluster " + std::to_string(cluster);
    case Kind::Random: return "";
  }
  return "";
}

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
    for (std::size_t i = 0; i < j.size(); ++i) s.list.push_back(channel_index(j[i], json_pointer_join(where, i)));
  } else if (j.is_object() && j.contains("range")) {
    const json& r = j.at("range");
    if (!r.is_array() || r.size() != 2) throw Error(where + "/range: expected [first, last], got " + r.dump());
    s.kind = Kind::Range;
    s.first = channel_index(r[0], where + "/range/0");
    s.last = channel_index(r[1], where + "/range/1");
    if (s.first > s.last) throw Error(where + "/range: first " + r[0].dump() + " is after last " + r[1].dump());
  } else if (j.is_object() && j.contains("cluster")) {
    if (!j.at("cluster").is_number_integer() || j.at("cluster").get<int>() < 0) {
      throw Error(where + "/cluster: expected a non-negative integer, got " + j.at("cluster").dump());
    }
    s.kind = Kind::Cluster;
    s.cluster = j.at("cluster").get<int>();
  } else if (j.is_object() && j.contains("random")) {
    for (const auto& [key, value] : j.items()) {
      if (key != "random" && key != "seed" && key != "rule" && key != "draws_before") {
        throw Error(json_pointer_join(where, key) + ": unknown key in a random selector (keys: random, seed, rule, draws_before)");
      }
    }
    s.kind = Kind::Random;
    if (j.contains("rule")) {
      const json& r = j.at("rule");
      if (r == "network_bending") {
        s.rule = RandomRule::NetworkBending;
      } else if (r != "actmap") {
        throw Error(where + "/rule: expected \"actmap\" or \"network_bending\", got " + r.dump());
      }
    }
    const json& f = j.at("random");
    const bool nb = s.rule == RandomRule::NetworkBending;
    if (!f.is_number() || !std::isfinite(f.get<double>()) || f.get<double>() > 1.0 || f.get<double>() < 0.0 ||
        (!nb && !(f.get<double>() > 0.0))) {
      throw Error(where + "/random: expected a fraction in " + (nb ? "[0, 1]" : "(0, 1]") + ", got " + f.dump());
    }
    s.fraction = f.get<double>();
    if (j.contains("draws_before")) {
      const json& d = j.at("draws_before");
      const std::string at = where + "/draws_before";
      if (!nb) throw Error(at + ": only with \"rule\": \"network_bending\"");
      if (!d.is_array() || d.size() > 100000) throw Error(at + ": expected a list of [channels, count] pairs");
      for (std::size_t i = 0; i < d.size(); ++i) {
        const json& pair = d[i];
        if (!pair.is_array() || pair.size() != 2 || !pair[0].is_number_integer() || !pair[1].is_number_integer() ||
            pair[1].get<std::int64_t>() < 0 || pair[1].get<std::int64_t>() > pair[0].get<std::int64_t>() ||
            pair[0].get<std::int64_t>() > 65536) {
          throw Error(json_pointer_join(at, i) + ": expected [channels, count] with 0 <= count <= channels <= 65536, got " + pair.dump());
        }
        s.draws_before.push_back({pair[0].get<std::int64_t>(), pair[1].get<std::int64_t>()});
      }
    }
    if (j.contains("seed")) {
      const json& seed = j.at("seed");
      if (!seed.is_number_integer() || (!seed.is_number_unsigned() && seed.get<std::int64_t>() < 0)) {
        throw Error(where + "/seed: expected a non-negative integer, got " + seed.dump());
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
    case Kind::Random: {
      json j = {{"random", fraction}, {"seed", seed}};
      if (rule == RandomRule::NetworkBending) j["rule"] = "network_bending";
      if (!draws_before.empty()) j["draws_before"] = draws_before;
      return j;
    }
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
      break;
    case Kind::Random: {
      if (rule == RandomRule::NetworkBending) {
        // util.py: num_samples = int(layer_dim * percentage); random.sample(range(0, layer_dim), num_samples).
        const auto k = static_cast<std::int64_t>(static_cast<double>(channels) * fraction);
        out = python_random_sample(seed, channels, std::clamp<std::int64_t>(k, 0, channels), draws_before);
        break;
      }
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

namespace {

double finite_number(const json& v, const std::string& where) {
  if (!v.is_number() || !std::isfinite(v.get<double>())) throw Error(where + ": expected a number, got " + v.dump());
  return v.get<double>();
}

}  // namespace

SpatialMask SpatialMask::from_json(const json& j, const std::string& where, const std::string& base_dir) {
  if (!j.is_object()) throw Error(where + ": expected an object such as {\"rect\": [x0, y0, x1, y1]}, got " + j.dump());
  SpatialMask m;
  for (const auto& [key, value] : j.items()) {
    const std::string at = json_pointer_join(where, key);
    if (key == "invert") {
      if (!value.is_boolean()) throw Error(at + ": expected true or false, got " + value.dump());
      m.invert = value.get<bool>();
      continue;
    }
    if (m.kind != Kind::None) throw Error(at + ": a mask has one shape (rect, ellipse, values or file)");
    if (key == "rect" || key == "ellipse") {
      if (!value.is_array() || value.size() != 4) {
        throw Error(at + ": expected " + (key == "rect" ? "[x0, y0, x1, y1]" : "[cx, cy, rx, ry]") + ", got " + value.dump());
      }
      for (std::size_t i = 0; i < 4; ++i) m.shape[i] = finite_number(value[i], json_pointer_join(at, i));
      if (key == "rect") {
        m.kind = Kind::Rect;
        if (m.shape[0] > m.shape[2] || m.shape[1] > m.shape[3]) throw Error(at + ": x0 > x1 or y0 > y1 in " + value.dump());
      } else {
        m.kind = Kind::Ellipse;
        if (!(m.shape[2] > 0) || !(m.shape[3] > 0)) throw Error(at + ": the radii must be positive, got " + value.dump());
      }
    } else if (key == "values") {
      if (!value.is_array() || value.empty() || !value[0].is_array() || value[0].empty()) {
        throw Error(at + ": expected rows of weights [[w, ...], ...], got " + value.dump().substr(0, 80));
      }
      m.kind = Kind::Values;
      m.height = static_cast<std::int64_t>(value.size());
      m.width = static_cast<std::int64_t>(value[0].size());
      if (m.height * m.width > (std::int64_t(1) << 24)) throw Error(at + ": mask is too large");
      for (std::size_t r = 0; r < value.size(); ++r) {
        const json& row = value[r];
        const std::string row_at = json_pointer_join(at, r);
        if (!row.is_array() || static_cast<std::int64_t>(row.size()) != m.width) {
          throw Error(row_at + ": expected a row of " + std::to_string(m.width) + " weights like row 0");
        }
        for (std::size_t c = 0; c < row.size(); ++c) {
          const double w = finite_number(row[c], json_pointer_join(row_at, c));
          if (w < 0.0 || w > 1.0) throw Error(json_pointer_join(row_at, c) + ": weight " + row[c].dump() + " is outside [0, 1]");
          m.values.push_back(static_cast<float>(w));
        }
      }
    } else if (key == "file") {
      if (!value.is_string() || value.get<std::string>().empty()) throw Error(at + ": expected a file name, got " + value.dump());
      m.kind = Kind::File;
      m.file = value.get<std::string>();
      std::filesystem::path path(m.file);
      if (path.is_relative() && !base_dir.empty()) path = std::filesystem::path(base_dir) / path;
      Image img;
      std::error_code ec;
      if (!std::filesystem::is_regular_file(path, ec)) throw Error(at + ": no such file " + path.string());
      try {
        img = read_image(path.string());
      } catch (const Error& e) {
        throw Error(at + ": " + e.what());
      }
      m.height = img.height;
      m.width = img.width;
      // White is 1; colour images use their mean of R, G, B; alpha is ignored.
      const int ch = img.channels, grey = ch >= 3 ? 3 : 1;
      m.values.resize(static_cast<std::size_t>(m.height * m.width));
      for (std::size_t i = 0; i < m.values.size(); ++i) {
        float sum = 0.0f;
        for (int c = 0; c < grey; ++c) sum += img.pixels[i * static_cast<std::size_t>(ch) + static_cast<std::size_t>(c)];
        m.values[i] = sum / (255.0f * static_cast<float>(grey));
      }
    } else {
      throw Error(at + ": unknown key in a mask (use rect, ellipse, values or file, and invert)");
    }
  }
  if (m.kind == Kind::None) throw Error(where + ": a mask needs one of rect, ellipse, values or file");
  return m;
}

json SpatialMask::to_json() const {
  json j = json::object();
  switch (kind) {
    case Kind::None: return json();
    case Kind::Rect: j["rect"] = shape; break;
    case Kind::Ellipse: j["ellipse"] = shape; break;
    case Kind::Values: {
      json rows = json::array();
      for (std::int64_t r = 0; r < height; ++r) {
        rows.push_back(std::vector<float>(values.begin() + r * width, values.begin() + (r + 1) * width));
      }
      j["values"] = std::move(rows);
      break;
    }
    case Kind::File: j["file"] = file; break;
  }
  if (invert) j["invert"] = true;
  return j;
}

Edit Edit::from_json(const json& j, const std::string& where, const std::string& base_dir) {
  if (!j.is_object()) throw Error(where + ": expected an edit object {\"tap\", \"op\", ...}, got " + j.dump().substr(0, 80));
  static const std::set<std::string> known = {"id", "tap", "channels", "op", "params", "enabled", "mask"};
  for (const auto& [key, value] : j.items()) {
    if (!known.count(key)) {
      throw Error(json_pointer_join(where, key) + ": unknown key in an edit (keys: id, tap, channels, op, params, enabled, mask)");
    }
  }
  Edit e;
  if (j.contains("id")) {
    if (!j.at("id").is_string() || j.at("id").get<std::string>().empty()) {
      throw Error(where + "/id: expected a non-empty string, got " + j.at("id").dump());
    }
    e.id = j.at("id").get<std::string>();
  }
  if (!j.contains("tap")) throw Error(where + "/tap: missing (the name of the tap to edit)");
  if (!j.at("tap").is_string()) throw Error(where + "/tap: expected a tap name, got " + j.at("tap").dump());
  e.tap = j.at("tap").get<std::string>();
  if (!j.contains("op")) throw Error(where + "/op: missing (the operation's name: " + op_names() + ")");
  if (!j.at("op").is_string()) throw Error(where + "/op: expected an op name, got " + j.at("op").dump());
  e.op = j.at("op").get<std::string>();
  e.channels = ChannelSelector::from_json(j.value("channels", json("all")), where + "/channels");
  e.params = validate_op_params(e.op, j.value("params", json::object()), where);
  if (j.contains("enabled")) {
    if (!j.at("enabled").is_boolean()) throw Error(where + "/enabled: expected true or false, got " + j.at("enabled").dump());
    e.enabled = j.at("enabled").get<bool>();
  }
  if (j.contains("mask") && !j.at("mask").is_null()) e.mask = SpatialMask::from_json(j.at("mask"), where + "/mask", base_dir);
  return e;
}

json Edit::to_json() const {
  json j = {{"id", id}, {"tap", tap}, {"channels", channels.to_json()}, {"op", op}, {"params", params}, {"enabled", enabled}};
  if (!mask.empty()) j["mask"] = mask.to_json();
  return j;
}

std::vector<Edit> edits_from_json(const json& j, const std::string& where, const std::string& base_dir) {
  const json* list = &j;
  std::string at = where;
  if (j.is_object() && j.contains("edits")) {
    list = &j.at("edits");
    at += "/edits";
  }
  if (!list->is_array()) throw Error((at.empty() ? "/" : at) + ": expected a list of edits or {\"edits\": [...]}");
  std::vector<Edit> edits;
  std::set<std::string> ids;
  for (std::size_t i = 0; i < list->size(); ++i) {
    Edit e = Edit::from_json((*list)[i], json_pointer_join(at, i), base_dir);
    if (!e.id.empty() && !ids.insert(e.id).second) {
      throw Error(json_pointer_join(at, i) + "/id: \"" + e.id + "\" is used twice");
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
  const json j = parse_json_text(read_file_text(path), path);
  try {
    return edits_from_json(j, "", std::filesystem::path(path).parent_path().string());
  } catch (const Error& e) {
    throw Error(path + ": " + e.what());
  }
}

json edits_to_json(const std::vector<Edit>& edits) {
  json list = json::array();
  for (const auto& e : edits) list.push_back(e.to_json());
  return list;
}

}  // namespace actmap
