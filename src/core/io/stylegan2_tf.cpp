// NVIDIA's TensorFlow StyleGAN2 networks (dnnlib.tflib.network.Network pickles) -> the official
// PyTorch names and constructor config, following what stylegan2-ada-pytorch's legacy.py
// (convert_tf_generator) does with the same variables. docs/import.md has the table.
#include <algorithm>
#include <cmath>
#include <set>

#include "actmap/io/checkpoint_import.h"
#include "actmap/io/error.h"
#include "io/shape_text.h"

namespace actmap {
namespace {

[[noreturn]] void fail_tf(const std::string& what) { throw Error("TensorFlow StyleGAN2 network: " + what); }

class TfVariables {
 public:
  explicit TfVariables(const std::map<std::string, FloatTensor>& v) : v_(v) {}

  const FloatTensor& get(const std::string& name, std::size_t rank) {
    const auto it = v_.find(name);
    if (it == v_.end()) fail_tf("the variable '" + name + "' is missing (the network's kwargs say it should exist)");
    if (it->second.shape.size() != rank) {
      fail_tf("'" + name + "' has shape " + shape_string(it->second.shape) + ", expected " + std::to_string(rank) + " dimensions");
    }
    used_.insert(name);
    return it->second;
  }
  bool has(const std::string& name) const { return v_.count(name) > 0; }
  std::vector<std::string> unused() const {
    std::vector<std::string> out;
    for (const auto& [k, t] : v_) {
      if (!used_.count(k)) out.push_back(k);
    }
    return out;
  }

