#include "actmap/session/session.h"

#include <atomic>
#include <cmath>
#include <functional>
#include <ctime>
#include <filesystem>
#include <set>

#include <unistd.h>

#include "actmap/edit/ops.h"
#include "actmap/io/error.h"
#include "actmap/io/files.h"
#include "actmap/io/json_text.h"
#include "actmap/io/npy.h"
#include "actmap/model/checkpoint_cache.h"
#include "actmap/model/latent.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace actmap {
namespace {

std::string resolve(const std::string& path, const std::string& base_dir) {
  fs::path p(path);
  if (p.is_relative() && !base_dir.empty()) p = fs::path(base_dir) / p;
  return p.lexically_normal().string();
}

// `path` (relative to `from_dir`) written relative to `to_dir`, or absolute when `to_dir` is "".
std::string rebase(const std::string& path, const std::string& from_dir, const std::string& to_dir) {
  std::error_code ec;
  const fs::path abs = fs::absolute(resolve(path, from_dir), ec).lexically_normal();
  if (to_dir.empty()) return abs.string();
  const fs::path rel = abs.lexically_relative(fs::absolute(to_dir, ec).lexically_normal());
  return rel.empty() ? abs.string() : rel.string();
}

void check_keys(const json& j, const std::string& where, const std::set<std::string>& known) {
  for (const auto& [key, value] : j.items()) {
    if (known.count(key)) continue;
    std::string names;
    for (const auto& k : known) names += (names.empty() ? "" : ", ") + k;
    throw Error(json_pointer_join(where, key) + ": unknown key (known here: " + names + ")");
  }
}

// Values from a .npy file whose shape `fits`; `shapes` says which shapes do, for the message.
std::vector<float> floats_from_npy(const std::string& path, const std::function<bool(const std::vector<std::int64_t>&)>& fits,
                                   const std::string& shapes, const std::string& where) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) throw Error(where + ": no such file " + path);
  FloatArray a;
  try {
    a = read_npy(path);
  } catch (const Error& e) {
    throw Error(where + ": " + e.what());
  }
  if (!fits(a.shape)) {
    std::string shape;
    for (auto d : a.shape) shape += (shape.empty() ? "" : ", ") + std::to_string(d);
    throw Error(where + ": " + path + " has shape [" + shape + "]; " + shapes);
  }
  for (float v : a.data) {
    if (!std::isfinite(v)) throw Error(where + ": " + path + " holds a non-finite value");
  }
  return a.data;
}

// z: `size` values in any shape whose other dimensions are 1.
std::vector<float> z_from_npy(const std::string& path, std::int64_t size, const std::string& where) {
  auto fits = [size](const std::vector<std::int64_t>& shape) {
    std::int64_t n = 1, big = 0;
    for (auto d : shape) {
      n *= d;
      big += d != 1;
    }
    return n == size && big <= 1;
  };
  return floats_from_npy(path, fits, "the model's latent has " + std::to_string(size) + " values (shape [" +
                         std::to_string(size) + "] or [1, " + std::to_string(size) + "])", where);
}

// `count` finite numbers; `whose` completes "...; <whose> has <count>".
std::vector<float> numbers(const json& v, std::size_t count, const std::string& where, const std::string& whose) {
  if (!v.is_array()) throw Error(where + ": expected a list of " + std::to_string(count) + " numbers, got " + v.dump().substr(0, 80));
  if (v.size() != count) {
    throw Error(where + ": has " + std::to_string(v.size()) + " values; " + whose + " has " + std::to_string(count));
  }
  std::vector<float> out;
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (!v[i].is_number() || !std::isfinite(v[i].get<double>())) {
      throw Error(json_pointer_join(where, i) + ": expected a number, got " + v[i].dump());
    }
    out.push_back(v[i].get<float>());
  }
  return out;
}

