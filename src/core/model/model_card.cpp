#include "actmap/model/model_card.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <sstream>

#include "actmap/io/error.h"
#include "actmap/io/files.h"
#include "actmap/io/json_text.h"
#include "actmap/model/checkpoint_cache.h"
#include "actmap/model/registry.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace actmap {
namespace {

struct LayerTypeName {
  LayerType type;
  const char* name;
};
constexpr std::array<LayerTypeName, 10> kLayerTypes = {{
    {LayerType::Linear, "linear"},
    {LayerType::Conv2d, "conv2d"},
    {LayerType::ConvTranspose2d, "conv_transpose2d"},
    {LayerType::BatchNorm2d, "batch_norm2d"},
    {LayerType::Reshape, "reshape"},
    {LayerType::ReLU, "relu"},
    {LayerType::LeakyReLU, "leaky_relu"},
    {LayerType::SiLU, "silu"},
    {LayerType::Tanh, "tanh"},
    {LayerType::Sigmoid, "sigmoid"},
}};

// Typed access to card keys with errors that say where the fault is.
class Reader {
 public:
  Reader(const json& obj, std::string where) : obj_(obj), where_(std::move(where)) {}

  [[noreturn]] void fail(const std::string& key, const std::string& what) const {
    throw Error(where_ + (key.empty() ? "" : "." + key) + ": " + what);
  }
  bool has(const std::string& key) const { return obj_.contains(key); }
  const json& at(const std::string& key) const {
    if (!obj_.contains(key)) fail(key, "missing required key");
    return obj_.at(key);
  }
  std::int64_t integer(const std::string& key, std::int64_t min_value) const {
    const json& v = at(key);
    if (!v.is_number_integer()) fail(key, "must be an integer, got " + v.dump());
    const auto x = v.get<std::int64_t>();
    if (x < min_value) fail(key, "must be at least " + std::to_string(min_value) + ", got " + v.dump());
    return x;
  }
  std::int64_t integer_or(const std::string& key, std::int64_t min_value, std::int64_t dflt) const {
    return has(key) ? integer(key, min_value) : dflt;
  }
  double number_or(const std::string& key, double dflt) const {
    if (!has(key)) return dflt;
    const json& v = obj_.at(key);
    if (!v.is_number()) fail(key, "must be a number, got " + v.dump());
    return v.get<double>();
  }
  bool boolean_or(const std::string& key, bool dflt) const {
    if (!has(key)) return dflt;
    const json& v = obj_.at(key);
    if (!v.is_boolean()) fail(key, "must be true or false, got " + v.dump());
    return v.get<bool>();
  }
  std::string string(const std::string& key) const {
    const json& v = at(key);
    if (!v.is_string()) fail(key, "must be a string, got " + v.dump());
    return v.get<std::string>();
  }
  std::string string_or(const std::string& key, const std::string& dflt) const {
    return has(key) ? string(key) : dflt;
  }
  const std::string& where() const { return where_; }

