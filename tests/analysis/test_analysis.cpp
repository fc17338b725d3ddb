// Feature clustering (k-means, silhouette) and unit dissection against planted structure and
// hand-computed values.
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <map>
#include <numeric>
#include <random>

#include "actmap/analysis/clustering.h"
#include "actmap/analysis/dissection.h"
#include "actmap/io/safetensors.h"
#include "actmap/model/generator.h"
#include "test_util.h"

namespace actmap {
namespace {

// Labels renumbered by first appearance: equal partitions give equal lists, whatever the names.
std::vector<int> canonical(const std::vector<int>& labels) {
  std::map<int, int> m;
  std::vector<int> out;
  for (int l : labels) out.push_back(m.emplace(l, static_cast<int>(m.size())).first->second);
  return out;
}

TEST(KMeans, RecoversAPlantedPartition) {
  // 90 "channels" of 64 values in three groups around distant centres, shuffled.
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  const int n = 90, d = 64, k = 3;
  std::vector<std::vector<float>> centres(k, std::vector<float>(d));
  for (auto& c : centres) for (auto& v : c) v = 4.0f * normal(rng);
  std::vector<int> truth(n);
  for (int i = 0; i < n; ++i) truth[static_cast<std::size_t>(i)] = i % k;
  std::shuffle(truth.begin(), truth.end(), rng);
  std::vector<float> data;
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < d; ++j) data.push_back(centres[static_cast<std::size_t>(truth[static_cast<std::size_t>(i)])][static_cast<std::size_t>(j)] + 0.5f * normal(rng));
  }
  const at::Tensor x = at::from_blob(data.data(), {n, d}, at::kFloat).clone();
  const KMeansResult r = kmeans(x, k, 10, 123);
  EXPECT_EQ(r.labels, canonical(truth));
  EXPECT_EQ(r.labels, canonical(r.labels));  // numbered in order of first appearance

  // The same seed gives the same answer; the silhouette of the planted partition is high and
  // beats a wrong k.
  EXPECT_EQ(kmeans(x, k, 10, 123).labels, r.labels);
  EXPECT_GT(silhouette_score(x, r.labels), 0.8);
  EXPECT_GT(silhouette_score(x, r.labels), silhouette_score(x, kmeans(x, 5, 10, 1).labels));
}

TEST(KMeans, InertiaIsTheSumOfSquaredDistances) {
  // Two tight pairs on a line: {0, 2} and {10, 12}; centroids 1 and 11; inertia 4 * 1 = 4.
  const at::Tensor x = at::tensor({0.0f, 2.0f, 10.0f, 12.0f}).view({4, 1});
  const KMeansResult r = kmeans(x, 2, 5, 0);
  EXPECT_EQ(r.labels, (std::vector<int>{0, 0, 1, 1}));
  EXPECT_NEAR(r.inertia, 4.0, 1e-6);
}

TEST(KMeans, BadArgumentsAreErrors) {
  const at::Tensor x = at::zeros({3, 2});
  test::expect_error([&] { kmeans(x, 4, 1, 0); }, {"k must be in 1..3", "got 4"});
  test::expect_error([&] { kmeans(x, 2, 0, 0); }, {"restarts"});
  test::expect_error([&] { kmeans(at::zeros({3}), 2, 1, 0); }, {"[n, d]"});
}

TEST(Silhouette, HandComputed) {
  // Points 0, 2 | 5, 9 on a line.
  //   0: a = 2, b = (5 + 9) / 2 = 7  -> 5/7      2: a = 2, b = (3 + 7) / 2 = 5 -> 3/5
  //   5: a = 4, b = (5 + 3) / 2 = 4  -> 0        9: a = 4, b = (9 + 7) / 2 = 8 -> 1/2
  const at::Tensor x = at::tensor({0.0f, 2.0f, 5.0f, 9.0f}).view({4, 1});
  EXPECT_NEAR(silhouette_score(x, {0, 0, 1, 1}), (5.0 / 7 + 3.0 / 5 + 0.0 + 0.5) / 4, 1e-9);
  // A point alone in its cluster scores 0: 0, 1 | 10 -> (9/10 + 8/9 + 0) / 3. In 2-D too.
  const at::Tensor y = at::tensor({0.0f, 0.0f, 0.6f, 0.8f, 6.0f, 8.0f}).view({3, 2});
  EXPECT_NEAR(silhouette_score(y, {1, 1, 0}), (0.9 + 8.0 / 9.0 + 0.0) / 3, 1e-6);
  test::expect_error([&] { silhouette_score(x, {0, 0, 0, 0}); }, {"between 2 and 3 clusters", "got 1"});
  test::expect_error([&] { silhouette_score(x, {0, 1}); }, {"2 labels for 4 points"});
}