SessionLatent parse_latent(const json& j, const std::string& base_dir, const ModelCard& card) {
  const std::string where = "/latent";
  const std::int64_t size = card.latent.size;
  if (!j.is_object()) {
    throw Error(where + ": expected {\"seed\": N}, {\"z\": [...]}, {\"z_file\": \"z.npy\"}, {\"ws\": [[...]]} or "
                "{\"ws_file\": \"ws.npy\"}, got " + j.dump().substr(0, 80));
  }
  check_keys(j, where, {"seed", "z", "z_file", "ws", "ws_file"});
  if (j.size() != 1) throw Error(where + ": give exactly one of seed, z, z_file, ws or ws_file");
  SessionLatent l;
  if (j.contains("seed")) {
    const json& s = j.at("seed");
    if (!s.is_number_integer() || (!s.is_number_unsigned() && s.get<std::int64_t>() < 0)) {
      throw Error(where + "/seed: expected a non-negative integer, got " + s.dump());
    }
    l.kind = SessionLatent::Kind::Seed;
    l.seed = s.get<std::uint64_t>();
  } else if (j.contains("z")) {
    l.kind = SessionLatent::Kind::Z;
    l.z = numbers(j.at("z"), static_cast<std::size_t>(size), where + "/z", "the model's latent");
  } else if (j.contains("z_file")) {
    const json& f = j.at("z_file");
    if (!f.is_string() || f.get<std::string>().empty()) throw Error(where + "/z_file: expected a file name, got " + f.dump());
    l.kind = SessionLatent::Kind::ZFile;
    l.z_file = f.get<std::string>();
    l.z = z_from_npy(resolve(l.z_file, base_dir), size, where + "/z_file");
  } else {
    const std::string key = j.contains("ws") ? "ws" : "ws_file";
    if (!card.w_plus()) {
      throw Error(where + "/" + key + ": model " + card.name + " (" + card.family +
                  ") has no W+; W+ latents need a StyleGAN2 or StyleGAN3 model");
    }
    const std::int64_t rows = card.w_plus()->rows, w_dim = card.w_plus()->w_dim;
    l.ws_rows = rows;
    if (key == "ws") {
      const json& ws = j.at("ws");
      if (!ws.is_array() || static_cast<std::int64_t>(ws.size()) != rows) {
        throw Error(where + "/ws: expected " + std::to_string(rows) + " rows of " + std::to_string(w_dim) +
                    " numbers (num_ws x w_dim), got " + (ws.is_array() ? std::to_string(ws.size()) + " rows" : ws.dump().substr(0, 80)));
      }
      l.kind = SessionLatent::Kind::WS;
      for (std::size_t r = 0; r < ws.size(); ++r) {
        const auto row = numbers(ws[r], static_cast<std::size_t>(w_dim), json_pointer_join(where + "/ws", r), "a row of W+ (w_dim)");
        l.z.insert(l.z.end(), row.begin(), row.end());
      }
    } else {
      const json& f = j.at("ws_file");
      if (!f.is_string() || f.get<std::string>().empty()) throw Error(where + "/ws_file: expected a file name, got " + f.dump());
      l.kind = SessionLatent::Kind::WSFile;
      l.z_file = f.get<std::string>();
      const std::string r = std::to_string(rows), w = std::to_string(w_dim);
      auto fits = [rows, w_dim](const std::vector<std::int64_t>& shape) {
        return shape == std::vector<std::int64_t>{rows, w_dim} || shape == std::vector<std::int64_t>{1, rows, w_dim};
      };
      l.z = floats_from_npy(resolve(l.z_file, base_dir), fits, "the model needs W+ of shape [" + r + ", " + w + "] or [1, " + r + ", " + w + "] (num_ws, w_dim)",
                            where + "/ws_file");
    }
  }
  return l;
}

