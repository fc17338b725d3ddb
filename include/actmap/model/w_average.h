// The average W of a StyleGAN2 generator that stores none (rosinality's train.py writes no
// latent_avg), estimated as rosinality's generate.py does: mean_latent(4096), the mean of the
// mapping network's output over 4096 latents. actmap uses its seeded latents (seeds 0..4095)
// instead of torch.randn, so the estimate is the same on every machine. Includes ATen's Tensor
// through generator.h.
#pragma once

#include <cstdint>
#include <vector>

#include "actmap/io/progress.h"
#include "actmap/model/generator.h"

namespace actmap {

constexpr std::int64_t kWAverageSamples = 4096;  // rosinality generate.py's --truncation_mean default

// The mean W [w_dim] over the latents of seeds first_seed .. first_seed + count - 1 (psi 1, summed
// in double). Conditional generators: latent i gets class i mod c_dim. `progress` sees samples
// done; returning false stops with Cancelled. Throws for generators without a mapping network.
std::vector<float> estimate_w_average(const Generator& generator, std::int64_t count = kWAverageSamples,
                                      std::uint64_t first_seed = 0, const ProgressFn& progress = {});

}  // namespace actmap