 private:
  const json& obj_;
  std::string where_;
};

LayerSpec parse_layer(const json& j, std::size_t index, const std::string& card_where,
                      const std::string& module_prefix) {
  const std::string where = card_where + ": layers[" + std::to_string(index) + "]";
  if (!j.is_object()) throw Error(where + ": must be an object");
  Reader r(j, where);
  LayerSpec l;
  const std::string type = r.string("type");
  const auto t = layer_type_from_name(type);
  if (!t) {
    std::string known;
    for (const auto& lt : kLayerTypes) known += std::string(known.empty() ? "" : ", ") + lt.name;
    r.fail("type", "unknown layer type '" + type + "' (known: " + known + ")");
  }
  l.type = *t;
  l.name = r.string_or("name", module_prefix + "." + std::to_string(index));
  switch (l.type) {
    case LayerType::Linear:
      l.in = r.integer("in", 1);
      l.out = r.integer("out", 1);
      l.bias = r.boolean_or("bias", true);
      l.weights = r.string("weights");
      break;
    case LayerType::Conv2d:
    case LayerType::ConvTranspose2d:
      l.in = r.integer("in", 1);
      l.out = r.integer("out", 1);
      l.kernel = r.integer("kernel", 1);
      l.stride = r.integer_or("stride", 1, 1);
      l.padding = r.integer_or("padding", 0, 0);
      l.output_padding = l.type == LayerType::ConvTranspose2d ? r.integer_or("output_padding", 0, 0) : 0;
      if (l.output_padding >= l.stride) r.fail("output_padding", "must be smaller than stride");
      l.bias = r.boolean_or("bias", true);
      l.weights = r.string("weights");
      break;
    case LayerType::BatchNorm2d:
      l.in = l.out = r.integer("features", 1);
      l.eps = r.number_or("eps", 1e-5);
      if (!(l.eps > 0)) r.fail("eps", "must be positive");
      l.weights = r.string("weights");
      break;
    case LayerType::Reshape: {
      const json& s = r.at("shape");
      if (!s.is_array() || s.empty() || s.size() > 3) r.fail("shape", "must be [F] or [C, H, W]");
      for (const auto& d : s) {
        if (!d.is_number_integer() || d.get<std::int64_t>() < 1) r.fail("shape", "entries must be positive integers");
        l.shape.push_back(d.get<std::int64_t>());
      }
      break;
    }
    case LayerType::LeakyReLU:
      l.slope = r.number_or("slope", 0.01);
      break;
    default:
      break;
  }
  if (j.contains("tap")) l.tap = r.boolean_or("tap", false);
  for (const auto& [key, value] : j.items()) {
    static const std::array<const char*, 14> known = {"type", "name", "in", "out", "kernel", "stride",
                                                      "padding", "output_padding", "bias", "features",
                                                      "eps", "slope", "shape", "tap"};
    bool ok = key == "weights" || key == "comment";
    for (const char* k : known) ok = ok || key == k;
    if (!ok) r.fail(key, "unknown key for a " + type + " layer");
  }
  return l;
}

// The Generator of the PyTorch DCGAN example (pytorch/examples dcgan/main.py), for square
// power-of-two sizes: 64 as published; 32 and 128 by one block fewer or more.
std::vector<LayerSpec> expand_dcgan(const json& cfg, const std::string& where) {
  Reader r(cfg, where + ": config");
  const std::int64_t nz = r.integer("nz", 1);
  const std::int64_t ngf = r.integer_or("ngf", 1, 64);
  const std::int64_t nc = r.integer_or("nc", 1, 3);
  const std::int64_t size = r.integer_or("image_size", 16, 64);
  if (size > 1024 || (size & (size - 1)) != 0) {
    r.fail("image_size", "must be a power of two from 16 to 1024 (64 as in the PyTorch example), got " +
                             std::to_string(size));
  }
  std::vector<LayerSpec> layers;
  auto add = [&](LayerSpec l) {
    l.name = "main." + std::to_string(layers.size());
    if (l.type == LayerType::ConvTranspose2d || l.type == LayerType::BatchNorm2d) l.weights = l.name;
    layers.push_back(l);
  };
  auto conv_t = [&](std::int64_t in, std::int64_t out, std::int64_t stride, std::int64_t padding) {
    LayerSpec l;
    l.type = LayerType::ConvTranspose2d;
    l.in = in;
    l.out = out;
    l.kernel = 4;
    l.stride = stride;
    l.padding = padding;
    l.bias = false;
    add(l);
  };
  auto bn_relu = [&](std::int64_t features) {
    LayerSpec bn;
    bn.type = LayerType::BatchNorm2d;
    bn.in = bn.out = features;
    add(bn);
    LayerSpec relu;
    relu.type = LayerType::ReLU;
    add(relu);
  };
  std::int64_t mult = size / 8;  // 8 for 64x64: ngf*8 channels at 4x4
  conv_t(nz, ngf * mult, 1, 0);
  bn_relu(ngf * mult);
  for (; mult > 1; mult /= 2) {
    conv_t(ngf * mult, ngf * mult / 2, 2, 1);
    bn_relu(ngf * mult / 2);
  }
  conv_t(ngf, nc, 2, 1);
  LayerSpec tanh;
  tanh.type = LayerType::Tanh;
  add(tanh);
  return layers;
}

std::string shape_text(const std::vector<std::int64_t>& s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) out += (i ? "x" : "") + std::to_string(s[i]);
  return out;
}

}  // namespace