TEST(Clustering, DefaultKByDepth) {
  // Relative depth index / (taps - 1): < 1/3 early (5), < 2/3 middle (4), else late (3).
  EXPECT_EQ(default_cluster_count(0, 7, 512), 5);
  EXPECT_EQ(default_cluster_count(1, 7, 512), 5);
  EXPECT_EQ(default_cluster_count(2, 7, 512), 4);
  EXPECT_EQ(default_cluster_count(3, 7, 512), 4);
  EXPECT_EQ(default_cluster_count(4, 7, 512), 3);
  EXPECT_EQ(default_cluster_count(6, 7, 3), 3);
  EXPECT_EQ(default_cluster_count(0, 7, 2), 2);  // never more than the channels
}

TEST(Clustering, NetworkBendingKByLayer) {
  // get_clusters.py's cluster_layer_dict: layers 1-8 take 5 clusters, 9-12 take 4, 13-16 take 3
  // (layer 0 is never clustered there; actmap gives it the first band's 5).
  for (std::size_t layer = 0; layer <= 8; ++layer) EXPECT_EQ(network_bending_cluster_count(layer, 512), 5) << layer;
  for (std::size_t layer = 9; layer <= 12; ++layer) EXPECT_EQ(network_bending_cluster_count(layer, 256), 4) << layer;
  for (std::size_t layer = 13; layer <= 16; ++layer) EXPECT_EQ(network_bending_cluster_count(layer, 64), 3) << layer;
  EXPECT_EQ(network_bending_cluster_count(3, 4), 4);  // never more than the channels
}

TEST(Clustering, NetworkBendingMethodOnAStyleGAN2) {
  const auto gen = load_generator(load_model_card(test::fixture("stylegan2/skip16.json")));
  ClusterOptions o;
  o.method = ClusterMethod::NetworkBending;
  o.samples = 6;
  o.restarts = 2;
  // b8.conv0 is Network Bending's layer 1 (5 clusters); b16.conv0 its layer 3, with 4 channels.
  EXPECT_EQ(cluster_tap(*gen, "b8.conv0", o).k, 5);
  EXPECT_EQ(cluster_tap(*gen, "b16.conv0", o).k, 4);
  // Not one of its layers: the depth default.
  EXPECT_EQ(cluster_tap(*gen, "b8.torgb", o).k, default_cluster_count(gen->tap_index("b8.torgb"), gen->taps().size(), 3));
  // One sample: the mean of one map's descriptor is that map's descriptor, so both methods agree.
  o.samples = 1;
  o.k = 3;
  ClusterOptions mean_map = o;
  mean_map.method = ClusterMethod::MeanMap;
  EXPECT_EQ(cluster_tap(*gen, "b8.conv1", o).labels, cluster_tap(*gen, "b8.conv1", mean_map).labels);
  // Truncated samples (Network Bending's 0.5) are other activations, so other descriptors.
  o.samples = 4;
  ClusterOptions truncated = o;
  truncated.truncation_psi = 0.5;
  const ClusterResult full = cluster_tap(*gen, "b8.conv1", o), half = cluster_tap(*gen, "b8.conv1", truncated);
  EXPECT_NE(full.per_k.front().inertia, half.per_k.front().inertia);
}