std::map<std::string, std::vector<int>> parse_clusters(const json& j) {
  if (!j.is_object()) throw Error("/clusters: expected {\"tap\": [label per channel, ...]}, got " + j.dump().substr(0, 80));
  std::map<std::string, std::vector<int>> out;
  for (const auto& [tap, labels] : j.items()) {
    const std::string at = json_pointer_join("/clusters", tap);
    if (!labels.is_array()) throw Error(at + ": expected a list with one cluster label per channel");
    std::vector<int> v;
    for (std::size_t i = 0; i < labels.size(); ++i) {
      const json& x = labels[i];
      if (!x.is_number_integer() || x.get<std::int64_t>() < -1 || x.get<std::int64_t>() > 1000000) {
        throw Error(json_pointer_join(at, i) + ": expected a cluster label (a non-negative integer, or -1 for a channel "
                    "in no cluster), got " + x.dump());
      }
      v.push_back(x.get<int>());
    }
    out[tap] = std::move(v);
  }
  return out;
}

std::string resolve_card(const std::string& model, const std::string& base_dir) {
  // A checkpoint file: the card it was converted to (CheckpointNotConverted when it was not yet).
  if (is_checkpoint_path(model)) {
    const std::string path = resolve(model, base_dir);
    std::error_code ec;
    if (!fs::is_regular_file(path, ec)) throw Error("/model/card: no checkpoint file at " + path);
    return converted_card_for(path);
  }
  if (is_card_path(model)) {
    const std::string path = resolve(model, base_dir);
    std::error_code ec;
    if (!fs::is_regular_file(path, ec)) throw Error("/model/card: no model card at " + path);
    return path;
  }
  try {
    return find_model_card(model);
  } catch (const Error& e) {
    throw Error(std::string("/model/card: ") + e.what());
  }
}

Session parse_document(const json& doc, const std::string& base_dir, const std::string& source) {
  if (!doc.is_object()) throw Error("/: expected a session object {\"actmap_session\": 1, ...}");
  if (!doc.contains("actmap_session")) {
    throw Error("/actmap_session: missing; this is not an actmap session (expected \"actmap_session\": 1)");
  }
  const json& version = doc.at("actmap_session");
  if (!version.is_number_integer() || version.get<std::int64_t>() != kSessionVersion) {
    throw Error("/actmap_session: unsupported schema version " + version.dump() + " (this build reads version " +
                std::to_string(kSessionVersion) + ")");
  }
  check_keys(doc, "", {"actmap_session", "model", "latent", "synthesis", "edits", "clusters", "view", "notes", "recovery"});
  for (const char* key : {"model", "latent", "edits"}) {
    if (!doc.contains(key)) throw Error(std::string("/") + key + ": missing (a session needs model, latent and edits)");
  }

  Session s;
  s.base_dir = base_dir;
  const json& model = doc.at("model");
  std::string expected_sha;
  if (model.is_string()) {
    s.model = model.get<std::string>();
  } else if (model.is_object()) {
    check_keys(model, "/model", {"card", "sha256"});
    if (!model.contains("card") || !model.at("card").is_string()) {
      throw Error("/model/card: missing (the model card's path or name)");
    }
    s.model = model.at("card").get<std::string>();
    if (model.contains("sha256")) {
      const json& h = model.at("sha256");
      if (!h.is_string() || h.get<std::string>().size() != 64 ||
          h.get<std::string>().find_first_not_of("0123456789abcdef") != std::string::npos) {
        throw Error("/model/sha256: expected 64 lowercase hex digits, got " + h.dump());
      }
      expected_sha = h.get<std::string>();
    }
  } else {
    throw Error("/model: expected {\"card\": \"path or name\", \"sha256\": \"...\"}, got " + model.dump().substr(0, 80));
  }
  if (s.model.empty()) throw Error("/model/card: empty");
  s.card_path = resolve_card(s.model, base_dir);
  ModelCard card;
  try {
    card = load_model_card(s.card_path);
  } catch (const Error& e) {
    throw Error(std::string("/model/card: ") + e.what());
  }

  s.latent = parse_latent(doc.at("latent"), base_dir, card);
  if (doc.contains("synthesis")) s.synthesis = SynthesisOptions::from_json(doc.at("synthesis"), "/synthesis");
  if (!doc.at("edits").is_array()) throw Error("/edits: expected a list of edits, got " + doc.at("edits").dump().substr(0, 80));
  s.edits = edits_from_json(doc.at("edits"), "/edits", base_dir);
  if (doc.contains("clusters")) s.clusters = parse_clusters(doc.at("clusters"));
  if (doc.contains("view")) {
    if (!doc.at("view").is_object()) throw Error("/view: expected an object, got " + doc.at("view").dump().substr(0, 80));
    s.view = doc.at("view");
  }
  if (doc.contains("notes")) {
    if (!doc.at("notes").is_string()) throw Error("/notes: expected a string, got " + doc.at("notes").dump().substr(0, 80));
    s.notes = doc.at("notes").get<std::string>();
  }
  if (doc.contains("recovery")) {
    const json& r = doc.at("recovery");
    if (!r.is_object() || !r.value("session_path", json()).is_string()) {
      throw Error("/recovery: expected {\"session_path\": \"...\", \"saved_unix\": N}");
    }
    s.recovered_from = r.at("session_path").get<std::string>();
  }
  check_session_against_card(s, card);

  // The weights: a missing file is an error now, not at render time; another hash a warning.
  std::string weights;
  try {
    weights = resolve_weights_path(card);
  } catch (const Error& e) {
    throw Error(std::string("/model: ") + e.what());
  }
  // A checkpoint file's own sha256 (remembered, so not read again) stands for its converted weights.
  const bool checkpoint = is_checkpoint_path(s.model);
  if (checkpoint) weights = resolve(s.model, base_dir);
  const std::string actual = checkpoint ? checkpoint_sha256(weights) : sha256_file(weights);
  if (!expected_sha.empty() && expected_sha != actual) {
    warn(source + ": /model/sha256: the " + (checkpoint ? "checkpoint " : "weights ") + weights + " have sha256 " + actual +
         ", but this session was saved with " + expected_sha + "; it may not render the same pixels");
  }
  s.weights_sha256 = actual;
  return s;
}

}  // namespace

