// The `stylegan2` family: NVIDIA's StyleGAN2 generator with the semantics of stylegan2-ada-pytorch
// (training/networks.py, torch_utils/ops), written from its documented behaviour:
//   mapping   z / sqrt(mean(z^2) + 1e-8) (conditional models: concatenated with the label
//             embedding, embed(c) normalised the same way), then num_layers fully connected layers (weight gain
//             lr_multiplier / sqrt(in), bias gain lr_multiplier, leaky ReLU 0.2 times sqrt(2)),
//             broadcast to num_ws rows, truncation w_avg + psi (w - w_avg) on rows [0, cutoff)
//   synthesis per block b{R}: conv0 (up-sampling, not in b4, whose input is the learned const),
//             conv1, ToRGB; the skip architecture adds every ToRGB to the up-sampled image
//   a layer   styles = affine(w) (bias init 1); modulated 3x3 convolution; demodulation by
//             1 / sqrt(sum((weight * style)^2) + 1e-8) per output channel; noise (const map,
//             seeded or none) times noise_strength; bias; leaky ReLU 0.2 times sqrt(2) (times the
//             block's gain); clamp to +-conv_clamp
//   up conv   conv_transpose2d with stride 2 and the weight as is, then upfirdn2d with the
//             [1, 3, 3, 1] filter, gain 4, padding 1 on each side (for 3x3 kernels)
//   ToRGB     1x1 modulated convolution, styles times 1 / sqrt(in_channels), no demodulation,
//             bias, clamp
// Modulation scales the activations and demodulation the result (the official non-fused order),
// which batches without grouped convolutions and equals the fused form up to rounding.
// float16 blocks (num_fp16_res, only on CUDA and only where asked: the card's "cuda_fp16" or
// --fp16) follow SynthesisBlock's float16 path: the block's input cast to float16; for
// demodulated layers the weight divided by its largest |value| per output channel times
// sqrt(fan-in) and the styles by their largest |value| (against overflow); at batch 1 the fused form
// (weight * styles * demodulation, cast to float16, a grouped convolution), above it styles and
// demodulation applied to the float16 activations (the latter with the noise in one multiply-add),
// or the fused form at every batch size where the card's fused_modconv_default says so (the
// stylegan3 repository's networks_stylegan2.py); the bias (cast to
// float16), activation, gain and clamp, and the resampling filter, computed in float32 and
// rounded once, as the CUDA kernels of bias_act and upfirdn2d do; ToRGB's result back in float32
// before it joins the image. Taps hold float32 copies of the float16 values (exact), so edits
// and views see float32 and the next stage casts back without loss.
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <set>
#include <string>

#include <ATen/Parallel.h>
#include <c10/core/InferenceMode.h>

#include "actmap/io/error.h"
#include "actmap/io/files.h"
#include "actmap/io/npy.h"
#include "actmap/io/safetensors.h"
#include "actmap/model/checkpoint_cache.h"
#include "actmap/model/device.h"
#include "actmap/model/generator.h"
#include "actmap/model/latent.h"
#include "model/conv_kernels.h"
#include "model/generator_registry.h"
#include "model/style_latents.h"
#include "model/modconv_cpu.h"
#include "model/torch_util.h"
#include "model/upfirdn.h"

namespace actmap {
namespace {

const double kSqrt2 = std::sqrt(2.0);

// Tensors by official key, checked for shape; keys nobody asked for are reported.
class KeyedWeights {
 public:
  KeyedWeights(std::map<std::string, FloatTensor> tensors, std::string file, c10::Device device)
      : tensors_(std::move(tensors)), file_(std::move(file)), device_(device) {}

  at::Tensor take(const std::string& key, const std::vector<std::int64_t>& shape) {
    const auto it = tensors_.find(key);
    if (it == tensors_.end()) {
      std::string near;
      const std::string prefix = key.substr(0, key.rfind('.') + 1);
      int n = 0;
      for (auto k = tensors_.lower_bound(prefix); k != tensors_.end() && k->first.rfind(prefix, 0) == 0 && n < 6; ++k, ++n) {
        near += (near.empty() ? "" : ", ") + k->first;
      }
      throw Error(file_ + ": missing key '" + key + "' (expected shape " + shape_string(shape) + ")" +
                  (near.empty() ? "" : "; keys under '" + prefix + "': " + near));
    }
    if (it->second.shape != shape) {
      throw Error(file_ + ": key '" + key + "': expected shape " + shape_string(shape) + ", got " +
                  shape_string(it->second.shape) + " (does the card's config match these weights?)");
    }
    used_.insert(key);
    FloatTensor& t = it->second;
    return at::from_blob(t.data.data(), t.shape, at::kFloat).clone().to(device_);
  }
  bool has(const std::string& key) const { return tensors_.count(key) > 0; }

  // The resampling filters are buffers that setup_filter derives from the config: not weights.
  void check_all_used() const {
    std::vector<std::string> unexpected;
    for (const auto& [key, t] : tensors_) {
      const bool buffer = key.size() > 16 && key.compare(key.size() - 16, 16, ".resample_filter") == 0;
      if (!used_.count(key) && !buffer) unexpected.push_back(key);
    }
    if (unexpected.empty()) return;
    std::string list;
    for (std::size_t i = 0; i < unexpected.size() && i < 8; ++i) list += (i ? ", '" : "'") + unexpected[i] + "'";
    if (unexpected.size() > 8) list += ", ... (" + std::to_string(unexpected.size()) + " in all)";
    throw Error(file_ + ": unexpected key" + (unexpected.size() > 1 ? "s " : " ") + list +
                " not used by the StyleGAN2 generator the card describes (does its config match?)");
  }

