#include "actmap/model/generator.h"

#include <c10/core/InferenceMode.h>

#include "actmap/io/error.h"
#include "actmap/model/latent.h"
#include "model/generator_registry.h"
#include "model/torch_util.h"

namespace actmap {

std::string shape_string(at::IntArrayRef shape) { return shape_string(shape.vec()); }

std::string torch_error_text(const c10::Error& e) {
  const std::string what = e.what_without_backtrace();
  return what.substr(0, what.find('\n'));
}

std::size_t Generator::tap_index(const std::string& name) const {
  const auto& t = taps();
  for (std::size_t i = 0; i < t.size(); ++i) {
    if (t[i].name == name) return i;
  }
  std::string known;
  for (const auto& tap : t) known += (known.empty() ? "" : ", ") + tap.name;
  throw Error("no tap named '" + name + "' in model " + card().name + " (taps: " + known + ")");
}

bool Generator::has_rewritable_kernel(std::size_t) const { return false; }

TapState Generator::run_stage_rewritten(std::size_t index, const TapState&, const KernelRewrite&) const {
  const std::string tap = index < taps().size() ? taps()[index].name : std::to_string(index);
  throw Error("tap '" + tap + "' of model " + card().name + " is not produced by a layer with weights");
}

at::Tensor Generator::map_latents(const at::Tensor&, const SynthesisOptions&) const {
  throw Error("model " + card().name + " (" + card().family + ") has no mapping network; W+ edits need a StyleGAN2 or StyleGAN3 model");
}

at::Tensor Generator::w_average() const {
  throw Error("model " + card().name + " (" + card().family + ") has no average W; W+ edits need a StyleGAN2 or StyleGAN3 model");
}

at::Tensor Generator::forward(const at::Tensor& z, const SynthesisOptions& options) const {
  c10::InferenceMode guard;
  TapState s = prepare(z, options);
  for (std::size_t i = 0; i < taps().size(); ++i) s = run_stage(i, s);
  return s.x;
}

std::shared_ptr<const Generator> load_generator(const ModelCard& card, const std::string& device) {
  try {
    if (card.family == "dcgan" || card.family == "sequential") return make_sequential_generator(card, device);
    if (card.family == "stylegan2") return make_stylegan2_generator(card, device);
    if (card.family == "stylegan3") return make_stylegan3_generator(card, device);
  } catch (const c10::Error& e) {
    throw Error((card.path.empty() ? card.name : card.path) + ": " + torch_error_text(e));
  }
  throw Error((card.path.empty() ? card.name : card.path) + ": unsupported family '" + card.family + "'");
}

at::Tensor latents_from_seeds(const LatentSpec& spec, std::uint64_t first_seed, int count, const std::string& device) {
  if (count < 1) throw Error("latent count must be at least 1, got " + std::to_string(count));
  std::vector<float> all;
  for (int i = 0; i < count; ++i) {
    const auto z = latent_from_seed(first_seed + static_cast<std::uint64_t>(i), spec);
    all.insert(all.end(), z.begin(), z.end());
  }
  return at::from_blob(all.data(), {count, spec.size}, at::kFloat).clone().to(parse_device(device));
}

at::Tensor latents_from_array(const LatentSpec& spec, const std::vector<std::int64_t>& shape,
                              const std::vector<float>& data, const std::string& source, const std::string& device) {
  const bool flat = shape.size() == 2 && shape[1] == spec.size;
  const bool conv = shape.size() == 4 && shape[1] == spec.size && shape[2] == 1 && shape[3] == 1;
  if (!(flat || conv) || shape[0] < 1) {
    throw Error(source + ": latents must have shape [N, " + std::to_string(spec.size) + "] or [N, " +
                std::to_string(spec.size) + ", 1, 1], got " + shape_string(shape));
  }
  return at::from_blob(const_cast<float*>(data.data()), {shape[0], spec.size}, at::kFloat)
      .clone()
      .to(parse_device(device));
}

std::vector<Image> output_to_images(const at::Tensor& output, const ModelCard& card) {
  if (output.dim() != 4) throw Error("output must be [N, C, H, W], got " + shape_string(output.sizes()));
  const std::int64_t n = output.size(0), c = output.size(1), h = output.size(2), w = output.size(3);
  if (c != 1 && c != 3) throw Error("output has " + std::to_string(c) + " channels; images need 1 or 3");
  const at::Tensor cpu = output.detach().to(at::kCPU, at::kFloat).contiguous();
  const float* p = cpu.data_ptr<float>();
  std::vector<Image> images;
  for (std::int64_t i = 0; i < n; ++i) {
    Image im;
    im.width = static_cast<int>(w);
    im.height = static_cast<int>(h);
    im.channels = static_cast<int>(c);
    im.pixels.resize(static_cast<std::size_t>(c * h * w));
    for (std::int64_t y = 0; y < h; ++y) {
      for (std::int64_t x = 0; x < w; ++x) {
        for (std::int64_t k = 0; k < c; ++k) {
          im.pixels[(y * w + x) * c + k] = to_pixel(p[((i * c + k) * h + y) * w + x], card.output_low, card.output_high);
        }
      }
    }
    images.push_back(std::move(im));
  }
  return images;
}

std::vector<float> tensor_to_floats(const at::Tensor& t) {
  const at::Tensor cpu = t.detach().to(at::kCPU, at::kFloat).contiguous();
  return std::vector<float>(cpu.data_ptr<float>(), cpu.data_ptr<float>() + cpu.numel());
}

std::vector<std::int64_t> tensor_shape(const at::Tensor& t) { return t.sizes().vec(); }

}  // namespace actmap