const char* layer_type_name(LayerType type) {
  for (const auto& lt : kLayerTypes) {
    if (lt.type == type) return lt.name;
  }
  return "?";
}

std::optional<LayerType> layer_type_from_name(const std::string& name) {
  for (const auto& lt : kLayerTypes) {
    if (name == lt.name) return lt.type;
  }
  return std::nullopt;
}

bool is_activation(LayerType type) {
  switch (type) {
    case LayerType::ReLU:
    case LayerType::LeakyReLU:
    case LayerType::SiLU:
    case LayerType::Tanh:
    case LayerType::Sigmoid:
      return true;
    default:
      return false;
  }
}

const char* latent_distribution_name(LatentDistribution d) {
  return d == LatentDistribution::Normal ? "normal" : "uniform";
}

// A StyleGAN2 config: each key is looked up flat, then in the official sub-dictionaries.
StyleGAN2Config parse_stylegan2_config(const json& config, const std::string& where) {
  if (!config.is_object()) throw Error(where + ": must be an object");
  const json empty = json::object();
  auto sub = [&](const char* key) -> const json& {
    if (!config.contains(key)) return empty;
    if (!config.at(key).is_object()) throw Error(where + "." + key + ": must be an object");
    return config.at(key);
  };
  const json& mapping = config.contains("mapping_kwargs") ? sub("mapping_kwargs") : sub("mapping");
  const json& synthesis = config.contains("synthesis_kwargs") ? sub("synthesis_kwargs") : sub("synthesis");
  const std::string mapping_where = where + (config.contains("mapping_kwargs") ? ".mapping_kwargs" : ".mapping");
  const std::string synthesis_where = where + (config.contains("synthesis_kwargs") ? ".synthesis_kwargs" : ".synthesis");
  // The reader of the object that holds `key` (flat keys win).
  auto holder = [&](const std::string& key, const json& nested, const std::string& nested_where) {
    return config.contains(key) || !nested.contains(key) ? Reader(config, where) : Reader(nested, nested_where);
  };
  StyleGAN2Config c;
  Reader top(config, where);
  c.z_dim = top.integer("z_dim", 1);
  c.w_dim = top.integer("w_dim", 1);
  c.c_dim = top.integer_or("c_dim", 0, 0);  // > 0: conditional (the mapping embeds the label c)
  c.img_resolution = top.integer("img_resolution", 4);
  if ((c.img_resolution & (c.img_resolution - 1)) != 0 || c.img_resolution > 8192) {
    top.fail("img_resolution", "must be a power of two from 4 to 8192, got " + std::to_string(c.img_resolution));
  }
  c.img_channels = top.integer("img_channels", 1);
  c.mapping_layers = holder("num_layers", mapping, mapping_where).integer_or("num_layers", 1, 8);
  c.mapping_lr_multiplier = holder("lr_multiplier", mapping, mapping_where).number_or("lr_multiplier", 0.01);
  if (!(c.mapping_lr_multiplier > 0)) {
    throw Error(mapping_where + ".lr_multiplier: must be positive, got " + std::to_string(c.mapping_lr_multiplier));
  }
  for (const char* key : {"layer_features", "embed_features"}) {
    const Reader h = holder(key, mapping, mapping_where);
    if (h.has(key) && !h.at(key).is_null() && h.integer(key, 1) != c.w_dim) {
      h.fail(key, "only the default (w_dim) is supported");
    }
  }
  if (holder("activation", mapping, mapping_where).string_or("activation", "lrelu") != "lrelu") {
    holder("activation", mapping, mapping_where).fail("activation", "only \"lrelu\" is supported");
  }
  c.channel_base = holder("channel_base", synthesis, synthesis_where).integer_or("channel_base", 1, 32768);
  c.channel_max = holder("channel_max", synthesis, synthesis_where).integer_or("channel_max", 1, 512);
  {
    const Reader h = holder("conv_clamp", synthesis, synthesis_where);
    if (h.has("conv_clamp") && !h.at("conv_clamp").is_null()) {
      const double clamp = h.number_or("conv_clamp", 0.0);
      if (!(clamp > 0)) h.fail("conv_clamp", "must be positive or null, got " + h.at("conv_clamp").dump());
      c.conv_clamp = clamp;
    }
  }
  c.architecture = holder("architecture", synthesis, synthesis_where).string_or("architecture", "skip");
  if (c.architecture != "orig" && c.architecture != "skip" && c.architecture != "resnet") {
    holder("architecture", synthesis, synthesis_where)
        .fail("architecture", "must be \"orig\", \"skip\" or \"resnet\", got \"" + c.architecture + "\"");
  }
  c.use_noise = holder("use_noise", synthesis, synthesis_where).boolean_or("use_noise", true);
  {
    const Reader h = holder("num_fp16_res", synthesis, synthesis_where);
    c.num_fp16_res = h.integer_or("num_fp16_res", 0, 0);
  }
  {
    const Reader h = holder("fused_modconv_default", synthesis, synthesis_where);
    if (h.has("fused_modconv_default")) {
      const json& v = h.at("fused_modconv_default");
      if (v.is_boolean()) {
        c.fused_modconv = v.get<bool>();
      } else if (v == "inference_only") {
        c.fused_modconv = true;  // actmap never trains the generator it renders
      } else {
        h.fail("fused_modconv_default", "must be true, false or \"inference_only\", got " + v.dump());
      }
    }
  }
  {
    const Reader h = holder("resample_filter", synthesis, synthesis_where);
    if (h.has("resample_filter")) {
      const json& f = h.at("resample_filter");
      if (!f.is_array() || f.empty() || f.size() > 16) {
        h.fail("resample_filter", "must be a list of 1 to 16 numbers (a separable FIR filter), got " + f.dump());
      }
      c.resample_filter.clear();
      for (const auto& v : f) {
        if (!v.is_number()) h.fail("resample_filter", "must be a list of numbers, got " + f.dump());
        c.resample_filter.push_back(v.get<double>());
      }
      double sum = 0;
      for (double v : c.resample_filter) sum += v;
      if (sum == 0) h.fail("resample_filter", "must not sum to zero");
    }
  }
  for (std::int64_t res : c.block_resolutions()) {
    if (c.channels_at(res) < 1) {
      throw Error(where + ": channel_base " + std::to_string(c.channel_base) + " leaves no channels at " +
                  std::to_string(res) + "x" + std::to_string(res));
    }
  }
  return c;
}