 private:
  std::map<std::string, FloatTensor> tensors_;
  std::string file_;
  c10::Device device_;
  std::set<std::string> used_;
};

struct Dense {  // FullyConnectedLayer with its gains folded in
  at::Tensor weight, bias;  // [out, in], [out]
};

// SynthesisLayer (demodulate) or ToRGBLayer (not).
struct ModLayer {
  std::string name;  // "b8.conv0"
  Dense affine;      // w -> styles [in]
  at::Tensor weight, bias;   // [O, I, k, k], [O]
  at::Tensor weight_sq;      // [O, I]: sum of squares over the kernel, for demodulation
  at::Tensor noise_const;    // [R, R] or undefined
  at::Tensor noise_strength; // [] or undefined
  at::Tensor noise_scaled;   // [1, 1, R, R]: noise_const * noise_strength (const mode), or undefined
  // Up layers on the CPU channels-last path: the transposed convolution by phases (then the
  // filter in the finishing pass); empty where the geometry does not allow it.
  std::optional<at::Tensor> transposed_phases;
  bool up = false, demodulate = true, activation = true;
  double style_gain = 1.0;
  std::int64_t resolution = 0, w_index = 0, noise_index = 0;
};

enum class StageKind { Mapping, Conv0, Conv1, ToRGB, Image };
struct StageDef {
  StageKind kind = StageKind::Mapping;
  std::size_t block = 0;
};

struct Block {
  std::int64_t resolution = 0;
  bool has_torgb = false;
  ModLayer conv0, conv1, torgb;
  at::Tensor skip_weight;  // resnet: [O, I, 1, 1] with its gain folded in
};

// Carried tensors after a stage: W+, the feature map to continue from, the running image, and the
// resnet skip branch.
enum Carry : std::size_t { kWs = 0, kFeature = 1, kImage = 2, kSkip = 3, kCarrySize = 4 };

class StyleGAN2Generator final : public Generator {
 public:
  StyleGAN2Generator(ModelCard card, const std::string& device)
      : card_(std::move(card)), cfg_(*card_.stylegan2), device_name_(device) {
    const c10::Device dev = parse_device(device);
    const std::string path = resolve_weights_path(card_);
    const std::vector<std::uint8_t> bytes = read_file_bytes(path);
    if (!card_.weights_sha256_accepted.empty()) {
      // Weights in the cache (converted checkpoints) have their hash remembered (checkpoint_cache.h).
      card_.check_weights_sha256(in_model_cache(path) ? checkpoint_sha256(path) : sha256_hex(bytes.data(), bytes.size()), path);
    }
    KeyedWeights weights(parse_safetensors(bytes.data(), bytes.size(), path), path, dev);
    taps_ = stylegan2_taps(cfg_);
    num_ws_ = cfg_.num_ws();
    taps_fir_ = fir_taps(cfg_.resample_filter, 4.0);
    actmap_kernels_ = use_actmap_cpu_kernels();
    cpu_layout_ = actmap_kernels_ ? cpu_layout_from_env() : CpuLayout::Nchw;
    fir2d_ = upfirdn2d_filter(taps_fir_, at::TensorOptions().dtype(at::kFloat).device(dev));
    set_reduced_precision(dev);

    // Mapping network; conditional ones embed the label c into w_dim features (a linear layer
    // with gain 1) that are concatenated after z.
    if (cfg_.c_dim > 0) embed_ = dense(weights, "mapping.embed", cfg_.c_dim, cfg_.w_dim, 1.0);
    for (std::int64_t i = 0; i < cfg_.mapping_layers; ++i) {
      const std::string k = "mapping.fc" + std::to_string(i);
      const std::int64_t in = i == 0 ? cfg_.z_dim + (cfg_.c_dim > 0 ? cfg_.w_dim : 0) : cfg_.w_dim;
      mapping_.push_back(dense(weights, k, in, cfg_.w_dim, cfg_.mapping_lr_multiplier));
    }
    load_w_avg(weights, dev);

    // Synthesis blocks.
    std::int64_t w_index = 0, noise_index = 0;
    for (std::int64_t res : cfg_.block_resolutions()) {
      Block b;
      b.resolution = res;
      const std::string p = "synthesis.b" + std::to_string(res);
      const std::int64_t out = cfg_.channels_at(res);
      const bool last = res == cfg_.img_resolution;
      b.has_torgb = last || cfg_.architecture == "skip";
      if (res == 4) {
        const_ = weights.take(p + ".const", {out, 4, 4});
      } else {
        const std::int64_t in = cfg_.channels_at(res / 2);
        b.conv0 = synthesis_layer(weights, p + ".conv0", in, out, res, true, w_index++, noise_index++);
        if (cfg_.architecture == "resnet") {
          b.skip_weight = weights.take(p + ".skip.weight", {out, in, 1, 1}) * (1.0 / std::sqrt(static_cast<double>(in)));
        }
      }
      b.conv1 = synthesis_layer(weights, p + ".conv1", out, out, res, false, w_index++, noise_index++);
      if (b.has_torgb) {
        ModLayer& t = b.torgb;
        t.name = p.substr(10) + ".torgb";
        t.affine = dense(weights, p + ".torgb.affine", cfg_.w_dim, out, 1.0);
        t.weight = weights.take(p + ".torgb.weight", {cfg_.img_channels, out, 1, 1});
        t.bias = weights.take(p + ".torgb.bias", {cfg_.img_channels});
        t.demodulate = false;
        t.activation = false;
        t.style_gain = 1.0 / std::sqrt(static_cast<double>(out));
        t.resolution = res;
        t.w_index = w_index;  // the next block's conv0 reads the same row
      }
      blocks_.push_back(std::move(b));
    }
    weights.check_all_used();

    // Stages in tap order (stylegan2_taps names them).
    stages_.push_back({StageKind::Mapping, 0});
    for (std::size_t i = 0; i < blocks_.size(); ++i) {
      const Block& b = blocks_[i];
      if (b.resolution > 4) stages_.push_back({StageKind::Conv0, i});
      stages_.push_back({StageKind::Conv1, i});
      if (b.has_torgb) stages_.push_back({StageKind::ToRGB, i});
      if (cfg_.architecture == "skip" && b.resolution > 4) stages_.push_back({StageKind::Image, i});
    }
    if (stages_.size() != taps_.size()) throw Error("internal: StyleGAN2 stages and taps disagree");
  }

