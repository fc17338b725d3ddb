// Autolume's network-bending presets: a preset folder's layer.pkl (widgets/collapsable_layer.py,
// LayerWidget.save: pickle.dump(self.get_params())), read with actmap's restricted unpickler,
// whose transforms are applied as Autolume applies them (widgets/renderer.py, module_hook;
// bending/transform_layers.py, ManipulationLayer and its kornia-based modules).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <set>

#include "actmap/analysis/bending.h"
#include "actmap/edit/ops.h"
#include "actmap/io/error.h"
#include "io/pickle.h"

namespace actmap {
namespace {

using json = nlohmann::json;
namespace pk = actmap::pickle;

// A number as Python holds it: int, float, bool, or a numpy scalar (numpy.core.multiarray.scalar
// with a dtype such as 'f8' and its little-endian bytes: Autolume's np.clip leaves those behind).
bool number(const pk::Value* v, double* out) {
  if (!v) return false;
  switch (v->kind) {
    case pk::Kind::Int: return *out = static_cast<double>(v->i), true;
    case pk::Kind::Float: return *out = v->f, true;
    case pk::Kind::Bool: return *out = v->b ? 1.0 : 0.0, true;
    case pk::Kind::Object: {
      if (v->text.find("multiarray.scalar") == std::string::npos || !v->args || v->args->items.size() != 2) return false;
      const pk::Value* dtype = v->args->items[0];
      const pk::Value* bytes = v->args->items[1];
      if (!dtype || dtype->kind != pk::Kind::Object || !dtype->args || dtype->args->items.empty() ||
          !dtype->args->items[0]->is_str() || !bytes) {
        return false;
      }
      const std::string code = dtype->args->items[0]->text;
      const std::uint8_t* data = bytes->kind == pk::Kind::Bytes ? bytes->data
                                 : bytes->kind == pk::Kind::Str ? reinterpret_cast<const std::uint8_t*>(bytes->text.data())
                                                                : nullptr;
      const std::size_t size = bytes->kind == pk::Kind::Bytes ? bytes->size : bytes->text.size();
      if (!data) return false;
      auto read = [&](auto value) {
        if (size != sizeof value) return false;
        std::memcpy(&value, data, sizeof value);
        return *out = static_cast<double>(value), true;
      };
      if (code == "f8") return read(double{});
      if (code == "f4") return read(float{});
      if (code == "i8") return read(std::int64_t{});
      if (code == "i4") return read(std::int32_t{});
      if (code == "i2") return read(std::int16_t{});
      if (code == "i1") return read(std::int8_t{});
      if (code == "u8") return read(std::uint64_t{});
      if (code == "u4") return read(std::uint32_t{});
      if (code == "u1" || code == "b1") return read(std::uint8_t{});
      return false;
    }
    default: return false;
  }
}

// Python's truth value of the values a preset holds.
bool truthy(const pk::Value* v) {
  if (!v) return false;
  double d = 0;
  if (number(v, &d)) return d != 0.0;
  switch (v->kind) {
    case pk::Kind::None: return false;
    case pk::Kind::Str: return !v->text.empty();
    case pk::Kind::Tuple: case pk::Kind::List: case pk::Kind::Set: return !v->items.empty();
    case pk::Kind::Dict: return !v->entries.empty();
    default: return true;
  }
}

const TapInfo* find_tap(const std::vector<TapInfo>& taps, const std::string& name) {
  for (const auto& t : taps) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

}  // namespace

BendingImport import_autolume_preset(const std::vector<std::uint8_t>& data, const std::string& source, const ModelCard& card,
                                     const BendingOptions& options) {
  bending_layer_taps(card);  // refuses other families first
  const auto taps = card_taps(card);
  BendingImport out;
  out.format = "autolume";
  auto note = [&](const std::string& where, const std::string& what) {
    const std::string text = source + ": " + where + ": " + what;
    if (options.strict) throw Error(text + " (--strict)");
    out.notes.push_back(text);
  };
  pk::Heap heap(1u << 22);
  std::size_t offset = 0;
  const pk::Value* root = pk::unpickle(heap, data.data(), data.size(), offset, source, {});
  // LayerWidget.get_params(): (mode, cached_transforms, names, has_transforms, ...).
  const pk::Value* list = root;
  if (root && root->kind == pk::Kind::Tuple && root->items.size() >= 2) list = root->items[1];
  if (!list || (list->kind != pk::Kind::List && list->kind != pk::Kind::Tuple)) {
    throw Error(source + ": expected Autolume's layer widget state (a tuple whose second item lists the transforms), got " +
                pk::describe(root));
  }
  json edits = json::array();
  for (std::size_t i = 0; i < list->items.size(); ++i) {
    const pk::Value* t = list->items[i];
    const std::string at = "transforms[" + std::to_string(i) + "]";
    if (!t || t->kind != pk::Kind::Dict) {
      note(at, "not a transform (" + pk::describe(t) + "); skipped");
      continue;
    }
    const pk::Value* id = t->get("transformID");
    const pk::Value* layer = t->get("layerID");
    const pk::Value* params = t->get("params");
    if (!id || !id->is_str() || !layer || !layer->is_str()) {
      note(at, "no transformID or layerID; skipped");
      continue;
    }
    const std::string name = id->text, where = at + " (" + name + " at " + layer->text + ")";
    // ManipulationLayer.forward: transform_dict.get('indices', [0]); nothing happens when it is falsy.
    const pk::Value* indices = t->get("indices");
    std::vector<std::int64_t> channels;
    if (!indices) {
      channels = {0};
    } else if (!truthy(indices)) {
      note(where, "its indices are empty, so Autolume applies nothing; skipped");
      continue;
    } else if (indices->kind == pk::Kind::List || indices->kind == pk::Kind::Tuple) {
      bool ok = true;
      for (const pk::Value* v : indices->items) {
        double d = 0;
        if (!number(v, &d) || d != std::floor(d)) ok = false;
        channels.push_back(static_cast<std::int64_t>(d));
      }
      if (!ok) {
        note(where, "indices that are not channel numbers; skipped");
        continue;
      }
    } else {
      note(where, "indices " + pk::describe(indices) + " are not a list; skipped");
      continue;
    }
    const TapInfo* tap = find_tap(taps, layer->text);
    if (!tap || tap->name == "mapping" || tap->name.find(".img") != std::string::npos) {
      note(where, "model " + card.name + " has no layer '" + layer->text + "' whose output Autolume bends; skipped");
      continue;
    }
    std::set<std::int64_t> unique(channels.begin(), channels.end());
    if (*unique.begin() < -tap->channels || *unique.rbegin() >= tap->channels) {
      note(where, "indices beyond the layer's " + std::to_string(tap->channels) + " channels: Autolume's transform "
                  "fails and its renderer prints the error; skipped");
      continue;
    }
    std::set<std::int64_t> wrapped;
    for (auto c : unique) wrapped.insert(c < 0 ? c + tap->channels : c);  // Python's negative indices
    std::vector<double> p;
    if (params && (params->kind == pk::Kind::List || params->kind == pk::Kind::Tuple)) {
      for (const pk::Value* v : params->items) {
        double d = 0;
        p.push_back(number(v, &d) ? d : std::nan(""));
      }
    }
    auto need = [&](std::size_t n) {
      if (p.size() < n || std::any_of(p.begin(), p.begin() + static_cast<std::ptrdiff_t>(std::min(n, p.size())),
                                      [](double d) { return std::isnan(d); })) {
        note(where, "needs " + std::to_string(n) + " number(s) in params; Autolume's transform fails; skipped");
        return false;
      }
      return true;
    };
    const double w = static_cast<double>(tap->width), h = static_cast<double>(tap->height);
    std::string op;
    json ps = json::object();
    if (name == "translate") {
      if (!need(2)) continue;
      // kornia.geometry.transform.translate: pixels, bilinear, zeros outside, about pixel centres.
      op = "translate", ps = {{"dx", p[0] / w}, {"dy", p[1] / h}};
    } else if (name == "rotate") {
      if (!need(1)) continue;
      op = "rotate", ps = {{"degrees", p[0]}};  // kornia: about ((W-1)/2, (H-1)/2), counter-clockwise
    } else if (name == "scale") {
      if (!need(1)) continue;
      op = "scale", ps = {{"factor", p[0] == 0.0 ? 1e-10 : p[0]}};
    } else if (name == "erode" || name == "dilate") {
      if (!need(1)) continue;
      // kornia.morphology with torch.ones((k, k)): a k x k square, only pixels inside the map.
      const auto k = static_cast<std::int64_t>(p[0]);
      if (k < 1) {
        note(where, "a kernel of size " + std::to_string(k) + ": kornia fails; skipped");
        continue;
      }
      if (k % 2 == 0) {
        note(where, "an even kernel (" + std::to_string(k) + "x" + std::to_string(k) + ") sits half a pixel off "
                    "centre in kornia; imported as the " + std::to_string(k + 1) + "x" + std::to_string(k + 1) + " square");
      }
      op = name, ps = {{"radius", k / 2}, {"shape", "square"}};
    } else if (name == "flip-h" || name == "flip-v" || name == "invert" || name == "ablate") {
      if (!need(1)) continue;
      if (p[0] == 0.0) {
        note(where, "switched off (params[0] is false); skipped");
        continue;
      }
      // Autolume's flip-h flips dimension 2 (rows: top and bottom swap), flip-v dimension 3.
      if (name == "flip-h") op = "flip", ps = {{"axis", "vertical"}};
      else if (name == "flip-v") op = "flip", ps = {{"axis", "horizontal"}};
      else op = name;
    } else if (name == "binary-thresh") {
      if (!need(1)) continue;
      op = "threshold", ps = {{"t", p[0]}};
    } else if (name == "scalar-multiply") {
      if (!need(1)) continue;
      op = "multiply", ps = {{"factor", p[0]}};
    } else if (name == "sobel") {
      note(where, "Autolume's Sobel module takes two arguments but is called with three, so it never runs; skipped");
      continue;
    } else {
      note(where, "'" + name + "' has no actmap equivalent (Autolume knows translate, rotate, scale, erode, dilate, "
                  "flip-h, flip-v, invert, binary-thresh, scalar-multiply, ablate, resize, sobel, canny); skipped");
      continue;
    }
    try {
      ps = validate_op_params(op, ps, where);
    } catch (const Error& e) {
      note(where, std::string(e.what()) + "; skipped");
      continue;
    }
    json sel = static_cast<std::int64_t>(wrapped.size()) == tap->channels ? json("all") : json(std::vector<std::int64_t>(wrapped.begin(), wrapped.end()));
    edits.push_back({{"tap", tap->name}, {"channels", sel}, {"op", op}, {"params", ps}});
  }
  if (root && root->kind == pk::Kind::Tuple) {
    out.notes.push_back(source + ": the preset's other files (latent, truncation and noise, mixing) are not read; the "
                        "session keeps its own latent");
  }
  out.edits = edits_from_json(edits, "");
  return out;
}

}  // namespace actmap