ModelCard parse_model_card(const std::string& json_text, const std::string& path) {
  const std::string where = path.empty() ? std::string("model card") : path;
  ModelCard card;
  card.path = path;
  card.document = parse_json_text(json_text, where);
  const json& doc = card.document;
  if (!doc.is_object()) throw Error(where + ": a model card must be a JSON object");
  Reader r(doc, where);
  if (doc.contains("actmap_model_card") && r.integer("actmap_model_card", 1) != 1) {
    r.fail("actmap_model_card", "unsupported card version (this build reads version 1)");
  }
  card.family = r.string("family");
  card.name = r.string_or("name", fs::path(path).stem().string());
  card.description = r.string_or("description", "");
  card.license = r.string_or("license", "");

  const json& weights = r.at("weights");
  if (weights.is_string()) {
    card.weights_path = weights.get<std::string>();
  } else if (weights.is_object()) {
    Reader w(weights, where + ": weights");
    card.weights_path = w.string("path");
    if (w.has("sha256") && w.at("sha256").is_array()) {
      for (const auto& h : w.at("sha256")) {
        if (!h.is_string()) w.fail("sha256", "must be a hex string or a list of them, got " + w.at("sha256").dump());
        card.weights_sha256_accepted.push_back(h.get<std::string>());
      }
      if (card.weights_sha256_accepted.empty()) w.fail("sha256", "must not be an empty list");
    } else if (w.has("sha256")) {
      card.weights_sha256_accepted.push_back(w.string("sha256"));
    }
    if (!card.weights_sha256_accepted.empty()) card.weights_sha256 = card.weights_sha256_accepted.front();
  } else {
    r.fail("weights", "must be a path or {\"path\": ..., \"sha256\": ...}");
  }

  if (doc.contains("output")) {
    Reader o(r.at("output"), where + ": output");
    if (o.has("range")) {
      const json& range = o.at("range");
      if (!range.is_array() || range.size() != 2 || !range[0].is_number() || !range[1].is_number() ||
          !(range[0].get<double>() < range[1].get<double>())) {
        o.fail("range", "must be [low, high] with low < high, got " + range.dump());
      }
      card.output_low = range[0].get<double>();
      card.output_high = range[1].get<double>();
    }
  }

  std::int64_t latent_size = 0;
  std::string distribution = "normal";
  if (doc.contains("latent")) {
    Reader l(r.at("latent"), where + ": latent");
    latent_size = l.integer_or("size", 1, 0);
    distribution = l.string_or("distribution", "normal");
  }
  if (distribution == "normal") card.latent.distribution = LatentDistribution::Normal;
  else if (distribution == "uniform") card.latent.distribution = LatentDistribution::Uniform;
  else throw Error(where + ": latent.distribution: must be \"normal\" or \"uniform\", got \"" + distribution + "\"");

  if (doc.contains("tap_names")) {
    const json& names = r.at("tap_names");
    if (!names.is_object()) r.fail("tap_names", "must map tap names to display names");
    for (const auto& [k, v] : names.items()) {
      if (!v.is_string()) r.fail("tap_names." + k, "must be a string");
      card.tap_names[k] = v.get<std::string>();
    }
  }

  if (card.family == "dcgan") {
    card.layers = expand_dcgan(r.at("config"), where);
    const std::int64_t nz = card.layers.front().in;
    if (latent_size != 0 && latent_size != nz) {
      throw Error(where + ": latent.size is " + std::to_string(latent_size) + " but config.nz is " +
                  std::to_string(nz));
    }
    latent_size = nz;
  } else if (card.family == "sequential") {
    const json& layers = r.at("layers");
    if (!layers.is_array() || layers.empty()) r.fail("layers", "must be a non-empty array");
    const std::string prefix = r.string_or("module_prefix", "layers");
    for (std::size_t i = 0; i < layers.size(); ++i) {
      card.layers.push_back(parse_layer(layers[i], i, where, prefix));
    }
    if (latent_size == 0) r.fail("latent", "a sequential card needs latent.size");
  } else if (card.family == "stylegan2") {
    card.stylegan2 = parse_stylegan2_config(r.at("config"), where + ": config");
    if (latent_size != 0 && latent_size != card.stylegan2->z_dim) {
      throw Error(where + ": latent.size is " + std::to_string(latent_size) + " but config.z_dim is " +
                  std::to_string(card.stylegan2->z_dim));
    }
    if (card.latent.distribution != LatentDistribution::Normal) {
      throw Error(where + ": latent.distribution: StyleGAN2 latents are normal, got \"" + distribution + "\"");
    }
    latent_size = card.stylegan2->z_dim;
    card.stylegan2->w_avg_file = r.string_or("w_avg", "");  // an average W beside the weights
    card.stylegan2->cuda_fp16 = r.boolean_or("cuda_fp16", false);  // the official float16 blocks on CUDA
  } else if (card.family == "stylegan3") {
    card.stylegan3 = parse_stylegan3_config(r.at("config"), where + ": config");
    if (latent_size != 0 && latent_size != card.stylegan3->z_dim) {
      throw Error(where + ": latent.size is " + std::to_string(latent_size) + " but config.z_dim is " +
                  std::to_string(card.stylegan3->z_dim));
    }
    if (card.latent.distribution != LatentDistribution::Normal) {
      throw Error(where + ": latent.distribution: StyleGAN3 latents are normal, got \"" + distribution + "\"");
    }
    latent_size = card.stylegan3->z_dim;
  } else {
    throw Error(where + ": family: unknown family '" + card.family + "' (known: dcgan, sequential, stylegan2, stylegan3)");
  }
  card.latent.size = latent_size;
  plan_stages(card);  // validates the layer chain now, before any weights are read
  return card;
}

