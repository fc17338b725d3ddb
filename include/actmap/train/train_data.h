// Training images: a folder of JPEG and PNG files, decoded ahead of use on worker threads,
// centre-cropped, resized and scaled to a generator's output range. No LibTorch here.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "actmap/io/image.h"

namespace actmap {

// What the generator outputs: square `size` x `size`, 1 (grey) or 3 (RGB) channels, values in [low, high].
struct TrainingImageFormat {
  int size = 64;
  int channels = 3;
  double low = -1.0, high = 1.0;
};

// Every .jpg, .jpeg and .png (any case) under `dir`, recursively, sorted by path so every machine
// sees the same order. Throws naming `dir` when it is missing or holds no such file; other files
// are counted in `ignored` when given.
std::vector<std::string> list_training_images(const std::string& dir, std::size_t* ignored = nullptr);

// Area-average resampling of an interleaved 8-bit image to `size` x `size` after cropping the
// centred square (enlarging repeats pixels, blending only at their edges). Returns floats, same
// channel count, row-major interleaved, still in [0, 255].
std::vector<float> crop_and_resize(const Image& im, int size);

// A decoded image in training layout: [channels, size, size] floats in [low, high]. Grey becomes
// RGB by repetition; RGB becomes grey as 0.299 R + 0.587 G + 0.114 B; alpha is dropped.
std::vector<float> to_training_pixels(const Image& im, const TrainingImageFormat& format);

struct UnreadableImage {
  std::string path, reason;  // the reason names the path too
};

struct TrainingBatch {
  std::vector<float> pixels;            // [count, channels, size, size]
  int count = 0;                        // images that decoded (unreadable ones are left out)
  std::vector<UnreadableImage> failed;  // the files of this batch that did not
};

// Decodes the next batches on `threads` worker threads while the caller trains on the current one.
// Batch k holds the files `files_of(k)` in that order (less the unreadable ones) however the
// threads happen to be scheduled, so training stays deterministic.
class PrefetchLoader {
 public:
  using BatchFiles = std::function<std::vector<std::size_t>(std::int64_t batch)>;
  PrefetchLoader(std::vector<std::string> files, TrainingImageFormat format, int threads, BatchFiles files_of,
                 std::int64_t first_batch, std::int64_t end_batch, int depth = 2);
  ~PrefetchLoader();
  PrefetchLoader(const PrefetchLoader&) = delete;
  PrefetchLoader& operator=(const PrefetchLoader&) = delete;

  // The next batch, in order; waits while it is still being decoded. Throws past end_batch.
  TrainingBatch next();

 private:
  struct Pending {
    std::vector<std::size_t> items;
    std::vector<float> pixels;
    std::vector<std::string> errors;  // per item; empty when it decoded
    std::size_t claimed = 0, done = 0;
  };
  void schedule_locked();
  void work();

  std::vector<std::string> files_;
  TrainingImageFormat format_;
  BatchFiles files_of_;
  std::int64_t next_scheduled_, end_;
  std::size_t depth_;
  std::mutex mutex_;
  std::condition_variable work_ready_, batch_done_;
  std::deque<std::unique_ptr<Pending>> queue_;  // front is the next batch to hand out
  bool stop_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace actmap