  const ModelCard& card() const override { return card_; }
  StyleLatentShape latent_shape() const { return {card_.name, cfg_.z_dim, num_ws_, cfg_.w_dim}; }
  const std::vector<TapInfo>& taps() const override { return taps_; }
  const std::string& device() const override { return device_name_; }

  std::string precision() const override {
    if (reduced_ == at::ScalarType::Undefined) return "float32";
    const std::string type = reduced_ == at::kHalf ? "float16" : "bfloat16 (emulating float16 on the CPU)";
    const std::string from = std::to_string(cfg_.fp16_resolution());
    return type + " in blocks " + from + "x" + from + " and up (num_fp16_res " + std::to_string(cfg_.num_fp16_res) +
           ", as the original on NVIDIA GPUs), float32 elsewhere";
  }

  TapState prepare(const at::Tensor& latent, const SynthesisOptions& options) const override {
    check_style_latent(latent_shape(), latent, options);
    return TapState{latent.to(at::kFloat), {}, options};
  }

  at::Tensor map_latents(const at::Tensor& z, const SynthesisOptions& options) const override {
    c10::InferenceMode guard;
    check_style_z(latent_shape(), z);
    at::Tensor x = normalize_2nd_moment(z.to(at::kFloat));
    if (cfg_.c_dim > 0) {
      at::Tensor y = at::addmm(embed_.bias.unsqueeze(0), label(options, x.size(0), x.device()), embed_.weight.t());
      x = at::cat({x, normalize_2nd_moment(y)}, 1);
    } else if (options.has_label()) {
      throw Error(card_.name + " is not conditional (c_dim 0): it takes no class or c vector");
    }
    for (const Dense& fc : mapping_) x = lrelu_gain(at::addmm(fc.bias.unsqueeze(0), x, fc.weight.t()), kSqrt2);
    if (options.truncation_psi != 1.0 && !w_avg_.defined()) {
      throw Error(no_w_avg_message("truncation (psi " + std::to_string(options.truncation_psi) + ")"));
    }
    return broadcast_and_truncate(x, w_avg_, options, num_ws_);
  }

  at::Tensor w_average() const override {
    if (!w_avg_.defined()) throw Error(no_w_avg_message("the average W"));
    return w_avg_;
  }

  TapState run_stage(std::size_t index, const TapState& in) const override { return run(index, in, nullptr); }

  // conv0, conv1 and ToRGB stages: a copy of their layer with rewritten kernels ([O, I, k, k]).
  bool has_rewritable_kernel(std::size_t index) const override { return stage_layer(index) != nullptr; }

  TapState run_stage_rewritten(std::size_t index, const TapState& in, const KernelRewrite& rewrite) const override {
    const ModLayer* layer = stage_layer(index);
    if (!layer) return Generator::run_stage_rewritten(index, in, rewrite);  // throws
    ModLayer edited = *layer;
    edited.weight = rewrite(layer->weight, 0);
    edited.weight_sq = edited.weight.square().sum({2, 3});
    set_phases(edited);
    return run(index, in, &edited);
  }

 private:
  // The average W: the card's "w_avg" file, else the weights' mapping.w_avg, else none (rendering
  // with psi 1 needs none; truncation says how to get one).
  void load_w_avg(KeyedWeights& weights, c10::Device dev) {
    if (weights.has("mapping.w_avg")) w_avg_ = weights.take("mapping.w_avg", {cfg_.w_dim});
    if (cfg_.w_avg_file.empty()) return;
    const std::filesystem::path rel(cfg_.w_avg_file);
    const std::string file = rel.is_absolute() || card_.path.empty()
                                 ? rel.string()
                                 : (std::filesystem::path(card_.path).parent_path() / rel).string();
    const FloatArray a = read_npy(file);
    const std::vector<std::int64_t> flat{cfg_.w_dim}, row{1, cfg_.w_dim};
    if (a.shape != flat && a.shape != row) {
      throw Error(file + ": an average W must have shape [" + std::to_string(cfg_.w_dim) + "] or [1, " +
                  std::to_string(cfg_.w_dim) + "] (w_dim of " + card_.name + "), got " + shape_string(a.shape));
    }
    std::vector<float> v = a.data;
    w_avg_ = at::from_blob(v.data(), {cfg_.w_dim}, at::kFloat).clone().to(dev);
  }

