// Feature clustering (Network Bending, Broad et al.): a tap's channels grouped by their spatial
// activation patterns over sampled latents, with k-means on the model's device. No LibTorch
// types beyond a forward declaration, so front ends include this cheaply.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "actmap/io/progress.h"

namespace at {
class Tensor;
}

namespace actmap {

class Generator;

enum class ClusterMethod {
  MeanMap,         // each channel's mean map over the samples, normalised, is its descriptor
  NetworkBending,  // Network Bending's way (get_clusters.py): a descriptor per map and sample,
                   // averaged over the samples; k from its table by layer (network_bending_cluster_count)
};

struct ClusterOptions {
  ClusterMethod method = ClusterMethod::MeanMap;
  int k = 0;             // clusters; 0: the method's default for the tap
  int samples = 64;      // latents from seeds seed, seed+1, ...
  std::uint64_t seed = 0;
  int restarts = 10;     // k-means runs from different k-means++ starts; the lowest inertia wins
  int k_min = 2, k_max = 8;  // silhouette scores for every k in this range (clipped to channels - 1)
  int max_size = 16;     // mean maps are area-averaged down to at most max_size x max_size
  int batch = 16;        // latents per forward pass
  int max_iterations = 100;
  double truncation_psi = 1.0;  // of the sampled latents (StyleGAN2; Network Bending samples at 0.5)
};

struct KMeansResult {
  std::vector<int> labels;  // per row, 0..k-1, numbered in order of first appearance
  double inertia = 0.0;     // sum of squared distances to the assigned centroids
  int iterations = 0;       // of the best run
};

struct ClusterChoice {
  int k = 0;
  double silhouette = 0.0;  // mean silhouette of that k's best partition, in [-1, 1]
  double inertia = 0.0;
  std::vector<int> labels;
};

struct ClusterResult {
  std::string tap;
  int k = 0;                         // the chosen k
  int default_k = 0;                 // default_cluster_count for this tap
  std::vector<int> labels;           // of the chosen k, one per channel
  std::vector<ClusterChoice> per_k;  // k_min..k_max (and the chosen k when outside), ascending k
  // Per channel, its mean map over the samples as clustered (before normalisation), row-major
  // map_height x map_width: what the editor previews.
  int map_height = 0, map_width = 0;
  std::vector<float> mean_maps;
  const ClusterChoice* choice(int wanted) const;  // nullptr when that k was not computed
};

// Network Bending's defaults by relative depth r = index / (taps - 1): 5 clusters for early taps
// (r < 1/3), 4 in the middle (r < 2/3), 3 late; never more than the tap's channels.
int default_cluster_count(std::size_t tap_index, std::size_t tap_count, std::int64_t channels);

// get_clusters.py's cluster_layer_dict by Network Bending layer number: 5 for layers 1-8 (and 0),
// 4 for 9-12, 3 for 13-16 and beyond; never more than the channels.
int network_bending_cluster_count(std::size_t layer, std::int64_t channels);

// k-means on the rows of x [n, d] (any device, float): k-means++ starts drawn from SplitMix64(seed)
// streams, Lloyd iterations until the labels stop changing, `restarts` runs, the lowest inertia
// kept. An empty cluster takes the point farthest from its centroid.
KMeansResult kmeans(const at::Tensor& x, int k, int restarts, std::uint64_t seed, int max_iterations = 100);

// Mean silhouette (Rousseeuw 1987) of a partition of the rows of x [n, d], Euclidean distances;
// a point alone in its cluster scores 0. Needs 2 <= distinct labels <= n - 1.
double silhouette_score(const at::Tensor& x, const std::vector<int>& labels);

// Runs the generator to `tap` on options.samples seeded latents (no edits), describes each channel
// by its mean map (area-averaged to at most max_size square, then shifted to mean 0 and scaled to
// unit L2 norm) or, with ClusterMethod::NetworkBending, by the mean over the samples of each
// sample's map described so; and clusters the descriptors for every k in range and the chosen one.
// `progress` counts samples, then one unit per k.
ClusterResult cluster_tap(const Generator& generator, const std::string& tap, const ClusterOptions& options,
                          const ProgressFn& progress = {});

}  // namespace actmap
