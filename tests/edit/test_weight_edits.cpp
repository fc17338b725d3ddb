// Weight edits against hand-computed kernels, exact restore on removal, and re-rendering from the
// edited layer (DCGAN-family and StyleGAN2).
#include <nlohmann/json.hpp>

#include "actmap/io/safetensors.h"
#include "actmap/model/generator.h"
#include "actmap/render/renderer.h"
#include "test_util.h"

namespace actmap {
namespace {

using nlohmann::json;

// A card written here: the linear layer's bias makes the input map x = [[1, 2, 3], [4, 5, 6],
// [7, 8, 9]] whatever the latent; a 3x3 convolution without padding gives one value per channel.
// Channel 0's kernel has a single 1 at the top left; channel 1's is [[0, 1, 2], [3, 4, 5], [6, 7, 8]].
std::shared_ptr<const Generator> hand_model(const std::string& dir) {
  std::map<std::string, FloatTensor> t;
  t["lin.weight"] = FloatTensor{{9, 1}, std::vector<float>(9, 0.0f)};
  t["lin.bias"] = FloatTensor{{9}, {1, 2, 3, 4, 5, 6, 7, 8, 9}};
  std::vector<float> k(18, 0.0f);
  k[0] = 1.0f;
  for (int i = 0; i < 9; ++i) k[static_cast<std::size_t>(9 + i)] = static_cast<float>(i);
  t["conv.weight"] = FloatTensor{{2, 1, 3, 3}, k};
  write_file_atomic(dir + "/hand.safetensors", encode_safetensors(t));
  const json card = {{"family", "sequential"}, {"name", "hand"}, {"weights", "hand.safetensors"},
                     {"latent", {{"size", 1}}},
                     {"layers", json::array({{{"type", "linear"}, {"name", "lin"}, {"in", 1}, {"out", 9}, {"bias", true}, {"weights", "lin"}},
                                             {{"type", "reshape"}, {"name", "r"}, {"shape", {1, 3, 3}}},
                                             {{"type", "conv2d"}, {"name", "conv"}, {"in", 1}, {"out", 2}, {"kernel", 3},
                                              {"padding", 0}, {"bias", false}, {"weights", "conv"}}})}};
  write_file_atomic(dir + "/hand.json", card.dump());
  return load_generator(load_model_card(dir + "/hand.json"));
}

Edit weight_edit(const std::string& tap, const std::string& op, json channels, json params = json::object()) {
  return Edit::from_json({{"id", "w"}, {"tap", tap}, {"op", op}, {"channels", channels}, {"params", params}}, "/edits/0");
}

TEST(WeightEdits, EachOpMatchesTheHandComputedKernel) {
  const auto gen = hand_model(test::temp_dir("weights_hand"));
  Renderer r(gen);
  const at::Tensor z = at::zeros({1, 1});
  auto out = [&](const std::vector<Edit>& edits) {
    const at::Tensor o = r.render(z, edits).output;
    return std::pair<double, double>{o[0][0][0][0].item<double>(), o[0][1][0][0].item<double>()};
  };
  EXPECT_EQ(out({}), (std::pair<double, double>{1, 240}));  // sum k (k + 1) for k = 0..8
  EXPECT_EQ(out({weight_edit("conv", "weight_negate", 1)}), (std::pair<double, double>{1, -240}));
  EXPECT_EQ(out({weight_edit("conv", "weight_zero", 1)}), (std::pair<double, double>{1, 0}));
  EXPECT_EQ(out({weight_edit("conv", "weight_ones", "all")}), (std::pair<double, double>{45, 45}));
  // Transposed: [[0, 3, 6], [1, 4, 7], [2, 5, 8]] . x = 216; channel 0's 1 stays at the top left.
  EXPECT_EQ(out({weight_edit("conv", "weight_transpose", "all")}), (std::pair<double, double>{1, 216}));
  // A quarter turn counter-clockwise: [[2, 5, 8], [1, 4, 7], [0, 3, 6]] . x = 180; channel 0's 1
  // moves to the bottom left, over the 7.
  EXPECT_EQ(out({weight_edit("conv", "weight_rotate90", "all", {{"turns", 1}})}), (std::pair<double, double>{7, 180}));
  EXPECT_EQ(out({weight_edit("conv", "weight_rotate90", "all", {{"turns", 2}})}), (std::pair<double, double>{9, 8 * 1 + 7 * 2 + 6 * 3 + 5 * 4 + 4 * 5 + 3 * 6 + 2 * 7 + 1 * 8 + 0 * 9}));
  // The mean filter: every entry the kernel's mean (1/9 and 4), times the sum of x (45).
  const auto mean = out({weight_edit("conv", "weight_mean", "all")});
  EXPECT_NEAR(mean.first, 5.0, 1e-5);
  EXPECT_NEAR(mean.second, 180.0, 1e-4);
  // Removing the edits restores the exact output: the loaded weights never changed.
  EXPECT_EQ(out({}), (std::pair<double, double>{1, 240}));
}

TEST(WeightEdits, StyleGAN2LayersReRunFromTheEditedLayerAndRestoreExactly) {
  const auto gen = load_generator(load_model_card(test::fixture("stylegan2/skip16.json")));
  Renderer r(gen);
  const at::Tensor z = latents_from_seeds(gen->card().latent, 2, 1);
  const at::Tensor before = r.render(z, {}).output.clone();
  const std::size_t tap = gen->tap_index("b8.conv1");
  const at::Tensor tap_before = r.activation(tap).clone();
  for (const char* op : {"weight_zero", "weight_negate", "weight_transpose", "weight_rotate90", "weight_mean", "weight_ones"}) {
    const RenderResult edited = r.render(z, {weight_edit("b8.conv1", op, json::array({0, 2}))});
    EXPECT_EQ(edited.timings.first_stage, tap) << op;
    EXPECT_FALSE(at::allclose(edited.output, before)) << op;
    // Each output channel has its own kernels (and demodulation): channel 1 is untouched.
    EXPECT_TRUE(at::equal(r.activation(tap).select(1, 1), tap_before.select(1, 1))) << op;
    EXPECT_FALSE(at::allclose(r.activation(tap).select(1, 0), tap_before.select(1, 0))) << op;
    EXPECT_TRUE(at::equal(r.render(z, {}).output, before)) << op;
  }
  // Zeroed kernels of every channel: the convolution contributes nothing, so the tap is the
  // layer's noise and bias through the activation: lrelu(noise_const * strength + bias) * sqrt(2).
  r.render(z, {weight_edit("b8.conv1", "weight_zero", "all")});
  const at::Tensor got = r.activation(tap);
  const auto w = read_safetensors(test::fixture("stylegan2/skip16.safetensors"));
  const FloatTensor& nc = w.at("synthesis.b8.conv1.noise_const");
  const float strength = w.at("synthesis.b8.conv1.noise_strength").data[0];
  const FloatTensor& bias = w.at("synthesis.b8.conv1.bias");
  for (int c = 0; c < 2; ++c) {
    const double v = nc.data[9] * strength + bias.data[static_cast<std::size_t>(c)];  // row 1, column 1
    EXPECT_NEAR(got[0][c][1][1].item<double>(), (v >= 0 ? v : 0.2 * v) * std::sqrt(2.0), 1e-5) << c;
  }
}

// A stroke on a layer's output next to a weight edit of that layer reuses the layer's cached
// (weight-edited) output; changing the weight edit runs the layer again. Both match a fresh render.
TEST(WeightEdits, AnEditOnTheOutputReusesTheWeightEditedLayerUntilItsWeightsChange) {
  const auto gen = load_generator(load_model_card(test::fixture("stylegan2/skip16.json")));
  const at::Tensor z = latents_from_seeds(gen->card().latent, 4, 1);
  const std::size_t tap = gen->tap_index("b8.conv1");
  const Edit scale = Edit::from_json({{"id", "s"}, {"tap", "b8.conv1"}, {"op", "multiply"}, {"params", {{"factor", -2.0}}},
                                      {"channels", "all"}}, "edit");
  auto fresh = [&](const std::vector<Edit>& edits) { return Renderer(gen).render(z, edits).output; };
  Renderer r(gen);
  const Edit negate = weight_edit("b8.conv1", "weight_negate", json::array({0}));
  r.render(z, {negate});
  const RenderResult both = r.render(z, {negate, scale});
  EXPECT_EQ(both.timings.first_stage, tap);
  EXPECT_EQ(both.timings.stage_ms[tap], 0.0);  // the layer did not run again
  EXPECT_LE(test::closeness(both.output, fresh({negate, scale}), 1e-6, 0.0), 1.0);
  EXPECT_FALSE(at::allclose(both.output, fresh({negate})));

  const Edit zero = weight_edit("b8.conv1", "weight_zero", json::array({0}));
  const RenderResult changed = r.render(z, {zero, scale});
  EXPECT_EQ(changed.timings.first_stage, tap);
  EXPECT_GT(changed.timings.stage_ms[tap], 0.0);
  EXPECT_LE(test::closeness(changed.output, fresh({zero, scale}), 1e-6, 0.0), 1.0);
  EXPECT_FALSE(at::allclose(changed.output, both.output));
}

TEST(WeightEdits, TapsWithoutAWeightedLayerAndFullyConnectedLayersSayWhy) {
  const auto gen = load_generator(load_model_card(test::fixture("stylegan2/skip16.json")));
  Renderer r(gen);
  const at::Tensor z = latents_from_seeds(gen->card().latent, 2, 1);
  test::expect_error([&] { r.render(z, {weight_edit("b8.img", "weight_negate", "all")}); },
                     {"edit 'w': tap 'b8.img'", "cannot be edited"});
  test::expect_error([&] { r.render(z, {weight_edit("mapping", "weight_negate", "all")}); }, {"tap 'mapping'"});
}

}  // namespace
}  // namespace actmap
