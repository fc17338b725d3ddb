// Network Bending's configs and cluster dictionaries, the bending report's template, read as their
// authors' code reads them (docs/research.md names the file and function behind every rule here).
#include "actmap/analysis/bending.h"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iterator>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <sstream>

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include "actmap/edit/ops.h"
#include "actmap/io/error.h"

namespace actmap {
namespace {

using json = nlohmann::json;

// ---- Reading YAML as PyYAML does ----------------------------------------------------------

// Network Bending loads its files with PyYAML's yaml.load (generate.py), which resolves plain
// scalars by YAML 1.1's rules (PyYAML resolver.py and constructor.py): `-.2` and `1e3` are text,
// `010` is 8, `1:30` is 90, `yes` is True, `~` and nothing are None.
struct Py {
  enum class Kind { None, Bool, Int, Float, Str, Seq, Map, Other };
  Kind kind = Kind::None;
  bool b = false;
  std::int64_t i = 0;  // Int (and Bool as 0 or 1)
  double f = 0.0;      // Int and Float
  std::string s;       // Str; the scalar's text otherwise

  bool is_number() const { return kind == Kind::Int || kind == Kind::Float; }
  // Python's == with an int: ints, bools, and floats with a whole value.
  bool integral(std::int64_t* out) const {
    if (kind == Kind::Int || kind == Kind::Bool) return *out = i, true;
    if (kind == Kind::Float && std::isfinite(f) && f == std::floor(f) && std::abs(f) < 9e15) {
      return *out = static_cast<std::int64_t>(f), true;
    }
    return false;
  }
  std::string describe() const {
    switch (kind) {
      case Kind::None: return "nothing (None)";
      case Kind::Bool: return b ? "True" : "False";
      case Kind::Int: return std::to_string(i);
      case Kind::Float: return "the float " + s;
      case Kind::Str: return "the text '" + s + "'";
      case Kind::Seq: return "a list";
      case Kind::Map: return "a mapping";
      case Kind::Other: return "'" + s + "'";
    }
    return "?";
  }
};

bool parse_int_text(std::string t, std::int64_t* out) {
  // PyYAML's construct_yaml_int: '_' removed, a sign, 0, 0b.., 0x.., 0.. (octal), a:b (base 60).
  t.erase(std::remove(t.begin(), t.end(), '_'), t.end());
  int sign = 1;
  if (!t.empty() && (t[0] == '-' || t[0] == '+')) {
    if (t[0] == '-') sign = -1;
    t = t.substr(1);
  }
  errno = 0;
  char* end = nullptr;
  long long v = 0;
  if (t == "0") {
    v = 0;
  } else if (t.rfind("0b", 0) == 0) {
    v = std::strtoll(t.c_str() + 2, &end, 2);
  } else if (t.rfind("0x", 0) == 0) {
    v = std::strtoll(t.c_str() + 2, &end, 16);
  } else if (t[0] == '0') {
    v = std::strtoll(t.c_str() + 1, &end, 8);
  } else if (t.find(':') != std::string::npos) {
    std::stringstream ss(t);
    std::string part;
    while (std::getline(ss, part, ':')) v = v * 60 + std::strtoll(part.c_str(), nullptr, 10);
  } else {
    v = std::strtoll(t.c_str(), &end, 10);
  }
  if (errno == ERANGE) return false;
  *out = sign * v;
  return true;
}

double parse_float_text(std::string t) {
  // PyYAML's construct_yaml_float.
  t.erase(std::remove(t.begin(), t.end(), '_'), t.end());
  std::transform(t.begin(), t.end(), t.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  double sign = 1.0;
  if (!t.empty() && (t[0] == '-' || t[0] == '+')) {
    if (t[0] == '-') sign = -1.0;
    t = t.substr(1);
  }
  if (t == ".inf") return sign * HUGE_VAL;
  if (t == ".nan") return std::nan("");
  if (t.find(':') != std::string::npos) {
    double v = 0.0;
    std::stringstream ss(t);
    std::string part;
    while (std::getline(ss, part, ':')) v = v * 60 + std::strtod(part.c_str(), nullptr);
    return sign * v;
  }
  return sign * std::strtod(t.c_str(), nullptr);
}

Py py_plain(const std::string& t) {
  static const std::regex kBool("^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$");
  static const std::regex kFloat(
      "^(?:[-+]?(?:[0-9][0-9_]*)\\.[0-9_]*(?:[eE][-+][0-9]+)?|\\.[0-9_]+(?:[eE][-+][0-9]+)?"
      "|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\\.[0-9_]*|[-+]?\\.(?:inf|Inf|INF)|\\.(?:nan|NaN|NAN))$");
  static const std::regex kInt(
      "^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$");
  static const std::regex kNull("^(?:~|null|Null|NULL|)$");
  Py v;
  v.s = t;
  if (std::regex_match(t, kBool)) {
    v.kind = Py::Kind::Bool;
    v.b = t[0] == 'y' || t[0] == 'Y' || t[0] == 't' || t[0] == 'T' || t == "on" || t == "On" || t == "ON";
    v.i = v.b;
    v.f = v.b;
  } else if (std::regex_match(t, kFloat)) {
    v.kind = Py::Kind::Float;
    v.f = parse_float_text(t);
  } else if (std::regex_match(t, kInt)) {
    v.kind = parse_int_text(t, &v.i) ? Py::Kind::Int : Py::Kind::Other;
    v.f = static_cast<double>(v.i);
  } else if (std::regex_match(t, kNull)) {
    v.kind = Py::Kind::None;
  } else {
    v.kind = Py::Kind::Str;
  }
  return v;
}

Py py_value(const YAML::Node& n) {
  Py v;
  if (!n.IsDefined() || n.IsNull()) return v;
  if (n.IsSequence()) return v.kind = Py::Kind::Seq, v;
  if (n.IsMap()) return v.kind = Py::Kind::Map, v;
  const std::string& tag = n.Tag();
  if (tag == "?" || tag.empty()) return py_plain(n.Scalar());
  if (tag == "!" || tag == "tag:yaml.org,2002:str") return v.kind = Py::Kind::Str, v.s = n.Scalar(), v;
  // An explicit tag: the scalar as that type where it reads as one.
  Py p = py_plain(n.Scalar());
  if ((tag == "tag:yaml.org,2002:int" && p.kind == Py::Kind::Int) ||
      (tag == "tag:yaml.org,2002:float" && p.is_number()) || (tag == "tag:yaml.org,2002:bool" && p.kind == Py::Kind::Bool)) {
    if (tag == "tag:yaml.org,2002:float") p.kind = Py::Kind::Float;
    return p;
  }
  v.kind = Py::Kind::Other;
  v.s = n.Scalar();
  return v;
}

// Python's int(x) for the values a config can hold: ints, floats (towards zero), digit strings.
bool python_int(const Py& v, std::int64_t* out) {
  if (v.kind == Py::Kind::Int || v.kind == Py::Kind::Bool) return *out = v.i, true;
  if (v.kind == Py::Kind::Float) {
    if (!std::isfinite(v.f) || std::abs(v.f) > 9e15) return false;
    return *out = static_cast<std::int64_t>(std::trunc(v.f)), true;
  }
  if (v.kind == Py::Kind::Str) {
    static const std::regex kDigits("^\\s*[-+]?[0-9](?:_?[0-9])*\\s*$");
    if (!std::regex_match(v.s, kDigits)) return false;
    std::string t;
    for (char c : v.s) {
      if (c != '_' && !std::isspace(static_cast<unsigned char>(c))) t += c;
    }
    errno = 0;
    const long long x = std::strtoll(t.c_str(), nullptr, 10);
    if (errno == ERANGE) return false;
    return *out = x, true;
  }
  return false;
}

// ---- Bounds --------------------------------------------------------------------------------

// yaml-cpp's nodes take about 230 bytes of memory per byte of a dense YAML list (a 2 MB list of
// a million ints took 457 MB), and an alias shares its anchor's node, so a few hundred bytes can
// stand for a billion values ("billion laughs") for whatever walks them. Before loading, one
// streaming pass (yaml-cpp's event parser, which builds no nodes) counts the values each alias
// stands for, and refuses a file past these bounds. The largest file Network Bending writes, the
// cluster dictionary of a 1024x1024 model (5,568 channels, each a map of two keys and two values),
// has about 28,000 values (keys count) in 3 levels.
constexpr std::uint64_t kMaxYamlValues = 200000;
constexpr std::size_t kMaxYamlDepth = 64;
constexpr std::size_t kMaxYamlBytes = 16u << 20;

class YamlBounds : public YAML::EventHandler {
 public:
  explicit YamlBounds(std::string source) : source_(std::move(source)) {}
  void OnDocumentStart(const YAML::Mark&) override {}
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& m, YAML::anchor_t anchor) override { add(m, 1, anchor); }
  void OnAlias(const YAML::Mark& m, YAML::anchor_t anchor) override {
    const auto it = anchored_.find(anchor);
    add(m, it == anchored_.end() ? 1 : it->second, 0);
  }
  void OnScalar(const YAML::Mark& m, const std::string&, YAML::anchor_t anchor, const std::string&) override { add(m, 1, anchor); }
  void OnSequenceStart(const YAML::Mark& m, const std::string&, YAML::anchor_t anchor, YAML::EmitterStyle::value) override {
    open(m, anchor);
  }
  void OnSequenceEnd() override { close(); }
  void OnMapStart(const YAML::Mark& m, const std::string&, YAML::anchor_t anchor, YAML::EmitterStyle::value) override {
    open(m, anchor);
  }
  void OnMapEnd() override { close(); }

 private:
  struct Open {
    std::uint64_t values;
    YAML::anchor_t anchor;
    YAML::Mark mark;
  };
  [[noreturn]] void fail(const YAML::Mark& m, const std::string& what) const {
    throw Error(source_ + ": line " + std::to_string(m.line + 1) + ": " + what);
  }
  void open(const YAML::Mark& m, YAML::anchor_t anchor) {
    if (stack_.size() >= kMaxYamlDepth) {
      fail(m, "nested deeper than " + std::to_string(kMaxYamlDepth) + " levels; Network Bending's files have a few");
    }
    stack_.push_back({1, anchor, m});
  }
  void close() {
    const Open o = stack_.back();
    stack_.pop_back();
    add(o.mark, o.values, o.anchor);
  }
  // `n` values (an alias counts as everything its anchor holds) into the open collection.
  void add(const YAML::Mark& m, std::uint64_t n, YAML::anchor_t anchor) {
    if (anchor) anchored_[anchor] = n;
    std::uint64_t& into = stack_.empty() ? total_ : stack_.back().values;
    into = std::min<std::uint64_t>(into + n, kMaxYamlValues + 1);
    std::uint64_t all = total_;
    for (const Open& o : stack_) all = std::min<std::uint64_t>(all + o.values, kMaxYamlValues + 1);
    if (all > kMaxYamlValues) {
      fail(m, "more than " + std::to_string(kMaxYamlValues) + " values" + (anchored_.empty() ? "" : " (counting what each alias repeats)") +
                  "; Network Bending's files have tens of thousands at most");
    }
  }

  std::string source_;
  std::vector<Open> stack_;
  std::map<YAML::anchor_t, std::uint64_t> anchored_;
  std::uint64_t total_ = 0;
};

void check_yaml_size(const std::string& text, const std::string& source) {
  if (text.size() > kMaxYamlBytes) {
    throw Error(source + ": " + std::to_string(text.size()) + " bytes, more than the " + std::to_string(kMaxYamlBytes >> 20) +
                " MB a Network Bending file may be");
  }
  std::istringstream in(text);
  YAML::Parser parser(in);
  YamlBounds bounds(source);
  while (parser.HandleNextDocument(bounds)) {
  }
}

// ---- Errors and notes ------------------------------------------------------------------------

class Reader {
 public:
  Reader(std::string source, bool strict, std::vector<std::string>* notes)
      : source_(std::move(source)), strict_(strict), notes_(notes) {}