 private:
  const std::map<std::string, FloatTensor>& v_;
  std::set<std::string> used_;
};

// out[o, i, a, b] = w[a', b', i, o] with a' = a (or kh-1-a when flipped): TF's [kh, kw, I, O]
// convolution kernels to PyTorch's [O, I, kh, kw] (legacy.py: w[::-1, ::-1].transpose(3, 2, 0, 1)
// for the up-sampling and skip convolutions, w.transpose(3, 2, 0, 1) otherwise).
FloatTensor conv_weight(const FloatTensor& w, bool flip) {
  const std::int64_t kh = w.shape[0], kw = w.shape[1], in = w.shape[2], out = w.shape[3];
  FloatTensor t;
  t.shape = {out, in, kh, kw};
  t.data.resize(w.data.size());
  for (std::int64_t a = 0; a < kh; ++a) {
    for (std::int64_t b = 0; b < kw; ++b) {
      const std::int64_t sa = flip ? kh - 1 - a : a, sb = flip ? kw - 1 - b : b;
      for (std::int64_t i = 0; i < in; ++i) {
        for (std::int64_t o = 0; o < out; ++o) {
          t.data[static_cast<std::size_t>(((o * in + i) * kh + a) * kw + b)] =
              w.data[static_cast<std::size_t>(((sa * kw + sb) * in + i) * out + o)];
        }
      }
    }
  }
  return t;
}

// A dense [in, out] matrix as PyTorch's [out, in].
FloatTensor transposed(const FloatTensor& w) {
  const std::int64_t in = w.shape[0], out = w.shape[1];
  FloatTensor t;
  t.shape = {out, in};
  t.data.resize(w.data.size());
  for (std::int64_t i = 0; i < in; ++i) {
    for (std::int64_t o = 0; o < out; ++o) t.data[static_cast<std::size_t>(o * in + i)] = w.data[static_cast<std::size_t>(i * out + o)];
  }
  return t;
}

FloatTensor plus_one(FloatTensor t) {
  for (float& v : t.data) v += 1.0f;
  return t;
}

FloatTensor reshaped(FloatTensor t, std::vector<std::int64_t> shape) {
  t.shape = std::move(shape);
  return t;
}

// The static kwargs legacy.py knows, with its defaults; the rest of the network is read off them.
struct TfConfig {
  nlohmann::json config;
  std::int64_t resolution = 1024, c_dim = 0;
  std::string architecture = "skip";
};

TfConfig tf_config(const nlohmann::json& kwargs, std::vector<std::string>* notes) {
  if (!kwargs.is_object()) fail_tf("static_kwargs is not a dict");
  std::set<std::string> known;
  auto get = [&](const std::string& name, const nlohmann::json& dflt) -> nlohmann::json {
    known.insert(name);
    const auto it = kwargs.find(name);
    return it == kwargs.end() || it->is_null() ? dflt : *it;
  };
  auto integer = [&](const std::string& name, std::int64_t dflt) {
    const nlohmann::json v = get(name, dflt);
    if (!v.is_number_integer()) fail_tf("static kwarg " + name + " is " + v.dump() + ", expected an integer");
    return v.get<std::int64_t>();
  };
  TfConfig c;
  const std::int64_t z_dim = integer("latent_size", 512);
  c.c_dim = integer("label_size", 0);
  const std::int64_t w_dim = integer("dlatent_size", 512);
  c.resolution = integer("resolution", 1024);
  const std::int64_t channels = integer("num_channels", 3);
  nlohmann::json mapping = {{"num_layers", integer("mapping_layers", 8)}};
  const nlohmann::json lr = get("mapping_lrmul", 0.01);
  if (!lr.is_number()) fail_tf("static kwarg mapping_lrmul is " + lr.dump() + ", expected a number");
  mapping["lr_multiplier"] = lr;
  for (const auto& [tf_name, name] : {std::pair<const char*, const char*>{"label_fmaps", "embed_features"},
                                      {"mapping_fmaps", "layer_features"}}) {
    const nlohmann::json v = get(tf_name, nullptr);
    if (!v.is_null()) mapping[name] = v;
  }
  for (const char* act : {"mapping_nonlinearity", "nonlinearity"}) {
    const nlohmann::json v = get(act, "lrelu");
    if (v != "lrelu") fail_tf(std::string("static kwarg ") + act + " is " + v.dump() + "; only lrelu StyleGAN2 networks are supported");
  }
  get("w_avg_beta", nullptr);
  const nlohmann::json architecture = get("architecture", "skip");
  if (!architecture.is_string()) fail_tf("static kwarg architecture is " + architecture.dump() + ", expected a name");
  c.architecture = architecture.get<std::string>();
  nlohmann::json synthesis = {{"channel_base", integer("fmap_base", 16384) * 2},  // TF: nf(stage) = fmap_base / 2^stage
                              {"channel_max", integer("fmap_max", 512)},
                              {"num_fp16_res", integer("num_fp16_res", 0)},
                              {"conv_clamp", get("conv_clamp", nullptr)},
                              {"architecture", c.architecture},
                              {"resample_filter", get("resample_kernel", nlohmann::json::array({1, 3, 3, 1}))},
                              {"use_noise", get("use_noise", true)}};
  for (const char* ignored : {"truncation_psi", "truncation_cutoff", "style_mixing_prob", "structure"}) get(ignored, nullptr);
  std::vector<std::string> unknown;
  for (const auto& [k, v] : kwargs.items()) {
    if (!known.count(k)) unknown.push_back(k);
  }
  if (!unknown.empty()) {
    std::string list;
    for (const auto& k : unknown) list += (list.empty() ? "" : ", ") + k;
    fail_tf("unknown static kwargs [" + list + "] (neither StyleGAN2 nor stylegan2-ada; legacy.py refuses them too)");
  }
  if (notes && !kwargs.contains("mapping_lrmul")) {
    notes->push_back("the TensorFlow network does not state its mapping learning-rate multiplier; 0.01, the default of "
                     "NVIDIA's code, is assumed");
  }
  c.config = {{"z_dim", z_dim},         {"c_dim", c.c_dim},           {"w_dim", w_dim},
              {"img_resolution", c.resolution}, {"img_channels", channels}, {"mapping_kwargs", mapping},
              {"synthesis_kwargs", synthesis}};
  return c;
}

}  // namespace

std::map<std::string, FloatTensor> map_tf_stylegan2(const std::map<std::string, FloatTensor>& variables,
                                                    const nlohmann::json& static_kwargs, nlohmann::json* config,
                                                    std::vector<std::string>* notes) {
  for (const auto& [name, t] : variables) {
    if (name.rfind("ToRGB_lod", 0) == 0 || name.find("/ToRGB_lod") != std::string::npos) {
      fail_tf("'" + name + "' is a progressive-growing output layer (StyleGAN 1 or StyleGAN2 config A); only the "
              "StyleGAN2 skip, resnet and orig architectures convert");
    }
    if (name.rfind("mapping/LabelConcat", 0) == 0) {
      fail_tf("'" + name + "': the original StyleGAN2 release's conditional mapping (a label concatenated before "
              "normalisation) is not the official PyTorch one; stylegan2-ada-pytorch's legacy.py does not convert it either");
    }
  }
  const TfConfig c = tf_config(static_kwargs, notes);
  TfVariables v(variables);
  const bool use_noise = c.config["synthesis_kwargs"]["use_noise"] != false;
  std::map<std::string, FloatTensor> out;
  auto put = [&](const std::string& key, FloatTensor t) { out[key] = std::move(t); };

  if (v.has("dlatent_avg")) put("mapping.w_avg", v.get("dlatent_avg", 1));
  const std::int64_t layers = c.config["mapping_kwargs"]["num_layers"].get<std::int64_t>();
  for (std::int64_t i = 0; i < layers; ++i) {
    const std::string k = "mapping/Dense" + std::to_string(i);
    put("mapping.fc" + std::to_string(i) + ".weight", transposed(v.get(k + "/weight", 2)));
    put("mapping.fc" + std::to_string(i) + ".bias", v.get(k + "/bias", 1));
  }
  if (c.c_dim > 0) {
    put("mapping.embed.weight", transposed(v.get("mapping/LabelEmbed/weight", 2)));
    put("mapping.embed.bias", v.get("mapping/LabelEmbed/bias", 1));
  }
  // One modulated layer: weight, mod_weight, mod_bias (+1: TF stores it without the init of 1),
  // bias, and for the 3x3 layers the noise strength and the layer's stored noise.
  auto layer = [&](const std::string& tf, const std::string& pt, bool flip, int noise_index) {
    put(pt + ".weight", conv_weight(v.get(tf + "/weight", 4), flip));
    put(pt + ".affine.weight", transposed(v.get(tf + "/mod_weight", 2)));
    put(pt + ".affine.bias", plus_one(v.get(tf + "/mod_bias", 1)));
    put(pt + ".bias", v.get(tf + "/bias", 1));
    if (noise_index < 0 || !use_noise) return;
    put(pt + ".noise_strength", v.get(tf + "/noise_strength", 0));
    const std::string noise = "synthesis/noise" + std::to_string(noise_index);
    const FloatTensor& n = v.get(noise, 4);
    if (n.shape[0] != 1 || n.shape[1] != 1) fail_tf("'" + noise + "' has shape " + shape_string(n.shape) + ", expected [1, 1, R, R]");
    put(pt + ".noise_const", reshaped(n, {n.shape[2], n.shape[3]}));
  };
  for (std::int64_t res = 4; res <= c.resolution; res *= 2) {
    const std::string tf = "synthesis/" + std::to_string(res) + "x" + std::to_string(res) + "/";
    const std::string pt = "synthesis.b" + std::to_string(res) + ".";
    const int log2 = static_cast<int>(std::lround(std::log2(static_cast<double>(res))));
    if (res == 4) {
      const FloatTensor& k = v.get(tf + "Const/const", 4);
      put(pt + "const", reshaped(k, {k.shape[1], k.shape[2], k.shape[3]}));
      layer(tf + "Conv", pt + "conv1", false, 0);
    } else {
      layer(tf + "Conv0_up", pt + "conv0", true, 2 * log2 - 5);
      layer(tf + "Conv1", pt + "conv1", false, 2 * log2 - 4);
      if (c.architecture == "resnet") put(pt + "skip.weight", conv_weight(v.get(tf + "Skip/weight", 4), true));
    }
    if (c.architecture == "skip" || res == c.resolution) layer(tf + "ToRGB", pt + "torgb", false, -1);
  }
  std::vector<std::string> ignored;
  for (const auto& k : v.unused()) {
    if (k != "lod" && k.find("/lod") == std::string::npos) ignored.push_back(k);
  }
  if (notes && !ignored.empty()) {
    std::string list;
    for (std::size_t i = 0; i < ignored.size() && i < 8; ++i) list += (i ? ", " : "") + ignored[i];
    notes->push_back("TensorFlow variables without a PyTorch counterpart were left out: " + list +
                     (ignored.size() > 8 ? ", ..." : ""));
  }
  if (config) *config = c.config;
  return out;
}

}  // namespace actmap