SessionLatent SessionLatent::from_seed(std::uint64_t seed) {
  SessionLatent l;
  l.seed = seed;
  return l;
}

SessionLatent SessionLatent::from_z(std::vector<float> z) {
  SessionLatent l;
  l.kind = Kind::Z;
  l.z = std::move(z);
  return l;
}

std::string SessionLatent::describe() const {
  switch (kind) {
    case Kind::Seed: return "seed " + std::to_string(seed);
    case Kind::Z: return "explicit z";
    case Kind::ZFile: return "z from " + z_file;
    case Kind::WS: return "explicit W+";
    case Kind::WSFile: return "W+ from " + z_file;
  }
  return "";
}

std::vector<float> SessionLatent::values(const LatentSpec& spec) const {
  if (kind == Kind::Seed) return latent_from_seed(seed, spec);
  if (is_ws()) throw Error("the latent is W+ (" + describe() + "), not z");
  if (static_cast<std::int64_t>(z.size()) != spec.size) {
    throw Error("the latent has " + std::to_string(z.size()) + " values; the model's has " + std::to_string(spec.size));
  }
  return z;
}

bool SessionLatent::operator==(const SessionLatent& o) const {
  return kind == o.kind && seed == o.seed && z == o.z && z_file == o.z_file && ws_rows == o.ws_rows;
}

const Edit* Session::find_edit(const std::string& id) const {
  for (const auto& e : edits) {
    if (e.id == id) return &e;
  }
  return nullptr;
}

std::vector<int> Session::cluster_labels(const std::string& tap) const {
  const auto it = clusters.find(tap);
  return it == clusters.end() ? std::vector<int>{} : it->second;
}

std::vector<TapInfo> card_taps(const ModelCard& card) {
  std::vector<TapInfo> taps;
  for (const auto& stage : plan_stages(card)) taps.push_back(stage.tap);
  return taps;
}