  // float16 blocks: on CUDA where asked. ACTMAP_TEST_CPU_BFLOAT16=1 runs the same path on the CPU
  // in bfloat16 (the CPU has no float16 convolutions), for tests against the original code run the
  // same way.
  void set_reduced_precision(c10::Device dev) {
    if (cfg_.num_fp16_res <= 0) return;
    const bool asked = cfg_.cuda_fp16 || cuda_fp16_requested();
    if (asked && dev.is_cuda()) reduced_ = at::kHalf;
    const char* emulate = std::getenv("ACTMAP_TEST_CPU_BFLOAT16");
    if (dev.is_cpu() && emulate && std::string(emulate) == "1") reduced_ = at::kBFloat16;
  }

  bool reduced_block(std::int64_t resolution) const {
    return reduced_ != at::ScalarType::Undefined && resolution >= cfg_.fp16_resolution();
  }

  std::string no_w_avg_message(const std::string& what) const {
    return card_.name + ": " + what + " needs the average W, and " + resolve_weights_path(card_) +
           " has no mapping.w_avg (rosinality's train.py stores none); render with psi 1, give one with --w-avg "
           "FILE.npy (or \"w_avg\" in the card), or open the original checkpoint file, which estimates it";
  }

  // The label c [n, c_dim] for a conditional generator: the options' c vector, else one-hot at the
  // class index (class 0 when neither is given).
  at::Tensor label(const SynthesisOptions& o, std::int64_t n, c10::Device dev) const {
    std::vector<float> c(static_cast<std::size_t>(cfg_.c_dim), 0.0f);
    if (!o.c.empty()) {
      if (static_cast<std::int64_t>(o.c.size()) != cfg_.c_dim) {
        throw Error(card_.name + ": the c vector has " + std::to_string(o.c.size()) + " values; this conditional model takes c_dim = " +
                    std::to_string(cfg_.c_dim));
      }
      c = o.c;
    } else {
      const std::int64_t k = o.class_index.value_or(0);
      if (k < 0 || k >= cfg_.c_dim) {
        throw Error(card_.name + ": class " + std::to_string(k) + " is out of range; this model has " + std::to_string(cfg_.c_dim) +
                    " classes (0 to " + std::to_string(cfg_.c_dim - 1) + ")");
      }
      c[static_cast<std::size_t>(k)] = 1.0f;
    }
    return at::from_blob(c.data(), {1, cfg_.c_dim}, at::kFloat).clone().to(dev).expand({n, cfg_.c_dim});
  }

  const ModLayer* stage_layer(std::size_t index) const {
    if (index >= stages_.size()) return nullptr;
    const StageDef& st = stages_[index];
    const Block& b = blocks_[st.block];
    return st.kind == StageKind::Conv0 ? &b.conv0 : st.kind == StageKind::Conv1 ? &b.conv1
         : st.kind == StageKind::ToRGB ? &b.torgb : nullptr;
  }

  // A stage, with `override_layer` (an edited copy of its layer's weights) in place of its own.
  TapState run(std::size_t index, const TapState& in, const ModLayer* override_layer) const {
    if (index >= stages_.size()) throw Error("stage " + std::to_string(index) + " out of range");
    c10::InferenceMode guard;
    const StageDef& st = stages_[index];
    TapState out;
    out.options = in.options;
    if (st.kind == StageKind::Mapping) {
      const at::Tensor ws = in.x.dim() == 3 ? in.x : map_latents(in.x, in.options);
      out.x = ws.view({ws.size(0), num_ws_, 1, cfg_.w_dim});
      return out;
    }
    out.carry = in.carry;
    out.carry.resize(kCarrySize);
    const Block& b = blocks_[st.block];
    const bool skip = cfg_.architecture == "skip";
    switch (st.kind) {
      case StageKind::Conv0: {
        // In: the previous block's last tap: its image (skip) or its feature map (orig, resnet).
        at::Tensor feature = in.x;
        if (skip) {
          out.carry[kImage] = in.x;
          feature = in.carry[kFeature];
        }
        if (cfg_.architecture == "resnet" && reduced_block(b.resolution)) {
          // Convolve in float16, then the filter and the gain each in float32, rounded once.
          const at::Tensor y = reduced_op(feature.to(reduced_), b.skip_weight.to(reduced_),
                                          [](const at::Tensor& a, const at::Tensor& k) { return at::conv2d(a, k); });
          out.carry[kSkip] = round_reduced(round_reduced(upfir(y.to(at::kFloat), 2, pad_up0(), pad_up1())).mul_(std::sqrt(0.5)));
        } else if (cfg_.architecture == "resnet") {
          out.carry[kSkip] = upfir(at::conv2d(feature, b.skip_weight), 2, pad_up0(), pad_up1());
          out.carry[kSkip].mul_(std::sqrt(0.5));
        }
        out.x = modulated(override_layer ? *override_layer : b.conv0, feature, ws_row(out.carry[kWs], b.conv0.w_index),
                          in.options, 1.0);
        break;
      }
      case StageKind::Conv1: {
        at::Tensor feature = in.x;
        if (b.resolution == 4) {  // in: the mapping tap (W+, edited)
          out.carry[kWs] = in.x.view({in.x.size(0), num_ws_, cfg_.w_dim});
          feature = const_.unsqueeze(0).repeat({in.x.size(0), 1, 1, 1});
        }
        const bool resnet = cfg_.architecture == "resnet" && b.resolution > 4;
        out.x = modulated(override_layer ? *override_layer : b.conv1, feature, ws_row(out.carry[kWs], b.conv1.w_index),
                          in.options, resnet ? std::sqrt(0.5) : 1.0);
        if (resnet) out.x.add_(out.carry[kSkip]);
        if (resnet && reduced_block(b.resolution)) out.x = round_reduced(out.x);  // the float16 sum
        out.carry[kSkip] = at::Tensor();
        break;
      }
      case StageKind::ToRGB: {
        out.carry[kFeature] = in.x;
        out.x = modulated(override_layer ? *override_layer : b.torgb, in.x, ws_row(out.carry[kWs], b.torgb.w_index),
                          in.options, 1.0);
        break;
      }
      case StageKind::Image: {
        // The image so far (carried by conv0), up-sampled, plus this block's ToRGB (in.x).
        const at::Tensor& image = out.carry[kImage];
        out.x = upfir(image, 2, pad_up0(), pad_up1()).add_(in.x);
        out.carry[kImage] = at::Tensor();
        break;
      }
      case StageKind::Mapping:
        break;
    }
    return out;
  }

