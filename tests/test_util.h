// Helpers shared by the test suites.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "actmap/error.h"
#include "actmap/files.h"
#include "actmap/npy.h"
#include "test_errors.h"

namespace actmap::test {

inline std::string fixture(const std::string& rel) { return std::string(ACTMAP_TEST_FIXTURES) + "/" + rel; }
inline std::string project_models() { return ACTMAP_TEST_MODELS; }


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

// A fresh empty directory under the test temp dir.
inline std::string temp_dir(const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() / ("actmap_test_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir.string();
}

// Tests on ../shared/models skip (saying what is missing) when ACTMAP_MODEL_PATH is not set.
#define ACTMAP_REQUIRE_SHARED_MODELS()                                                                   \
  do {                                                                                                   \
    if (!std::getenv("ACTMAP_MODEL_PATH")) {                                                             \
      GTEST_SKIP() << "ACTMAP_MODEL_PATH is not set: this test needs the pretrained weights in "         \
                      "../shared/models (ffhq64-vae, celeba32-fletcher); .ci/run sets it";               \
    }                                                                                                    \
  } while (0)


}  // namespace actmap::test