ModelCard load_model_card(const std::string& path) {
  return parse_model_card(read_file_text(path), path);
}

void ModelCard::check_weights_sha256(const std::string& actual, const std::string& file) const {
  if (weights_sha256_accepted.empty()) return;
  if (std::find(weights_sha256_accepted.begin(), weights_sha256_accepted.end(), actual) != weights_sha256_accepted.end()) return;
  std::string listed;
  for (const auto& h : weights_sha256_accepted) listed += (listed.empty() ? "" : " or ") + h;
  warn(file + ": sha256 is " + actual + " but the card " + (path.empty() ? name : path) + " says " + listed +
       " (a different file than the card was written for?)");
}

std::vector<std::string> model_search_path() {
  std::vector<std::string> dirs;
  const char* env = std::getenv("ACTMAP_MODEL_PATH");
  if (!env) return dirs;
  std::stringstream ss(env);
  std::string dir;
  while (std::getline(ss, dir, ':')) {
    if (!dir.empty()) dirs.push_back(dir);
  }
  return dirs;
}

namespace {
// Whether the default registry lists a model of this name (for a hint; a bad registry is no error here).
bool registry_lists(const std::string& name) {
  try {
    const Registry registry = load_registry(default_registry_path());
    for (const auto& e : registry.models) {
      if (e.name == name) return true;
    }
  } catch (const Error&) {
  }
  return false;
}
}  // namespace