  static at::Tensor lrelu_gain(at::Tensor x, double gain) {
    return at::leaky_relu(x, 0.2).mul_(gain);
  }

  // upfirdn2d with the resampling filter: the separable CPU kernel, or on a GPU the depthwise
  // convolution with the 2-D filter built once at load.
  at::Tensor upfir(const at::Tensor& x, int up, int pad0, int pad1) const {
    if (x.device().is_cpu()) return upfirdn2d(x, taps_fir_, up, pad0, pad1);
    return upfirdn2d_aten(x, x.scalar_type() == fir2d_.scalar_type() ? fir2d_ : fir2d_.to(x.scalar_type()), up, pad0, pad1);
  }

  // upsample2d's padding: [(fw + 1) / 2, (fw - 2) / 2] for up = 2.
  int pad_up0() const { return static_cast<int>((taps_fir_.size() + 1) / 2); }
  int pad_up1() const { return static_cast<int>(taps_fir_.size()) / 2 - 1; }

  at::Tensor ws_row(const at::Tensor& ws, std::int64_t row) const {
    if (!ws.defined()) throw Error("internal: W+ missing from the carried state");
    return ws.select(1, row);
  }

  Dense dense(KeyedWeights& w, const std::string& key, std::int64_t in, std::int64_t out, double lr_multiplier) const {
    Dense d;
    d.weight = w.take(key + ".weight", {out, in}) * (lr_multiplier / std::sqrt(static_cast<double>(in)));
    d.bias = w.take(key + ".bias", {out});
    if (lr_multiplier != 1.0) d.bias = d.bias * lr_multiplier;
    return d;
  }

  ModLayer synthesis_layer(KeyedWeights& w, const std::string& key, std::int64_t in, std::int64_t out,
                           std::int64_t res, bool up, std::int64_t w_index, std::int64_t noise_index) const {
    ModLayer l;
    l.name = key.substr(10);  // without "synthesis."
    l.affine = dense(w, key + ".affine", cfg_.w_dim, in, 1.0);
    l.weight = w.take(key + ".weight", {out, in, 3, 3});
    l.weight_sq = l.weight.square().sum({2, 3});
    l.bias = w.take(key + ".bias", {out});
    if (cfg_.use_noise) {
      l.noise_const = w.take(key + ".noise_const", {res, res});
      l.noise_strength = w.take(key + ".noise_strength", {});
      l.noise_scaled = (l.noise_const * l.noise_strength).view({1, 1, res, res});
    }
    l.up = up;
    l.resolution = res;
    set_phases(l);
    l.w_index = w_index;
    l.noise_index = noise_index;
    return l;
  }

  // ACTMAP_CPU_LAYOUT: nhwc (channels-last for every layer), nchw (never), or auto (default: for
  // the high-resolution layers, up to 256 channels, where oneDNN is faster channels-last);
  // ACTMAP_CPU_KERNELS=aten: LibTorch's NCHW operations only (for comparisons).
  enum class CpuLayout { Auto, Nhwc, Nchw };
  static CpuLayout cpu_layout_from_env() {
    const char* v = std::getenv("ACTMAP_CPU_LAYOUT");
    const std::string layout = v ? v : "auto";
    if (layout == "nhwc") return CpuLayout::Nhwc;
    if (layout == "nchw") return CpuLayout::Nchw;
    if (layout != "auto") throw Error("ACTMAP_CPU_LAYOUT must be auto, nhwc or nchw, got '" + layout + "'");
    return CpuLayout::Auto;
  }

  bool channels_last_layer(const ModLayer& l, const at::Tensor& x) const {
    if (!x.device().is_cpu() || x.scalar_type() != at::kFloat || cpu_layout_ == CpuLayout::Nchw) return false;
    if (l.up && !l.transposed_phases) return false;
    if (cpu_layout_ == CpuLayout::Nhwc) return true;
    if (l.transposed_phases) return l.resolution >= 64 && x.size(1) <= 512;
    return l.resolution >= 128 && x.size(1) <= 256;
  }