  std::string where(const YAML::Node& at, const std::string& key) const {
    int line = -1;
    try {
      line = at.IsDefined() ? at.Mark().line : -1;
    } catch (const YAML::Exception&) {
    }
    return source_ + (line >= 0 ? ": line " + std::to_string(line + 1) : "") + ": " + key + ": ";
  }

  [[noreturn]] void fail(const YAML::Node& at, const std::string& key, const std::string& what) const {
    throw Error(where(at, key) + what);
  }

  // Something the original code ignores, skips or fails on: a note, or an error when strict.
  void note(const YAML::Node& at, const std::string& key, const std::string& what) const {
    const std::string text = where(at, key) + what;
    if (strict_) throw Error(text + " (--strict)");
    if (notes_) notes_->push_back(text);
  }

  YAML::Node load(const std::string& text) const {
    try {
      check_yaml_size(text, source_);
      return YAML::Load(text);
    } catch (const YAML::Exception& e) {
      throw Error(source_ + ": line " + std::to_string(e.mark.line + 1) + ": not YAML: " + e.msg);
    }
  }

  const std::string& source() const { return source_; }
  bool strict() const { return strict_; }
  std::vector<std::string>* notes() const { return notes_; }

 private:
  std::string source_;
  bool strict_;
  std::vector<std::string>* notes_;
};

std::string key_text(const YAML::Node& k) { return k.IsScalar() ? k.Scalar() : "?"; }

// ---- Network Bending's cluster dictionary -----------------------------------------------------

// LAYER: [{cluster_index: K, feature_index: C}, ...] (get_clusters.py writes it with yaml.dump),
// read one layer at a time, as util.py's create_cluster_transform_dict does; or actmap's own form,
// TAP: [label per channel].
class Dictionary {
 public:
  Dictionary(const std::string& text, const std::string& source, bool strict, std::vector<std::string>* notes)
      : r_(source.empty() ? "clusters" : source, strict, notes) {
    if (text.empty()) return;
    doc_ = r_.load(text);
    if (!doc_.IsMap()) r_.fail(doc_, "(document)", "expected a map of layer numbers to lists of {cluster_index, feature_index}");
    present_ = true;
  }

  bool present() const { return present_; }
  const Reader& reader() const { return r_; }

  // The dictionary's entry for Network Bending layer `layer` (PyYAML int keys) or for `tap`.
  YAML::Node find(std::int64_t layer, const std::string& tap) const {
    for (const auto& kv : doc_) {
      std::int64_t k = 0;
      const Py key = py_value(kv.first);
      if ((key.kind == Py::Kind::Int && key.integral(&k) && k == layer) || (key.kind == Py::Kind::Str && key.s == tap)) {
        return kv.second;
      }
    }
    return YAML::Node(YAML::NodeType::Undefined);
  }

