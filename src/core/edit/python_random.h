// Python's random module, as far as Network Bending uses it: random.seed(n) for a non-negative
// integer n, then random.sample(range(n_items), k) (CPython's Mersenne Twister MT19937, its
// init_by_array seeding, getrandbits and _randbelow_with_getrandbits, and sample's two
// algorithms). Network Bending picks its random features with exactly that call
// (util.py, create_random_transform_dict); tests/reference/python_random.py checks this against
// CPython itself.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

namespace actmap {

// random.seed(seed); then random.sample(range(n_i), k_i) for each [n_i, k_i] of `before` (draws
// whose results are dropped); then random.sample(range(n), k), in the order Python returns it.
// 0 <= k <= n.
std::vector<std::int64_t> python_random_sample(std::uint64_t seed, std::int64_t n, std::int64_t k,
                                               const std::vector<std::array<std::int64_t, 2>>& before = {});

}  // namespace actmap