  // The transposed convolution's padding and the filter's around it, as conv2d_resample pads for
  // up = 2: the output is exactly twice the input.
  struct UpGeometry {
    std::int64_t pt, p0, p1;
  };
  UpGeometry up_geometry(std::int64_t k) const {
    const auto fw = static_cast<std::int64_t>(taps_fir_.size());
    const std::int64_t p = k / 2;
    const std::int64_t p0 = p + (fw + 2 - 1) / 2 - (k - 1);
    const std::int64_t p1 = p + (fw - 2) / 2 - (k - 2);
    return {std::max<std::int64_t>(std::min(-p0, -p1), 0), p0, p1};
  }

  void set_phases(ModLayer& l) const {
    l.transposed_phases.reset();
    if (!l.up || !l.weight.device().is_cpu()) return;
    const UpGeometry g = up_geometry(l.weight.size(3));
    const auto fw = static_cast<std::int64_t>(taps_fir_.size());
    const bool twice = l.weight.size(3) + g.p0 + g.p1 - fw - 1 == 0;  // output exactly 2R
    if (twice) l.transposed_phases = transposed_phases(l.weight, g.pt);
  }

  // The modulated layer channels-last: x [N, I, H, W] in any layout, result channels-last.
  at::Tensor modulated_nhwc(const ModLayer& l, const at::Tensor& x, const at::Tensor& styles, const LayerFinish& f) const {
    const auto cl = at::MemoryFormat::ChannelsLast;
    const std::int64_t n = x.size(0);
    at::Tensor xin = x.contiguous(cl);
    if (n > 1) xin = (xin * styles.view({n, -1, 1, 1})).contiguous(cl);
    const at::Tensor s1 = styles.view({1, -1, 1, 1});
    if (l.up) {
      const at::Tensor& tp = *l.transposed_phases;
      const at::Tensor w = (n == 1 ? tp * s1 : tp).contiguous(cl);
      const UpGeometry g = up_geometry(l.weight.size(3));
      return fir_finish_nhwc(at::conv2d(xin, w, {}, 1, 1).contiguous(cl), taps_fir_, g.p0 + g.pt, 2 * x.size(2),
                             2 * x.size(3), f);
    }
    const at::Tensor weight = n == 1 ? l.weight * s1 : l.weight;
    at::Tensor y;
    if (weight.size(3) == 1) {  // a matrix product over pixels: [N*H*W, I] x [I, O]
      const at::Tensor rows = xin.permute({0, 2, 3, 1}).reshape({-1, weight.size(1)});
      y = at::matmul(rows, weight.view({weight.size(0), weight.size(1)}).t())
              .view({n, x.size(2), x.size(3), weight.size(0)})
              .permute({0, 3, 1, 2});
    } else {
      y = at::conv2d(xin, weight.contiguous(cl), {}, 1, weight.size(3) / 2).contiguous(cl);
    }
    finish_nhwc_(y, f);
    return y;
  }

  // Noise [N, 1, R, R] for one layer in the options' mode, or undefined for none.
  at::Tensor noise(const ModLayer& l, std::int64_t batch, const SynthesisOptions& o) const {
    if (!l.noise_strength.defined() || o.noise_mode == NoiseMode::None) return {};
    if (o.noise_mode == NoiseMode::Const) return l.noise_scaled;
    // Seeded: the same maps on every machine and device (actmap's portable normal latents).
    std::vector<float> all;
    const LatentSpec spec{l.resolution * l.resolution, LatentDistribution::Normal};
    for (std::int64_t i = 0; i < batch; ++i) {
      const std::uint64_t seed = SplitMix64(o.noise_seed * 0x9E3779B97F4A7C15ULL + static_cast<std::uint64_t>(l.noise_index) * 0x100000001B3ULL +
                                            static_cast<std::uint64_t>(i)).next();
      const std::vector<float> v = latent_from_seed(seed, spec);
      all.insert(all.end(), v.begin(), v.end());
    }
    const at::Tensor n = at::from_blob(all.data(), {batch, 1, l.resolution, l.resolution}, at::kFloat).clone();
    return n.to(l.weight.device()) * l.noise_strength;
  }

  // In one pass over y [N, C, H, W]: y * d + noise + bias, leaky ReLU (0.2), times the gain, clamp
  // (clamp < 0: none), in the official order. d [N, C] or undefined; noise [1 or N, 1, H, W] or
  // undefined.
  static void finish_cpu(at::Tensor& y, const at::Tensor& d, const at::Tensor& noise, const at::Tensor& bias,
                         bool activation, double gain, double clamp) {
    const std::int64_t n = y.size(0), c = y.size(1), hw = y.size(2) * y.size(3);
    const at::Tensor dc = d.defined() ? d.contiguous().to(at::kFloat) : at::Tensor();
    const at::Tensor nc = noise.defined() ? noise.contiguous().to(at::kFloat) : at::Tensor();
    const at::Tensor bc = bias.contiguous().to(at::kFloat);
    float* yp = y.data_ptr<float>();
    const float* dp = dc.defined() ? dc.data_ptr<float>() : nullptr;
    const float* np = nc.defined() ? nc.data_ptr<float>() : nullptr;
    const bool noise_per_sample = nc.defined() && nc.size(0) == n && n > 1;
    const float* bp = bc.data_ptr<float>();
    const float g = static_cast<float>(gain), lim = static_cast<float>(clamp);
    at::parallel_for(0, n * c, 1, [&](std::int64_t begin, std::int64_t end) {
      for (std::int64_t p = begin; p < end; ++p) {
        const std::int64_t s = p / c, ch = p % c;
        float* v = yp + p * hw;
        const float scale = dp ? dp[s * c + ch] : 1.0f, b = bp[ch];
        const float* nn = np ? np + (noise_per_sample ? s * hw : 0) : nullptr;
        for (std::int64_t i = 0; i < hw; ++i) {
          float x = v[i] * scale;
          if (nn) x += nn[i];
          x += b;
          if (activation) x = x >= 0.0f ? x : x * 0.2f;
          x *= g;
          if (lim >= 0.0f) x = std::min(std::max(x, -lim), lim);
          v[i] = x;
        }
      }
    });
  }

