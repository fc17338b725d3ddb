// estimate_w_average: rosinality generate.py's mean_latent on seeded latents.
#include "actmap/model/w_average.h"

#include <algorithm>

#include <c10/core/InferenceMode.h>

#include "actmap/io/error.h"
#include "actmap/model/latent.h"

namespace actmap {

std::vector<float> estimate_w_average(const Generator& generator, std::int64_t count, std::uint64_t first_seed,
                                      const ProgressFn& progress) {
  const ModelCard& card = generator.card();
  if (!card.stylegan2) throw Error(card.name + ": only StyleGAN2 generators have an average W");
  if (count < 1) throw Error("estimate_w_average: needs at least one latent, got " + std::to_string(count));
  c10::InferenceMode guard;
  const StyleGAN2Config& cfg = *card.stylegan2;
  const std::int64_t classes = std::max<std::int64_t>(cfg.c_dim, 1);
  constexpr std::int64_t kBatch = 256;
  at::Tensor sum = at::zeros({cfg.w_dim}, at::kDouble);
  std::int64_t done = 0;
  for (std::int64_t k = 0; k < classes; ++k) {
    SynthesisOptions options;  // psi 1
    if (cfg.c_dim > 0) options.class_index = k;
    std::vector<float> z;
    auto flush = [&] {
      const std::int64_t n = static_cast<std::int64_t>(z.size()) / cfg.z_dim;
      if (n == 0) return;
      const at::Tensor zt = at::from_blob(z.data(), {n, cfg.z_dim}, at::kFloat).to(c10::Device(generator.device()));
      const at::Tensor ws = generator.map_latents(zt, options);  // [n, num_ws, w_dim], rows equal
      sum += ws.select(1, 0).to(at::kCPU).to(at::kDouble).sum(0);
      done += n;
      z.clear();
      report_progress(progress, done, count);
    };
    for (std::int64_t i = k; i < count; i += classes) {
      const std::vector<float> zi = latent_from_seed(first_seed + static_cast<std::uint64_t>(i), card.latent);
      z.insert(z.end(), zi.begin(), zi.end());
      if (static_cast<std::int64_t>(z.size()) >= kBatch * cfg.z_dim) flush();
    }
    flush();
  }
  const at::Tensor mean = (sum / static_cast<double>(count)).to(at::kFloat).contiguous();
  return std::vector<float>(mean.data_ptr<float>(), mean.data_ptr<float>() + mean.numel());
}

}  // namespace actmap
