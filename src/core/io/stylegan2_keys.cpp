// StyleGAN2 names: rosinality/stylegan2-pytorch -> the official stylegan2-ada-pytorch names, and
// the official constructor config read off tensor shapes. docs/import.md explains the mapping
// and why the two parametrisations agree.
#include <algorithm>
#include <cmath>
#include <set>

#include "actmap/io/checkpoint_import.h"
#include "actmap/io/error.h"

namespace actmap {
namespace {

std::string shape_text(const std::vector<std::int64_t>& s) {
  std::string t = "[";
  for (std::size_t i = 0; i < s.size(); ++i) t += (i ? ", " : "") + std::to_string(s[i]);
  return t + "]";
}

[[noreturn]] void fail_map(const std::string& what) { throw Error("key map rosinality: " + what); }

// A small decimal index ("12") or -1.
int parse_index(const std::string& s) {
  if (s.empty() || s.size() > 3 || !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; })) return -1;
  return std::stoi(s);
}

// `t` with its shape replaced by `shape` after checking that `t` has the shape `from` (-1: any).
FloatTensor reshaped(const std::string& key, const FloatTensor& t, const std::vector<std::int64_t>& from,
                     const std::vector<std::int64_t>& shape) {
  bool ok = t.shape.size() == from.size();
  for (std::size_t i = 0; ok && i < from.size(); ++i) ok = from[i] < 0 || from[i] == t.shape[i];
  if (!ok) {
    std::string want = "[";
    for (std::size_t i = 0; i < from.size(); ++i) want += (i ? ", " : "") + (from[i] < 0 ? std::string("*") : std::to_string(from[i]));
    fail_map("'" + key + "' has shape " + shape_text(t.shape) + ", expected " + want + "]");
  }
  FloatTensor out;
  out.shape = shape;
  out.data = t.data;
  return out;
}

const FloatTensor* find(const std::map<std::string, FloatTensor>& m, const std::string& k) {
  const auto it = m.find(k);
  return it == m.end() ? nullptr : &it->second;
}

}  // namespace

