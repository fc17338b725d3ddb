// The `dcgan` and `sequential` families: a list of layers, split at the taps into stages.
#include <set>

#include <c10/core/InferenceMode.h>

#include "actmap/io/error.h"
#include "actmap/io/files.h"
#include "actmap/io/safetensors.h"
#include "actmap/model/generator.h"
#include "model/conv_kernels.h"
#include "model/generator_registry.h"
#include "model/torch_util.h"

namespace actmap {
namespace {

// A layer ready to run: weights on the device, eval-mode batch norm folded where possible.
struct RunLayer {
  LayerType type = LayerType::ReLU;
  at::Tensor weight, bias;  // conv / linear; for an unfolded batch norm: per-channel scale, shift
  std::int64_t stride = 1, padding = 0, output_padding = 0;
  double slope = 0.01;
  std::vector<std::int64_t> shape;
  PackedConvTranspose packed;  // CPU: the channel-parallel kernel (conv_kernels.h)
  FusedActivation fused;       // activation folded into `packed`
};

// Fetches weight tensors by key, checking shapes, and remembers which keys were used.
class WeightTable {
 public:
  WeightTable(std::map<std::string, FloatTensor> tensors, std::string file)
      : tensors_(std::move(tensors)), file_(std::move(file)) {}

  at::Tensor take(const std::string& key, const std::vector<std::int64_t>& expected, const LayerSpec& layer) {
    const std::string what = std::string(layer_type_name(layer.type)) + " '" + layer.name + "'";
    const auto it = tensors_.find(key);
    if (it == tensors_.end()) {
      std::string msg = file_ + ": missing key '" + key + "' (" + what + " expects shape " +
                        shape_string(expected) + ")";
      const std::string near = keys_with_prefix(layer.weights);
      msg += near.empty() ? "; no keys start with '" + layer.weights + ".'" : "; keys under '" + layer.weights + ".': " + near;
      throw Error(msg);
    }
    if (it->second.shape != expected) {
      throw Error(file_ + ": key '" + key + "': expected shape " + shape_string(expected) + " for " + what +
                  ", got " + shape_string(it->second.shape));
    }
    used_.insert(key);
    FloatTensor& t = it->second;
    return at::from_blob(t.data.data(), t.shape, at::kFloat).clone();
  }

  // Keys nobody took mean the card and the file disagree; batch-norm step counters are fine.
  void check_all_used(const std::set<std::string>& batch_norm_prefixes) const {
    std::vector<std::string> unexpected;
    for (const auto& [key, t] : tensors_) {
      if (used_.count(key)) continue;
      const auto dot = key.rfind('.');
      if (dot != std::string::npos && key.substr(dot + 1) == "num_batches_tracked" &&
          batch_norm_prefixes.count(key.substr(0, dot))) {
        continue;
      }
      unexpected.push_back(key);
    }
    if (unexpected.empty()) return;
    std::string list;
    for (std::size_t i = 0; i < unexpected.size() && i < 8; ++i) list += (i ? ", '" : "'") + unexpected[i] + "'";
    if (unexpected.size() > 8) list += ", ... (" + std::to_string(unexpected.size()) + " in all)";
    throw Error(file_ + ": unexpected key" + (unexpected.size() > 1 ? "s " : " ") + list +
                " not used by any layer of the card (does the card describe this model?)");
  }

 private:
  std::string keys_with_prefix(const std::string& prefix) const {
    std::string out;
    int n = 0;
    for (auto it = tensors_.lower_bound(prefix + "."); it != tensors_.end() && it->first.rfind(prefix + ".", 0) == 0; ++it) {
      if (n++ < 6) out += (out.empty() ? "" : ", ") + it->first + " " + shape_string(it->second.shape);
    }
    return out;
  }

