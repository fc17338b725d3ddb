#include "actmap/analysis/bending.h"

#include <algorithm>
#include <cmath>
#include <set>
#include <sstream>

#include <yaml-cpp/yaml.h>

#include "actmap/edit/ops.h"
#include "actmap/io/error.h"

namespace actmap {
namespace {

using json = nlohmann::json;

class Reader {
 public:
  explicit Reader(std::string source) : source_(std::move(source)) {}

  [[noreturn]] void fail(const YAML::Node& at, const std::string& key, const std::string& what) const {
    const YAML::Mark m = at.Mark();
    throw Error(source_ + (m.line >= 0 ? ": line " + std::to_string(m.line + 1) : "") + ": " + key + ": " + what);
  }

  YAML::Node load(const std::string& text) const {
    try {
      return YAML::Load(text);
    } catch (const YAML::Exception& e) {
      throw Error(source_ + ": line " + std::to_string(e.mark.line + 1) + ": not YAML: " + e.msg);
    }
  }

  double number(const YAML::Node& n, const std::string& key) const {
    if (!n.IsScalar()) fail(n, key, "expected a number");
    double v = 0.0;
    if (!YAML::convert<double>::decode(n, v) || !std::isfinite(v)) fail(n, key, "expected a number, got '" + n.Scalar() + "'");
    return v;
  }

  std::int64_t integer(const YAML::Node& n, const std::string& key, std::int64_t lo, std::int64_t hi) const {
    const double v = number(n, key);
    if (v != std::floor(v) || v < double(lo) || v > double(hi)) {
      fail(n, key, "expected a whole number in [" + std::to_string(lo) + ", " + std::to_string(hi) + "], got '" + n.Scalar() + "'");
    }
    return static_cast<std::int64_t>(v);
  }

  bool boolean(const YAML::Node& n, const std::string& key) const {
    bool v = false;
    if (!n.IsScalar() || !YAML::convert<bool>::decode(n, v)) fail(n, key, "expected true or false");
    return v;
  }

  std::string text(const YAML::Node& n, const std::string& key) const {
    if (!n.IsScalar()) fail(n, key, "expected a name");
    return n.Scalar();
  }

  // The keys of a map, each checked against `known`.
  void check_keys(const YAML::Node& map, const std::string& where, const std::vector<std::string>& known) const {
    for (const auto& kv : map) {
      const std::string k = kv.first.IsScalar() ? kv.first.Scalar() : "?";
      if (std::find(known.begin(), known.end(), k) == known.end()) {
        std::string names;
        for (const auto& n : known) names += (names.empty() ? "" : ", ") + n;
        fail(kv.first, where + k, "unknown key (known: " + names + ")");
      }
    }
  }