std::map<std::string, FloatTensor> map_rosinality_keys(const std::map<std::string, FloatTensor>& tensors,
                                                       const FloatTensor* latent_avg,
                                                       std::vector<std::string>* notes) {
  std::map<std::string, FloatTensor> out;
  std::vector<float> filter;  // the low-pass filter, normalised to sum 1 (upfirdn2d.setup_filter)
  std::vector<std::int64_t> filter_shape;
  std::set<std::string> layers;  // official layer prefixes that get a resample_filter
  std::set<int> blocks;

  auto put = [&](const std::string& key, FloatTensor t) {
    if (!out.emplace(key, std::move(t)).second) fail_map("two tensors map to '" + key + "'");
  };
  auto take_kernel = [&](const std::string& key, const FloatTensor& t) {
    if (t.shape.size() != 2 || t.shape[0] != t.shape[1] || t.shape[0] < 1) {
      fail_map("'" + key + "' has shape " + shape_text(t.shape) + ", expected a square 2-D blur kernel");
    }
    double sum = 0;
    for (float v : t.data) sum += v;
    if (!(std::abs(sum) > 1e-12)) fail_map("'" + key + "' sums to zero");
    std::vector<float> f(t.data.size());
    for (std::size_t i = 0; i < f.size(); ++i) f[i] = static_cast<float>(t.data[i] / sum);
    if (filter.empty()) {
      filter = f;
      filter_shape = t.shape;
      return;
    }
    bool same = filter_shape == t.shape;
    for (std::size_t i = 0; same && i < f.size(); ++i) same = std::abs(f[i] - filter[i]) < 1e-6f;
    if (!same) fail_map("'" + key + "' differs from the other blur kernels; the official generator uses one filter");
  };
  // One modulated conv layer (StyledConv) -> SynthesisLayer `base`.
  // The modulated convolution both kinds of layer hold: its weight and its affine (modulation).
  auto modulated_conv = [&](const std::string& key, const std::string& rest, const std::string& base, const FloatTensor& t) {
    if (rest == "conv.weight") {
      put(base + ".weight", reshaped(key, t, {1, -1, -1, -1, -1}, {t.shape.size() == 5 ? t.shape[1] : 0,
                                                                   t.shape.size() == 5 ? t.shape[2] : 0,
                                                                   t.shape.size() == 5 ? t.shape[3] : 0,
                                                                   t.shape.size() == 5 ? t.shape[4] : 0}));
    } else if (rest == "conv.modulation.weight") {
      put(base + ".affine.weight", reshaped(key, t, {-1, -1}, t.shape));
    } else if (rest == "conv.modulation.bias") {
      put(base + ".affine.bias", reshaped(key, t, {-1}, t.shape));
    } else {
      return false;
    }
    return true;
  };
  auto layer = [&](const std::string& key, const std::string& rest, const std::string& base, const FloatTensor& t) {
    layers.insert(base);
    if (modulated_conv(key, rest, base, t)) {
      return;
    } else if (rest == "noise.weight") {
      put(base + ".noise_strength", reshaped(key, t, {1}, {}));
    } else if (rest == "activate.bias") {
      put(base + ".bias", reshaped(key, t, {-1}, t.shape));
    } else if (rest == "conv.blur.kernel") {
      take_kernel(key, t);
    } else {
      fail_map("no official StyleGAN2 name for '" + key + "'");
    }
  };
  // ToRGB -> ToRGBLayer `base`.
  auto torgb = [&](const std::string& key, const std::string& rest, const std::string& base, const FloatTensor& t) {
    if (modulated_conv(key, rest, base, t)) {
      return;
    } else if (rest == "bias") {
      put(base + ".bias", reshaped(key, t, {1, -1, 1, 1}, {t.shape.size() == 4 ? t.shape[1] : 0}));
    } else if (rest == "upsample.kernel") {
      take_kernel(key, t);
    } else {
      fail_map("no official StyleGAN2 name for '" + key + "'");
    }
  };
  // Synthesis layer n in forward order: 0 is b4.conv1, then b8.conv0, b8.conv1, b16.conv0, ...
  auto layer_name = [](int n, int& res) {
    if (n == 0) {
      res = 4;
      return std::string("synthesis.b4.conv1");
    }
    res = 8 << ((n - 1) / 2);
    return "synthesis.b" + std::to_string(res) + ((n - 1) % 2 ? ".conv1" : ".conv0");
  };

  for (const auto& [key, t] : tensors) {
    const std::size_t dot = key.find('.');
    const std::string head = key.substr(0, dot);
    const std::string tail = dot == std::string::npos ? "" : key.substr(dot + 1);
    const std::size_t dot2 = tail.find('.');
    const int idx = parse_index(tail.substr(0, dot2));
    const std::string rest = dot2 == std::string::npos ? "" : tail.substr(dot2 + 1);
    if (head == "style" && idx >= 1 && (rest == "weight" || rest == "bias")) {
      put("mapping.fc" + std::to_string(idx - 1) + "." + rest, reshaped(key, t, rest == "weight" ? std::vector<std::int64_t>{-1, -1} : std::vector<std::int64_t>{-1}, t.shape));
    } else if (key == "input.input") {
      put("synthesis.b4.const", reshaped(key, t, {1, -1, -1, -1}, {t.shape.size() == 4 ? t.shape[1] : 0,
                                                                  t.shape.size() == 4 ? t.shape[2] : 0,
                                                                  t.shape.size() == 4 ? t.shape[3] : 0}));
      blocks.insert(4);
    } else if (head == "conv1") {
      layer(key, tail, "synthesis.b4.conv1", t);
    } else if (head == "to_rgb1") {
      torgb(key, tail, "synthesis.b4.torgb", t);
    } else if (head == "convs" && idx >= 0 && idx < 40) {
      const int res = 8 << (idx / 2);
      blocks.insert(res);
      layer(key, rest, "synthesis.b" + std::to_string(res) + (idx % 2 ? ".conv1" : ".conv0"), t);
    } else if (head == "to_rgbs" && idx >= 0 && idx < 20) {
      const int res = 8 << idx;
      blocks.insert(res);
      torgb(key, rest, "synthesis.b" + std::to_string(res) + ".torgb", t);
    } else if (head == "noises" && tail.rfind("noise_", 0) == 0 && parse_index(tail.substr(6)) >= 0 &&
               parse_index(tail.substr(6)) < 40) {
      int res = 0;
      const std::string base = layer_name(parse_index(tail.substr(6)), res);
      put(base + ".noise_const", reshaped(key, t, {1, 1, res, res}, {res, res}));
    } else {
      fail_map("no official StyleGAN2 name for '" + key + "'");
    }
  }

  if (filter.empty()) {
    // A 4x4-only generator has no blur kernel: rosinality's default [1, 3, 3, 1].
    const float k[4] = {1, 3, 3, 1};
    filter_shape = {4, 4};
    for (float a : k) {
      for (float b : k) filter.push_back(a * b / 64.0f);
    }
  }
  FloatTensor f;
  f.shape = filter_shape;
  f.data = filter;
  for (int res : blocks) out["synthesis.b" + std::to_string(res) + ".resample_filter"] = f;
  for (const auto& l : layers) out[l + ".resample_filter"] = f;
  if (notes) {
    notes->push_back("added resample_filter buffers (the blur kernel normalised to sum 1, as the official code "
                     "registers it) to every synthesis block and layer");
  }
  if (latent_avg) {
    const std::int64_t n = static_cast<std::int64_t>(latent_avg->data.size());
    if (!(latent_avg->shape == std::vector<std::int64_t>{n} || latent_avg->shape == std::vector<std::int64_t>{1, n})) {
      fail_map("'latent_avg' has shape " + shape_text(latent_avg->shape) + ", expected [w_dim]");
    }
    FloatTensor w;
    w.shape = {n};
    w.data = latent_avg->data;
    put("mapping.w_avg", std::move(w));
  } else if (notes) {
    notes->push_back("the checkpoint stores no average W (latent_avg; rosinality's train.py writes none), so mapping.w_avg is missing");
  }
  return out;
}

