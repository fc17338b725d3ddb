// Helpers shared by the test suites (those without LibTorch: test_dirs.h).
#pragma once

#include <ATen/ATen.h>

#include "actmap/io/npy.h"
#include "test_dirs.h"

namespace actmap::test {

// Loads a float .npy as a tensor.
inline at::Tensor load_tensor(const std::string& path) {
  FloatArray a = read_npy(path);
  return at::from_blob(a.data.data(), a.shape, at::kFloat).clone();
}

// Largest |a - b| / (atol + rtol * |b|); <= 1 means "close".
inline double closeness(const at::Tensor& a, const at::Tensor& b, double atol, double rtol) {
  const at::Tensor d = (a.to(at::kDouble) - b.to(at::kDouble)).abs() / (atol + rtol * b.to(at::kDouble).abs());
  return d.max().item<double>();
}

}  // namespace actmap::test
