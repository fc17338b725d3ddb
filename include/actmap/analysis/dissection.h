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

// dissect_tap in parts, so its samples can be spread over processes or machines and combined into
// exactly what dissect_tap returns (actmap.distributed does this): each part covers consecutive
// seeds, a whole number of `batch`es from the first seed (so every sample's activation is computed
// in the same batch as in one process).
//  1. dissect_keep: how many of a channel's largest values decide its quantile level, for the
//     total number of samples.
//  2. dissect_top_values per part: each channel's largest `keep` activations, descending.
//  3. dissect_thresholds: the levels from every part's values (the keep-th largest of their union).
//  4. dissect_sums per part with those levels; add the parts' sums (DissectSums::add).
//  5. dissect_scores: the result.
std::int64_t dissect_keep(const Generator& generator, const std::string& tap, double quantile, int total_samples);
// [C][min(keep, part's values)] per channel, descending. Progress counts samples.
std::vector<std::vector<float>> dissect_top_values(const Generator& generator, const std::string& tap, int samples,
                                                   std::uint64_t seed, int batch, std::int64_t keep, const ProgressFn& progress = {});
std::vector<float> dissect_thresholds(const std::vector<std::vector<std::vector<float>>>& parts, std::int64_t keep);

struct DissectSums {
  int samples = 0;
  std::vector<double> intersection, on, inside_sum, total_sum;  // per channel
  void add(const DissectSums& other);
};
DissectSums dissect_sums(const Generator& generator, const std::string& tap, const Region& region,
                         const std::vector<float>& thresholds, int samples, std::uint64_t seed, int batch,
                         const ProgressFn& progress = {});
DissectResult dissect_scores(const Generator& generator, const std::string& tap, const Region& region,
                             const std::vector<float>& thresholds, const DissectSums& sums);

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
