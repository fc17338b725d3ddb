// Channel sensitivity: how much a generator's output changes when one channel of a tap alone is
// switched off (or scaled), averaged over seeded latents. No LibTorch types here.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "actmap/io/progress.h"
#include "actmap/model/synthesis.h"

namespace actmap {

class Generator;

struct SensitivityOptions {
  int samples = 16;          // latents from seeds seed, seed+1, ...
  std::uint64_t seed = 0;
  bool ablate = true;        // true: the channel is set to 0; false: multiplied by `factor`
  double factor = 0.0;
  int batch = 64;            // (latent, channel) pairs per forward pass from the tap on
  SynthesisOptions synthesis;  // truncation and noise of StyleGAN2 models ("random" noise is refused:
                               // it is drawn per batch element, so the copies would differ)
};

struct SensitivityResult {
  std::string tap;
  std::vector<double> change;  // per channel: mean |output change| in 8-bit pixel units (255 / the
                               // card's output range, unrounded), over pixels, colours and samples
  int samples = 0;
  double ms = 0.0;
  std::vector<int> ranking() const;  // channels, most sensitive first (ties: lower index first)
};

// Runs the samples to `tap` once, then re-runs only the stages after it on batches of copies of
// the tap's activation, each with a different channel ablated (the carried tensors, e.g. StyleGAN2's
// W+ and running image, are replicated along the batch too). Progress counts (sample, channel) pairs.
SensitivityResult channel_sensitivity(const Generator& generator, const std::string& tap,
                                      const SensitivityOptions& options, const ProgressFn& progress = {});

// rank,channel,mean_abs_change
std::string sensitivity_csv(const SensitivityResult& result);

}  // namespace actmap