  struct Layer {
    std::vector<int> labels;                                  // per channel, -1: in no cluster
    std::vector<std::pair<Py, std::int64_t>> entries;          // (cluster_index, channel) in file order
    bool ok = false;
  };

  // The entries of one layer for a tap of `channels` channels; !ok (with a note) where
  // Network Bending's loop over them would fail.
  Layer layer(const YAML::Node& list, const std::string& name, std::int64_t channels) const {
    Layer out;
    out.labels.assign(static_cast<std::size_t>(channels), -1);
    if (list.IsSequence() && !list.IsNull() && list.size() > 0 && list.begin()->IsScalar()) {
      // actmap's form: one label per channel.
      if (static_cast<std::int64_t>(list.size()) != channels) {
        r_.note(list, name, std::to_string(list.size()) + " labels for a tap of " + std::to_string(channels) + " channels; left out");
        return out;
      }
      for (std::size_t c = 0; c < list.size(); ++c) {
        std::int64_t k = 0;
        if (!py_value(list[c]).integral(&k) || k < -1 || k > 1000000) {
          r_.note(list[c], name + "[" + std::to_string(c) + "]", "not a cluster label; the layer is left out");
          return out;
        }
        out.labels[c] = static_cast<int>(k);
        out.entries.emplace_back(py_value(list[c]), static_cast<std::int64_t>(c));
      }
      out.ok = true;
      return out;
    }
    if (!list.IsSequence()) {
      r_.note(list, name, "expected a list of {cluster_index, feature_index}; Network Bending's loop over it fails");
      return out;
    }
    bool beyond = false, clash = false;
    for (std::size_t i = 0; i < list.size(); ++i) {
      const YAML::Node e = list[i];
      const std::string at = name + "[" + std::to_string(i) + "]";
      if (!e.IsMap() || !e["cluster_index"] || !e["feature_index"]) {
        r_.note(e, at, "needs cluster_index and feature_index (util.py reads both); the layer is left out");
        return out;
      }
      const Py k = py_value(e["cluster_index"]);
      std::int64_t c = 0, label = 0;
      if (!py_value(e["feature_index"]).integral(&c) || c < 0 || c >= channels) {
        beyond = true;  // `i in indicies` never matches it: no channel of the layer
        continue;
      }
      out.entries.emplace_back(k, c);
      if (k.integral(&label) && label >= 0 && label <= 1000000) {
        if (out.labels[static_cast<std::size_t>(c)] >= 0 && out.labels[static_cast<std::size_t>(c)] != label) clash = true;
        out.labels[static_cast<std::size_t>(c)] = static_cast<int>(label);
      }
    }
    if (beyond) {
      r_.note(list, name, "entries whose feature_index is not a channel of this layer (0.." + std::to_string(channels - 1) +
                              ") select nothing, as in Network Bending; left out");
    }
    if (clash) {
      r_.note(list, name, "a channel listed in two clusters: Network Bending bends it with either; the session's "
                          "labels keep its last cluster, and the edits list the channels themselves");
    }
    out.ok = true;
    return out;
  }

