// The `stylegan3` family: NVIDIA's alias-free generator (StyleGAN3-T and -R) with the semantics of
// stylegan3's training/networks_stylegan3.py and torch_utils/ops (filtered_lrelu, upfirdn2d,
// bias_act), written from their documented behaviour:
//   mapping   as StyleGAN2's: z / sqrt(mean(z^2) + 1e-8), num_layers fully connected layers (weight
//             gain lr_multiplier / sqrt(in), bias gain lr_multiplier, leaky ReLU 0.2 times sqrt(2)),
//             broadcast to num_ws rows, truncation w_avg + psi (w - w_avg) on rows [0, cutoff)
//   input     SynthesisInput: t = affine(W+ row 0), t /= |t[0:2]|; the transform rotate(t0, t1) @
//             translate(-t2, -t3) @ the user transform (the `transform` buffer, or the session's
//             input transform) turns the stored frequencies and shifts their phases; frequencies
//             past the bandwidth are damped; sin(2 pi (grid . f + phase)) on a size x size grid of
//             pixel centres (affine_grid, align_corners false) scaled by size / (2 rate); then the
//             learned channel mapping (weight / sqrt(C))
//   a layer   SynthesisLayer: styles = affine(W+ row i + 1) (bias init 1); ToRGB multiplies them by
//             1 / sqrt(in * k^2), the others pre-normalise the weight per output channel by its
//             RMS and the styles by their RMS over the whole batch, then demodulate by
//             1 / sqrt(sum (weight * style)^2 + 1e-8); times the input gain 1 / sqrt(magnitude_ema);
//             a convolution with padding k - 1; then the filtered leaky ReLU (filtered_lrelu.h) with
//             the stored up_filter and down_filter, gain sqrt(2) and slope 0.2 (ToRGB: 1 and 1),
//             clamped at conv_clamp
//   output    the last layer times output_scale
// Modulation and demodulation go into the weight (the official fused form): batch 1 is one plain
// convolution, larger batches a grouped one.
#include <cmath>
#include <cstdlib>
#include <set>
#include <string>

#include <c10/core/InferenceMode.h>

#include "actmap/io/error.h"
#include "actmap/io/files.h"
#include "actmap/io/safetensors.h"
#include "actmap/model/generator.h"
#include "model/conv_kernels.h"
#include "model/filtered_lrelu.h"
#include "model/generator_registry.h"
#include "model/style_latents.h"
#include "model/torch_util.h"
#include "model/winograd.h"

namespace actmap {
namespace {

const double kSqrt2 = std::sqrt(2.0);

// The weights file's tensors by official key, checked for shape; keys nobody asked for are reported.
class StateDict {
 public:
  StateDict(std::map<std::string, FloatTensor> tensors, std::string file, c10::Device device)
      : tensors_(std::move(tensors)), file_(std::move(file)), device_(device) {}

  at::Tensor take(const std::string& key, const std::vector<std::int64_t>& shape, const std::string& why = "") {
    const auto it = tensors_.find(key);
    if (it == tensors_.end()) {
      std::string near;
      const std::string prefix = key.substr(0, key.rfind('.') + 1);
      int n = 0;
      for (auto k = tensors_.lower_bound(prefix); k != tensors_.end() && k->first.rfind(prefix, 0) == 0 && n < 6; ++k, ++n) {
        near += (near.empty() ? "" : ", ") + k->first;
      }
      throw Error(file_ + ": missing key '" + key + "' (expected shape " + shape_string(shape) + why + ")" +
                  (near.empty() ? "" : "; keys under '" + prefix + "': " + near));
    }
    if (it->second.shape != shape) {
      throw Error(file_ + ": key '" + key + "': expected shape " + shape_string(shape) + why + ", got " +
                  shape_string(it->second.shape) + " (does the card's config match these weights?)");
    }
    used_.insert(key);
    FloatTensor& t = it->second;
    return at::from_blob(t.data.data(), t.shape, at::kFloat).clone().to(device_);
  }