void check_session_against_card(const Session& s, const ModelCard& card) {
  const std::vector<TapInfo> taps = card_taps(card);
  auto find_tap = [&](const std::string& name, const std::string& where) -> const TapInfo& {
    for (const auto& t : taps) {
      if (t.name == name) return t;
    }
    std::string names;
    for (const auto& t : taps) names += (names.empty() ? "" : ", ") + t.name;
    throw Error(where + ": no tap \"" + name + "\" in model " + card.name + " (taps: " + names + ")");
  };
  for (const auto& [tap, labels] : s.clusters) {
    const TapInfo& t = find_tap(tap, json_pointer_join("/clusters", tap));
    if (static_cast<std::int64_t>(labels.size()) != t.channels) {
      throw Error(json_pointer_join("/clusters", tap) + ": " + std::to_string(labels.size()) + " labels, but tap \"" + tap +
                  "\" has " + std::to_string(t.channels) + " channels");
    }
  }
  for (std::size_t i = 0; i < s.edits.size(); ++i) {
    const Edit& e = s.edits[i];
    const std::string where = json_pointer_join("/edits", i);
    const TapInfo& t = find_tap(e.tap, where + "/tap");
    std::size_t selected = 0;
    try {
      selected = e.channels.resolve(t.channels, t.name, s.cluster_labels(t.name)).size();
    } catch (const Error& err) {
      throw Error(where + "/channels: " + err.what());
    }
    if (e.op == "vanish" && selected == static_cast<std::size_t>(t.channels)) {
      throw Error(where + "/channels: vanish needs at least one channel of tap \"" + t.name + "\" outside the selection");
    }
    const OpSpec* op = find_op(e.op);
    if (op && op->category == "latent" && !(card.w_plus() && t.name == "mapping")) {
      throw Error(where + "/tap: op '" + e.op + "' edits W+ and works only at the tap \"mapping\" of a StyleGAN2 or StyleGAN3 model" +
                  (card.w_plus() ? "" : std::string(" (") + card.name + " is " + card.family + ")"));
    }
    if (op && op->category == "latent" && s.latent.is_ws() && e.op == "interpolate" && e.params.value("space", "w") == "z") {
      throw Error(where + "/params/space: interpolating in z needs a z latent; this session's latent is " + s.latent.describe());
    }
  }
  if (!s.synthesis.is_default() && !card.w_plus()) {
    throw Error("/synthesis: model " + card.name + " (" + card.family + ") has no mapping network or noise inputs; "
                "truncation and noise settings need a StyleGAN2 or StyleGAN3 model");
  }
  if (s.synthesis.has_input_transform() && !card.stylegan3) {
    throw Error("/synthesis/input_rotate: model " + card.name + " (" + card.family +
                ") has no input transform; input_rotate and input_translate need a StyleGAN3 model");
  }
  // The class of a conditional StyleGAN2 model.
  const std::int64_t c_dim = card.stylegan2 ? card.stylegan2->c_dim : 0;
  const char* key = s.synthesis.class_index ? "/synthesis/class" : "/synthesis/c";
  if (s.synthesis.has_label() && c_dim == 0) {
    throw Error(std::string(key) + ": model " + card.name + " is not conditional (c_dim 0); it takes no class");
  }
  if (s.synthesis.class_index && *s.synthesis.class_index >= c_dim) {
    throw Error(std::string(key) + ": class " + std::to_string(*s.synthesis.class_index) + " is out of range; model " +
                card.name + " has " + std::to_string(c_dim) + " classes (0 to " + std::to_string(c_dim - 1) + ")");
  }
  if (!s.synthesis.c.empty() && static_cast<std::int64_t>(s.synthesis.c.size()) != c_dim) {
    throw Error(std::string(key) + ": " + std::to_string(s.synthesis.c.size()) + " values, but model " + card.name +
                " takes c_dim = " + std::to_string(c_dim));
  }
}

Session new_session(const std::string& model) {
  Session s;
  s.model = model;
  s.card_path = is_card_path(model) && !is_checkpoint_path(model) ? model : find_model_card(model);
  const ModelCard card = load_model_card(s.card_path);
  s.weights_sha256 = is_checkpoint_path(model) ? checkpoint_sha256(model) : sha256_file(resolve_weights_path(card));
  return s;
}