 private:
  Reader r_;
  YAML::Node doc_;
  bool present_ = false;
};

// The channels of cluster k as Network Bending lists them (util.py: every entry whose
// cluster_index == int(cluster_ID)), as a selector: {"cluster": k} where the session's labels
// select the same channels, else the list itself.
json cluster_selector(const Dictionary::Layer& layer, std::int64_t k, std::vector<std::int64_t>* channels) {
  std::set<std::int64_t> nb, ours;
  for (const auto& [label, c] : layer.entries) {
    if (label.is_number() && label.f == static_cast<double>(k)) nb.insert(c);
  }
  for (std::size_t c = 0; c < layer.labels.size(); ++c) {
    if (layer.labels[c] == k) ours.insert(static_cast<std::int64_t>(c));
  }
  channels->assign(nb.begin(), nb.end());
  if (nb == ours && k >= 0) return {{"cluster", k}};
  return nb.empty() ? json() : json(*channels);
}

// ---- Network Bending's transforms (transform_layers.py, ManipulationLayer.layer_options) -----

struct NbTransform {
  const char* name;
  int params;       // values read from `params` (params[0], params[1])
  bool integer;     // erode and dilate pass params[0] to an int64 argument
};
constexpr NbTransform kNbTransforms[] = {
    {"erode", 1, true},  {"dilate", 1, true},        {"translate", 2, false},      {"scale", 1, false},
    {"rotate", 1, false}, {"resize", 2, false},      {"flip-h", 0, false},         {"flip-v", 0, false},
    {"invert", 0, false}, {"binary-thresh", 1, false}, {"scalar-multiply", 1, false}, {"ablate", 0, false},
};

std::string nb_transform_names() {
  std::string s;
  for (const auto& t : kNbTransforms) s += (s.empty() ? "" : ", ") + std::string(t.name);
  return s;
}

// The edit's op and parameters for a transform and its values.
std::pair<std::string, json> nb_op(const std::string& name, const std::vector<double>& v) {
  if (name == "translate") return {"translate", {{"dx", v[0]}, {"dy", v[1]}, {"convention", "network_bending"}}};
  if (name == "scale") return {"scale", {{"factor", v[0]}, {"convention", "network_bending"}}};
  if (name == "rotate") return {"rotate", {{"degrees", v[0]}, {"convention", "network_bending"}}};
  if (name == "erode" || name == "dilate") return {name, {{"radius", static_cast<std::int64_t>(v[0])}, {"shape", "ellipse"}}};
  if (name == "scalar-multiply") return {"multiply", {{"factor", v[0]}}};
  if (name == "binary-thresh") return {"threshold", {{"t", v[0]}}};
  if (name == "flip-h") return {"flip", {{"axis", "horizontal"}}};  // d_.flip([1]) on [H, W]: columns
  if (name == "flip-v") return {"flip", {{"axis", "vertical"}}};
  return {name, json::object()};  // invert (ones - d_), ablate (d_ * 0)
}

const TapInfo* find_tap(const std::vector<TapInfo>& taps, const std::string& name) {
  for (const auto& t : taps) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

struct NbContext {
  const Reader& r;
  const ModelCard& card;
  const std::vector<std::string>& layer_taps;
  const std::vector<TapInfo>& taps;
  const Dictionary& dict;
  const BendingOptions& options;
  BendingImport& out;
  json& edits;
  // Python's random stream through the config: every random.sample(range(C), k) util.py makes,
  // in order, and the edits that drew (index into edits, position in the stream).
  std::vector<std::array<std::int64_t, 2>> stream = {};
  std::vector<std::pair<std::size_t, std::size_t>> stream_edits = {};
};

// util.py's create_layer_channel_dim_dict: Network Bending's channel count of each layer for a
// channel multiplier (its generate.py's default is 2).
std::int64_t nb_table_channels(std::int64_t layer, std::int64_t multiplier) {
  if (layer <= 6) return 512;
  if (layer <= 8) return 256 * multiplier;
  if (layer <= 10) return 128 * multiplier;
  if (layer <= 12) return 64 * multiplier;
  if (layer <= 14) return 32 * multiplier;
  return 16 * multiplier;
}

// The channels util.py takes for `layer`: the model's own where it has the layer (they agree
// with the table for the models Network Bending loads), else the table's, with the multiplier the
// model's layers imply.
std::int64_t nb_layer_channels(const NbContext& cx, std::int64_t layer) {
  if (layer < static_cast<std::int64_t>(cx.layer_taps.size())) {
    return find_tap(cx.taps, cx.layer_taps[static_cast<std::size_t>(layer)])->channels;
  }
  std::int64_t multiplier = 2;
  for (std::size_t l = 7; l < cx.layer_taps.size(); ++l) {
    if (find_tap(cx.taps, cx.layer_taps[l])->channels == nb_table_channels(static_cast<std::int64_t>(l), 1)) multiplier = 1;
  }
  return nb_table_channels(layer, multiplier);
}

// One transform of a config at Network Bending layer `layer` (read from the entry, or given for
// the strip), as util.py's create_transforms_dict_list and transform_layers.py read it. Appends
// its edit, or notes why not.
void nb_transform(NbContext& cx, const YAML::Node& t, const std::string& at, const YAML::Node* layer_node,
                  std::int64_t layer, std::uint64_t seed) {
  const Reader& r = cx.r;
  for (const auto& kv : t) {
    const std::string k = key_text(kv.first);
    if (k != "layer" && k != "transform" && k != "params" && k != "features" && k != "feature-param") {
      r.note(kv.first, at + "." + k, "not a key Network Bending reads (layer, transform, params, features, feature-param); ignored");
    }
  }
  // create_transforms_dict_list: transform['features'] first.
  if (!t["features"]) return r.note(t, at, "no 'features': util.py reads transform['features'] and fails; skipped");
  const Py features = py_value(t["features"]);
  const bool cluster = features.kind == Py::Kind::Str && features.s == "cluster";
  if (!(features.kind == Py::Kind::Str && (features.s == "all" || features.s == "random" || cluster)) ||
      (cluster && !cx.dict.present())) {
    return r.note(t["features"], at + ".features",
                  cluster ? "selects a cluster, but no cluster dictionary was given (--clusters): Network Bending "
                            "prints 'transform type: ... not recognised' and skips it"
                          : "'" + features.s + "' is not all, random or cluster: Network Bending prints 'transform "
                            "type: ... not recognised' and skips it");
  }
  if (layer_node) {
    if (!(*layer_node)) return r.note(t, at + ".layer", "missing: util.py reads transform['layer'] and fails; skipped");
    if (!py_value(*layer_node).integral(&layer)) {
      return r.note(*layer_node, at + ".layer", py_value(*layer_node).describe() + " is not a layer number; Network "
                                                 "Bending's lookup of it fails; skipped");
    }
  }
  const YAML::Node lnode = layer_node ? *layer_node : t;
  if (!t["transform"]) return r.note(t, at + ".transform", "missing: util.py reads transform['transform'] and fails; skipped");
  if (!t["params"]) return r.note(t, at + ".params", "missing: util.py reads transform['params'] and fails; skipped");
  const std::int64_t layers = static_cast<std::int64_t>(cx.layer_taps.size());
  // util.py draws random features before anything looks at the transform or the layer's use.
  std::optional<std::size_t> draw;
  if (features.s == "random" && t["feature-param"] && layer >= 0 && layer <= 16) {
    const Py f = py_value(t["feature-param"]);
    const std::int64_t n = nb_layer_channels(cx, layer);
    const auto k = f.is_number() && std::isfinite(f.f) ? static_cast<std::int64_t>(static_cast<double>(n) * f.f) : -1;
    if (k >= 0 && k <= n) {
      draw = cx.stream.size();
      cx.stream.push_back({n, k});
    }
  }
  if (layer == 0) {
    return r.note(lnode, at + ".layer", "layer 0 (b4.conv1) is never bent: Network Bending's Generator.forward runs "
                                        "the 4x4 convolution without its transforms; skipped");
  }
  if (layer < 0 || layer > 16) {
    return r.note(lnode, at + ".layer", "layer " + std::to_string(layer) + ": Network Bending's layer tables hold "
                                        "layers 0 to 16 and its run fails on this one; skipped");
  }
  if (layer >= layers) {
    return r.note(lnode, at + ".layer", "layer " + std::to_string(layer) + ": model " + cx.card.name + " has layers 0 to " +
                                            std::to_string(layers - 1) + "; Network Bending's generator of this size "
                                            "has no such layer and the transform does nothing; skipped");
  }
  const std::string tap = cx.layer_taps[static_cast<std::size_t>(layer)];
  const TapInfo& info = *find_tap(cx.taps, tap);
  const Py name = py_value(t["transform"]);
  const NbTransform* tr = nullptr;
  for (const auto& k : kNbTransforms) {
    if (name.kind == Py::Kind::Str && name.s == k.name) tr = &k;
  }
  if (!tr) {
    return r.note(t["transform"], at + ".transform",
                  "unknown transform " + (name.kind == Py::Kind::Str ? "'" + name.s + "'" : name.describe()) +
                      " (transform_layers.py knows " + nb_transform_names() +
                      "); Network Bending's run fails when it reaches layer " + std::to_string(layer) + "; skipped");
  }
  // params: each op reads params[0] (and params[1]); the others ignore them.
  const YAML::Node p = t["params"];
  std::vector<double> values;
  if (tr->params > 0) {
    if (!p.IsSequence() || static_cast<int>(p.size()) < tr->params) {
      return r.note(p, at + ".params", "'" + std::string(tr->name) + "' reads " + std::to_string(tr->params) +
                                           " value(s) from params; Network Bending fails on " +
                                           (p.IsSequence() ? std::to_string(p.size()) + " value(s)" : py_value(p).describe()) +
                                           "; skipped");
    }
    if (static_cast<int>(p.size()) > tr->params) {
      r.note(p, at + ".params", "'" + std::string(tr->name) + "' reads the first " + std::to_string(tr->params) +
                                    " value(s); the rest are ignored, as in Network Bending");
    }
    for (int k = 0; k < tr->params; ++k) {
      const Py v = py_value(p[static_cast<std::size_t>(k)]);
      const std::string pk = at + ".params[" + std::to_string(k) + "]";
      if (tr->integer ? v.kind != Py::Kind::Int : !v.is_number()) {
        return r.note(p[static_cast<std::size_t>(k)], pk,
                      v.describe() + (tr->integer ? " is not an int: Network Bending's " + std::string(tr->name) +
                                                        " op takes an int64 and fails"
                                                  : " is not a number to PyYAML (YAML 1.1: '-.2' and '1e3' are text); "
                                                    "Network Bending's op fails on it") +
                          "; skipped");
      }
      values.push_back(v.f);
    }
  }
  if (std::string(tr->name) == "resize") {
    // transforms/resize/op.cpp: copyMakeBorder(top = bottom = int(W * by / 2), left = right = int(H * bx / 2),
    // BORDER_REPLICATE), on every channel.
    const auto tb = static_cast<std::int64_t>(static_cast<double>(info.width) * (values[1] / 2.0));
    const auto lr = static_cast<std::int64_t>(static_cast<double>(info.height) * (values[0] / 2.0));
    if (tb == 0 && lr == 0) {
      return r.note(t["transform"], at + ".transform", "resize adds no border at layer " + std::to_string(layer) + " (" +
                                                           std::to_string(info.height) + "x" + std::to_string(info.width) +
                                                           "): it does nothing there; skipped");
    }
    return r.note(t["transform"], at + ".transform",
                  "resize grows every map of layer " + std::to_string(layer) + " to " + std::to_string(info.height + 2 * tb) +
                      "x" + std::to_string(info.width + 2 * lr) + " (copyMakeBorder, edges repeated); the next ToRGB then "
                      "adds maps of two sizes and Network Bending's run fails (model.py, ToRGB.forward); skipped");
  }
  if (tr->integer && values[0] < 0) {
    return r.note(p[0], at + ".params[0]", "a negative radius: OpenCV's getStructuringElement fails; skipped");
  }
  json channels = "all";
  if (features.s == "random") {
    if (!t["feature-param"]) return r.note(t, at + ".feature-param", "missing: util.py reads it for random features and fails; skipped");
    const Py f = py_value(t["feature-param"]);
    const auto k = f.is_number() ? static_cast<std::int64_t>(static_cast<double>(info.channels) * f.f) : -1;
    if (!f.is_number() || !std::isfinite(f.f) || k < 0 || k > info.channels) {
      return r.note(t["feature-param"], at + ".feature-param",
                    f.describe() + ": random.sample(range(" + std::to_string(info.channels) + "), int(" +
                        std::to_string(info.channels) + " * fraction)) fails unless the fraction is from 0 to 1; skipped");
    }
    channels = {{"random", std::max(0.0, std::min(1.0, f.f))}, {"seed", seed}, {"rule", "network_bending"}};
    if (k == 0) {
      r.note(t["feature-param"], at + ".feature-param", "int(" + std::to_string(info.channels) + " * " + f.s +
                                                            ") = 0 channels: the transform bends nothing, as in Network Bending");
    }
  } else if (cluster) {
    if (!t["feature-param"]) return r.note(t, at + ".feature-param", "missing: util.py reads it for cluster features and fails; skipped");
    std::int64_t k = 0;
    if (!python_int(py_value(t["feature-param"]), &k)) {
      return r.note(t["feature-param"], at + ".feature-param",
                    py_value(t["feature-param"]).describe() + ": int(cluster_ID) fails on it; skipped");
    }
    const YAML::Node list = cx.dict.find(layer, tap);
    if (!list.IsDefined()) {
      return r.note(t["feature-param"], at + ".feature-param",
                    "the cluster dictionary has no layer " + std::to_string(layer) + " (" + tap +
                        "): Network Bending's lookup cluster_config[layer] fails; skipped");
    }
    Dictionary::Layer entries = cx.dict.layer(list, std::to_string(layer), info.channels);
    if (!entries.ok) return;
    std::vector<std::int64_t> chosen;
    channels = cluster_selector(entries, k, &chosen);
    if (chosen.empty()) {
      r.note(t["feature-param"], at + ".feature-param",
             "no channel of layer " + std::to_string(layer) + " is in cluster " + std::to_string(k) +
                 ": Network Bending prints 'No indicies found' and bends nothing; so does this edit");
      if (channels.is_null()) return;
    }
    if (channels.is_object()) cx.out.clusters[tap] = entries.labels;
  }
  const auto [op, params] = nb_op(tr->name, values);
  json e = {{"tap", tap}, {"channels", channels}, {"op", op}, {"params", params}};
  try {
    validate_op_params(op, params, at);
  } catch (const Error& err) {
    return r.note(p, at + ".params", std::string(err.what()) + "; skipped");
  }
  if (draw && channels.is_object() && channels.contains("random")) cx.stream_edits.emplace_back(cx.edits.size(), *draw);
  cx.edits.push_back(e);
}

void import_nb_config(const Reader& r, const YAML::Node& doc, NbContext& cx) {
  for (const auto& kv : doc) {
    const std::string k = key_text(kv.first);
    if (k != "transforms") {
      r.note(kv.first, k, "Network Bending's generate.py reads only 'transforms'; this section is ignored");
    }
  }
  const YAML::Node list = doc["transforms"];
  if (list.IsNull()) return;
  if (!list.IsSequence()) r.fail(list, "transforms", "expected a list of {layer, transform, params, features, feature-param}");
  for (std::size_t i = 0; i < list.size(); ++i) {
    const YAML::Node t = list[i];
    const std::string at = "transforms[" + std::to_string(i) + "]";
    if (!t.IsMap()) {
      r.note(t, at, "not a mapping of layer, transform, params, features, feature-param; Network Bending fails on it; skipped");
      continue;
    }
    const YAML::Node layer = t["layer"];
    nb_transform(cx, t, at, &layer, 0, cx.options.random_seed + i);
  }
  if (cx.options.random_stream > 0) {
    // One stream from random.seed(random_seed): the earlier passes' draws, then this pass's so far.
    for (const auto& [edit, position] : cx.stream_edits) {
      std::vector<std::array<std::int64_t, 2>> before;
      for (int pass = 1; pass < cx.options.random_stream; ++pass) before.insert(before.end(), cx.stream.begin(), cx.stream.end());
      before.insert(before.end(), cx.stream.begin(), cx.stream.begin() + static_cast<std::ptrdiff_t>(position));
      json& sel = cx.edits[edit]["channels"];
      sel["seed"] = cx.options.random_seed;
      if (!before.empty()) sel["draws_before"] = before;
    }
  }
}

// generate_sample_strips.py: one transform (features, transform, params, feature-param) at the
// top level, applied at every layer in turn; only all and random features.
void import_nb_strip(const Reader& r, const YAML::Node& doc, NbContext& cx) {
  if (cx.layer_taps.size() < 2) r.fail(doc, "transform", "model " + cx.card.name + " has no layer 1 to hold the strip's transform");
  if (doc["features"] && py_value(doc["features"]).s == "cluster") {
    return r.note(doc["features"], "features", "generate_sample_strips.py knows all and random features only: "
                                               "it prints 'not recognised' and bends nothing; skipped");
  }
  const std::size_t before = cx.edits.size();
  nb_transform(cx, doc, "(strip)", nullptr, 1, cx.options.random_seed);
  if (cx.edits.size() > before) {
    cx.out.strip_edit = "e1";
    cx.edits.back()["id"] = "e1";
    cx.out.notes.push_back(r.source() + ": a sample-strip config: generate_sample_strips.py applies its transform at "
                           "each layer in turn (layer 0 stays unbent); the session holds it at layer 1 (" +
                           cx.layer_taps[1] + "); `actmap-cli sweep SESSION --edit e1 --network-bending` renders the strip");
  }
}

// ---- The bending report's template (LoadModelTF2.py `operations`, stylegan.py, NetworkOperations.py)

constexpr double kPi = 3.14159265358979323846;

struct TemplateContext {
  const Reader& r;
  const ModelCard& card;
  const std::vector<TapInfo>& taps;
  const Dictionary& dict;
  json& edits;
  std::map<std::string, std::vector<int>>& clusters;
};

// One block {resolution, install_after, layers: [...]} (stylegan.py, StyleGAN_G_synthesis: the
// blocks whose install_after is Conv0_up or Conv1 are installed after that layer's epilogue's
// noise, bias and leaky ReLU).
void import_template_block(TemplateContext& cx, const YAML::Node& block, const std::string& where) {
  const Reader& r = cx.r;
  for (const auto& kv : block) {
    const std::string k = key_text(kv.first);
    if (k != "resolution" && k != "install_after" && k != "layers") {
      r.note(kv.first, where + k, "not a key the report's code reads (resolution, install_after, layers); ignored");
    }
  }
  if (!block["resolution"]) r.fail(block, where + "resolution", "missing");
  if (!block["install_after"]) r.fail(block, where + "install_after", "missing");
  std::int64_t res = 0;
  if (!py_value(block["resolution"]).integral(&res) || res < 4 || res > (1 << 20)) {
    r.fail(block["resolution"], where + "resolution", "expected a resolution (4, 8, 16, ...)");
  }
  const YAML::Node list = block["layers"];
  if (!list || !list.IsSequence()) r.fail(list ? list : block, where + "layers", "expected a list of {operation, ...}");
  if (list.size() == 0) return;
  const std::string after = py_value(block["install_after"]).s;
  std::string tap;
  if (after == "Conv0_up" && res == 4) {
    return r.note(block["install_after"], where + "install_after",
                  "Conv0_up at resolution 4 is StyleGAN's 4x4 constant input layer, which StyleGAN2 has not (its "
                  "constant goes straight into b4.conv1); the block is skipped");
  }
  if (after == "Conv0_up") tap = "b" + std::to_string(res) + ".conv0";
  else if (after == "Conv1") tap = "b" + std::to_string(res) + ".conv1";
  else {
    return r.note(block["install_after"], where + "install_after",
                  "'" + after + "': the report's code installs operations after Conv0_up and Conv1 only; the block is skipped");
  }
  const TapInfo* info = find_tap(cx.taps, tap);
  if (!info) r.fail(block["install_after"], where + "install_after", "model " + cx.card.name + " has no tap " + tap);
  const std::int64_t channels = info->channels, w = info->width, h = info->height;

  // The cluster labels of the layer (stylegan.py: clusters[layer_idx]).
  std::int64_t layer = -1;
  {
    const auto layer_taps = bending_layer_taps(cx.card);
    const auto it = std::find(layer_taps.begin(), layer_taps.end(), tap);
    if (it != layer_taps.end()) layer = it - layer_taps.begin();
  }
  Dictionary::Layer labels;
  if (cx.dict.present()) {
    const YAML::Node entry = cx.dict.find(layer, tap);
    if (entry.IsDefined()) labels = cx.dict.layer(entry, layer >= 0 ? std::to_string(layer) : tap, channels);
  }

  for (std::size_t i = 0; i < list.size(); ++i) {
    const YAML::Node l = list[i];
    const std::string at = where + "layers[" + std::to_string(i) + "]";
    if (!l.IsMap() || !l["operation"]) {
      r.note(l, at, "expected {operation, ...}: the report's code fails on it; skipped");
      continue;
    }
    const std::string op = py_value(l["operation"]).s;
    if (op == "none") {
      r.note(l["operation"], at + ".operation", "'none': the report's code skips it");
      continue;
    }
    if (!l["with_norm"]) {
      r.note(l, at + ".with_norm", "missing: stylegan.py reads layer['with_norm'] and fails; skipped");
      continue;
    }
    // process_params' defaults.
    auto num = [&](const char* key, double dflt, double* out) {
      if (!l[key]) return *out = dflt, true;
      const YAML::Node n = l[key];
      const YAML::Node v = n.IsSequence() && n.size() == 1 ? n[0] : n;  // sinX: [1]
      const Py p = py_value(v);
      if (!p.is_number()) {
        r.note(n, at + "." + key, p.describe() + " is not a number; skipped");
        return false;
      }
      return *out = p.f, true;
    };
    std::set<std::string> known = {"operation", "name", "with_norm", "clusters", "scale", "delta", "translateX",
                                   "translateY", "filter_shape", "rotation", "sharpen_factor", "sinX", "sinY"};
    for (const auto& kv : l) {
      if (!known.count(key_text(kv.first))) {
        r.note(kv.first, at + "." + key_text(kv.first), "not a parameter the report's Block reads; ignored");
      }
    }
    // The channels: every one whose label is among `clusters`, or all of them.
    std::vector<std::int64_t> clusters;
    bool selected_all = true;
    std::vector<std::int64_t> chosen;
    if (l["clusters"] && l["clusters"].IsSequence() && l["clusters"].size() > 0) {
      selected_all = false;
      if (!labels.ok) {
        r.note(l["clusters"], at + ".clusters", "selects clusters of " + tap + ", but no cluster labels for that layer were "
                                                "given (--clusters); the report's code fails without them; skipped");
        continue;
      }
      bool bad = false;
      for (std::size_t k = 0; k < l["clusters"].size(); ++k) {
        std::int64_t c = 0;
        if (!py_value(l["clusters"][k]).integral(&c)) bad = true;
        clusters.push_back(c);
      }
      if (bad) {
        r.note(l["clusters"], at + ".clusters", "expected a list of cluster numbers; skipped");
        continue;
      }
      for (std::size_t c = 0; c < labels.labels.size(); ++c) {
        if (std::find(clusters.begin(), clusters.end(), labels.labels[c]) != clusters.end()) chosen.push_back(static_cast<std::int64_t>(c));
      }
      if (chosen.empty()) {
        r.note(l["clusters"], at + ".clusters", "no channel of " + tap + " is in these clusters: the operation changes nothing; skipped");
        continue;
      }
    }
    const bool with_norm = py_value(l["with_norm"]).kind == Py::Kind::Bool ? py_value(l["with_norm"]).b
                                                                          : py_value(l["with_norm"]).f != 0.0;
    // (op, params, channels restricted further, mask) for each edit this operation becomes.
    struct Part {
      std::string op;
      json params;
      std::vector<std::int64_t> only;  // empty: the operation's channels
      json mask;
    };
    std::vector<Part> parts;
    double v = 0, v2 = 0;
    if (op == "block") {
      parts.push_back({"ablate", json::object(), {}, json()});
    } else if (op == "invert") {
      parts.push_back({"negate", json::object(), {}, json()});  // out = -inputs
    } else if (op == "brightness") {
      if (!num("delta", 0, &v)) continue;
      parts.push_back({"add", {{"value", v}}, {}, json()});  // tf.image.adjust_brightness: x + delta
    } else if (op == "scale") {
      if (!num("scale", 0, &v)) continue;
      const double size = std::trunc(static_cast<double>(w) + v);
      if (size <= 0) {
        r.note(l["scale"], at + ".scale", "a map of " + std::to_string(w) + " + (" + std::to_string(v) + ") pixels: "
                                          "tf.image.resize fails; skipped");
        continue;
      }
      r.note(l["operation"], at + ".operation",
             "scale: the report resizes the " + std::to_string(w) + "-pixel map to " + std::to_string(static_cast<int>(size)) +
                 " (tf.image.resize, gaussian) and crops or pads it back about the centre; actmap zooms by " +
                 std::to_string(size / static_cast<double>(w)) + " (bilinear), which is close but not the same");
      parts.push_back({"scale", {{"factor", size / static_cast<double>(w)}}, {}, json()});
    } else if (op == "shuffle") {
      r.note(l["operation"], at + ".operation",
             "shuffle: the report shuffles every channel with TensorFlow's seeded random shuffle and keeps the "
             "shuffled maps at the selected channels; that draw cannot be reproduced: actmap permutes the selected "
             "channels among themselves (seed 1)");
      parts.push_back({"shuffle", {{"seed", 1}}, {}, json()});
    } else if (op == "translate") {
      if (!num("translateX", 0, &v) || !num("translateY", 0, &v2)) continue;
      // tfa.image.translate([x, y]) in pixels, nearest, reflect.
      parts.push_back({"translate",
                       {{"dx", v / static_cast<double>(w)}, {"dy", v2 / static_cast<double>(h)}, {"convention", "tensorflow"}},
                       {}, json()});
    } else if (op == "vanish") {
      parts.push_back({"vanish", {{"pick", "repeat"}}, {}, json()});
    } else if (op == "mean_filter") {
      if (!num("filter_shape", 3, &v)) continue;
      if (v != std::floor(v) || v < 1 || std::fmod(v, 2.0) == 0.0 || v > 129) {
        r.note(l["filter_shape"], at + ".filter_shape", "actmap's mean filter takes odd sizes from 1 to 129; skipped");
        continue;
      }
      parts.push_back({"mean_filter", {{"size", static_cast<std::int64_t>(v)}, {"border", "reflect"}}, {}, json()});
    } else if (op == "rotate") {
      if (!num("rotation", 0, &v)) continue;
      parts.push_back({"rotate", {{"degrees", v * 180.0 / kPi}, {"convention", "tensorflow"}}, {}, json()});  // radians
    } else if (op == "sharpen") {
      if (!num("sharpen_factor", 1, &v)) continue;
      r.note(l["operation"], at + ".operation",
             "sharpen: the report's tfa.image.sharpness blends each map with a 3x3 smoothing of it (PIL's kernel) and "
             "clips the result to [0, 255]; actmap's sharpen (x + a (4x - neighbours)) with a = (factor - 1) / 2 is an "
             "approximation");
      parts.push_back({"sharpen", {{"amount", std::clamp((v - 1.0) / 2.0, -100.0, 100.0)}}, {}, json()});
    } else if (op == "erosion" || op == "dilation") {
      if (l["filter_shape"]) {
        r.note(l["filter_shape"], at + ".filter_shape", "the report's erosion and dilation always use a 3x3 element "
                                                        "(tf.nn.erosion2d with a zero 3x3 filter); filter_shape is ignored");
      }
      parts.push_back({op == "erosion" ? "erode" : "dilate", {{"radius", 1}, {"shape", "square"}}, {}, json()});
    } else if (op == "mirrorY") {
      // The top rows [0, H/2) stay; the rest come from the map turned 180 degrees.
      const std::int64_t half = h / 2;
      parts.push_back({"mirror", {{"axis", "y"}}, {}, json()});
      parts.push_back({"flip", {{"axis", "horizontal"}}, {}, {{"rect", {0, half, w - 1, h - 1}}}});
    } else if (op == "mirrorX") {
      // NetworkOperations.py concatenates along the channel axis here: channels [0, H/2) stay and
      // the others take the map turned 180 degrees.
      std::vector<std::int64_t> only;
      for (std::int64_t c = h / 2; c < channels; ++c) only.push_back(c);
      parts.push_back({"rotate", {{"degrees", 180.0}}, only, json()});
    } else if (op == "sin_disrupt") {
      double sx = 1, sy = 1, tx = 0, ty = 0;
      if (!num("sinX", 1, &sx) || !num("sinY", 1, &sy) || !num("translateX", 0, &tx) || !num("translateY", 0, &ty)) continue;
      // base[x, y] = 4 sin((x - 4 - tY) / w sinX) + 4 sin((y - 2 - tX) / w sinY): x the row, y the
      // column, w the height (the maps are square); the map is replaced.
      const double hh = static_cast<double>(h), ww = static_cast<double>(w);
      parts.push_back({"sin_field",
                       {{"amplitude", 4.0}, {"fy", sx / (2.0 * kPi)}, {"y0", 4.0 + ty}, {"fx", sy * ww / (2.0 * kPi * hh)}, {"x0", 2.0 + tx}},
                       {},
                       json()});
    } else {
      r.note(l["operation"], at + ".operation",
             "unknown operation '" + op + "' (the report's Block knows block, scale, invert, shuffle, brightness, "
             "translate, vanish, mean_filter, rotate, sharpen, erosion, dilation, mirrorY, mirrorX, sin_disrupt; its "
             "code fails on others); skipped");
      continue;
    }
    for (Part& part : parts) {
      if (with_norm) part.params["renormalize"] = true;
      try {
        part.params = validate_op_params(part.op, part.params, at);
      } catch (const Error& err) {
        r.note(l, at, std::string(err.what()) + "; skipped");
        parts.clear();
        break;
      }
    }
    for (const Part& part : parts) {
      std::vector<std::int64_t> ch;
      if (selected_all) {
        for (std::int64_t c = 0; c < channels; ++c) ch.push_back(c);
      } else {
        ch = chosen;
      }
      if (!part.only.empty()) {
        std::vector<std::int64_t> both;
        std::set_intersection(ch.begin(), ch.end(), part.only.begin(), part.only.end(), std::back_inserter(both));
        ch = both;
        if (ch.empty()) continue;
      }
      json sel;
      if (static_cast<std::int64_t>(ch.size()) == channels) sel = "all";
      else if (clusters.size() == 1 && part.only.empty() && clusters[0] >= 0) {
        sel = {{"cluster", clusters[0]}};
        cx.clusters[tap] = labels.labels;
      }
      else sel = ch;
      json e = {{"tap", tap}, {"channels", sel}, {"op", part.op}, {"params", part.params}};
      if (!part.mask.is_null()) e["mask"] = part.mask;
      cx.edits.push_back(e);
    }
  }
}

std::string shortest(double v) {
  // The shortest %g text that reads back as v, with a '.' so that PyYAML reads a float.
  char buf[64];
  for (int p = 1; p <= 17; ++p) {
    std::snprintf(buf, sizeof buf, "%.*g", p, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  std::string s = buf;
  if (s.find_first_of(".ein") == std::string::npos) s += ".0";
  else if (s.find('.') == std::string::npos && s.find('e') != std::string::npos) s.insert(s.find('e'), ".0");
  return s;
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
                             const std::string& clusters_text, const std::string& clusters_source,
                             const BendingOptions& options) {
  const auto layer_taps = bending_layer_taps(card);  // refuses other families first
  const auto taps = card_taps(card);
  BendingImport out;
  try {
    const Reader r(source, options.strict, &out.notes);
    const Dictionary dict(clusters_text, clusters_source, options.strict, &out.notes);
    const YAML::Node doc = r.load(text);
    json edits = json::array();
    const bool template_list = doc.IsSequence() && doc.size() > 0 && doc[0].IsMap() && doc[0]["install_after"];
    if (doc.IsMap() && doc["transforms"]) {
      out.format = "network_bending";
      NbContext cx{r, card, layer_taps, taps, dict, options, out, edits};
      import_nb_config(r, doc, cx);
    } else if (doc.IsMap() && doc["transform"]) {
      out.format = "network_bending_strip";
      NbContext cx{r, card, layer_taps, taps, dict, options, out, edits};
      import_nb_strip(r, doc, cx);
    } else if ((doc.IsMap() && doc["layers"]) || template_list) {
      out.format = "report_template";
      TemplateContext cx{r, card, taps, dict, edits, out.clusters};
      if (template_list) {
        for (std::size_t i = 0; i < doc.size(); ++i) {
          if (!doc[i].IsMap()) r.fail(doc[i], "[" + std::to_string(i) + "]", "expected {resolution, install_after, layers}");
          import_template_block(cx, doc[i], "[" + std::to_string(i) + "].");
        }
      } else {
        import_template_block(cx, doc, "");
      }
    } else {
      r.fail(doc, "(document)",
             "expected a 'transforms' list (Network Bending), a top-level 'transform' (its sample-strip config) or "
             "'layers' (the bending report's template)");
    }
    out.edits = edits_from_json(edits, "");
  } catch (const YAML::Exception& e) {
    throw Error(source + ": line " + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
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

std::map<std::string, std::vector<int>> read_bending_clusters(const std::string& text, const std::string& source,
                                                              const ModelCard& card, std::vector<std::string>* notes) {
  const auto layer_taps = bending_layer_taps(card);
  const auto taps = card_taps(card);
  std::map<std::string, std::vector<int>> out;
  try {
    const Dictionary dict(text, source, false, notes);
    const Reader r(source, false, notes);
    const YAML::Node doc = r.load(text);
    if (!doc.IsMap()) r.fail(doc, "(document)", "expected a map of layer numbers to lists of {cluster_index, feature_index}");
    for (const auto& kv : doc) {
      const Py key = py_value(kv.first);
      std::int64_t layer = -1;
      std::string tap;
      if (key.kind == Py::Kind::Int && key.integral(&layer) && layer >= 0 && layer < static_cast<std::int64_t>(layer_taps.size())) {
        tap = layer_taps[static_cast<std::size_t>(layer)];
      } else if (key.kind == Py::Kind::Str && find_tap(taps, key.s)) {
        tap = key.s;
      } else {
        r.note(kv.first, key_text(kv.first), "model " + card.name + " has no such layer (Network Bending layers 0 to " +
                                                 std::to_string(layer_taps.size() - 1) + "); left out");
        continue;
      }
      const Dictionary::Layer l = dict.layer(kv.second, key_text(kv.first), find_tap(taps, tap)->channels);
      if (l.ok) out[tap] = l.labels;
    }
  } catch (const YAML::Exception& e) {
    throw Error(source + ": line " + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
  return out;
}

std::string write_bending_clusters(const Session& session, const ModelCard& card, const std::vector<std::string>& only) {
  const auto layer_taps = bending_layer_taps(card);
  std::string out;
  for (std::size_t layer = 0; layer < layer_taps.size(); ++layer) {
    const std::string& tap = layer_taps[layer];
    if (!only.empty() && std::find(only.begin(), only.end(), tap) == only.end()) continue;
    const auto labels = session.cluster_labels(tap);
    if (labels.empty()) continue;
    out += std::to_string(layer) + ":\n";
    for (std::size_t c = 0; c < labels.size(); ++c) {
      if (labels[c] < 0) continue;  // in no cluster: left out, as Network Bending reads it
      out += "- {cluster_index: " + std::to_string(labels[c]) + ", feature_index: " + std::to_string(c) + "}\n";
    }
  }
  return out;
}

BendingExport export_bending(const Session& session, const ModelCard& card) {
  const auto layer_taps = bending_layer_taps(card);
  BendingExport out;
  std::string config = "transforms:\n";
  std::vector<std::string> cluster_taps;
  int written = 0;
  for (const Edit& e : session.edits) {
    const std::string label = e.id + " (" + e.op + " at " + e.tap + ")";
    auto skip = [&](const std::string& why) { out.skipped.push_back(label + ": " + why); };
    auto note = [&](const std::string& what) { out.notes.push_back(label + ": " + what); };
    if (!e.enabled) {
      skip("disabled");
      continue;
    }
    const auto layer = std::find(layer_taps.begin(), layer_taps.end(), e.tap);
    if (layer == layer_taps.end()) {
      skip("Network Bending transforms sit after convolutions only (b8.conv0, b8.conv1, ...)");
      continue;
    }
    if (layer == layer_taps.begin()) {
      skip("Network Bending never bends layer 0 (" + e.tap + ")");
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
    const std::string convention = e.params.value("convention", "actmap");
    std::string transform, params;
    if (e.op == "translate") {
      transform = "translate";
      params = "[" + shortest(e.params.value("dx", 0.0)) + ", " + shortest(e.params.value("dy", 0.0)) + "]";
    } else if (e.op == "scale") {
      transform = "scale";
      params = "[" + shortest(e.params.value("factor", 1.0)) + "]";
    } else if (e.op == "rotate") {
      transform = "rotate";
      params = "[" + shortest(e.params.value("degrees", 0.0)) + "]";
    } else if (e.op == "erode" || e.op == "dilate") {
      transform = e.op;
      params = "[" + std::to_string(e.params.value("radius", 1)) + "]";
      if (e.params.value("shape", "square") != "ellipse") {
        note("its element is a square; Network Bending's is OpenCV's ellipse of the same size");
      }
    } else if (e.op == "multiply") {
      transform = "scalar-multiply";
      params = "[" + shortest(e.params.value("factor", 1.0)) + "]";
    } else if (e.op == "threshold") {
      transform = "binary-thresh";
      params = "[" + shortest(e.params.value("t", 0.0)) + "]";
    } else if (e.op == "flip") {
      transform = e.params.value("axis", "horizontal") == "horizontal" ? "flip-h" : "flip-v";
      params = "[]";
    } else if (e.op == "invert" || e.op == "ablate") {
      transform = e.op;
      params = "[]";
    } else {
      skip("no Network Bending transform does '" + e.op + "'");
      continue;
    }
    if ((e.op == "translate" || e.op == "scale" || e.op == "rotate") && convention != "network_bending") {
      note("its convention is " + convention + "; Network Bending computes " + e.op + " with OpenCV about (W/2, H/2)");
    }
    std::string features = "all", feature_param;
    switch (e.channels.kind) {
      case ChannelSelector::Kind::All: break;
      case ChannelSelector::Kind::Random:
        features = "random";
        feature_param = shortest(e.channels.fraction);
        note(e.channels.rule == ChannelSelector::RandomRule::NetworkBending
                 ? "Network Bending draws its random channels anew (random.sample) on every run: seed " +
                       std::to_string(e.channels.seed) + " is not part of its config"
                 : "Network Bending takes int(fraction C) random channels, drawn anew on every run; this edit takes "
                   "round(fraction C) (at least one) with actmap's seeded draw");
        break;
      case ChannelSelector::Kind::Cluster:
        features = "cluster";
        feature_param = std::to_string(e.channels.cluster);
        if (std::find(cluster_taps.begin(), cluster_taps.end(), e.tap) == cluster_taps.end()) cluster_taps.push_back(e.tap);
        break;
      default:
        skip("Network Bending selects all, random or cluster features, not a channel list");
        continue;
    }
    config += "- layer: " + std::to_string(layer - layer_taps.begin()) + "\n  transform: \"" + transform + "\"\n  params: " +
              params + "\n  features: \"" + features + "\"\n  feature-param: " + feature_param + "\n";
    ++written;
  }
  if (written == 0) config = "transforms: []\n";
  out.config = config;
  if (!cluster_taps.empty()) out.clusters = write_bending_clusters(session, card, cluster_taps);
  return out;
}

}  // namespace actmap
