// Latent vectors from seeds, identical on every machine, compiler and LibTorch version.
#pragma once

#include <cstdint>
#include <vector>

#include "actmap/model/model_card.h"

namespace actmap {

// SplitMix64 (Steele, Lea & Flood 2014): the stream of 64-bit values behind every seeded latent.
class SplitMix64 {
 public:
  explicit SplitMix64(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next();
  double uniform01();  // [0, 1) from the top 53 bits

 private:
  std::uint64_t state_;
};

// The latent of one seed: `spec.size` values, U(-1, 1) as 2u - 1, or N(0, 1) by Marsaglia's polar
// method (both values of each accepted pair used in order). Computed in double with only IEEE
// basic operations and a logarithm written here, so no libm or library version changes a bit.
std::vector<float> latent_from_seed(std::uint64_t seed, const LatentSpec& spec);

// Natural logarithm from IEEE basic operations only (exact to about 1 ulp), for the above.
double portable_log(double x);

}  // namespace actmap