  // A convolution (or product) of reduced-precision tensors: native in float16 on CUDA (where cuDNN
  // accumulates in float32); in the CPU's bfloat16 emulation computed in float32 and rounded once,
  // the same (and Debian's LibTorch 1.13 gives conv_transpose2d in bfloat16 a wrong shape).
  template <class Op>
  at::Tensor reduced_op(const at::Tensor& x, const at::Tensor& k, const Op& op) const {
    if (reduced_ == at::kHalf) return op(x, k);
    return op(x.to(at::kFloat), k.to(at::kFloat)).to(reduced_);
  }

  // float32 values rounded to the reduced type (float16 on CUDA), still float32.
  at::Tensor round_reduced(const at::Tensor& x) const { return x.to(reduced_).to(at::kFloat); }

  // The modulated layer of a float16 block (see the top of this file): x float32 holding float16
  // values; the result likewise. `f` without d: this path demodulates its pre-normalised weight.
  at::Tensor modulated_reduced(const ModLayer& l, const at::Tensor& x, at::Tensor styles, const LayerFinish& f) const {
    const at::ScalarType h = reduced_;
    const std::int64_t n = x.size(0);
    at::Tensor weight = l.weight, d;
    if (l.demodulate) {
      const double fan_in = static_cast<double>(weight.size(1) * weight.size(2) * weight.size(3));
      weight = weight * ((1.0 / std::sqrt(fan_in)) / weight.abs().amax({1, 2, 3}, true));
      styles = styles / styles.abs().amax({1}, true);
      d = (at::mm(styles.square(), weight.square().sum({2, 3}).t()) + 1e-8).rsqrt();  // [N, O]
    }
    const at::Tensor& nz = f.noise;
    const bool fused = cfg_.fused_modconv.value_or(n == 1);
    at::Tensor y = x.to(h);
    at::Tensor k = weight;
    if (fused) {  // per sample: [N * O, I, k, k], run as a grouped convolution
      k = weight.unsqueeze(0) * styles.view({n, 1, -1, 1, 1});
      if (d.defined()) k = k * d.view({n, -1, 1, 1, 1});
      k = k.reshape({-1, weight.size(1), weight.size(2), weight.size(3)});
    } else {
      y = y * styles.to(h).view({n, -1, 1, 1});
    }
    k = k.to(h);
    // Fused: one group per sample (the batch folded into the channels); otherwise one group.
    const std::int64_t g = fused ? n : 1, in = weight.size(1), kh = weight.size(2), kw = weight.size(3);
    auto grouped = [&](const at::Tensor& a) { return fused ? a.reshape({1, -1, a.size(2), a.size(3)}) : a; };
    auto ungrouped = [&](const at::Tensor& r) { return fused ? r.reshape({n, -1, r.size(2), r.size(3)}) : r; };
    if (l.up) {
      const auto [pt, p0, p1] = up_geometry(kw);
      y = reduced_op(y, k, [&](const at::Tensor& a, const at::Tensor& b) {
        const at::Tensor t = b.view({g, -1, in, kh, kw}).transpose(1, 2).reshape({g * in, -1, kh, kw});
        return ungrouped(at::conv_transpose2d(grouped(a), t, {}, 2, pt, 0, g));
      });
      y = upfir(y.to(at::kFloat), 1, static_cast<int>(p0 + pt), static_cast<int>(p1 + pt)).to(h);
    } else if (kw == 1) {  // [g, O, I] x [N, I, H*W]
      y = reduced_op(y, k, [&](const at::Tensor& a, const at::Tensor& b) {
        return at::matmul(b.view({g, -1, in}), a.reshape({n, in, -1})).view({n, -1, a.size(2), a.size(3)});
      });
    } else {
      y = reduced_op(y, k, [&](const at::Tensor& a, const at::Tensor& b) {
        return ungrouped(at::conv2d(grouped(a), b, {}, 1, kw / 2, 1, g));
      });
    }
    if (fused) {
      if (nz.defined()) y.add_(nz);
    } else if (d.defined() && nz.defined()) {
      y = at::addcmul(nz.to(h), y, d.to(h).view({n, -1, 1, 1}));
    } else if (d.defined()) {
      y = y * d.to(h).view({n, -1, 1, 1});
    } else if (nz.defined()) {
      y.add_(nz.to(h));
    }
    // bias_act: the bias rounded to float16, the rest in float32, rounded once.
    at::Tensor out = y.to(at::kFloat).add_(f.bias.to(h).to(at::kFloat).view({1, -1, 1, 1}));
    if (f.activation) at::leaky_relu_(out, 0.2);
    if (f.gain != 1.0) out.mul_(f.gain);
    if (f.clamp >= 0) out.clamp_(-f.clamp, f.clamp);
    return round_reduced(out);
  }