// A sequential generator whose weights are set by hand: a 4-channel 4x4 tap ("act") where
// channel 0 is on everywhere, channel 1 only in the bottom-right quarter, channel 2 only in the
// top-left quarter, channel 3 a ramp towards the bottom-left corner; a stride-2 transposed
// convolution maps each tap pixel to its own 2x2 block of the 8x8 RGB output.
class PlantedGenerator : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = test::temp_dir("planted");
    write_file_atomic(dir_ + "/card.json", R"({"family": "sequential", "name": "planted",
      "latent": {"size": 4, "distribution": "uniform"}, "weights": "w.safetensors", "layers": [
        {"type": "linear", "in": 4, "out": 64, "weights": "fc"},
        {"type": "reshape", "shape": [4, 4, 4]},
        {"type": "relu", "name": "act"},
        {"type": "conv_transpose2d", "in": 4, "out": 3, "kernel": 2, "stride": 2, "weights": "up"},
        {"type": "tanh", "name": "out"}]})");
    std::vector<float> w(64 * 4, 0.0f), b(64, 0.0f);
    for (int c = 0; c < 4; ++c) {
      for (int y = 0; y < 4; ++y) {
        for (int x = 0; x < 4; ++x) {
          const int o = c * 16 + y * 4 + x;
          float* row = &w[static_cast<std::size_t>(o) * 4];
          if (c == 0) { row[1] = 0.5f; b[o] = 1.0f; }
          if (c == 1) { if (y >= 2 && x >= 2) { row[2] = 1.0f; b[o] = 1.5f; } else { b[o] = -1.0f; } }
          if (c == 2) { if (y < 2 && x < 2) { row[0] = 1.0f; b[o] = 1.5f; } else { b[o] = -1.0f; } }
          if (c == 3) { row[3] = 0.3f; b[o] = 0.2f + 0.2f * float(y + 3 - x); }
        }
      }
    }
    write_file_atomic(dir_ + "/w.safetensors",
                      encode_safetensors({{"fc.weight", {{64, 4}, w}}, {"fc.bias", {{64}, b}},
                                          {"up.weight", {{4, 3, 2, 2}, std::vector<float>(48, 0.25f)}},
                                          {"up.bias", {{3}, std::vector<float>(3, 0.0f)}}}));
    gen_ = load_generator(load_model_card(dir_ + "/card.json"));
    // The top-left quarter of the output.
    region_.width = region_.height = 8;
    region_.inside.assign(64, 0);
    for (int y = 0; y < 4; ++y) for (int x = 0; x < 4; ++x) region_.inside[static_cast<std::size_t>(y * 8 + x)] = 1;
  }
  std::string dir_;
  std::shared_ptr<const Generator> gen_;
  Region region_;
};

TEST_F(PlantedGenerator, DissectionRanksThePlantedUnitFirst) {
  for (double q : {0.99, 0.8}) {
    DissectOptions o;
    o.samples = 32;
    o.quantile = q;
    const DissectResult r = dissect_tap(*gen_, "act", region_, o);
    ASSERT_EQ(r.units.size(), 4u);
    EXPECT_EQ(r.units[0].channel, 2) << "quantile " << q;
    EXPECT_EQ(r.region_pixels, 16);
    // Channel 1 lives in the opposite quarter: it never overlaps the region.
    for (const auto& u : r.units) {
      if (u.channel == 1) {
        EXPECT_EQ(u.iou, 0.0);
        // Only bilinear up-sampling reaches in: output pixel (3, 3) takes 1/16 of tap pixel (2, 2),
        // whose mean is 1.5, spread over 16 region pixels: about 0.0059.
        EXPECT_NEAR(u.inside_mean, 1.5 / 16 / 16, 0.002);
      }
      if (u.channel == 2) {
        EXPECT_GT(u.ratio, 5.0);
      }
      if (u.channel == 0) {
        EXPECT_NEAR(u.ratio, 1.0, 1e-6);  // the same value everywhere
      }
    }
  }
  // At quantile 0.8 the planted unit's top values fill its quarter: a high IoU.
  DissectOptions o;
  o.samples = 32;
  o.quantile = 0.8;
  EXPECT_GT(dissect_tap(*gen_, "act", region_, o).units[0].iou, 0.5);
}

TEST_F(PlantedGenerator, AblatingThePlantedUnitChangesOnlyTheRegion) {
  // Each tap pixel feeds only its own 2x2 output block, so switching channel 2 off changes the
  // top-left quarter and nothing else.
  const EditEffect e = measure_edit_effect(*gen_, {}, unit_edit("act", {2}, true), {}, region_, 16, 0);
  EXPECT_GT(e.inside, 1.0);
  EXPECT_EQ(e.outside, 0.0);
  EXPECT_EQ(e.samples, 16);
  // Boosting channel 1 (bottom-right) leaves the region alone.
  const EditEffect f = measure_edit_effect(*gen_, {}, unit_edit("act", {1}, false, 3.0), {}, region_, 16, 0);
  EXPECT_EQ(f.inside, 0.0);
  EXPECT_GT(f.outside, 0.1);
}

TEST_F(PlantedGenerator, ClusteringGroupsChannelsBySpatialPattern) {
  ClusterOptions o;
  o.samples = 16;
  o.k = 3;
  const ClusterResult r = cluster_tap(*gen_, "act", o);
  ASSERT_EQ(r.labels.size(), 4u);
  EXPECT_EQ(r.map_height, 4);
  EXPECT_EQ(r.mean_maps.size(), 64u);
  // Channel 0 is flat: its normalised map is zero. Channels 1 and 2 are opposite quarters, 3 a
  // ramp: with three clusters 1 and 2 must part; k in 2..3 (channels - 1) got silhouettes.
  EXPECT_NE(r.labels[1], r.labels[2]);
  ASSERT_EQ(r.per_k.size(), 2u);
  EXPECT_EQ(r.per_k[0].k, 2);
  EXPECT_EQ(r.per_k[1].k, 3);
  test::expect_error([&] { cluster_tap(*gen_, "nope", o); }, {"no tap named 'nope'", "act, out"});
  o.k = 5;
  test::expect_error([&] { cluster_tap(*gen_, "act", o); }, {"k 5", "(4)"});
}