  void check_all_used() const {
    std::vector<std::string> unexpected;
    for (const auto& [key, t] : tensors_) {
      if (!used_.count(key)) unexpected.push_back(key);
    }
    if (unexpected.empty()) return;
    std::string list;
    for (std::size_t i = 0; i < unexpected.size() && i < 8; ++i) list += (i ? ", '" : "'") + unexpected[i] + "'";
    if (unexpected.size() > 8) list += ", ... (" + std::to_string(unexpected.size()) + " in all)";
    throw Error(file_ + ": unexpected key" + (unexpected.size() > 1 ? "s " : " ") + list +
                " not used by the StyleGAN3 generator the card describes (does its config match?)");
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

struct InputLayer {
  StyleGAN3Input spec;
  Dense affine;                 // W -> (r_c, r_s, t_x, t_y)
  at::Tensor weight;            // [C, C] as stored (the rewritable kernel)
  at::Tensor transform;         // [3, 3], the stored user transform
  at::Tensor freqs, phases;     // [C, 2], [C]
  at::Tensor grid_x, grid_y;    // [1, 1, 1, S], [1, 1, S, 1]: pixel centres in the input's units
};

struct SynthesisLayer {
  StyleGAN3Layer spec;
  Dense affine;               // W -> styles [in]
  at::Tensor weight;          // [O, I, k, k] as stored (the rewritable kernel)
  at::Tensor weight_normed;   // demodulating layers: pre-normalised per output channel; ToRGB: weight
  at::Tensor weight_sq;       // [O, I]: sum over the kernel of weight_normed^2, for demodulation
  at::Tensor bias;            // [O]
  double input_gain = 1.0;    // 1 / sqrt(magnitude_ema)
  FilteredLRelu act;
};

enum class StageKind { Mapping, Input, Layer, Output };

class StyleGAN3Generator final : public Generator {
 public:
  StyleGAN3Generator(ModelCard card, const std::string& device)
      : card_(std::move(card)), cfg_(*card_.stylegan3), device_name_(device) {
    const c10::Device dev = parse_device(device);
    const std::string path = resolve_weights_path(card_);
    const std::vector<std::uint8_t> bytes = read_file_bytes(path);
    card_.check_weights_sha256(sha256_hex(bytes.data(), bytes.size()), path);
    StateDict weights(parse_safetensors(bytes.data(), bytes.size(), path), path, dev);
    taps_ = stylegan3_taps(cfg_);
    num_ws_ = cfg_.num_ws();
    fast_cpu_ = use_actmap_cpu_kernels();
    winograd_ = winograd_from_env();

    for (std::int64_t i = 0; i < cfg_.mapping_layers; ++i) {
      const std::int64_t in = i == 0 ? cfg_.z_dim : cfg_.w_dim;
      mapping_.push_back(dense(weights, "mapping.fc" + std::to_string(i), in, cfg_.w_dim, cfg_.mapping_lr_multiplier));
    }
    w_avg_ = weights.take("mapping.w_avg", {cfg_.w_dim});

    InputLayer& in = input_;
    in.spec = cfg_.input();
    const std::int64_t c0 = in.spec.channels, size = in.spec.size;
    in.affine = dense(weights, "synthesis.input.affine", cfg_.w_dim, 4, 1.0);
    in.weight = weights.take("synthesis.input.weight", {c0, c0});
    in.transform = weights.take("synthesis.input.transform", {3, 3});
    in.freqs = weights.take("synthesis.input.freqs", {c0, 2});
    in.phases = weights.take("synthesis.input.phases", {c0});
    std::vector<double> coords;
    for (std::int64_t j = 0; j < size; ++j) {
      coords.push_back((static_cast<double>(2 * j + 1) / static_cast<double>(size) - 1.0) * 0.5 *
                       static_cast<double>(size) / in.spec.sampling_rate);
    }
    const at::Tensor g = at::tensor(coords, at::kDouble).to(at::kFloat).to(dev);
    in.grid_x = g.view({1, 1, 1, size});
    in.grid_y = g.view({1, 1, size, 1});

    for (const StyleGAN3Layer& spec : cfg_.layers()) {
      SynthesisLayer l;
      l.spec = spec;
      const std::string key = "synthesis." + spec.name;
      l.affine = dense(weights, key + ".affine", cfg_.w_dim, spec.in_channels, 1.0);
      l.weight = weights.take(key + ".weight", {spec.out_channels, spec.in_channels, spec.kernel, spec.kernel});
      l.bias = weights.take(key + ".bias", {spec.out_channels});
      const at::Tensor ema = weights.take(key + ".magnitude_ema", {});
      l.input_gain = ema.rsqrt().item<double>();
      if (spec.up_taps > 1) {
        l.act.up_filter = FirFilter::from_tensor(weights.take(key + ".up_filter", {spec.up_taps}, " for up-sampling by " + std::to_string(spec.up)));
      }
      if (spec.down_taps > 1) {
        const std::vector<std::int64_t> shape = spec.radial ? std::vector<std::int64_t>{spec.down_taps, spec.down_taps}
                                                            : std::vector<std::int64_t>{spec.down_taps};
        l.act.down_filter = FirFilter::from_tensor(weights.take(
            key + ".down_filter", shape, spec.radial ? ": a radial filter (use_radial_filters)" : ": a separable filter"));
      }
      l.act.up = spec.up;
      l.act.down = spec.down;
      l.act.pad0 = spec.pad0;
      l.act.pad1 = spec.pad1;
      l.act.gain = spec.torgb ? 1.0 : kSqrt2;
      l.act.slope = spec.torgb ? 1.0 : 0.2;
      l.act.clamp = cfg_.conv_clamp ? *cfg_.conv_clamp : -1.0;
      normalise(l);
      layers_.push_back(std::move(l));
    }
    weights.check_all_used();

    stages_.push_back({StageKind::Mapping, 0});
    stages_.push_back({StageKind::Input, 0});
    for (std::size_t i = 0; i < layers_.size(); ++i) stages_.push_back({StageKind::Layer, i});
    stages_.push_back({StageKind::Output, 0});
    if (stages_.size() != taps_.size()) throw Error("internal: StyleGAN3 stages and taps disagree");
  }

  const ModelCard& card() const override { return card_; }
  StyleLatentShape latent_shape() const { return {card_.name, cfg_.z_dim, num_ws_, cfg_.w_dim}; }
  const std::vector<TapInfo>& taps() const override { return taps_; }
  const std::string& device() const override { return device_name_; }

  TapState prepare(const at::Tensor& latent, const SynthesisOptions& options) const override {
    check_style_latent(latent_shape(), latent, options);
    return TapState{latent.to(at::kFloat), {}, options};
  }

  at::Tensor map_latents(const at::Tensor& z, const SynthesisOptions& options) const override {
    c10::InferenceMode guard;
    check_style_z(latent_shape(), z);
    at::Tensor x = normalize_2nd_moment(z.to(at::kFloat));
    for (const Dense& fc : mapping_) x = at::leaky_relu(at::addmm(fc.bias.unsqueeze(0), x, fc.weight.t()), 0.2).mul_(kSqrt2);
    return broadcast_and_truncate(x, w_avg_, options, num_ws_);
  }

  at::Tensor w_average() const override { return w_avg_; }

  TapState run_stage(std::size_t index, const TapState& in) const override { return run(index, in, nullptr, nullptr); }

  // The input's channel mapping ([C, C]) and every layer's kernels ([O, I, k, k]).
  bool has_rewritable_kernel(std::size_t index) const override {
    return index < stages_.size() && (stages_[index].kind == StageKind::Input || stages_[index].kind == StageKind::Layer);
  }

  TapState run_stage_rewritten(std::size_t index, const TapState& in, const KernelRewrite& rewrite) const override {
    if (!has_rewritable_kernel(index)) return Generator::run_stage_rewritten(index, in, rewrite);  // throws
    if (stages_[index].kind == StageKind::Input) {
      const at::Tensor weight = rewrite(input_.weight, 0);
      return run(index, in, nullptr, &weight);
    }
    SynthesisLayer edited = layers_[stages_[index].index];
    edited.weight = rewrite(edited.weight, 0);
    normalise(edited);
    return run(index, in, &edited, nullptr);
  }

 private:
  struct StageDef {
    StageKind kind;
    std::size_t index;
  };

  TapState run(std::size_t index, const TapState& in, const SynthesisLayer* layer_override,
               const at::Tensor* input_weight_override) const {
    if (index >= stages_.size()) throw Error("stage " + std::to_string(index) + " out of range");
    c10::InferenceMode guard;
    const StageDef& st = stages_[index];
    TapState out;
    out.options = in.options;
    switch (st.kind) {
      case StageKind::Mapping: {
        const at::Tensor ws = in.x.dim() == 3 ? in.x : map_latents(in.x, in.options);
        out.x = ws.view({ws.size(0), num_ws_, 1, cfg_.w_dim});
        return out;
      }
      case StageKind::Input: {
        // In: the mapping tap (W+, edited); it travels on as the carried state.
        const at::Tensor ws = in.x.reshape({in.x.size(0), num_ws_, cfg_.w_dim});
        out.carry = {ws};
        out.x = synthesis_input(ws.select(1, 0), in.options, input_weight_override ? *input_weight_override : input_.weight);
        return out;
      }
      case StageKind::Layer: {
        out.carry = in.carry;
        if (out.carry.empty() || !out.carry[0].defined()) throw Error("internal: W+ missing from the carried state");
        const SynthesisLayer& l = layer_override ? *layer_override : layers_[st.index];
        out.x = synthesis_layer(l, in.x, out.carry[0].select(1, static_cast<std::int64_t>(st.index) + 1));
        return out;
      }
      case StageKind::Output:
        out.carry = in.carry;
        out.x = cfg_.output_scale == 1.0 ? in.x : in.x * cfg_.output_scale;
        return out;
    }
    return out;
  }

  // The user transform: the session's (gen_images.py's make_transform, inverted) or the stored one.
  at::Tensor user_transform(const SynthesisOptions& o) const {
    if (!o.has_input_transform()) return input_.transform;
    const std::vector<double> m = stylegan3_input_transform(o.input_rotate, o.input_translate[0], o.input_translate[1]);
    return at::tensor(m, at::kDouble).view({3, 3}).to(input_.transform.options());
  }

  at::Tensor synthesis_input(const at::Tensor& w, const SynthesisOptions& o, const at::Tensor& weight) const {
    const InputLayer& in = input_;
    const std::int64_t n = w.size(0), c = in.spec.channels, size = in.spec.size;
    at::Tensor t = at::addmm(in.affine.bias.unsqueeze(0), w, in.affine.weight.t());  // (r_c, r_s, t_x, t_y)
    t = t / t.narrow(1, 0, 2).norm(2, {1}, true);
    const at::Tensor rc = t.select(1, 0), rs = t.select(1, 1), tx = t.select(1, 2), ty = t.select(1, 3);
    const at::Tensor zero = at::zeros_like(rc), one = at::ones_like(rc);
    // Inverse rotation and translation with respect to the image, then the user's transform.
    const at::Tensor m_r = at::stack({rc, -rs, zero, rs, rc, zero, zero, zero, one}, 1).view({n, 3, 3});
    const at::Tensor m_t = at::stack({one, zero, -tx, zero, one, -ty, zero, zero, one}, 1).view({n, 3, 3});
    const at::Tensor m = at::matmul(at::bmm(m_r, m_t), user_transform(o));
    const at::Tensor f0 = in.freqs.unsqueeze(0);                                          // [1, C, 2]
    const at::Tensor phases = in.phases.unsqueeze(0) + at::matmul(f0, m.narrow(1, 0, 2).narrow(2, 2, 1)).squeeze(2);
    const at::Tensor freqs = at::matmul(f0, m.narrow(1, 0, 2).narrow(2, 0, 2));          // [N, C, 2]
    const double band = in.spec.bandwidth, rate = in.spec.sampling_rate;
    const at::Tensor amp = (1 - (freqs.norm(2, {2}) - band) / (rate / 2 - band)).clamp(0, 1);
    const at::Tensor fx = freqs.select(2, 0).view({n, c, 1, 1}), fy = freqs.select(2, 1).view({n, c, 1, 1});
    at::Tensor x = fx * in.grid_x + fy * in.grid_y + phases.view({n, c, 1, 1});
    x = at::sin(x * (2 * M_PI)) * amp.view({n, c, 1, 1});
    const at::Tensor mapped = weight * (1.0 / std::sqrt(static_cast<double>(c)));
    return at::matmul(mapped, x.view({n, c, size * size})).view({n, c, size, size});
  }

  at::Tensor synthesis_layer(const SynthesisLayer& l, const at::Tensor& x, const at::Tensor& w) const {
    const std::int64_t n = x.size(0), o = l.spec.out_channels, i = l.spec.in_channels, k = l.spec.kernel;
    at::Tensor styles = at::addmm(l.affine.bias.unsqueeze(0), w, l.affine.weight.t());  // [N, I]
    at::Tensor d;  // [N, O] demodulation
    if (l.spec.torgb) {
      styles = styles * (1.0 / std::sqrt(static_cast<double>(i * k * k)));
    } else {
      styles = styles * styles.square().mean().rsqrt();  // over the whole batch, as the official code
      d = (at::mm(styles.square(), l.weight_sq.t()) + 1e-8).rsqrt();
    }
    const at::Tensor s = styles * l.input_gain;
    at::Tensor y;
    // On the CPU: 3x3 kernels by Winograd's F(4x4, 3x3) from 64x64 outputs on (smaller maps have too
    // few tiles for its matrix products to pay), 1x1 kernels as matrix products split over the
    // threads, one sample at a time (winograd.h).
    const bool winograd = k == 3 && (winograd_ == Winograd::Always ||
                                     (winograd_ == Winograd::Auto && (x.size(2) + 2) * (x.size(3) + 2) >= 64 * 64));
    if (fast_cpu_ && x.device().is_cpu() && x.scalar_type() == at::kFloat && (k == 1 || winograd)) {
      std::vector<at::Tensor> outs;
      for (std::int64_t b = 0; b < n; ++b) {
        at::Tensor wf = l.weight_normed * s.select(0, b).view({1, i, 1, 1});
        if (d.defined()) wf = wf * d.select(0, b).view({o, 1, 1, 1});
        const at::Tensor xb = x.narrow(0, b, 1);
        outs.push_back(k == 1 ? parallel_matmul(wf.view({o, i}), xb.reshape({i, -1})).view({1, o, x.size(2), x.size(3)})
                              : conv3x3_winograd(xb, wf, k - 1));
      }
      y = n == 1 ? outs.front() : at::cat(outs, 0);
    } else if (n == 1) {
      at::Tensor wf = l.weight_normed * s.view({1, i, 1, 1});
      if (d.defined()) wf = wf * d.view({o, 1, 1, 1});
      if (k == 1) {  // a matrix product: [O, I] x [I, H W]
        y = at::matmul(wf.view({o, i}), x.reshape({i, -1})).view({1, o, x.size(2), x.size(3)});
      } else {
        y = at::conv2d(x, wf, {}, 1, k - 1);
      }
    } else {
      at::Tensor wf = l.weight_normed.unsqueeze(0) * s.view({n, 1, i, 1, 1});
      if (d.defined()) wf = wf * d.view({n, o, 1, 1, 1});
      if (k == 1) {
        y = at::bmm(wf.view({n, o, i}), x.reshape({n, i, -1})).view({n, o, x.size(2), x.size(3)});
      } else {
        y = at::conv2d(x.reshape({1, n * i, x.size(2), x.size(3)}), wf.view({n * o, i, k, k}), {}, 1, k - 1, 1, n);
        y = y.view({n, o, y.size(2), y.size(3)});
      }
    }
    return fast_cpu_ ? filtered_lrelu(y, l.bias, l.act) : filtered_lrelu_aten(y, l.bias, l.act);
  }

  // modulated_conv2d's weight pre-normalisation (demodulating layers): each output channel's
  // kernel divided by its RMS. An all-zero kernel (a weight edit) stays zero rather than NaN.
  static void normalise(SynthesisLayer& l) {
    if (l.spec.torgb) {
      l.weight_normed = l.weight;
    } else {
      const at::Tensor ms = l.weight.square().mean({1, 2, 3}, true);
      l.weight_normed = l.weight * at::where(ms > 0, ms.rsqrt(), at::zeros_like(ms));
    }
    l.weight_sq = l.weight_normed.square().sum({2, 3});
  }

  // ACTMAP_CPU_WINOGRAD: auto (default: from 64x64 outputs on), always, or never (oneDNN's direct
  // convolution everywhere), for comparisons.
  enum class Winograd { Auto, Always, Never };
  static Winograd winograd_from_env() {
    const char* v = std::getenv("ACTMAP_CPU_WINOGRAD");
    const std::string mode = v ? v : "auto";
    if (mode == "always") return Winograd::Always;
    if (mode == "never") return Winograd::Never;
    if (mode != "auto") throw Error("ACTMAP_CPU_WINOGRAD must be auto, always or never, got '" + mode + "'");
    return Winograd::Auto;
  }

  Dense dense(StateDict& w, const std::string& key, std::int64_t in, std::int64_t out, double lr_multiplier) const {
    Dense d;
    d.weight = w.take(key + ".weight", {out, in}) * (lr_multiplier / std::sqrt(static_cast<double>(in)));
    d.bias = w.take(key + ".bias", {out});
    if (lr_multiplier != 1.0) d.bias = d.bias * lr_multiplier;
    return d;
  }

  ModelCard card_;
  StyleGAN3Config cfg_;
  std::string device_name_;
  std::vector<TapInfo> taps_;
  std::int64_t num_ws_ = 0;
  bool fast_cpu_ = true;  // false: ACTMAP_CPU_KERNELS=aten (LibTorch operations only)
  Winograd winograd_ = Winograd::Auto;
  std::vector<Dense> mapping_;
  at::Tensor w_avg_;
  InputLayer input_;
  std::vector<SynthesisLayer> layers_;
  std::vector<StageDef> stages_;
};

}  // namespace

std::shared_ptr<const Generator> make_stylegan3_generator(const ModelCard& card, const std::string& device) {
  if (!card.stylegan3) throw Error(card.name + ": not a stylegan3 card");
  return std::make_shared<StyleGAN3Generator>(card, device);
}

}  // namespace actmap
