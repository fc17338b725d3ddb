// Compiled with -ffp-contract=off (see CMakeLists.txt): a fused multiply-add would change bits.
#include "actmap/model/latent.h"

#include <cmath>

namespace actmap {

std::uint64_t SplitMix64::next() {
  state_ += 0x9e3779b97f4a7c15ULL;
  std::uint64_t z = state_;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

double SplitMix64::uniform01() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

double portable_log(double x) {
  if (!(x > 0)) return x == 0 ? -INFINITY : NAN;
  int e = 0;
  double m = std::frexp(x, &e);  // exact: x = m * 2^e, m in [0.5, 1)
  if (m < 0.70710678118654752440) {
    m *= 2.0;
    e -= 1;
  }
  // ln(m) = 2 atanh(t), t = (m - 1) / (m + 1), |t| < 0.172: the series below is exact to double.
  const double t = (m - 1.0) / (m + 1.0);
  const double t2 = t * t;
  double sum = 0.0;
  for (int k = 29; k >= 3; k -= 2) sum = (sum + 1.0 / k) * t2;
  const double ln_m = 2.0 * t * (1.0 + sum);
  return static_cast<double>(e) * 0.69314718055994530942 + ln_m;
}

std::vector<float> latent_from_seed(std::uint64_t seed, const LatentSpec& spec) {
  SplitMix64 rng(seed);
  std::vector<float> z;
  z.reserve(static_cast<std::size_t>(spec.size));
  if (spec.distribution == LatentDistribution::Uniform) {
    while (static_cast<std::int64_t>(z.size()) < spec.size) {
      z.push_back(static_cast<float>(2.0 * rng.uniform01() - 1.0));
    }
    return z;
  }
  while (static_cast<std::int64_t>(z.size()) < spec.size) {
    const double u = 2.0 * rng.uniform01() - 1.0;
    const double v = 2.0 * rng.uniform01() - 1.0;
    const double s = u * u + v * v;
    if (s >= 1.0 || s == 0.0) continue;
    const double f = std::sqrt(-2.0 * portable_log(s) / s);
    z.push_back(static_cast<float>(u * f));
    if (static_cast<std::int64_t>(z.size()) < spec.size) z.push_back(static_cast<float>(v * f));
  }
  return z;
}

}  // namespace actmap
