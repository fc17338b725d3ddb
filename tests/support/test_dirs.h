// Helpers shared by the test suites that need no LibTorch: fixtures, temporary folders removed at
// exit, a training folder of small PNGs, expect_error.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <sys/wait.h>
#include <unistd.h>
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "actmap/io/error.h"
#include "actmap/io/files.h"
#include "actmap/io/image.h"
#include "cli_run.h"
#include "test_errors.h"

namespace actmap::test {

inline std::string fixture(const std::string& rel) { return std::string(ACTMAP_TEST_FIXTURES) + "/" + rel; }
inline std::string project_models() { return ACTMAP_TEST_MODELS; }


// The directories temp_dir made, removed when the test program ends (ctest runs each test in a
// process of its own, so nothing is left in the temp dir after a run).
class TempDirs {
 public:
  ~TempDirs() {
    for (const auto& d : dirs_) {
      std::error_code ec;
      std::filesystem::permissions(d, std::filesystem::perms::owner_all, std::filesystem::perm_options::add, ec);
      std::filesystem::remove_all(d, ec);
    }
  }
  void add(const std::filesystem::path& dir) { dirs_.push_back(dir); }

 private:
  std::vector<std::filesystem::path> dirs_;
};

inline TempDirs& temp_dirs() {
  static TempDirs dirs;
  return dirs;
}

// A fresh empty directory under the test temp dir, removed at the end of the test program.
inline std::string temp_dir(const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() / ("actmap_test_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  temp_dirs().add(dir);
  return dir.string();
}

// A small training folder: `count` PNGs (size x size RGB: stripes, checks and discs in varying
// colours) split over two subfolders, plus one corrupt .png and one .txt.
inline void write_training_folder(const std::string& dir, int count, int size = 32) {
  std::filesystem::create_directories(dir + "/a");
  std::filesystem::create_directories(dir + "/b/c");
  for (int i = 0; i < count; ++i) {
    Image im;
    im.width = im.height = size;
    im.channels = 3;
    im.pixels.resize(static_cast<std::size_t>(size) * size * 3);
    for (int y = 0; y < size; ++y) {
      for (int x = 0; x < size; ++x) {
        const int dx = x - size / 2, dy = y - size / 2;
        const bool on = i % 3 == 0 ? (x / (2 + i % 5)) % 2 == 0
                      : i % 3 == 1 ? ((x / 4) + (y / 4)) % 2 == 0
                                   : dx * dx + dy * dy < (size / 4 + i % 7) * (size / 4 + i % 7);
        for (int c = 0; c < 3; ++c) {
          im.pixels[(static_cast<std::size_t>(y) * size + x) * 3 + c] =
              static_cast<std::uint8_t>(on ? 255 - 40 * ((i + c) % 4) : 30 * ((i * (c + 1)) % 5));
        }
      }
    }
    write_png(dir + (i % 2 ? "/a/" : "/b/c/") + "img" + std::to_string(i) + ".png", im);
  }
  write_file_atomic(dir + "/a/corrupt.png", std::string("\x89PNG\r\n\x1a\n but not really a PNG"));
  write_file_atomic(dir + "/notes.txt", std::string("not an image"));
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