 private:
  std::string source_;
};

// Network Bending's transform names and actmap's ops.
struct Transform {
  const char* bending;
  const char* op;
  int params;  // how many values its `params` take
};
constexpr Transform kTransforms[] = {
    {"translate", "translate", 2}, {"scale", "scale", 1},           {"rotate", "rotate", 1},
    {"erode", "erode", 1},         {"dilate", "dilate", 1},         {"scalar-multiply", "multiply", 1},
    {"binary-thresh", "threshold", 1}, {"flip-h", "flip", 0},       {"flip-v", "flip", 0},
    {"invert", "invert", 0},       {"ablate", "ablate", 0},
};

std::string transform_names() {
  std::string s;
  for (const auto& t : kTransforms) s += (s.empty() ? "" : ", ") + std::string(t.bending);
  return s;
}

json transform_params(const Transform& t, const std::vector<double>& v) {
  const std::string name = t.bending;
  if (name == "translate") return {{"dx", v[0]}, {"dy", v[1]}};
  if (name == "scale") return {{"factor", v[0]}};
  if (name == "rotate") return {{"degrees", v[0]}};
  if (name == "erode" || name == "dilate") return {{"radius", v[0]}};
  if (name == "scalar-multiply") return {{"factor", v[0]}};
  if (name == "binary-thresh") return {{"t", v[0]}};
  if (name == "flip-h") return {{"axis", "horizontal"}};
  if (name == "flip-v") return {{"axis", "vertical"}};
  return json::object();
}

const TapInfo* find_tap(const std::vector<TapInfo>& taps, const std::string& name) {
  for (const auto& t : taps) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

// Cluster dictionary: LAYER: [{cluster_index, feature_index}, ...] -> tap -> labels.
std::map<std::string, std::vector<int>> read_clusters(const std::string& text, const std::string& source,
                                                      const ModelCard& card) {
  std::map<std::string, std::vector<int>> out;
  if (text.empty()) return out;
  const Reader r(source);
  const YAML::Node doc = r.load(text);
  if (!doc.IsMap()) r.fail(doc, "(document)", "expected a map of layer numbers to lists of {cluster_index, feature_index}");
  const auto layer_taps = bending_layer_taps(card);
  const auto taps = card_taps(card);
  for (const auto& kv : doc) {
    const std::string key = kv.first.IsScalar() ? kv.first.Scalar() : "?";
    const auto layer = r.integer(kv.first, key, 0, static_cast<std::int64_t>(layer_taps.size()) - 1);
    const TapInfo& tap = *find_tap(taps, layer_taps[static_cast<std::size_t>(layer)]);
    if (!kv.second.IsSequence()) r.fail(kv.second, key, "expected a list of {cluster_index, feature_index}");
    std::vector<int> labels(static_cast<std::size_t>(tap.channels), -1);
    int max_label = -1;
    for (std::size_t i = 0; i < kv.second.size(); ++i) {
      const YAML::Node& e = kv.second[i];
      const std::string at = key + "[" + std::to_string(i) + "]";
      if (!e.IsMap()) r.fail(e, at, "expected {cluster_index, feature_index}");
      r.check_keys(e, at + ".", {"cluster_index", "feature_index"});
      if (!e["cluster_index"] || !e["feature_index"]) r.fail(e, at, "needs cluster_index and feature_index");
      const auto k = r.integer(e["cluster_index"], at + ".cluster_index", 0, 100000);
      const auto c = r.integer(e["feature_index"], at + ".feature_index", 0, tap.channels - 1);
      labels[static_cast<std::size_t>(c)] = static_cast<int>(k);
      max_label = std::max(max_label, static_cast<int>(k));
    }
    for (auto& l : labels) {
      if (l < 0) l = max_label + 1;  // the channels the dictionary leaves out
    }
    out[tap.name] = labels;
  }
  return out;
}

json selector_for_clusters(const std::vector<std::int64_t>& clusters) {
  if (clusters.empty()) return "all";
  return {{"cluster", clusters.front()}};
}

void import_transforms(const Reader& r, const YAML::Node& doc, const ModelCard& card, BendingImport& out,
                       json& edits) {
  r.check_keys(doc, "", {"transforms"});
  const YAML::Node list = doc["transforms"];
  if (!list.IsSequence()) r.fail(list, "transforms", "expected a list of {layer, transform, params, features, feature-param}");
  const auto layer_taps = bending_layer_taps(card);
  for (std::size_t i = 0; i < list.size(); ++i) {
    const YAML::Node& t = list[i];
    const std::string at = "transforms[" + std::to_string(i) + "]";
    if (!t.IsMap()) r.fail(t, at, "expected {layer, transform, params, features, feature-param}");
    r.check_keys(t, at + ".", {"layer", "transform", "params", "features", "feature-param"});
    if (!t["layer"]) r.fail(t, at + ".layer", "missing");
    if (!t["transform"]) r.fail(t, at + ".transform", "missing");
    const auto layer = r.integer(t["layer"], at + ".layer", 0, static_cast<std::int64_t>(layer_taps.size()) - 1);
    const std::string name = r.text(t["transform"], at + ".transform");
    const Transform* tr = nullptr;
    for (const auto& k : kTransforms) {
      if (name == k.bending) tr = &k;
    }
    if (!tr) r.fail(t["transform"], at + ".transform", "unknown transform '" + name + "' (known: " + transform_names() + ")");
    std::vector<double> values;
    const YAML::Node p = t["params"];
    if (p && !p.IsNull()) {
      if (p.IsSequence()) {
        for (std::size_t k = 0; k < p.size(); ++k) values.push_back(r.number(p[k], at + ".params[" + std::to_string(k) + "]"));
      } else {
        values.push_back(r.number(p, at + ".params"));
      }
    }
    if (static_cast<int>(values.size()) != tr->params) {
      r.fail(p ? p : t, at + ".params",
             "'" + name + "' takes " + std::to_string(tr->params) + " value(s), got " + std::to_string(values.size()));
    }
    const std::string features = t["features"] ? r.text(t["features"], at + ".features") : "all";
    json channels = "all";
    const std::string tap = layer_taps[static_cast<std::size_t>(layer)];
    const YAML::Node fp = t["feature-param"];
    if (features == "random") {
      if (!fp) r.fail(t, at + ".feature-param", "missing (the fraction of features, for features: random)");
      const double f = r.number(fp, at + ".feature-param");
      if (!(f > 0.0 && f <= 1.0)) r.fail(fp, at + ".feature-param", "expected a fraction in (0, 1]");
      channels = {{"random", f}, {"seed", 0}};
      out.notes.push_back(at + ": random features are drawn with seed 0 (Network Bending draws anew each run)");
    } else if (features == "cluster") {
      if (!fp) r.fail(t, at + ".feature-param", "missing (the cluster index, for features: cluster)");
      const auto k = r.integer(fp, at + ".feature-param", 0, 100000);
      if (!out.clusters.count(tap)) {
        r.fail(fp, at + ".feature-param",
               "cluster " + std::to_string(k) + " of layer " + std::to_string(layer) + " (" + tap +
                   ") needs a cluster dictionary with that layer (--clusters)");
      }
      channels = {{"cluster", k}};
    } else if (features != "all") {
      r.fail(t["features"], at + ".features", "expected all, random or cluster, got '" + features + "'");
    }
    json e = {{"tap", tap}, {"channels", channels}, {"op", tr->op}, {"params", transform_params(*tr, values)}};
    try {
      validate_op_params(tr->op, e["params"], at);
    } catch (const Error& err) {
      r.fail(p ? p : t, at + ".params", err.what());
    }
    edits.push_back(e);
  }
}

// The report's template: {resolution, install_after, layers: [{operation, name, clusters, with_norm, ...}]}.
void import_template(const Reader& r, const YAML::Node& doc, const ModelCard& card, BendingImport& out, json& edits) {
  r.check_keys(doc, "", {"resolution", "install_after", "layers"});
  if (!doc["resolution"]) r.fail(doc, "resolution", "missing");
  if (!doc["install_after"]) r.fail(doc, "install_after", "missing");
  const auto res = r.integer(doc["resolution"], "resolution", 4, 1 << 20);
  const std::string after = r.text(doc["install_after"], "install_after");
  std::string tap = "b" + std::to_string(res) + ".";
  if (after == "Conv0_up") tap += "conv0";
  else if (after == "Conv1" || (after == "Conv" && res == 4)) tap += "conv1";
  else if (after == "ToRGB") tap += "torgb";
  else r.fail(doc["install_after"], "install_after", "expected Conv0_up, Conv1, ToRGB (or Conv at resolution 4), got '" + after + "'");
  const auto taps = card_taps(card);
  const TapInfo* info = find_tap(taps, tap);
  if (!info) r.fail(doc["install_after"], "install_after", "model " + card.name + " has no tap " + tap);
  const YAML::Node list = doc["layers"];
  if (!list || !list.IsSequence()) r.fail(list ? list : doc, "layers", "expected a list of {operation, ...}");
  const std::vector<int>* labels = out.clusters.count(tap) ? &out.clusters.at(tap) : nullptr;
  for (std::size_t i = 0; i < list.size(); ++i) {
    const YAML::Node& l = list[i];
    const std::string at = "layers[" + std::to_string(i) + "]";
    if (!l.IsMap()) r.fail(l, at, "expected {operation, name, clusters, with_norm, ...}");
    if (!l["operation"]) r.fail(l, at + ".operation", "missing");
    const std::string op = r.text(l["operation"], at + ".operation");
    std::vector<std::string> known = {"operation", "name", "clusters", "with_norm"};
    auto num = [&](const char* key, double dflt) {
      return l[key] ? r.number(l[key], at + "." + key) : dflt;
    };
    std::string ours;
    json params = json::object();
    if (op == "block") ours = "ablate";
    else if (op == "invert") ours = "invert";
    else if (op == "brightness") ours = "add", params["value"] = num("brightness", 0.0), known.push_back("brightness");
    else if (op == "scale") ours = "multiply", params["factor"] = num("scale", 1.0), known.push_back("scale");
    else if (op == "translate") {
      ours = "translate", params = {{"dx", num("x", 0.0)}, {"dy", num("y", 0.0)}};
      known.insert(known.end(), {"x", "y"});
    } else if (op == "rotation") ours = "rotate", params["degrees"] = num("angle", 0.0), known.push_back("angle");
    else if (op == "mirrorX") ours = "mirror", params["axis"] = "x";
    else if (op == "mirrorY") ours = "mirror", params["axis"] = "y";
    else if (op == "mean_filter") ours = "mean_filter", params["size"] = num("filter_shape", 3), known.push_back("filter_shape");
    else if (op == "sharpen") ours = "sharpen", params["amount"] = num("amount", 1.0), known.push_back("amount");
    else if (op == "erosion" || op == "dilation") {
      ours = op == "erosion" ? "erode" : "dilate";
      const double shape = num("filter_shape", 3);
      params["radius"] = std::max(1.0, std::floor((shape - 1) / 2));
      known.push_back("filter_shape");
    } else if (op == "shuffle" || op == "vanish") ours = op, params["seed"] = num("seed", 0), known.push_back("seed");
    else if (op == "sin_disrupt") {
      ours = op, params = {{"fx", num("fx", 1.0)}, {"fy", num("fy", 0.0)}, {"phase", num("phase", 0.0)}};
      known.insert(known.end(), {"fx", "fy", "phase"});
    } else {
      r.fail(l["operation"], at + ".operation",
             "unknown operation '" + op + "' (known: block, brightness, scale, translate, rotation, invert, mirrorX, "
             "mirrorY, mean_filter, sharpen, erosion, dilation, shuffle, vanish, sin_disrupt)");
    }
    r.check_keys(l, at + ".", known);
    if (l["with_norm"]) params["renormalize"] = r.boolean(l["with_norm"], at + ".with_norm");
    try {
      params = validate_op_params(ours, params, at);
    } catch (const Error& err) {
      r.fail(l, at, err.what());
    }
    std::vector<std::int64_t> clusters;
    if (l["clusters"] && !l["clusters"].IsNull()) {
      const YAML::Node c = l["clusters"];
      if (!c.IsSequence()) r.fail(c, at + ".clusters", "expected a list of cluster indices");
      for (std::size_t k = 0; k < c.size(); ++k) clusters.push_back(r.integer(c[k], at + ".clusters[" + std::to_string(k) + "]", 0, 100000));
      if (!labels) {
        r.fail(c, at + ".clusters", "selects clusters of " + tap + ", which needs a cluster dictionary for it (--clusters)");
      }
      for (const auto k : clusters) {
        if (std::find(labels->begin(), labels->end(), static_cast<int>(k)) == labels->end()) {
          r.fail(c, at + ".clusters", "the cluster dictionary has no cluster " + std::to_string(k) + " at " + tap);
        }
      }
    }
    const bool cross_channel = ours == "shuffle" || ours == "vanish";
    if (clusters.size() > 1 && cross_channel) {
      // One edit over the union of the clusters' channels (they permute among themselves).
      json list_json = json::array();
      for (std::size_t ch = 0; ch < labels->size(); ++ch) {
        if (std::find(clusters.begin(), clusters.end(), (*labels)[ch]) != clusters.end()) list_json.push_back(ch);
      }
      edits.push_back({{"tap", tap}, {"channels", list_json}, {"op", ours}, {"params", params}});
    } else if (clusters.size() > 1) {
      // A per-channel op on several clusters: one edit per cluster does the same.
      for (const auto k : clusters) {
        edits.push_back({{"tap", tap}, {"channels", selector_for_clusters({k})}, {"op", ours}, {"params", params}});
      }
    } else {
      edits.push_back({{"tap", tap}, {"channels", selector_for_clusters(clusters)}, {"op", ours}, {"params", params}});
    }
  }
  (void)info;
}

std::string yaml_number(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

}  // namespace

std::vector<std::string> bending_layer_taps(const ModelCard& card) {
  if (!card.stylegan2) {
    throw Error("Network Bending configs need a StyleGAN2 model; " + card.name + " is " + card.family);
  }
  std::vector<std::string> out;
  for (const auto& t : card_taps(card)) {
    const auto dot = t.name.rfind('.');
    if (dot == std::string::npos) continue;
    const std::string layer = t.name.substr(dot + 1);
    if (layer == "conv0" || layer == "conv1") out.push_back(t.name);
  }
  return out;
}

BendingImport import_bending(const std::string& text, const std::string& source, const ModelCard& card,
                             const std::string& clusters_text, const std::string& clusters_source) {
  bending_layer_taps(card);  // refuses other families first
  BendingImport out;
  out.clusters = read_clusters(clusters_text, clusters_source.empty() ? "clusters" : clusters_source, card);
  const Reader r(source);
  const YAML::Node doc = r.load(text);
  if (!doc.IsMap()) r.fail(doc, "(document)", "expected a map with 'transforms' (Network Bending) or 'layers' (the report's template)");
  json edits = json::array();
  if (doc["transforms"]) import_transforms(r, doc, card, out, edits);
  else if (doc["layers"]) import_template(r, doc, card, out, edits);
  else r.fail(doc, "(document)", "expected a 'transforms' list (Network Bending) or 'layers' (the report's template)");
  out.edits = edits_from_json(edits, "");
  // Keep only the clusters the edits use (a dictionary may describe more layers).
  std::set<std::string> used;
  for (const auto& e : out.edits) {
    if (e.channels.kind == ChannelSelector::Kind::Cluster) used.insert(e.tap);
  }
  for (auto it = out.clusters.begin(); it != out.clusters.end();) {
    if (used.count(it->first)) ++it;
    else it = out.clusters.erase(it);
  }
  return out;
}

BendingExport export_bending(const Session& session, const ModelCard& card) {
  const auto layer_taps = bending_layer_taps(card);
  BendingExport out;
  YAML::Emitter config;
  config << YAML::BeginMap << YAML::Key << "transforms" << YAML::Value << YAML::BeginSeq;
  std::set<std::string> cluster_taps;
  int written = 0;
  for (const Edit& e : session.edits) {
    const std::string label = e.id + " (" + e.op + " at " + e.tap + ")";
    auto skip = [&](const std::string& why) { out.skipped.push_back(label + ": " + why); };
    if (!e.enabled) {
      skip("disabled");
      continue;
    }
    const auto layer = std::find(layer_taps.begin(), layer_taps.end(), e.tap);
    if (layer == layer_taps.end()) {
      skip("Network Bending transforms sit after convolutions only (b4.conv1, b8.conv0, ...)");
      continue;
    }
    if (!e.mask.empty()) {
      skip("Network Bending transforms have no spatial masks");
      continue;
    }
    if (e.params.value("renormalize", false)) {
      skip("Network Bending transforms do not renormalize");
      continue;
    }
    const Transform* tr = nullptr;
    for (const auto& k : kTransforms) {
      if (e.op != k.op) continue;
      if (e.op == "flip" && (e.params.value("axis", "horizontal") == "horizontal") != (std::string(k.bending) == "flip-h")) continue;
      tr = &k;
    }
    if (!tr) {
      skip("no Network Bending transform does '" + e.op + "'");
      continue;
    }
    std::string features = "all";
    std::string feature_param;
    switch (e.channels.kind) {
      case ChannelSelector::Kind::All: break;
      case ChannelSelector::Kind::Random:
        features = "random";
        feature_param = yaml_number(e.channels.fraction);
        if (e.channels.seed != 0) out.skipped.push_back(label + ": exported, but its random seed (" + std::to_string(e.channels.seed) + ") is lost");
        break;
      case ChannelSelector::Kind::Cluster:
        features = "cluster";
        feature_param = std::to_string(e.channels.cluster);
        cluster_taps.insert(e.tap);
        break;
      default:
        skip("Network Bending selects all, random or cluster features, not a channel list");
        continue;
    }
    config << YAML::BeginMap << YAML::Key << "layer" << YAML::Value << (layer - layer_taps.begin());
    config << YAML::Key << "transform" << YAML::Value << tr->bending;
    config << YAML::Key << "params" << YAML::Value << YAML::Flow << YAML::BeginSeq;
    const std::string b = tr->bending;
    if (b == "translate") config << e.params.value("dx", 0.0) << e.params.value("dy", 0.0);
    else if (b == "scale" || b == "scalar-multiply") config << e.params.value("factor", 1.0);
    else if (b == "rotate") config << e.params.value("degrees", 0.0);
    else if (b == "erode" || b == "dilate") config << e.params.value("radius", 1);
    else if (b == "binary-thresh") config << e.params.value("t", 0.0);
    config << YAML::EndSeq;
    config << YAML::Key << "features" << YAML::Value << features;
    if (!feature_param.empty()) config << YAML::Key << "feature-param" << YAML::Value << feature_param;
    config << YAML::EndMap;
    ++written;
  }
  config << YAML::EndSeq << YAML::EndMap;
  out.config = std::string(config.c_str()) + "\n";
  if (!cluster_taps.empty()) {
    YAML::Emitter clusters;
    clusters << YAML::BeginMap;
    for (const auto& tap : cluster_taps) {
      const auto labels = session.cluster_labels(tap);
      clusters << YAML::Key << (std::find(layer_taps.begin(), layer_taps.end(), tap) - layer_taps.begin()) << YAML::Value
               << YAML::BeginSeq;
      for (std::size_t c = 0; c < labels.size(); ++c) {
        clusters << YAML::Flow << YAML::BeginMap << YAML::Key << "cluster_index" << YAML::Value << labels[c] << YAML::Key
                 << "feature_index" << YAML::Value << c << YAML::EndMap;
      }
      clusters << YAML::EndSeq;
    }
    clusters << YAML::EndMap;
    out.clusters = std::string(clusters.c_str()) + "\n";
  }
  (void)written;
  return out;
}

}  // namespace actmap