std::string resolve_weights_path(const ModelCard& card) {
  const fs::path rel(card.weights_path);
  std::vector<fs::path> tried;
  if (rel.is_absolute()) {
    tried.push_back(rel);
  } else {
    tried.push_back(card.path.empty() ? rel : fs::path(card.path).parent_path() / rel);
    for (const auto& dir : model_search_path()) tried.push_back(fs::path(dir) / rel);
    try {
      tried.push_back(fs::path(model_cache_dir()) / rel);  // models fetched from the registry
    } catch (const Error&) {
      // No cache directory (no HOME): nothing was fetched.
    }
  }
  for (const auto& p : tried) {
    std::error_code ec;
    if (fs::is_regular_file(p, ec)) return p.lexically_normal().string();
  }
  std::string msg = (card.path.empty() ? card.name : card.path) + ": weights file '" + card.weights_path +
                    "' not found; looked in:";
  for (const auto& p : tried) msg += "\n  " + p.string();
  if (!rel.is_absolute() && registry_lists(card.name)) {
    msg += "\n(download it with: actmap-cli fetch " + card.name + ")";
  } else if (!rel.is_absolute() && model_search_path().empty()) {
    msg += "\n(set ACTMAP_MODEL_PATH to the directories holding model weights, separated by ':')";
  }
  throw Error(msg);
}

std::int64_t StyleGAN2Config::channels_at(std::int64_t resolution) const {
  return std::min(channel_base / resolution, channel_max);
}

std::vector<std::int64_t> StyleGAN2Config::block_resolutions() const {
  std::vector<std::int64_t> out;
  for (std::int64_t r = 4; r <= img_resolution; r *= 2) out.push_back(r);
  return out;
}

std::int64_t StyleGAN2Config::num_ws() const {
  // Every block reads one W per convolution; the last block's ToRGB reads one more.
  std::int64_t n = 0;
  for (std::int64_t r : block_resolutions()) n += r == 4 ? 1 : 2;
  return n + 1;
}

std::int64_t StyleGAN2Config::fp16_resolution() const {
  if (num_fp16_res <= 0) return 0;
  std::int64_t log2 = 0;
  while ((std::int64_t{1} << (log2 + 1)) <= img_resolution) ++log2;
  const std::int64_t exponent = log2 + 1 - num_fp16_res;
  return exponent <= 3 ? 8 : std::int64_t{1} << exponent;
}

std::vector<TapInfo> stylegan2_taps(const StyleGAN2Config& c) {
  std::vector<TapInfo> taps;
  auto add = [&](const std::string& name, std::int64_t channels, std::int64_t h, std::int64_t w) {
    taps.push_back(TapInfo{name, channels, h, w, static_cast<int>(taps.size())});
  };
  add("mapping", c.num_ws(), 1, c.w_dim);
  const bool skip = c.architecture == "skip";
  for (std::int64_t r : c.block_resolutions()) {
    const std::string b = "b" + std::to_string(r);
    const std::int64_t ch = c.channels_at(r);
    if (r > 4) add(b + ".conv0", ch, r, r);
    add(b + ".conv1", ch, r, r);
    if (skip || r == c.img_resolution) add(b + ".torgb", c.img_channels, r, r);
    if (skip && r > 4) add(b + ".img", c.img_channels, r, r);
  }
  return taps;
}