Session parse_session(const std::string& text, const std::string& source) {
  // A parsed JSON document takes up to about 15 times its text; a session is at most a few MB
  // (W+ inline is 150 kB, a stroke at most 100,000 points), so a larger file is refused before it
  // is parsed, keeping the memory any session file can take under about 250 MB.
  if (text.size() > kMaxSessionBytes) {
    throw Error(source + ": " + std::to_string(text.size()) + " bytes, more than the " + std::to_string(kMaxSessionBytes >> 20) +
                " MB a session file may be (put large latents in z_file or ws_file)");
  }
  const json doc = parse_json_text(text, source);
  std::error_code ec;
  const std::string base_dir = fs::absolute(fs::path(source), ec).parent_path().string();
  try {
    return parse_document(doc, base_dir, source);
  } catch (const CheckpointNotConverted&) {
    throw;  // the front end converts the checkpoint and loads the session again
  } catch (const Error& e) {
    throw Error(source + ": " + e.what());
  }
}

Session load_session(const std::string& path) { return parse_session(read_file_text(path), path); }

json session_to_json(const Session& s, const std::string& dir) {
  json doc = json::object();
  doc["actmap_session"] = kSessionVersion;
  json model = {{"card", is_checkpoint_path(s.model) ? rebase(s.model, s.base_dir, dir)
                         : is_card_path(s.model)    ? rebase(s.card_path, "", dir)
                                                    : s.model}};
  if (!s.weights_sha256.empty()) model["sha256"] = s.weights_sha256;
  doc["model"] = std::move(model);
  switch (s.latent.kind) {
    case SessionLatent::Kind::Seed: doc["latent"] = {{"seed", s.latent.seed}}; break;
    case SessionLatent::Kind::Z: doc["latent"] = {{"z", s.latent.z}}; break;
    case SessionLatent::Kind::ZFile: doc["latent"] = {{"z_file", rebase(s.latent.z_file, s.base_dir, dir)}}; break;
    case SessionLatent::Kind::WS: {
      json rows = json::array();
      const std::size_t w = s.latent.ws_rows > 0 ? s.latent.z.size() / static_cast<std::size_t>(s.latent.ws_rows) : 0;
      for (std::int64_t r = 0; r < s.latent.ws_rows; ++r) {
        const auto begin = s.latent.z.begin() + static_cast<std::ptrdiff_t>(static_cast<std::size_t>(r) * w);
        rows.push_back(std::vector<float>(begin, begin + static_cast<std::ptrdiff_t>(w)));
      }
      doc["latent"] = {{"ws", rows}};
      break;
    }
    case SessionLatent::Kind::WSFile: doc["latent"] = {{"ws_file", rebase(s.latent.z_file, s.base_dir, dir)}}; break;
  }
  if (!s.synthesis.is_default()) doc["synthesis"] = s.synthesis.to_json();
  json edits = json::array();
  for (const Edit& e : s.edits) {
    json j = e.to_json();
    if (e.mask.kind == SpatialMask::Kind::File) j["mask"]["file"] = rebase(e.mask.file, s.base_dir, dir);
    edits.push_back(std::move(j));
  }
  doc["edits"] = std::move(edits);
  if (!s.clusters.empty()) doc["clusters"] = s.clusters;
  if (!s.view.empty()) doc["view"] = s.view;
  if (!s.notes.empty()) doc["notes"] = s.notes;
  return doc;
}