  // The modulated convolution with its bias, activation and clamp; `gain` is the block's.
  at::Tensor modulated(const ModLayer& l, const at::Tensor& x, const at::Tensor& w, const SynthesisOptions& o,
                       double gain) const {
    const std::int64_t n = x.size(0);
    at::Tensor styles = at::addmm(l.affine.bias.unsqueeze(0), w, l.affine.weight.t());
    if (l.style_gain != 1.0) styles = styles * l.style_gain;
    const double act_gain = l.activation ? kSqrt2 * gain : gain;
    const double clamp = cfg_.conv_clamp ? *cfg_.conv_clamp * gain : -1.0;
    if (reduced_block(l.resolution)) {
      return modulated_reduced(l, x, std::move(styles), {at::Tensor(), noise(l, n, o), l.bias, l.activation, act_gain, clamp});
    }
    const at::Tensor d = l.demodulate ? (at::mm(styles.square(), l.weight_sq.t()) + 1e-8).rsqrt() : at::Tensor();
    if (channels_last_layer(l, x)) return modulated_nhwc(l, x, styles, {d, noise(l, n, o), l.bias, l.activation, act_gain, clamp});
    // Modulation: batch 1 scales the weight's input channels (cheap), larger batches the input.
    // (NCHW from here: a channels-last input comes from a channels-last layer before this one.)
    const at::Tensor xc = x.device().is_cpu() ? contiguous_nchw(x) : x;
    at::Tensor y = n == 1 ? xc : xc * styles.view({n, -1, 1, 1});
    at::Tensor weight = n == 1 ? l.weight * styles.view({1, -1, 1, 1}) : l.weight;
    // Off the CPU at batch 1, the official fused form: demodulation and the (positive) gain go into
    // the weight too, leaving fewer passes over the output (the CPU does them in one fused pass).
    const bool fold = n == 1 && !x.device().is_cpu();
    if (fold && d.defined()) weight = weight * (d.view({-1, 1, 1, 1}) * act_gain);
    if (fold && !d.defined() && act_gain != 1.0) weight = weight * act_gain;
    if (l.up) {
      // conv2d_resample for up = 2: a transposed convolution with the weight as stored, then the
      // filter with padding chosen so the output is exactly 2R x 2R.
      const auto [pt, p0, p1] = up_geometry(l.weight.size(3));
      if (y.device().is_cpu() && y.scalar_type() == at::kFloat && actmap_kernels_) {
        // The channel-parallel GEMM + col2im kernel (conv_kernels.h): LibTorch's transposed
        // convolution is several times slower at these shapes.
        y = conv_transpose2d_fused(y.contiguous(), pack_conv_transpose(weight.transpose(0, 1), {}, 2, pt, 0), {});
      } else {
        y = at::conv_transpose2d(y, weight.transpose(0, 1), {}, 2, pt);
      }
      y = upfir(y, 1, static_cast<int>(p0 + pt), static_cast<int>(p1 + pt));
    } else if (weight.size(3) == 1) {
      // A 1x1 convolution is a matrix product per sample: [O, I] x [I, H*W] (LibTorch's 1x1
      // convolution with few output channels is far slower than the GEMM).
      const at::Tensor w2 = weight.view({weight.size(0), weight.size(1)});
      y = at::matmul(w2, y.reshape({n, y.size(1), -1})).view({n, weight.size(0), y.size(2), y.size(3)});
    } else {
      y = at::conv2d(y, weight, {}, 1, weight.size(3) / 2);
    }
    const at::Tensor nz = noise(l, n, o);
    if (fold) {  // lrelu(g * a) = g * lrelu(a) for g > 0
      y.add_(l.bias.view({1, -1, 1, 1}), act_gain);
      if (nz.defined()) y.add_(nz, act_gain);
      if (l.activation) at::leaky_relu_(y, 0.2);
      if (clamp >= 0) y.clamp_(-clamp, clamp);
      return y;
    }
    if (y.device().is_cpu() && y.scalar_type() == at::kFloat && y.is_contiguous()) {
      finish_cpu(y, d, nz, l.bias, l.activation, act_gain, clamp);
      return y;
    }
    if (d.defined()) y.mul_(d.view({n, -1, 1, 1}));
    if (nz.defined()) y.add_(nz);
    y.add_(l.bias.view({1, -1, 1, 1}));
    if (l.activation) at::leaky_relu_(y, 0.2);
    if (act_gain != 1.0) y.mul_(act_gain);
    if (clamp >= 0) y.clamp_(-clamp, clamp);
    return y;
  }

  ModelCard card_;
  StyleGAN2Config cfg_;
  std::string device_name_;
  std::vector<TapInfo> taps_;
  std::int64_t num_ws_ = 0;
  std::vector<double> taps_fir_;
  bool actmap_kernels_ = true;  // false: ACTMAP_CPU_KERNELS=aten
  CpuLayout cpu_layout_ = CpuLayout::Auto;
  std::vector<Dense> mapping_;
  Dense embed_;  // conditional models: c -> w_dim features
  at::Tensor w_avg_, const_;
  at::Tensor fir2d_;  // [1, 1, fw, fw] on the device, for upfir off the CPU
  at::ScalarType reduced_ = at::ScalarType::Undefined;  // float16 blocks' type; Undefined: float32 only
  std::vector<Block> blocks_;
  std::vector<StageDef> stages_;
};

}  // namespace

std::shared_ptr<const Generator> make_stylegan2_generator(const ModelCard& card, const std::string& device) {
  if (!card.stylegan2) throw Error(card.name + ": not a stylegan2 card");
  return std::make_shared<StyleGAN2Generator>(card, device);
}

}  // namespace actmap
