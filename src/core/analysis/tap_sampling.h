// Internal: runs seeded latents through a generator up to one tap, batch by batch (clustering and
// dissection share it).
#pragma once

#include <cstdint>
#include <functional>

#include <ATen/ATen.h>

#include "actmap/io/progress.h"
#include "actmap/model/generator.h"

namespace actmap {

// Latents of seeds seed .. seed+samples-1 through stages 0..tap (no edits), `batch` at a time;
// `fn` gets each batch's activation [b, C, H, W] and the index of its first sample. Progress
// counts samples done out of `total` (samples when 0), offset by `done_before`. `synthesis`:
// truncation and noise (StyleGAN2).
void sample_tap(const Generator& generator, std::size_t tap, int samples, std::uint64_t seed, int batch,
                const std::function<void(const at::Tensor&, int)>& fn, const ProgressFn& progress,
                std::int64_t done_before = 0, std::int64_t total = 0, const SynthesisOptions& synthesis = {});

}  // namespace actmap
