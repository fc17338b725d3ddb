#include "actmap/analysis/clustering.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include "actmap/model/generator.h"
#include "actmap/model/latent.h"
#include "analysis/tap_sampling.h"
#include "model/torch_util.h"

namespace actmap {

void sample_tap(const Generator& generator, std::size_t tap, int samples, std::uint64_t seed, int batch,
                const std::function<void(const at::Tensor&, int)>& fn, const ProgressFn& progress,
                std::int64_t done_before, std::int64_t total, const SynthesisOptions& synthesis) {
  if (samples < 1) throw Error("samples must be at least 1, got " + std::to_string(samples));
  if (tap >= generator.taps().size()) throw Error("tap index " + std::to_string(tap) + " out of range");
  c10::InferenceMode guard;
  batch = std::max(1, batch);
  if (total <= 0) total = samples;
  report_progress(progress, done_before, total);
  for (int first = 0; first < samples; first += batch) {
    const int n = std::min(batch, samples - first);
    const at::Tensor z = latents_from_seeds(generator.card().latent, seed + static_cast<std::uint64_t>(first), n,
                                            generator.device());
    TapState s = generator.prepare(z, synthesis);
    for (std::size_t i = 0; i <= tap; ++i) s = generator.run_stage(i, s);
    fn(s.x, first);
    report_progress(progress, done_before + first + n, total);
  }
}

int default_cluster_count(std::size_t tap_index, std::size_t tap_count, std::int64_t channels) {
  const double r = tap_count > 1 ? double(tap_index) / double(tap_count - 1) : 0.0;
  const int k = r < 1.0 / 3.0 ? 5 : r < 2.0 / 3.0 ? 4 : 3;
  return static_cast<int>(std::max<std::int64_t>(1, std::min<std::int64_t>(k, channels)));
}

int network_bending_cluster_count(std::size_t layer, std::int64_t channels) {
  // get_clusters.py, cluster_layer_dict: 5 clusters for layers 1-8, 4 for 9-12, 3 for 13-16.
  const int k = layer <= 8 ? 5 : layer <= 12 ? 4 : 3;
  return static_cast<int>(std::max<std::int64_t>(1, std::min<std::int64_t>(k, channels)));
}

const ClusterChoice* ClusterResult::choice(int wanted) const {
  for (const auto& c : per_k) {
    if (c.k == wanted) return &c;
  }
  return nullptr;
}

namespace {

// Renumbers labels in order of first appearance, so equal partitions give equal label lists.
std::vector<int> canonical_labels(const std::vector<std::int64_t>& raw, int k) {
  std::vector<int> map(static_cast<std::size_t>(k), -1);
  std::vector<int> out(raw.size());
  int next = 0;
  for (std::size_t i = 0; i < raw.size(); ++i) {
    int& m = map[static_cast<std::size_t>(raw[i])];
    if (m < 0) m = next++;
    out[i] = m;
  }
  return out;
}

// Squared distances of every row of x to every row of c: [n, k], clamped at 0.
at::Tensor squared_distances(const at::Tensor& x, const at::Tensor& x_sq, const at::Tensor& c) {
  return (x_sq.unsqueeze(1) - 2.0 * at::matmul(x, c.t()) + (c * c).sum(1).unsqueeze(0)).clamp_min(0.0);
}

// k-means++ (Arthur & Vassilvitskii 2007): each new centre drawn with probability proportional to
// the squared distance to the nearest centre so far.
at::Tensor kmeanspp_init(const at::Tensor& x, const at::Tensor& x_sq, int k, SplitMix64& rng) {
  const std::int64_t n = x.size(0);
  std::vector<std::int64_t> chosen{static_cast<std::int64_t>(rng.uniform01() * double(n))};
  at::Tensor d2 = squared_distances(x, x_sq, x.narrow(0, chosen[0], 1)).squeeze(1);
  while (static_cast<int>(chosen.size()) < k) {
    const at::Tensor cpu = d2.to(at::kCPU, at::kDouble).contiguous();
    const double* d = cpu.data_ptr<double>();
    double total = 0.0;
    for (std::int64_t i = 0; i < n; ++i) total += d[i];
    std::int64_t pick = n - 1;
    if (total > 0.0) {
      double r = rng.uniform01() * total;
      for (std::int64_t i = 0; i < n; ++i) {
        r -= d[i];
        if (r < 0.0 && d[i] > 0.0) {
          pick = i;
          break;
        }
      }
    } else {  // every point sits on a centre already: any point not chosen yet
      pick = static_cast<std::int64_t>(rng.uniform01() * double(n));
      while (std::find(chosen.begin(), chosen.end(), pick) != chosen.end()) pick = (pick + 1) % n;
    }
    chosen.push_back(pick);
    d2 = at::minimum(d2, squared_distances(x, x_sq, x.narrow(0, pick, 1)).squeeze(1));
  }
  const at::Tensor idx = at::tensor(chosen, at::kLong).to(x.device());
  return x.index_select(0, idx);
}

struct Run {
  at::Tensor labels;
  double inertia;
  int iterations;
};

Run lloyd(const at::Tensor& x, const at::Tensor& x_sq, at::Tensor centres, int max_iterations) {
  const std::int64_t k = centres.size(0);
  at::Tensor labels, prev;
  int it = 0;
  for (; it < max_iterations; ++it) {
    auto [mind, lab] = squared_distances(x, x_sq, centres).min(1);
    if (prev.defined() && at::equal(lab, prev)) break;
    prev = lab;
    at::Tensor sums = at::zeros({k, x.size(1)}, x.options()).index_add_(0, lab, x);
    at::Tensor counts = at::zeros({k}, x.options()).index_add_(0, lab, at::ones({x.size(0)}, x.options()));
    centres = sums / counts.clamp_min(1.0).unsqueeze(1);
    const at::Tensor empty = (counts == 0).nonzero().flatten().cpu();
    if (empty.numel() > 0) {
      at::Tensor far = mind.clone();
      for (std::int64_t j = 0; j < empty.numel(); ++j) {
        const std::int64_t i = far.argmax().item<std::int64_t>();
        centres[empty[j].item<std::int64_t>()] = x[i];
        far[i] = -1.0;
      }
    }
  }
  auto [mind, lab] = squared_distances(x, x_sq, centres).min(1);
  return {lab, mind.to(at::kDouble).sum().item<double>(), it};
}

}  // namespace

KMeansResult kmeans(const at::Tensor& x_in, int k, int restarts, std::uint64_t seed, int max_iterations) {
  c10::InferenceMode guard;
  if (x_in.dim() != 2 || x_in.size(0) < 1) throw Error("k-means needs data of shape [n, d], got " + shape_string(x_in.sizes()));
  const std::int64_t n = x_in.size(0);
  if (k < 1 || k > n) throw Error("k-means: k must be in 1.." + std::to_string(n) + " (the number of points), got " + std::to_string(k));
  if (restarts < 1) throw Error("k-means: restarts must be at least 1, got " + std::to_string(restarts));
  const at::Tensor x = x_in.to(at::kFloat).contiguous();
  const at::Tensor x_sq = (x * x).sum(1);
  SplitMix64 seeds(seed);
  Run best{at::Tensor(), std::numeric_limits<double>::infinity(), 0};
  for (int r = 0; r < restarts; ++r) {
    SplitMix64 rng(seeds.next());
    Run run = lloyd(x, x_sq, kmeanspp_init(x, x_sq, k, rng), std::max(1, max_iterations));
    if (run.inertia < best.inertia) best = std::move(run);
  }
  const at::Tensor lab = best.labels.to(at::kCPU, at::kLong).contiguous();
  const std::vector<std::int64_t> raw(lab.data_ptr<std::int64_t>(), lab.data_ptr<std::int64_t>() + n);
  return {canonical_labels(raw, k), best.inertia, best.iterations};
}

double silhouette_score(const at::Tensor& x_in, const std::vector<int>& labels) {
  c10::InferenceMode guard;
  if (x_in.dim() != 2) throw Error("silhouette needs data of shape [n, d], got " + shape_string(x_in.sizes()));
  const std::int64_t n = x_in.size(0);
  if (static_cast<std::int64_t>(labels.size()) != n) {
    throw Error("silhouette: " + std::to_string(labels.size()) + " labels for " + std::to_string(n) + " points");
  }
  int k = 0;
  for (int l : labels) {
    if (l < 0) throw Error("silhouette: negative label " + std::to_string(l));
    k = std::max(k, l + 1);
  }
  std::vector<std::int64_t> l64(labels.begin(), labels.end());
  const at::Tensor x = x_in.to(at::kDouble);
  const at::Tensor lab = at::tensor(l64, at::kLong).to(x.device());
  const at::Tensor onehot = at::one_hot(lab, k).to(at::kDouble);
  const at::Tensor counts = onehot.sum(0);
  const std::int64_t used = (counts > 0).sum().item<std::int64_t>();
  if (used < 2 || used > n - 1) {
    throw Error("silhouette needs between 2 and " + std::to_string(n - 1) + " clusters, got " + std::to_string(used));
  }
  const at::Tensor x_sq = (x * x).sum(1);
  at::Tensor dist = (x_sq.unsqueeze(1) + x_sq.unsqueeze(0) - 2.0 * at::matmul(x, x.t())).clamp_min(0.0).sqrt();
  dist.fill_diagonal_(0.0);
  const at::Tensor sums = at::matmul(dist, onehot);  // [n, k]: summed distance to each cluster
  const at::Tensor own_count = counts.index_select(0, lab);
  const at::Tensor a = sums.gather(1, lab.unsqueeze(1)).squeeze(1) / (own_count - 1.0).clamp_min(1.0);
  const at::Tensor mean_other = (sums / counts.unsqueeze(0)).masked_fill(onehot > 0, INFINITY).masked_fill(counts.unsqueeze(0) == 0, INFINITY);
  const at::Tensor b = std::get<0>(mean_other.min(1));
  const at::Tensor denom = at::maximum(a, b);
  at::Tensor s = ((b - a) / denom).masked_fill(denom == 0, 0.0).masked_fill(own_count == 1, 0.0);
  return s.mean().item<double>();
}

ClusterResult cluster_tap(const Generator& generator, const std::string& tap, const ClusterOptions& o,
                          const ProgressFn& progress) {
  c10::InferenceMode guard;
  const std::size_t index = generator.tap_index(tap);
  const TapInfo& info = generator.taps()[index];
  const std::int64_t channels = info.channels;
  if (channels < 2) throw Error("tap '" + tap + "' has " + std::to_string(channels) + " channel: nothing to cluster");
  if (info.height * info.width < 2) {
    throw Error("tap '" + tap + "' is " + std::to_string(info.height) + "x" + std::to_string(info.width) +
                ": its channels have no spatial pattern to cluster by");
  }
  if (o.max_size < 1) throw Error("the mean-map size must be at least 1, got " + std::to_string(o.max_size));
  ClusterResult result;
  result.tap = tap;
  result.default_k = default_cluster_count(index, generator.taps().size(), channels);
  const bool nb = o.method == ClusterMethod::NetworkBending;
  if (nb) {
    // Network Bending's layer number: the synthesis convolutions b4.conv1, b8.conv0, b8.conv1, ...
    std::size_t layer = 0;
    bool found = false;
    for (const auto& t : generator.taps()) {
      const auto dot = t.name.rfind('.');
      const std::string kind = dot == std::string::npos ? "" : t.name.substr(dot + 1);
      if (kind != "conv0" && kind != "conv1") continue;
      if (t.name == tap) {
        found = true;
        break;
      }
      ++layer;
    }
    if (found) result.default_k = network_bending_cluster_count(layer, channels);
  }
  result.k = o.k > 0 ? o.k : result.default_k;
  if (result.k > channels) {
    throw Error("k " + std::to_string(result.k) + " is more than tap '" + tap + "' has channels (" + std::to_string(channels) + ")");
  }
  const int k_lo = std::max(2, o.k_min), k_hi = static_cast<int>(std::min<std::int64_t>(o.k_max, channels - 1));
  std::vector<int> ks;
  for (int k = k_lo; k <= k_hi; ++k) ks.push_back(k);
  if (std::find(ks.begin(), ks.end(), result.k) == ks.end()) {
    ks.push_back(result.k);
    std::sort(ks.begin(), ks.end());
  }
  const std::int64_t total = o.samples + static_cast<std::int64_t>(ks.size());

  SynthesisOptions synthesis;
  synthesis.truncation_psi = o.truncation_psi;
  if (o.truncation_psi != 1.0 && !generator.has_mapping()) {
    throw Error("truncation needs a StyleGAN2 model; " + generator.card().name + " is " + generator.card().family);
  }
  const std::int64_t mh = std::min<std::int64_t>(info.height, o.max_size), mw = std::min<std::int64_t>(info.width, o.max_size);
  // A map [.., C, H, W] as descriptors [.., C, mh mw]: area-averaged, shifted to mean 0, unit L2 norm.
  auto describe = [&](const at::Tensor& m) {
    at::Tensor d = at::adaptive_avg_pool2d(m, {mh, mw}).flatten(-2);
    d = d - d.mean(-1, true);
    return d / d.norm(2, {-1}, true).clamp_min(1e-12);
  };
  at::Tensor sum, desc_sum;
  sample_tap(generator, index, o.samples, o.seed, o.batch,
             [&](const at::Tensor& a, int) {
               const at::Tensor x = a.to(at::kFloat);
               const at::Tensor s = x.sum(0);
               sum = sum.defined() ? sum + s : s;
               if (nb) {
                 // Network Bending (get_clusters.py, get_clusters_from_generated_average): one feature
                 // vector per map and sample, averaged over the samples.
                 const at::Tensor d = describe(x).sum(0);
                 desc_sum = desc_sum.defined() ? desc_sum + d : d;
               }
             },
             progress, 0, total, synthesis);
  const at::Tensor mean = sum / double(o.samples);  // [C, H, W]
  const at::Tensor maps = at::adaptive_avg_pool2d(mean.unsqueeze(0), {mh, mw}).squeeze(0).reshape({channels, mh * mw});
  const at::Tensor desc = nb ? desc_sum / double(o.samples) : describe(mean);

  result.map_height = static_cast<int>(mh);
  result.map_width = static_cast<int>(mw);
  const at::Tensor maps_cpu = maps.to(at::kCPU).contiguous();
  result.mean_maps.assign(maps_cpu.data_ptr<float>(), maps_cpu.data_ptr<float>() + maps_cpu.numel());

  std::int64_t done = o.samples;
  for (int k : ks) {
    KMeansResult km = kmeans(desc, k, o.restarts, o.seed + static_cast<std::uint64_t>(k), o.max_iterations);
    ClusterChoice c;
    c.k = k;
    c.inertia = km.inertia;
    const int distinct = *std::max_element(km.labels.begin(), km.labels.end()) + 1;
    c.silhouette = distinct >= 2 && distinct < channels ? silhouette_score(desc, km.labels) : 0.0;
    c.labels = std::move(km.labels);
    result.per_k.push_back(std::move(c));
    report_progress(progress, ++done, total);
  }
  result.labels = result.choice(result.k)->labels;
  return result;
}

}  // namespace actmap