  std::map<std::string, FloatTensor> tensors_;
  std::string file_;
  std::set<std::string> used_;
};

class SequentialGenerator final : public Generator {
 public:
  SequentialGenerator(ModelCard card, const std::string& device) : card_(std::move(card)), device_name_(device) {
    const c10::Device dev = parse_device(device);
    const std::vector<Stage> plan = plan_stages(card_);
    const std::string path = resolve_weights_path(card_);
    const std::vector<std::uint8_t> bytes = read_file_bytes(path);
    card_.check_weights_sha256(sha256_hex(bytes.data(), bytes.size()), path);
    WeightTable weights(parse_safetensors(bytes.data(), bytes.size(), path), path);

    std::set<std::string> bn_prefixes;
    for (const Stage& s : plan) {
      taps_.push_back(s.tap);
      std::vector<RunLayer> stage;
      for (std::size_t i = s.first_layer; i < s.end_layer; ++i) {
        const LayerSpec& l = card_.layers[i];
        RunLayer r;
        r.type = l.type;
        r.stride = l.stride;
        r.padding = l.padding;
        r.output_padding = l.output_padding;
        r.slope = l.slope;
        r.shape = l.shape;
        switch (l.type) {
          case LayerType::Linear:
            r.weight = weights.take(l.weights + ".weight", {l.out, l.in}, l);
            if (l.bias) r.bias = weights.take(l.weights + ".bias", {l.out}, l);
            break;
          case LayerType::Conv2d:
            r.weight = weights.take(l.weights + ".weight", {l.out, l.in, l.kernel, l.kernel}, l);
            if (l.bias) r.bias = weights.take(l.weights + ".bias", {l.out}, l);
            break;
          case LayerType::ConvTranspose2d:
            r.weight = weights.take(l.weights + ".weight", {l.in, l.out, l.kernel, l.kernel}, l);
            if (l.bias) r.bias = weights.take(l.weights + ".bias", {l.out}, l);
            break;
          case LayerType::BatchNorm2d: {
            bn_prefixes.insert(l.weights);
            const at::Tensor gamma = weights.take(l.weights + ".weight", {l.in}, l);
            const at::Tensor beta = weights.take(l.weights + ".bias", {l.in}, l);
            const at::Tensor mean = weights.take(l.weights + ".running_mean", {l.in}, l);
            const at::Tensor var = weights.take(l.weights + ".running_var", {l.in}, l);
            // Computed in double so folding adds no error beyond the final rounding to float.
            const at::Tensor scale = gamma.to(at::kDouble) / (var.to(at::kDouble) + l.eps).sqrt();
            const at::Tensor shift = beta.to(at::kDouble) - mean.to(at::kDouble) * scale;
            if (!stage.empty() && fold_batch_norm(stage.back(), scale, shift)) continue;
            r.weight = scale.to(at::kFloat);
            r.bias = shift.to(at::kFloat);
            break;
          }
          default:
            break;
        }
        stage.push_back(std::move(r));
      }
      for (RunLayer& r : stage) {
        if (r.weight.defined()) r.weight = r.weight.to(dev).contiguous();
        if (r.bias.defined()) r.bias = r.bias.to(dev).contiguous();
      }
      plain_stages_.push_back(stage);  // for weight edits: LibTorch's ops on an edited copy
      if (dev.is_cpu() && use_actmap_cpu_kernels()) fuse_for_cpu(stage);
      stages_.push_back(std::move(stage));
    }
    weights.check_all_used(bn_prefixes);
  }

  const ModelCard& card() const override { return card_; }
  const std::vector<TapInfo>& taps() const override { return taps_; }
  const std::string& device() const override { return device_name_; }

  TapState prepare(const at::Tensor& z, const SynthesisOptions& options) const override {
    if (z.dim() != 2 || z.size(1) != card_.latent.size) {
      throw Error(card_.name + ": latents must be [N, " + std::to_string(card_.latent.size) + "], got " +
                  shape_string(z.sizes()));
    }
    return TapState{z, {}, options};
  }

  TapState run_stage(std::size_t index, const TapState& in) const override {
    if (index >= stages_.size()) throw Error("stage " + std::to_string(index) + " out of range");
    return run_layers(stages_[index], in);
  }

  bool has_rewritable_kernel(std::size_t index) const override { return kernel_layer(index) >= 0; }

  TapState run_stage_rewritten(std::size_t index, const TapState& in, const KernelRewrite& rewrite) const override {
    const int k = kernel_layer(index);
    if (k < 0) return Generator::run_stage_rewritten(index, in, rewrite);  // throws: no weights here
    std::vector<RunLayer> stage = plain_stages_[index];
    RunLayer& layer = stage[static_cast<std::size_t>(k)];
    layer.weight = rewrite(layer.weight, layer.type == LayerType::ConvTranspose2d ? 1 : 0);
    return run_layers(stage, in);
  }

 private:
  // The last layer with weights before tap `index` (the one producing it), -1 when there is none.
  int kernel_layer(std::size_t index) const {
    if (index >= plain_stages_.size()) return -1;
    const std::vector<RunLayer>& stage = plain_stages_[index];
    for (std::size_t i = stage.size(); i-- > 0;) {
      const LayerType t = stage[i].type;
      if (t == LayerType::Conv2d || t == LayerType::ConvTranspose2d || t == LayerType::Linear) return static_cast<int>(i);
    }
    return -1;
  }

