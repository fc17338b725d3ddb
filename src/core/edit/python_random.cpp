#include "edit/python_random.h"

#include <array>
#include <cmath>
#include <numeric>
#include <unordered_set>

#include "actmap/io/error.h"

namespace actmap {
namespace {

// CPython's Modules/_randommodule.c: MT19937 with Matsumoto and Nishimura's init_by_array.
class Mt19937 {
 public:
  explicit Mt19937(std::uint64_t seed) {
    // random.seed(n): |n| split into 32-bit words from the least significant, at least one.
    std::vector<std::uint32_t> key;
    do {
      key.push_back(static_cast<std::uint32_t>(seed & 0xffffffffu));
      seed >>= 32;
    } while (seed != 0);
    init_by_array(key);
  }

  std::uint32_t next() {
    constexpr std::uint32_t kUpper = 0x80000000u, kLower = 0x7fffffffu, kMatrix = 0x9908b0dfu;
    if (index_ >= kN) {
      for (int k = 0; k < kN; ++k) {
        const std::uint32_t y = (mt_[k] & kUpper) | (mt_[(k + 1) % kN] & kLower);
        mt_[k] = mt_[(k + kM) % kN] ^ (y >> 1) ^ ((y & 1u) ? kMatrix : 0u);
      }
      index_ = 0;
    }
    std::uint32_t y = mt_[index_++];
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    y ^= y >> 18;
    return y;
  }

  // random._randbelow_with_getrandbits(n) for 1 <= n < 2^32: k = n.bit_length() bits of one
  // 32-bit draw (getrandbits(k) = next() >> (32 - k)), drawn again while >= n.
  std::int64_t below(std::int64_t n) {
    int bits = 0;
    for (std::uint64_t v = static_cast<std::uint64_t>(n); v; v >>= 1) ++bits;
    for (;;) {
      const std::int64_t r = static_cast<std::int64_t>(next() >> (32 - bits));
      if (r < n) return r;
    }
  }

 private:
  static constexpr int kN = 624, kM = 397;

  void init_genrand(std::uint32_t s) {
    mt_[0] = s;
    for (int i = 1; i < kN; ++i) {
      mt_[i] = 1812433253u * (mt_[i - 1] ^ (mt_[i - 1] >> 30)) + static_cast<std::uint32_t>(i);
    }
    index_ = kN;
  }

  void init_by_array(const std::vector<std::uint32_t>& key) {
    init_genrand(19650218u);
    int i = 1;
    std::size_t j = 0;
    for (std::size_t k = std::max<std::size_t>(kN, key.size()); k; --k) {
      mt_[i] = (mt_[i] ^ ((mt_[i - 1] ^ (mt_[i - 1] >> 30)) * 1664525u)) + key[j] + static_cast<std::uint32_t>(j);
      ++i;
      ++j;
      if (i >= kN) {
        mt_[0] = mt_[kN - 1];
        i = 1;
      }
      if (j >= key.size()) j = 0;
    }
    for (int k = kN - 1; k; --k) {
      mt_[i] = (mt_[i] ^ ((mt_[i - 1] ^ (mt_[i - 1] >> 30)) * 1566083941u)) - static_cast<std::uint32_t>(i);
      ++i;
      if (i >= kN) {
        mt_[0] = mt_[kN - 1];
        i = 1;
      }
    }
    mt_[0] = 0x80000000u;
  }

  std::array<std::uint32_t, kN> mt_{};
  int index_ = kN;
};

}  // namespace

namespace {

std::vector<std::int64_t> sample(Mt19937& rng, std::int64_t n, std::int64_t k) {
  if (k < 0 || k > n) throw Error("random.sample: sample larger than population or is negative");
  if (n >= (std::int64_t(1) << 32)) throw Error("random.sample: populations of 2^32 or more are not supported");
  std::vector<std::int64_t> out(static_cast<std::size_t>(k));
  // Lib/random.py, Random.sample: a pool for small populations, a set of picks otherwise.
  double setsize = 21;
  if (k > 5) setsize += std::pow(4.0, std::ceil(std::log(static_cast<double>(k * 3)) / std::log(4.0)));
  if (static_cast<double>(n) <= setsize) {
    std::vector<std::int64_t> pool(static_cast<std::size_t>(n));
    std::iota(pool.begin(), pool.end(), 0);
    for (std::int64_t i = 0; i < k; ++i) {
      const std::int64_t j = rng.below(n - i);
      out[static_cast<std::size_t>(i)] = pool[static_cast<std::size_t>(j)];
      pool[static_cast<std::size_t>(j)] = pool[static_cast<std::size_t>(n - i - 1)];
    }
  } else {
    std::unordered_set<std::int64_t> selected;
    for (std::int64_t i = 0; i < k; ++i) {
      std::int64_t j = rng.below(n);
      while (selected.count(j)) j = rng.below(n);
      selected.insert(j);
      out[static_cast<std::size_t>(i)] = j;
    }
  }
  return out;
}

}  // namespace

std::vector<std::int64_t> python_random_sample(std::uint64_t seed, std::int64_t n, std::int64_t k,
                                               const std::vector<std::array<std::int64_t, 2>>& before) {
  Mt19937 rng(seed);
  for (const auto& d : before) sample(rng, d[0], d[1]);
  return sample(rng, n, k);
}

}  // namespace actmap