std::optional<ModelCard::WPlusShape> ModelCard::w_plus() const {
  if (stylegan2) return WPlusShape{stylegan2->num_ws(), stylegan2->w_dim};
  if (stylegan3) return WPlusShape{stylegan3->num_ws(), stylegan3->w_dim};
  return std::nullopt;
}

std::vector<TapInfo> stylegan3_taps(const StyleGAN3Config& c) {
  std::vector<TapInfo> taps;
  auto add = [&](const std::string& name, std::int64_t channels, std::int64_t h, std::int64_t w) {
    taps.push_back(TapInfo{name, channels, h, w, static_cast<int>(taps.size())});
  };
  add("mapping", c.num_ws(), 1, c.w_dim);
  const StyleGAN3Input in = c.input();
  add("input", in.channels, in.size, in.size);
  for (const StyleGAN3Layer& l : c.layers()) add(l.name, l.out_channels, l.out_size, l.out_size);
  add("output", c.img_channels, c.img_resolution, c.img_resolution);
  return taps;
}

std::vector<Stage> plan_stages(const ModelCard& card) {
  const std::string where = card.path.empty() ? card.name : card.path;
  if (card.stylegan3) {
    std::vector<Stage> stages;
    for (const TapInfo& t : stylegan3_taps(*card.stylegan3)) stages.push_back(Stage{0, 0, t});
    if (!card.tap_names.empty()) throw Error(where + ": tap_names: not supported for the stylegan3 family");
    return stages;
  }
  if (card.stylegan2) {
    std::vector<Stage> stages;
    for (const TapInfo& t : stylegan2_taps(*card.stylegan2)) stages.push_back(Stage{0, 0, t});
    // Display names are not offered for StyleGAN2 taps: their names are the official module paths.
    if (!card.tap_names.empty()) throw Error(where + ": tap_names: not supported for the stylegan2 family");
    return stages;
  }
  std::vector<std::int64_t> shape = {card.latent.size};  // per sample, no batch dimension
  std::vector<Stage> stages;
  std::size_t stage_start = 0;
  const LayerSpec* pending_tap = nullptr;  // a tap waits past reshapes that follow its layer

  auto emit = [&](std::size_t end, const LayerSpec& named_by) {
    Stage s;
    s.first_layer = stage_start;
    s.end_layer = end;
    s.tap.name = named_by.name;
    if (shape.size() == 3) {
      s.tap.channels = shape[0];
      s.tap.height = shape[1];
      s.tap.width = shape[2];
    } else {
      s.tap.channels = shape[0];
      s.tap.height = s.tap.width = 1;
    }
    s.tap.depth = static_cast<int>(stages.size());
    stages.push_back(s);
    stage_start = end;
  };

  for (std::size_t i = 0; i < card.layers.size(); ++i) {
    const LayerSpec& l = card.layers[i];
    auto fail = [&](const std::string& what) {
      throw Error(where + ": layers[" + std::to_string(i) + "] (" + layer_type_name(l.type) + " '" + l.name +
                  "'): " + what);
    };
    if (pending_tap && l.type != LayerType::Reshape) {
      emit(i, *pending_tap);
      pending_tap = nullptr;
    }
    const bool spatial = shape.size() == 3;
    auto channels = [&] { return spatial ? shape[0] : shape[0]; };
    switch (l.type) {
      case LayerType::Linear: {
        std::int64_t features = 1;
        for (auto d : shape) features *= d;
        if (l.in != features) {
          fail("'in' is " + std::to_string(l.in) + " but its input has " + std::to_string(features) +
               " features (" + shape_text(shape) + ")");
        }
        shape = {l.out};
        break;
      }
      case LayerType::Conv2d:
      case LayerType::ConvTranspose2d: {
        if (!spatial) shape = {shape[0], 1, 1};  // a latent vector enters as [nz, 1, 1]
        if (l.in != shape[0]) {
          fail("'in' is " + std::to_string(l.in) + " but its input has " + std::to_string(shape[0]) +
               " channels (" + shape_text(shape) + ")");
        }
        for (int d = 1; d <= 2; ++d) {
          const std::int64_t n = shape[d];
          const std::int64_t o = l.type == LayerType::Conv2d
                                     ? (n + 2 * l.padding - l.kernel) / l.stride + 1
                                     : (n - 1) * l.stride - 2 * l.padding + l.kernel + l.output_padding;
          if (o < 1 || (l.type == LayerType::Conv2d && n + 2 * l.padding < l.kernel)) {
            fail("output would be empty for a " + shape_text(shape) + " input");
          }
          shape[d] = o;
        }
        shape[0] = l.out;
        break;
      }
      case LayerType::BatchNorm2d:
        if (!spatial) fail("needs a [C, H, W] input, got " + shape_text(shape));
        if (l.in != channels()) {
          fail("'features' is " + std::to_string(l.in) + " but its input has " + std::to_string(shape[0]) +
               " channels");
        }
        break;
      case LayerType::Reshape: {
        std::int64_t a = 1, b = 1;
        for (auto d : shape) a *= d;
        for (auto d : l.shape) b *= d;
        if (a != b) fail("cannot reshape " + shape_text(shape) + " to " + shape_text(l.shape));
        shape = l.shape;
        break;
      }
      default:
        break;
    }
    const bool last = i + 1 == card.layers.size();
    const bool wants_tap = l.tap.value_or(is_activation(l.type));
    if (last) {
      emit(i + 1, pending_tap ? *pending_tap : l);
      pending_tap = nullptr;
    } else if (wants_tap) {
      pending_tap = &l;
    }
  }
  if (shape.size() != 3) {
    throw Error(where + ": the last layer gives " + shape_text(shape) + ", but a generator must end in an image [C, H, W]");
  }
  for (const auto& rename : card.tap_names) {
    const std::string& from = rename.first;  // a named variable: lambdas cannot capture bindings in C++17
    const bool known = std::any_of(stages.begin(), stages.end(), [&](const Stage& s) { return s.tap.name == from; });
    if (!known) {
      std::string names;
      for (const auto& s : stages) names += (names.empty() ? "" : ", ") + s.tap.name;
      throw Error(where + ": tap_names: there is no tap '" + from + "' to rename (taps: " + names + ")");
    }
  }
  for (auto& s : stages) {
    const auto it = card.tap_names.find(s.tap.name);
    if (it != card.tap_names.end()) s.tap.name = it->second;
  }
  for (std::size_t a = 0; a < stages.size(); ++a) {
    for (std::size_t b = a + 1; b < stages.size(); ++b) {
      if (stages[a].tap.name == stages[b].tap.name) {
        throw Error(where + ": two taps are named '" + stages[a].tap.name + "'; rename one in tap_names");
      }
    }
  }
  return stages;
}

}  // namespace actmap