  TapState run_layers(const std::vector<RunLayer>& layers, const TapState& in) const {
    c10::InferenceMode guard;
    at::Tensor x = in.x;
    bool owned = false;  // in-place activations only on tensors this stage created
    for (const RunLayer& r : layers) {
      switch (r.type) {
        case LayerType::Linear:
          x = at::linear(x.dim() == 2 ? x : x.flatten(1), r.weight, r.bias);
          owned = true;
          break;
        case LayerType::Conv2d:
          if (x.dim() == 2) x = x.view({x.size(0), x.size(1), 1, 1});
          x = at::conv2d(x, r.weight, r.bias, r.stride, r.padding);
          owned = true;
          break;
        case LayerType::ConvTranspose2d:
          if (x.dim() == 2) x = x.view({x.size(0), x.size(1), 1, 1});
          x = r.packed.wt.defined() ? conv_transpose2d_fused(x.contiguous(), r.packed, r.fused)
                                    : at::conv_transpose2d(x, r.weight, r.bias, r.stride, r.padding, r.output_padding);
          owned = true;
          break;
        case LayerType::BatchNorm2d:  // not folded: a tap sits between it and its convolution
          x = at::addcmul(r.bias.view({1, -1, 1, 1}), x, r.weight.view({1, -1, 1, 1}));
          owned = true;
          break;
        case LayerType::Reshape: {
          std::vector<std::int64_t> s = {x.size(0)};
          s.insert(s.end(), r.shape.begin(), r.shape.end());
          x = x.reshape(s);
          break;
        }
        case LayerType::ReLU:
          x = owned ? at::relu_(x) : at::relu(x);
          break;
        case LayerType::LeakyReLU:
          x = owned ? at::leaky_relu_(x, r.slope) : at::leaky_relu(x, r.slope);
          break;
        case LayerType::SiLU:
          x = owned ? at::silu_(x) : at::silu(x);
          break;
        case LayerType::Tanh:
          x = owned ? at::tanh_(x) : at::tanh(x);
          break;
        case LayerType::Sigmoid:
          x = owned ? at::sigmoid_(x) : at::sigmoid(x);
          break;
      }
    }
    if (x.dim() == 2) x = x.view({x.size(0), x.size(1), 1, 1});  // a flat tap is [C, 1, 1]
    return TapState{x, {}, in.options};
  }

  // Transposed convolutions switch to the channel-parallel kernel, taking the activation that
  // follows them (no tap can sit between: they are in the same stage).
  static void fuse_for_cpu(std::vector<RunLayer>& stage) {
    for (std::size_t i = 0; i < stage.size(); ++i) {
      RunLayer& r = stage[i];
      if (r.type != LayerType::ConvTranspose2d) continue;
      r.packed = pack_conv_transpose(r.weight, r.bias, r.stride, r.padding, r.output_padding);
      r.weight = r.bias = at::Tensor();
      if (i + 1 < stage.size() && is_activation(stage[i + 1].type)) {
        r.fused = FusedActivation{stage[i + 1].type, stage[i + 1].slope};
        stage.erase(stage.begin() + static_cast<std::ptrdiff_t>(i) + 1);
      }
      use_single_threaded_blas();
    }
  }

  // y = scale * conv(x) + shift  ==  conv'(x) with scaled weights and a new bias.
  static bool fold_batch_norm(RunLayer& conv, const at::Tensor& scale, const at::Tensor& shift) {
    if (conv.type != LayerType::Conv2d && conv.type != LayerType::ConvTranspose2d) return false;
    const std::int64_t out = scale.size(0);
    const at::Tensor w = conv.weight.to(at::kDouble);
    const at::Tensor s = conv.type == LayerType::Conv2d ? scale.view({out, 1, 1, 1}) : scale.view({1, out, 1, 1});
    const at::Tensor b = conv.bias.defined() ? conv.bias.to(at::kDouble) : at::zeros({out}, at::kDouble);
    conv.weight = (w * s).to(at::kFloat);
    conv.bias = (b * scale + shift).to(at::kFloat);
    return true;
  }

  ModelCard card_;
  std::string device_name_;
  std::vector<TapInfo> taps_;
  std::vector<std::vector<RunLayer>> stages_;
  std::vector<std::vector<RunLayer>> plain_stages_;  // before CPU fusion: what weight edits run on
};

}  // namespace

std::shared_ptr<const Generator> make_sequential_generator(const ModelCard& card, const std::string& device) {
  return std::make_shared<SequentialGenerator>(card, device);
}

}  // namespace actmap