TEST(Region, FromImage) {
  Image im;
  im.width = 3;
  im.height = 2;
  im.channels = 1;
  im.pixels = {0, 255, 127, 128, 0, 0};
  const Region r = region_from_image(im, "m.png");
  EXPECT_EQ(r.inside, (std::vector<std::uint8_t>{0, 1, 0, 1, 0, 0}));
  im.pixels.assign(6, 0);
  test::expect_error([&] { region_from_image(im, "m.png"); }, {"m.png", "empty"});
  im.pixels.assign(6, 255);
  test::expect_error([&] { region_from_image(im, "m.png"); }, {"m.png", "whole image"});
  const Region big = r.resized(6, 4);
  EXPECT_EQ(big.count(), 8);
  EXPECT_EQ(big.inside[2], 1);  // (x 2, y 0) comes from (1, 0)
}

}  // namespace
}  // namespace actmap

namespace actmap {
namespace {

double median_of(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}

template <class Fn>
double seconds(Fn&& fn) {
  const auto t0 = std::chrono::steady_clock::now();
  fn();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// The figures in README's Performance section: ACTMAP_PERF=1 actmap_tests --gtest_filter='Perf.*'
TEST(Perf, Clustering512ChannelTap) {
  if (!std::getenv("ACTMAP_PERF")) GTEST_SKIP() << "timing run: set ACTMAP_PERF=1";
  // A random sequential generator with a 512-channel 16x16 tap (main.6).
  const std::string dir = test::temp_dir("perf");
  write_file_atomic(dir + "/card.json", R"({"family": "sequential", "name": "perf512", "latent": {"size": 100},
    "weights": "w.safetensors", "layers": [
      {"type": "linear", "in": 100, "out": 1024, "weights": "main.0"}, {"type": "reshape", "shape": [64, 4, 4]},
      {"type": "relu"},
      {"type": "conv_transpose2d", "in": 64, "out": 128, "kernel": 4, "stride": 2, "padding": 1, "weights": "main.3"},
      {"type": "relu"},
      {"type": "conv_transpose2d", "in": 128, "out": 512, "kernel": 4, "stride": 2, "padding": 1, "weights": "main.5"},
      {"type": "relu"},
      {"type": "conv2d", "in": 512, "out": 3, "kernel": 1, "weights": "main.7"}, {"type": "tanh"}]})");
  at::manual_seed(0);
  std::map<std::string, FloatTensor> t;
  auto add = [&](const std::string& key, std::vector<std::int64_t> shape, double scale) {
    const at::Tensor v = (at::randn(shape) * scale).contiguous();
    t[key] = {shape, std::vector<float>(v.data_ptr<float>(), v.data_ptr<float>() + v.numel())};
  };
  add("main.0.weight", {1024, 100}, 0.1); add("main.0.bias", {1024}, 0.1);
  add("main.3.weight", {64, 128, 4, 4}, 0.05); add("main.3.bias", {128}, 0.05);
  add("main.5.weight", {128, 512, 4, 4}, 0.05); add("main.5.bias", {512}, 0.05);
  add("main.7.weight", {3, 512, 1, 1}, 0.05); add("main.7.bias", {3}, 0.0);
  write_file_atomic(dir + "/w.safetensors", encode_safetensors(t));
  const auto gen = load_generator(load_model_card(dir + "/card.json"));
  ASSERT_EQ(gen->taps()[2].channels, 512);
  ASSERT_EQ(gen->taps()[2].height, 16);
  std::vector<double> cluster_s;
  for (int i = 0; i < 5; ++i) cluster_s.push_back(seconds([&] { cluster_tap(*gen, gen->taps()[2].name, ClusterOptions{}); }));
  const double c = median_of(cluster_s);
  std::printf("clustering %s (512x16x16), 64 samples, k 2..8 x 10 restarts: median %.2f s (runs:", gen->taps()[2].name.c_str(), c);
  for (double s : cluster_s) std::printf(" %.2f", s);
  std::printf(")\n");
  EXPECT_LT(c, 5.0);
}

}  // namespace
}  // namespace actmap