namespace actmap {

std::vector<std::string> model_card_dirs() {
  std::vector<std::string> dirs = model_search_path();
  if (const char* own = std::getenv("ACTMAP_MODELS_DIR")) dirs.emplace_back(own);
#ifdef ACTMAP_SOURCE_MODELS_DIR
  dirs.emplace_back(ACTMAP_SOURCE_MODELS_DIR);
#endif
  try {
    dirs.push_back(model_cache_dir());  // cards of fetched models, last: actmap's own cards win
  } catch (const Error&) {
  }
  return dirs;
}

bool is_card_path(const std::string& name_or_path) {
  return name_or_path.find('/') != std::string::npos || fs::path(name_or_path).extension() == ".json";
}

std::string find_model_card(const std::string& name_or_path) {
  // A checkpoint file (.pkl, .pt, ...): the card it was converted to (checkpoint_cache.h).
  if (is_checkpoint_path(name_or_path)) return converted_card_for(name_or_path);
  std::error_code ec;
  if (fs::is_regular_file(name_or_path, ec)) return name_or_path;
  std::string msg = "model '" + name_or_path + "' not found";
  if (!is_card_path(name_or_path)) {
    msg += "; looked for " + name_or_path + ".json in:";
    for (const auto& dir : model_card_dirs()) {
      const fs::path p = fs::path(dir) / (name_or_path + ".json");
      if (fs::is_regular_file(p, ec)) return p.string();
      msg += "\n  " + dir;
    }
  } else {
    msg += " (no such file)";
  }
  throw Error(msg);
}

}  // namespace actmap