void save_session(Session& s, const std::string& path) {
  std::error_code ec;
  const std::string dir = fs::absolute(fs::path(path), ec).parent_path().string();
  const json doc = session_to_json(s, dir);
  write_file_atomic(path, doc.dump(2) + "\n");
  // The in-memory session now lives beside the file it was saved to.
  if (is_card_path(s.model) || is_checkpoint_path(s.model)) s.model = doc["model"]["card"].get<std::string>();
  if (s.latent.kind == SessionLatent::Kind::ZFile) s.latent.z_file = doc["latent"]["z_file"].get<std::string>();
  if (s.latent.kind == SessionLatent::Kind::WSFile) s.latent.z_file = doc["latent"]["ws_file"].get<std::string>();
  for (std::size_t i = 0; i < s.edits.size(); ++i) {
    if (s.edits[i].mask.kind == SpatialMask::Kind::File) s.edits[i].mask.file = doc["edits"][i]["mask"]["file"].get<std::string>();
  }
  s.base_dir = dir;
  s.recovered_from.clear();
}

std::string recovery_dir() {
  const char* state = std::getenv("XDG_STATE_HOME");
  if (state && *state) return (fs::path(state) / "actmap" / "recovery").string();
  const char* home = std::getenv("HOME");
  return (fs::path(home && *home ? home : ".") / ".local" / "state" / "actmap" / "recovery").string();
}

std::vector<RecoveryFile> list_recovery_files(const std::string& dir) {
  std::vector<RecoveryFile> out;
  // Each editor writes its own recovery file, so the temporary file of one killed mid-write
  // (NAME.json.tmp-PID) would never be written over: removed here once its process is gone.
  remove_dead_writers_leftovers(dir, "", ".tmp-");
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->path().extension() != ".json") continue;
    try {
      const json j = json::parse(read_file_text(it->path().string()));
      const json& r = j.at("recovery");
      out.push_back({it->path().string(), r.value("session_path", std::string()), r.value("saved_unix", std::int64_t(0))});
    } catch (const std::exception& e) {
      // A damaged recovery file (truncated by a crash mid-write on a filesystem without atomic
      // rename, or edited by hand) is reported and set aside under .corrupt: never offered, never
      // deleted, never in the way of the next start.
      const std::string from = it->path().string(), to = from + ".corrupt";
      std::error_code rename_ec;
      fs::rename(from, to, rename_ec);
      warn("recovery file " + from + " is damaged (" + std::string(e.what()).substr(0, 200) + "); " +
           (rename_ec ? "it could not be set aside: " + rename_ec.message() : "set aside as " + to));
    }
  }
  std::sort(out.begin(), out.end(), [](const RecoveryFile& a, const RecoveryFile& b) { return a.saved_unix > b.saved_unix; });
  return out;
}

std::string new_recovery_path(const std::string& dir) {
  static std::atomic<int> made_in_process{0};
  return (fs::path(dir) / ("session-" + std::to_string(std::time(nullptr)) + "-" + std::to_string(::getpid()) + "-" +
                           std::to_string(made_in_process++) + ".json"))
      .string();
}

Autosaver::Autosaver(std::string recovery_path, double interval_s)
    : path_(std::move(recovery_path)), interval_s_(interval_s) {}

bool Autosaver::tick(const Session& s, std::uint64_t revision, const std::string& session_path, double now_s) {
  if (written_revision_ == revision || now_s - last_write_s_ < interval_s_) return false;
  last_write_s_ = now_s;
  return flush(s, revision, session_path);
}

bool Autosaver::flush(const Session& s, std::uint64_t revision, const std::string& session_path) {
  if (written_revision_ == revision) return false;
  try {
    json doc = session_to_json(s, "");
    doc["recovery"] = {{"session_path", session_path}, {"saved_unix", static_cast<std::int64_t>(std::time(nullptr))}};
    std::error_code ec;
    fs::create_directories(fs::path(path_).parent_path(), ec);
    write_file_atomic(path_, doc.dump(2) + "\n");
    written_revision_ = revision;
    warned_ = false;  // a later failure is reported again
    return true;
  } catch (const std::exception& e) {
    if (!warned_) warn(std::string("autosave to ") + path_ + " failed: " + e.what());
    warned_ = true;
    return false;
  }
}

void Autosaver::discard() {
  std::error_code ec;
  fs::remove(path_, ec);
  written_revision_.reset();
}

}  // namespace actmap
