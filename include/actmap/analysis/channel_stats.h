// Per-channel statistics of a tap's activations over many seeded samples (with a session's edits
// or none), in parts that merge exactly: each part holds counts, means and sums of squared
// deviations (Chan, Golub & LeVeque's pairwise update), so actmap.distributed can spread the
// samples over machines. No LibTorch types here.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "actmap/edit/edit.h"
#include "actmap/io/progress.h"
#include "actmap/model/synthesis.h"

namespace actmap {

class Renderer;

struct ChannelStats {
  std::string tap;
  std::int64_t count = 0;          // values per channel so far (samples x height x width)
  int samples = 0;
  std::vector<double> mean, m2;    // per channel: mean and sum of squared deviations from it
  std::vector<float> min, max;     // per channel
  std::vector<double> variance() const;  // m2 / count (the population variance)
  // Adds another part's statistics of the same tap (parts in any order give the same result up
  // to rounding).
  void merge(const ChannelStats& other);
};

// Renders the seeds seed .. seed+samples-1, `batch` at a time, with `edits` (the renderer's
// clusters serve cluster selectors) and gathers the statistics of `tap`'s activation after its
// edits (`edited`) or before them. Progress counts samples.
ChannelStats channel_stats(Renderer& renderer, const std::string& tap, const std::vector<Edit>& edits,
                           const SynthesisOptions& synthesis, int samples, std::uint64_t seed, int batch = 8,
                           bool edited = true, const ProgressFn& progress = {});

}  // namespace actmap