std::string recognise_non_generator(const std::map<std::string, FloatTensor>& tensors) {
  auto any_prefix = [&](const char* p) {
    const auto it = tensors.lower_bound(p);
    return it != tensors.end() && it->first.rfind(p, 0) == 0;
  };
  if (tensors.count("b4.out.weight") || tensors.count("b4.fc.weight")) return "a StyleGAN2 discriminator (b4.fc, b4.out)";
  if (any_prefix("final_linear.") && any_prefix("final_conv.")) return "a rosinality discriminator (final_conv, final_linear)";
  if (tensors.count("p") && any_prefix("Hz_")) return "an augmentation pipeline (augment_pipe)";
  return "";
}

bool is_stylegan2_state_dict(const std::map<std::string, FloatTensor>& tensors) {
  return tensors.count("mapping.fc0.weight") && tensors.count("synthesis.b4.const") &&
         tensors.count("synthesis.b4.conv1.weight");
}

nlohmann::json infer_stylegan2_config(const std::map<std::string, FloatTensor>& tensors,
                                      std::vector<std::string>* notes) {
  if (!is_stylegan2_state_dict(tensors)) {
    throw Error("not an official StyleGAN2 generator state dict (no mapping.fc0.weight, synthesis.b4.const)");
  }
  auto dims = [&](const std::string& key, std::size_t rank) -> const std::vector<std::int64_t>& {
    const FloatTensor* t = find(tensors, key);
    if (!t) throw Error("StyleGAN2 state dict lacks '" + key + "'");
    if (t->shape.size() != rank) {
      throw Error("StyleGAN2 tensor '" + key + "' has shape " + shape_text(t->shape) + ", expected " + std::to_string(rank) + " dimensions");
    }
    return t->shape;
  };
  int num_layers = 0;
  while (find(tensors, "mapping.fc" + std::to_string(num_layers) + ".weight")) ++num_layers;
  const auto& fc0 = dims("mapping.fc0.weight", 2);
  const auto& last = dims("mapping.fc" + std::to_string(num_layers - 1) + ".weight", 2);
  std::int64_t c_dim = 0, z_dim = fc0[1];
  if (find(tensors, "mapping.embed.weight")) {
    const auto& embed = dims("mapping.embed.weight", 2);
    c_dim = embed[1];
    z_dim = fc0[1] - embed[0];
  }
  const std::int64_t w_dim = last[0];
  std::vector<std::pair<std::int64_t, std::int64_t>> channels;  // (res, channels)
  for (std::int64_t res = 4; res <= 8192 && find(tensors, "synthesis.b" + std::to_string(res) + ".conv1.weight"); res *= 2) {
    channels.emplace_back(res, dims("synthesis.b" + std::to_string(res) + ".conv1.weight", 4)[0]);
  }
  const std::int64_t img_resolution = channels.back().first;
  const std::string last_block = "synthesis.b" + std::to_string(img_resolution);
  const std::int64_t img_channels = dims(last_block + ".torgb.weight", 4)[0];
  std::int64_t channel_max = 0;
  for (const auto& [res, c] : channels) channel_max = std::max(channel_max, c);
  // channels(res) = min(channel_base // res, channel_max): find a channel_base that fits every block.
  std::int64_t lo = 0, hi = std::int64_t(1) << 40;
  for (const auto& [res, c] : channels) {
    if (c < channel_max) {
      lo = std::max(lo, c * res);
      hi = std::min(hi, c * res + res - 1);
    } else {
      lo = std::max(lo, channel_max * res);
    }
  }
  if (lo > hi) {
    std::string list;
    for (const auto& [res, c] : channels) list += (list.empty() ? "" : ", ") + std::to_string(res) + ": " + std::to_string(c);
    throw Error("StyleGAN2 channel counts {" + list + "} do not follow min(channel_base / res, channel_max)");
  }
  std::int64_t channel_base = lo;
  for (std::int64_t preferred : {32768, 16384, 65536}) {
    if (preferred >= lo && preferred <= hi) {
      channel_base = preferred;
      break;
    }
  }
  std::string architecture = "orig";
  if (channels.size() > 1 && find(tensors, "synthesis.b4.torgb.weight")) architecture = "skip";
  if (find(tensors, "synthesis.b8.skip.weight")) architecture = "resnet";
  if (notes) {
    notes->push_back("config inferred from tensor shapes; mapping lr_multiplier 0.01, conv_clamp null and "
                     "num_fp16_res 0 cannot be read off the weights and are the usual values: check them against "
                     "the network's training config");
  }
  return {{"z_dim", z_dim},
          {"c_dim", c_dim},
          {"w_dim", w_dim},
          {"img_resolution", img_resolution},
          {"img_channels", img_channels},
          {"mapping_kwargs", {{"num_layers", num_layers}, {"lr_multiplier", 0.01}}},
          {"synthesis_kwargs",
           {{"channel_base", channel_base}, {"channel_max", channel_max}, {"conv_clamp", nullptr},
            {"architecture", architecture}, {"num_fp16_res", 0}}}};
}

}  // namespace actmap
