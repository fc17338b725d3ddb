// Unit dissection without a segmenter (after GAN Dissection, Bau et al.): given a region of the
// output image, rank a tap's channels by how their up-sampled activations concentrate in it, and
// measure what switching the top ones off (or boosting them) does to the region versus the rest.
// No LibTorch types here.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "actmap/edit/edit.h"
#include "actmap/io/image.h"
#include "actmap/io/progress.h"

namespace actmap {

class Generator;

// A region of the output image: one flag per pixel, row-major.
struct Region {
  int width = 0, height = 0;
  std::vector<std::uint8_t> inside;
  std::int64_t count() const;
  // The same region at another size (nearest neighbour).
  Region resized(int width, int height) const;
};

// Pixels whose grey value (the mean of R, G, B; alpha ignored) is at least 128 are inside. Errors
// name `source` when no pixel, or every pixel, is inside.
Region region_from_image(const Image& image, const std::string& source);

struct DissectOptions {
  int samples = 64;        // latents from seeds seed, seed+1, ...
  std::uint64_t seed = 0;
  double quantile = 0.99;  // per channel: activations above this quantile (over all samples and pixels) count as "on"
  int batch = 8;
};

struct UnitScore {
  int channel = 0;
  double iou = 0.0;          // of the channel's "on" mask (up-sampled, thresholded) with the region, over all samples
  double inside_mean = 0.0;  // mean up-sampled activation inside the region
  double outside_mean = 0.0; // ... and outside it
  double ratio = 0.0;        // inside_mean / outside_mean (infinite when outside_mean <= 0 < inside_mean)
  float threshold = 0.0f;    // the channel's quantile level
};

struct DissectResult {
  std::string tap;
  std::vector<UnitScore> units;  // every channel, best first (IoU, then ratio)
  std::int64_t region_pixels = 0;
  int width = 0, height = 0;     // the output size the region was matched to
};

// Runs `tap`'s activations of options.samples seeded latents (no edits), thresholds each channel at
// its quantile, up-samples bilinearly to the output size and scores every channel against the
// region (resized to the output by nearest neighbour when it differs). Progress counts samples.
DissectResult dissect_tap(const Generator& generator, const std::string& tap, const Region& region,
                          const DissectOptions& options, const ProgressFn& progress = {});

// The edit that switches the listed channels off ("ablate") or multiplies them by `factor`.
Edit unit_edit(const std::string& tap, const std::vector<int>& channels, bool ablate, double factor = 2.0);

struct EditEffect {
  double inside = 0.0, outside = 0.0;  // mean |change| of 8-bit pixel values (per colour channel)
  int samples = 0;
};

// How much `edit` changes the output inside the region versus outside, over seeded latents:
// `base` edits (with the clusters) against `base` plus `edit`. Progress counts samples.
EditEffect measure_edit_effect(const Generator& generator, const std::vector<Edit>& base, const Edit& edit,
                               const std::map<std::string, std::vector<int>>& clusters, const Region& region,
                               int samples, std::uint64_t seed, const ProgressFn& progress = {});

}  // namespace actmap
