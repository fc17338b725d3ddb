// The stylegan3 family against an independent float64 NumPy reference
// (tests/reference/stylegan3_reference.py wrote tests/fixtures/stylegan3/), the layer geometry
// NVIDIA's own SynthesisNetwork constructor gives for the official configs, and hand-derived cases
// for the filtered leaky ReLU, the input transform and weight edits.
#include <cmath>
#include <functional>

#include <nlohmann/json.hpp>

#include "actmap/analysis/animation.h"
#include "actmap/analysis/sensitivity.h"
#include "actmap/analysis/sweep.h"
#include "actmap/edit/edit.h"
#include "actmap/io/safetensors.h"
#include "actmap/model/generator.h"
#include "actmap/model/model_card.h"
#include "actmap/render/renderer.h"
#include "actmap/session/history.h"
#include "actmap/session/session.h"
#include "model/filtered_lrelu.h"
#include "model/torch_util.h"
#include "model/winograd.h"
#include "test_util.h"

namespace actmap {
namespace {

using nlohmann::json;

std::string sg3_fixture(const std::string& rel) { return test::fixture("stylegan3/" + rel); }

std::map<std::string, FloatTensor> read_weights(const std::string& path) {
  const std::vector<std::uint8_t> bytes = read_file_bytes(path);
  return parse_safetensors(bytes.data(), bytes.size(), path);
}

json fixture_index() { return json::parse(read_file_text(sg3_fixture("index.json"))); }

SynthesisOptions case_options(const json& c) {
  SynthesisOptions o;
  o.truncation_psi = c.at("psi").get<double>();
  if (!c.at("cutoff").is_null()) o.truncation_cutoff = c.at("cutoff").get<std::int64_t>();
  if (!c.at("rotate").is_null()) {
    o.input_rotate = c.at("rotate").get<double>();
    o.input_translate = {c.at("translate")[0].get<double>(), c.at("translate")[1].get<double>()};
  }
  return o;
}

// |a - b| <= 2e-4 * max|b| + 2e-4 * |b| everywhere: float32 against float64 through 8-10 layers.
void expect_close(const at::Tensor& actual, const at::Tensor& expected, const std::string& what) {
  ASSERT_EQ(actual.sizes(), expected.sizes()) << what;
  const double scale = expected.abs().max().item<double>();
  EXPECT_LE(test::closeness(actual, expected, 2e-4 * std::max(scale, 1e-3), 2e-4), 1.0)
      << what << ": max |diff| " << (actual - expected).abs().max().item<double>() << " (scale " << scale << ")";
}

// CPU paths: "kernel" (actmap's, Winograd from 64x64 on: not reached by these small maps),
// "winograd" (Winograd for every 3x3 layer), "aten" (LibTorch operations only).
std::shared_ptr<const Generator> load_fixture(const std::string& name, const std::string& path = "kernel") {
  if (path == "aten") ::setenv("ACTMAP_CPU_KERNELS", "aten", 1);
  if (path == "winograd") ::setenv("ACTMAP_CPU_WINOGRAD", "always", 1);
  auto gen = load_generator(load_model_card(sg3_fixture(name + ".json")));
  ::unsetenv("ACTMAP_CPU_KERNELS");
  ::unsetenv("ACTMAP_CPU_WINOGRAD");
  return gen;
}

at::Tensor fixture_z(const Generator& gen, const std::string& name) {
  const FloatArray za = read_npy(sg3_fixture(name + "_z.npy"));
  return latents_from_array(gen.card().latent, za.shape, za.data, "z.npy");
}

// Each config on both CPU paths: actmap's filtered leaky ReLU kernel and LibTorch operations.
using ReferenceCase = std::tuple<std::string, std::string>;
class StyleGAN3Reference : public ::testing::TestWithParam<ReferenceCase> {
 protected:
  std::string name() const { return std::get<0>(GetParam()); }
  std::shared_ptr<const Generator> load() const { return load_fixture(name(), std::get<1>(GetParam())); }
};

TEST_P(StyleGAN3Reference, ImagesMatchForEveryTruncationAndInputTransform) {
  const json index = fixture_index();
  const auto gen = load();
  const at::Tensor z = fixture_z(*gen, name());
  const json& cases = index.at(name()).at("cases");
  for (std::size_t ci = 0; ci < cases.size(); ++ci) {
    const at::Tensor img = gen->forward(z, case_options(cases[ci]));  // the batch of two at once
    for (int s = 0; s < 2; ++s) {
      const std::string stem = name() + "_case" + std::to_string(ci) + "_s" + std::to_string(s);
      expect_close(img.narrow(0, s, 1), test::load_tensor(sg3_fixture(stem + "_img.npy")), stem);
    }
  }
}

TEST_P(StyleGAN3Reference, EveryTapMatchesWithAndWithoutTheInputTransform) {
  const json index = fixture_index();
  const auto gen = load();
  std::vector<std::string> taps;
  for (const auto& t : gen->taps()) taps.push_back(t.name);
  EXPECT_EQ(taps, index.at(name()).at("taps").get<std::vector<std::string>>());
  const at::Tensor z = fixture_z(*gen, name());
  const json& cases = index.at(name()).at("cases");
  int checked = 0;
  for (std::size_t ci = 0; ci < cases.size(); ++ci) {
    const std::string prefix = name() + "_case" + std::to_string(ci) + "_tap_";
    if (!std::filesystem::exists(sg3_fixture(prefix + "output.npy"))) continue;
    TapState s = gen->prepare(z, case_options(cases[ci]));
    for (std::size_t i = 0; i < gen->taps().size(); ++i) {
      s = gen->run_stage(i, s);
      const TapInfo& tap = gen->taps()[i];
      const at::Tensor expected = test::load_tensor(sg3_fixture(prefix + tap.name + ".npy"));
      expect_close(s.x.narrow(0, 0, 1), expected, prefix + tap.name);
      EXPECT_EQ(tap.channels, expected.size(1)) << tap.name;
      EXPECT_EQ(tap.height, expected.size(2)) << tap.name;
      EXPECT_EQ(tap.width, expected.size(3)) << tap.name;
    }
    ++checked;
  }
  EXPECT_GE(checked, 1);
}

INSTANTIATE_TEST_SUITE_P(Configs, StyleGAN3Reference,
                         ::testing::Combine(::testing::Values("t32", "t32_clamp", "r16", "odd32"),
                                            ::testing::Values("kernel", "winograd", "aten")),
                         [](const ::testing::TestParamInfo<ReferenceCase>& p) {
                           return std::get<0>(p.param) + "_" + std::get<1>(p.param);
                         });

// NVIDIA's own code, run on the CPU by tests/reference/stylegan3_official_check.py on weights and
// configurations the float64 reference never saw (flat constructor kwargs as the pickles hold
// them): every layer's output and the image, with and without the input transform.
class StyleGAN3Official : public ::testing::TestWithParam<ReferenceCase> {};

TEST_P(StyleGAN3Official, TapsAndImagesMatchTheOriginalCode) {
  const std::string name = std::get<0>(GetParam());
  const std::string dir = "official/";
  const auto gen = load_fixture(dir + name, std::get<1>(GetParam()));
  const json index = json::parse(read_file_text(sg3_fixture(dir + "index.json"))).at(name);
  const FloatArray za = read_npy(sg3_fixture(dir + name + "_z.npy"));
  const at::Tensor z = latents_from_array(gen->card().latent, za.shape, za.data, "z.npy");
  std::vector<std::string> layers;
  for (const auto& t : gen->taps()) {
    if (t.name != "mapping" && t.name != "input" && t.name != "output") layers.push_back(t.name);
  }
  EXPECT_EQ(layers, index.at("layers").get<std::vector<std::string>>());
  const json& cases = index.at("cases");
  for (std::size_t ci = 0; ci < cases.size(); ++ci) {
    const std::string stem = dir + name + "_case" + std::to_string(ci);
    TapState s = gen->prepare(z, case_options(cases[ci]));
    for (std::size_t i = 0; i < gen->taps().size(); ++i) {
      s = gen->run_stage(i, s);
      const std::string& tap = gen->taps()[i].name;
      if (!cases[ci].at("taps").get<bool>() || tap == "mapping" || tap == "output") continue;
      expect_close(s.x.narrow(0, 0, 1), test::load_tensor(sg3_fixture(stem + "_tap_" + tap + ".npy")), stem + " " + tap);
    }
    for (int k = 0; k < 2; ++k) {
      expect_close(s.x.narrow(0, k, 1), test::load_tensor(sg3_fixture(stem + "_s" + std::to_string(k) + "_img.npy")),
                   stem + " image " + std::to_string(k));
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Configs, StyleGAN3Official,
                         ::testing::Combine(::testing::Values("t32", "r16"), ::testing::Values("kernel", "winograd", "aten")),
                         [](const ::testing::TestParamInfo<ReferenceCase>& p) {
                           return std::get<0>(p.param) + "_" + std::get<1>(p.param);
                         });

// modulated_conv2d normalises the styles by their RMS over the whole batch: with sample 1's row
// for layer 1 (whose styles have no bias) scaled by 1e-5, its demodulation sees the 1e-8 and its
// image depends on what else is in the batch, exactly as in the reference.
TEST(StyleGAN3Ops, StylesAreNormalisedOverTheWholeBatch) {
  const auto gen = load_fixture("t32");
  const at::Tensor ws = test::load_tensor(sg3_fixture("t32_batch_ws.npy"));
  const at::Tensor img = gen->forward(ws);
  const at::Tensor expected = test::load_tensor(sg3_fixture("t32_batch_img.npy"));
  expect_close(img, expected, "batch of two");
  const at::Tensor alone = gen->forward(ws.narrow(0, 1, 1));
  EXPECT_GT((alone - img.narrow(0, 1, 1)).abs().max().item<double>(), 0.01);
}

// The layer geometry of the official configurations, as NVIDIA's SynthesisNetwork constructor
// builds it (stylegan3 training/networks_stylegan3.py, run on the CPU): names, paddings, factors
// and filter shapes.
TEST(StyleGAN3Config, OfficialConfigsGiveTheOfficialLayers) {
  struct Row {
    const char* name;
    std::int64_t pad0, pad1, up, down, up_taps, down_taps;
    bool radial;
  };
  auto check = [](const json& config, const std::vector<Row>& rows, std::int64_t input_channels) {
    const StyleGAN3Config c = parse_stylegan3_config(config, "config");
    const auto layers = c.layers();
    ASSERT_EQ(layers.size(), rows.size());
    for (std::size_t i = 0; i < rows.size(); ++i) {
      const Row& r = rows[i];
      const StyleGAN3Layer& l = layers[i];
      EXPECT_EQ(l.name, r.name);
      EXPECT_EQ(l.pad0, r.pad0) << r.name;
      EXPECT_EQ(l.pad1, r.pad1) << r.name;
      EXPECT_EQ(l.up, r.up) << r.name;
      EXPECT_EQ(l.down, r.down) << r.name;
      EXPECT_EQ(l.up_taps, r.up_taps) << r.name;
      EXPECT_EQ(l.down_taps, r.down_taps) << r.name;
      EXPECT_EQ(l.radial, r.radial) << r.name;
    }
    const StyleGAN3Input in = c.input();
    EXPECT_EQ(in.channels, input_channels);
    EXPECT_EQ(in.size, 36);
    EXPECT_EQ(in.sampling_rate, 16.0);
    EXPECT_EQ(in.bandwidth, 2.0);
    EXPECT_EQ(c.num_ws(), 16);
  };
  check({{"z_dim", 512}, {"w_dim", 512}, {"img_resolution", 1024}, {"img_channels", 3}, {"channel_base", 32768}, {"channel_max", 512}},
        {{"L0_36_512", 9, 8, 2, 2, 12, 12, false},     {"L1_36_512", 9, 8, 2, 2, 12, 12, false},
         {"L2_52_512", -6, -9, 4, 2, 24, 12, false},   {"L3_52_512", 9, 8, 2, 2, 12, 12, false},
         {"L4_84_512", -6, -9, 4, 2, 24, 12, false},   {"L5_148_512", -6, -9, 4, 2, 24, 12, false},
         {"L6_148_512", 9, 8, 2, 2, 12, 12, false},    {"L7_276_323", -6, -9, 4, 2, 24, 12, false},
         {"L8_276_203", 9, 8, 2, 2, 12, 12, false},    {"L9_532_128", -6, -9, 4, 2, 24, 12, false},
         {"L10_1044_81", -6, -9, 4, 2, 24, 12, false}, {"L11_1044_51", 9, 8, 2, 2, 12, 12, false},
         {"L12_1044_32", 9, 8, 2, 2, 12, 12, false},   {"L13_1024_32", -11, -12, 2, 2, 12, 12, false},
         {"L14_1024_3", 0, 0, 1, 1, 1, 1, false}},
        512);
  // StyleGAN3-R: 1x1 kernels, twice the channels, radial down filters before the critical layers.
  check({{"z_dim", 512}, {"w_dim", 512}, {"img_resolution", 1024}, {"img_channels", 3},
         {"synthesis_kwargs", {{"channel_base", 65536}, {"channel_max", 1024}, {"conv_kernel", 1}, {"use_radial_filters", true}}}},
        {{"L0_36_1024", 11, 10, 2, 2, 12, 12, true},    {"L1_36_1024", 11, 10, 2, 2, 12, 12, true},
         {"L2_52_1024", -2, -5, 4, 2, 24, 12, true},    {"L3_52_1024", 11, 10, 2, 2, 12, 12, true},
         {"L4_84_1024", -2, -5, 4, 2, 24, 12, true},    {"L5_148_1024", -2, -5, 4, 2, 24, 12, true},
         {"L6_148_1024", 11, 10, 2, 2, 12, 12, true},   {"L7_276_645", -2, -5, 4, 2, 24, 12, true},
         {"L8_276_406", 11, 10, 2, 2, 12, 12, true},    {"L9_532_256", -2, -5, 4, 2, 24, 12, true},
         {"L10_1044_161", -2, -5, 4, 2, 24, 12, true},  {"L11_1044_102", 11, 10, 2, 2, 12, 12, true},
         {"L12_1044_64", 11, 10, 2, 2, 12, 12, false},  {"L13_1024_64", -9, -10, 2, 2, 12, 12, false},
         {"L14_1024_3", 0, 0, 1, 1, 1, 1, false}},
        1024);
  // 256x256 (the configuration of the performance target): 36, 52, 84, 148 and 276 pixels.
  const StyleGAN3Config t256 = parse_stylegan3_config(
      {{"z_dim", 512}, {"w_dim", 512}, {"img_resolution", 256}, {"img_channels", 3}, {"channel_base", 32768}, {"channel_max", 512}}, "c");
  std::vector<std::string> names;
  for (const auto& l : t256.layers()) names.push_back(l.name);
  EXPECT_EQ(names, (std::vector<std::string>{"L0_36_512", "L1_36_512", "L2_36_512", "L3_52_512", "L4_52_512", "L5_84_512",
                                             "L6_84_512", "L7_148_512", "L8_148_512", "L9_148_362", "L10_276_256",
                                             "L11_276_181", "L12_276_128", "L13_256_128", "L14_256_3"}));
}

TEST(StyleGAN3Config, CardsNameTheKeyAtFault) {
  auto card = [](const json& config) {
    return json({{"family", "stylegan3"}, {"weights", "x.safetensors"}, {"config", config}}).dump();
  };
  const json ok = {{"z_dim", 8}, {"w_dim", 8}, {"img_resolution", 16}, {"img_channels", 3}};
  EXPECT_NO_THROW(parse_model_card(card(ok), "c.json"));
  auto with = [&](const std::string& key, const json& v) {
    json c = ok;
    c[key] = v;
    return card(c);
  };
  test::expect_error([&] { parse_model_card(with("c_dim", 10), "c.json"); }, {"c.json: config.c_dim: conditional"});
  test::expect_error([&] { parse_model_card(with("architecture", "skip"), "c.json"); }, {"c.json: config.architecture: unknown key"});
  test::expect_error([&] { parse_model_card(with("num_critical", 14), "c.json"); }, {"config.num_critical: must be smaller than num_layers"});
  test::expect_error([&] { parse_model_card(with("synthesis_kwargs", {{"conv_kernel", "3"}}), "c.json"); },
                     {"config.synthesis_kwargs.conv_kernel: must be an integer"});
  test::expect_error([&] { parse_model_card(with("mapping_kwargs", {{"num_layers", 0}}), "c.json"); },
                     {"config.mapping_kwargs.num_layers: must be at least 1"});
  test::expect_error([&] { parse_model_card(with("lrelu_upsampling", 1.5), "c.json"); }, {"lrelu_upsampling", "whole multiple"});
  test::expect_error([&] { parse_model_card(with("conv_clamp", -1), "c.json"); }, {"config.conv_clamp: must be a non-negative number"});
  // A flat num_layers is the synthesis network's; the mapping's lives in mapping_kwargs.
  json nested = ok;
  nested["num_layers"] = 6;
  nested["mapping_kwargs"] = {{"num_layers", 3}};
  const ModelCard c = parse_model_card(card(nested), "c.json");
  EXPECT_EQ(c.stylegan3->num_layers, 6);
  EXPECT_EQ(c.stylegan3->mapping_layers, 3);
  EXPECT_EQ(c.latent.size, 8);
  EXPECT_EQ(c.w_plus()->rows, 8);
  EXPECT_EQ(plan_stages(c).back().tap.name, "output");
}

// A weights file whose tensors do not fit the card: the error names the file, the key and both shapes.
TEST(StyleGAN3Config, WeightsThatDoNotFitNameTheKeyAndShapes) {
  const std::string dir = test::temp_dir("sg3_mismatch");
  json card = json::parse(read_file_text(sg3_fixture("r16.json")));
  card["weights"] = sg3_fixture("r16.safetensors");
  card["config"]["synthesis_kwargs"]["use_radial_filters"] = false;  // the stored filters are 2-D
  write_file_atomic(dir + "/c.json", card.dump());
  test::expect_error([&] { load_generator(load_model_card(dir + "/c.json")); },
                     {"r16.safetensors: key 'synthesis.L0_36_8.down_filter': expected shape [12]: a separable filter, got [12, 12]"});
  auto tensors = read_weights(sg3_fixture("t32.safetensors"));
  tensors.erase("synthesis.L3_52_3.magnitude_ema");
  tensors["synthesis.extra"] = FloatTensor{{1}, {0.0f}};
  write_file_atomic(dir + "/w.safetensors", encode_safetensors(tensors));
  card = json::parse(read_file_text(sg3_fixture("t32.json")));
  card["weights"] = "w.safetensors";
  write_file_atomic(dir + "/t.json", card.dump());
  test::expect_error([&] { load_generator(load_model_card(dir + "/t.json")); },
                     {"w.safetensors: missing key 'synthesis.L3_52_3.magnitude_ema' (expected shape []"});
}

// ---- The filtered leaky ReLU -------------------------------------------------------------------

FilteredLRelu make_act(std::vector<float> fu, std::vector<float> fd, bool fd_2d, std::int64_t up, std::int64_t down,
                       std::int64_t pad0, std::int64_t pad1, double clamp) {
  FilteredLRelu p;
  if (!fu.empty()) p.up_filter = FirFilter::from_tensor(at::tensor(fu));
  if (!fd.empty()) {
    const auto n = static_cast<std::int64_t>(std::lround(std::sqrt(static_cast<double>(fd.size()))));
    p.down_filter = FirFilter::from_tensor(fd_2d ? at::tensor(fd).view({n, n}) : at::tensor(fd));
  }
  p.up = up;
  p.down = down;
  p.pad0 = pad0;
  p.pad1 = pad1;
  p.clamp = clamp;
  return p;
}

// One row of three pixels [1, -2, 3], bias 0.5, up 2 with the stored filter [1, 2] (gain 2 per
// axis), padding 1 before and 0 after, down 2 with the stored filter [0.75, 0.25], slope 0.2,
// gain sqrt 2, no clamp. Both filters are applied as true convolutions (flipped). By hand:
//   x: (x + b) = [1.5, -1.5, 3.5]; zero-stuffed and padded s = [0, 1.5, 0, -1.5, 0, 3.5, 0];
//      u[m] = 4 s[m] + 2 s[m + 1] = [3, 6, -3, -6, 7, 14]
//   y: the row r padded [0, r, 0] gives the rows [2 r, 4 r]: 2u and 4u
//   leaky ReLU: 2u -> [6, 12, -1.2, -2.4, 14, 28], 4u -> [12, 24, -2.4, -4.8, 28, 56] (times sqrt 2)
//   down, x: y[m] = 0.25 v[m] + 0.75 v[m + 1] at m = 0, 2, 4: [10.5, -2.1, 24.5] and [21, -4.2, 49]
//   down, y: 0.25 row0 + 0.75 row1 = [18.375, -3.675, 42.875] (times sqrt 2)
TEST(StyleGAN3Ops, FilteredLReluMatchesAHandComputedCase) {
  const at::Tensor x = at::tensor({1.0f, -2.0f, 3.0f}).view({1, 1, 1, 3});
  const FilteredLRelu p = make_act({1, 2}, {0.75f, 0.25f}, false, 2, 2, 1, 0, -1);
  const double expected[3] = {18.375, -3.675, 42.875};
  for (const at::Tensor& y : {filtered_lrelu(x, at::tensor({0.5f}), p), filtered_lrelu_aten(x, at::tensor({0.5f}), p)}) {
    ASSERT_EQ(y.sizes(), (at::IntArrayRef{1, 1, 1, 3}));
    for (int j = 0; j < 3; ++j) EXPECT_NEAR(y[0][0][0][j].item<double>(), expected[j] * std::sqrt(2.0), 1e-4) << j;
  }
  // A clamp at 20 acts after the activation and gain, before the down filter.
  const FilteredLRelu c = make_act({1, 2}, {0.75f, 0.25f}, false, 2, 2, 1, 0, 20.0);
  const double r2 = std::sqrt(2.0);
  auto cl = [&](double v) { return std::min(std::max(v * r2, -20.0), 20.0); };
  const double row0[6] = {6, 12, -1.2, -2.4, 14, 28}, row1[6] = {12, 24, -2.4, -4.8, 28, 56};
  const at::Tensor y = filtered_lrelu(x, at::tensor({0.5f}), c);
  for (int j = 0; j < 3; ++j) {
    const int m = 2 * j;
    const double a = 0.25 * cl(row0[m]) + 0.75 * cl(row0[m + 1]), b = 0.25 * cl(row1[m]) + 0.75 * cl(row1[m + 1]);
    EXPECT_NEAR(y[0][0][0][j].item<double>(), 0.25 * a + 0.75 * b, 1e-4) << j;
  }
}

// The polyphase kernel against LibTorch's zero insertion and convolutions, for up and down
// factors 1, 2 and 4, positive and negative padding, identity, separable and 2-D filters, a
// clamp, and sizes that are no power of two.
TEST(StyleGAN3Ops, FilteredLReluKernelAgreesWithLibTorchOperations) {
  at::manual_seed(5);
  auto taps = [](std::int64_t n) { return (at::rand({n}) + 0.1).to(at::kFloat); };
  auto vec = [](const at::Tensor& t) { return std::vector<float>(t.data_ptr<float>(), t.data_ptr<float>() + t.numel()); };
  struct Case {
    std::int64_t up, down, fu, fd, pad0, pad1;
    bool two_d;
    double clamp;
    std::int64_t h, w;
  };
  const std::vector<Case> cases = {
      {2, 2, 12, 12, 9, 8, false, -1, 38, 38},   {4, 2, 24, 12, -6, -9, false, 0.7, 38, 38},
      {2, 2, 12, 12, -11, -12, false, 2, 54, 54}, {2, 2, 12, 12, 11, 10, true, -1, 36, 36},
      {4, 2, 24, 12, -2, -5, true, 0.5, 36, 36},  {1, 1, 1, 1, -1, -1, false, 0.3, 26, 26},
      {2, 1, 8, 1, 3, 2, false, -1, 13, 13},      {1, 1, 1, 1, 0, 0, false, -1, 7, 5},
      {2, 2, 6, 4, 1, 3, false, -1, 9, 17},       {1, 2, 3, 6, 2, 2, true, 1.5, 11, 11}};
  for (const Case& c : cases) {
    const at::Tensor fu = taps(c.fu), fd = taps(c.two_d ? c.fd * c.fd : c.fd);
    const FilteredLRelu p = make_act(c.fu > 1 ? vec(fu) : std::vector<float>{}, c.fd > 1 ? vec(fd) : std::vector<float>{},
                                     c.two_d, c.up, c.down, c.pad0, c.pad1, c.clamp);
    const at::Tensor x = at::randn({2, 3, c.h, c.w}), b = at::randn({3});
    const at::Tensor got = filtered_lrelu(x, b, p), want = filtered_lrelu_aten(x, b, p);
    ASSERT_EQ(got.sizes(), want.sizes()) << c.up << "/" << c.down;
    EXPECT_EQ(got.size(2), p.output_size(c.h));
    EXPECT_EQ(got.size(3), p.output_size(c.w));
    EXPECT_LE(test::closeness(got, want, 1e-5 * std::max(1.0, want.abs().max().item<double>()), 1e-5), 1.0)
        << "up " << c.up << " down " << c.down << " pad " << c.pad0 << "," << c.pad1 << ": "
        << (got - want).abs().max().item<double>();
  }
}

// Winograd's F(4x4, 3x3) against LibTorch's direct convolution: sizes that leave partial tiles,
// paddings 0 to 2, channel counts that are no multiple of anything.
TEST(StyleGAN3Ops, WinogradConvolutionAgreesWithTheDirectOne) {
  at::manual_seed(6);
  for (const auto& [ci, co, h, w, pad] : std::vector<std::tuple<int, int, int, int, int>>{
           {3, 5, 7, 9, 2}, {16, 8, 36, 36, 2}, {7, 11, 13, 6, 1}, {4, 4, 5, 5, 0}, {33, 17, 52, 52, 2}}) {
    const at::Tensor x = at::randn({1, ci, h, w}), k = at::randn({co, ci, 3, 3});
    const at::Tensor want = at::conv2d(x, k, {}, 1, pad), got = conv3x3_winograd(x, k, pad);
    ASSERT_EQ(got.sizes(), want.sizes());
    const double scale = want.abs().max().item<double>();
    EXPECT_LE((got - want).abs().max().item<double>(), 2e-5 * scale) << ci << "x" << h << "x" << w << " pad " << pad;
  }
  const at::Tensor a = at::randn({37, 20}), b = at::randn({20, 9});
  EXPECT_TRUE(at::allclose(parallel_matmul(a, b), at::mm(a, b), 1e-5, 1e-5));
}

// ---- The input transform -----------------------------------------------------------------------

// gen_images.py's make_transform written out: its product with actmap's buffer is the identity.
TEST(StyleGAN3Transform, TheBufferIsTheInverseOfMakeTransform) {
  const double deg = 37.0, tx = 0.3, ty = -1.2;
  const double a = deg / 360.0 * 2 * M_PI;
  const double m[3][3] = {{std::cos(a), std::sin(a), tx}, {-std::sin(a), std::cos(a), ty}, {0, 0, 1}};
  const std::vector<double> inv = stylegan3_input_transform(deg, tx, ty);
  for (int r = 0; r < 3; ++r) {
    for (int c = 0; c < 3; ++c) {
      double v = 0;
      for (int k = 0; k < 3; ++k) v += m[r][k] * inv[static_cast<std::size_t>(k * 3 + c)];
      EXPECT_NEAR(v, r == c ? 1.0 : 0.0, 1e-12) << r << "," << c;
    }
  }
}

// The user transform acts on the input's sampling grid after the learned one: translating by
// whole input pixels (1 / rate each) shifts the input tap by those pixels (content moves towards
// +x, +y: right and down), and 90 degrees turns it as np.rot90 does (counter-clockwise on screen).
TEST(StyleGAN3Transform, TranslationShiftsAndQuarterTurnsRotateTheInputTap) {
  const auto gen = load_fixture("t32");
  const std::size_t input = gen->tap_index("input");
  const at::Tensor z = fixture_z(*gen, "t32");
  auto input_tap = [&](const SynthesisOptions& o) {
    TapState s = gen->prepare(z, o);
    for (std::size_t i = 0; i <= input; ++i) s = gen->run_stage(i, s);
    return s.x;
  };
  const at::Tensor base = input_tap({});
  SynthesisOptions shift;
  shift.input_translate = {3.0 / 16.0, -2.0 / 16.0};  // t32's input runs at rate 16
  const at::Tensor moved = input_tap(shift);
  const std::int64_t n = base.size(3);
  EXPECT_TRUE(at::allclose(moved.narrow(3, 3, n - 3).narrow(2, 0, n - 2), base.narrow(3, 0, n - 3).narrow(2, 2, n - 2), 1e-4, 1e-4));
  SynthesisOptions turn;
  turn.input_rotate = 90.0;
  EXPECT_TRUE(at::allclose(input_tap(turn), at::rot90(base, 1, {2, 3}), 1e-4, 1e-4));
  // Not a no-op elsewhere: the image changes.
  EXPECT_FALSE(at::allclose(gen->forward(z, turn), gen->forward(z, {}), 1e-3, 1e-3));
}

// ---- Edits ---------------------------------------------------------------------------------------

Edit make_edit(const std::string& tap, const std::string& op, const json& channels, const json& params = json::object()) {
  return Edit::from_json({{"id", "e"}, {"tap", tap}, {"op", op}, {"channels", channels}, {"params", params}}, "/edits/0");
}

// A weight edit renders exactly what a weights file with those kernels edited renders.
TEST(StyleGAN3Edits, WeightEditsEqualEditedWeightsFiles) {
  const std::string dir = test::temp_dir("sg3_weights");
  auto tensors = read_weights(sg3_fixture("t32.safetensors"));
  FloatTensor& w = tensors.at("synthesis.L2_52_6.weight");  // [6, 8, 3, 3]: negate output channels 1 and 4
  for (std::int64_t o : {1, 4}) {
    for (std::int64_t k = 0; k < 8 * 9; ++k) w.data[static_cast<std::size_t>(o * 72 + k)] *= -1.0f;
  }
  FloatTensor& iw = tensors.at("synthesis.input.weight");  // [8, 8]: output channel 2 to zero
  for (std::int64_t k = 0; k < 8; ++k) iw.data[static_cast<std::size_t>(2 * 8 + k)] = 0.0f;
  write_file_atomic(dir + "/w.safetensors", encode_safetensors(tensors));
  json card = json::parse(read_file_text(sg3_fixture("t32.json")));
  card["weights"] = "w.safetensors";
  write_file_atomic(dir + "/t.json", card.dump());
  const auto edited_file = load_generator(load_model_card(dir + "/t.json"));
  const auto gen = load_fixture("t32");
  const at::Tensor z = fixture_z(*gen, "t32").narrow(0, 0, 1);
  Renderer r(gen);
  const RenderResult out = r.render(z, {make_edit("L2_52_6", "weight_negate", json::array({1, 4})),
                                        make_edit("input", "weight_zero", 2)});
  expect_close(out.output, edited_file->forward(z), "weight edits");
  EXPECT_EQ(r.activation(gen->tap_index("input")).select(1, 2).abs().max().item<double>(), 0.0);
  // Zeroed kernels of a demodulated layer leave the bias alone (no NaN from the normalisation).
  Renderer r2(gen);
  const at::Tensor zeroed = r2.render(z, {make_edit("L3_52_3", "weight_zero", "all")}).output;
  EXPECT_FALSE(at::isnan(zeroed).any().item<bool>());
}

// Edits at a tap re-run only the stages after it; at the last layer, only the output scale.
TEST(StyleGAN3Edits, AnEditReRunsOnlyTheStagesAfterItsTap) {
  const auto gen = load_fixture("t32");
  Renderer r(gen);
  const at::Tensor z = fixture_z(*gen, "t32").narrow(0, 0, 1);
  const RenderResult base = r.render(z, {});
  const RenderResult edited = r.render(z, {make_edit("L6_32_3", "multiply", "all", {{"factor", 0.5}})});
  EXPECT_EQ(edited.timings.first_stage, gen->tap_index("L6_32_3"));
  expect_close(edited.output, base.output * 0.5, "multiply at the last layer");
  const RenderResult middle = r.render(z, {make_edit("L2_52_6", "rotate", "all", {{"degrees", 30.0}})});
  EXPECT_EQ(middle.timings.first_stage, gen->tap_index("L2_52_6"));
  EXPECT_FALSE(at::allclose(middle.output, base.output, 1e-3, 1e-3));
}

// W+ edits at "mapping" reach the input and every layer through their rows.
TEST(StyleGAN3Edits, StyleMixAtTheMappingTapTakesTheOtherSeedsRows) {
  const auto gen = load_fixture("t32");
  const at::Tensor z = latents_from_seeds(gen->card().latent, 3, 1);
  Renderer r(gen);
  const at::Tensor mixed = r.render(z, {make_edit("mapping", "style_mix", {{"range", {0, 7}}}, {{"seed", 11}})}).output;
  const at::Tensor other = gen->forward(latents_from_seeds(gen->card().latent, 11, 1));
  expect_close(mixed, other, "style_mix of every row");
}

// ---- Sessions ------------------------------------------------------------------------------------

TEST(StyleGAN3Session, TheInputTransformRoundTripsAndOnlyStyleGAN3TakesIt) {
  const std::string dir = test::temp_dir("sg3_session");
  const std::string card = sg3_fixture("t32.json");
  json doc = {{"actmap_session", 1}, {"model", card}, {"latent", {{"seed", 4}}},
              {"synthesis", {{"truncation_psi", 0.7}, {"input_rotate", 15.5}, {"input_translate", {0.25, -0.5}}}},
              {"edits", json::array()}};
  Session s = parse_session(doc.dump(), dir + "/s.json");
  EXPECT_EQ(s.synthesis.input_rotate, 15.5);
  EXPECT_EQ(s.synthesis.input_translate, (std::array<double, 2>{0.25, -0.5}));
  save_session(s, dir + "/s.json");
  const Session back = load_session(dir + "/s.json");
  EXPECT_EQ(back.synthesis, s.synthesis);
  const auto gen = load_generator(load_model_card(card));
  Renderer r(gen);
  SynthesisOptions o;
  o.truncation_psi = 0.7;
  o.input_rotate = 15.5;
  o.input_translate = {0.25, -0.5};
  EXPECT_TRUE(at::equal(render_session(r, back).output, gen->forward(latents_from_seeds(gen->card().latent, 4, 1), o)));
  // Without a transform the key is not written.
  Session plain = s;
  plain.synthesis.input_rotate = 0;
  plain.synthesis.input_translate = {0, 0};
  EXPECT_FALSE(session_to_json(plain, dir).at("synthesis").contains("input_rotate"));

  auto bad = [&](const std::function<void(json&)>& change, const std::string& message) {
    json d = doc;
    change(d);
    test::expect_error([&] { parse_session(d.dump(), dir + "/bad.json"); }, {message});
  };
  bad([](json& d) { d["synthesis"]["input_translate"] = {1}; }, "/synthesis/input_translate: expected [x, y]");
  bad([](json& d) { d["synthesis"]["input_rotate"] = "left"; }, "/synthesis/input_rotate: expected an angle");
  bad([](json& d) { d["model"] = test::fixture("stylegan2/skip16.json"); },
      "/synthesis/input_rotate: model skip16 (stylegan2) has no input transform");
}

// The editor changes the transform through the history: a drag is one undo step.
TEST(StyleGAN3Session, TransformChangesAreUndoSteps) {
  const std::string dir = test::temp_dir("sg3_history");
  json doc = {{"actmap_session", 1}, {"model", sg3_fixture("t32.json")}, {"latent", {{"seed", 2}}}, {"edits", json::array()}};
  SessionHistory h(parse_session(doc.dump(), dir + "/s.json"));
  SynthesisOptions o;
  for (double deg : {5.0, 10.0, 15.0}) {
    o.input_rotate = deg;
    h.set_synthesis(o, "rotate-drag");
  }
  h.end_gesture();
  o.input_translate = {0.25, 0.0};
  h.set_synthesis(o);
  ASSERT_EQ(h.descriptions().size(), 2u);
  EXPECT_NE(h.descriptions()[0].find("Input transform: rotate 15.0"), std::string::npos) << h.descriptions()[0];
  EXPECT_TRUE(h.undo());
  EXPECT_EQ(h.session().synthesis.input_translate, (std::array<double, 2>{0.0, 0.0}));
  EXPECT_EQ(h.session().synthesis.input_rotate, 15.0);
  EXPECT_TRUE(h.undo());
  EXPECT_FALSE(h.session().synthesis.has_input_transform());
}

// Animating the input transform from a session without one: each frame is the session with
// /synthesis/input_rotate at that frame's value.
TEST(StyleGAN3Session, TheInputRotationAnimatesFromItsDefault) {
  const std::string dir = test::temp_dir("sg3_animate");
  json doc = {{"actmap_session", 1}, {"model", sg3_fixture("t32.json")}, {"latent", {{"seed", 2}}}, {"edits", json::array()}};
  write_file_atomic(dir + "/s.json", doc.dump());
  const Session s = load_session(dir + "/s.json");
  const ModelCard card = load_model_card(s.card_path);
  const auto pointers = numeric_pointers(s, card);
  EXPECT_NE(std::find(pointers.begin(), pointers.end(), "/synthesis/input_translate/1"), pointers.end());
  Animation rotate(s, 5, dir + "/s.json");
  rotate.sweep("/synthesis/input_rotate", 0, 90);
  EXPECT_EQ(rotate.frame(0).synthesis.input_rotate, 0.0);
  EXPECT_EQ(rotate.frame(2).synthesis.input_rotate, 45.0);
  EXPECT_EQ(rotate.frame(4).synthesis.input_rotate, 90.0);
  Animation shift(s, 3, dir + "/s.json");
  shift.sweep("/synthesis/input_translate/0", -0.5, 0.5);
  EXPECT_EQ(shift.frame(2).synthesis.input_translate, (std::array<double, 2>{0.5, 0.0}));
  // On a StyleGAN2 model the session check refuses the transform at the first frame.
  json dg = doc;
  dg["model"] = test::fixture("stylegan2/skip16.json");
  write_file_atomic(dir + "/g.json", dg.dump());
  test::expect_error([&] { Animation(load_session(dir + "/g.json"), 3, dir + "/g.json").sweep("/synthesis/input_rotate", 0, 9); },
                     {"--param /synthesis/input_rotate", "no value there"});
}

// actmap-cli render: --input-rotate and --input-translate render what the core renders with those
// settings; --dump-taps writes every tap under its official name.
TEST(StyleGAN3Cli, RenderTakesTheInputTransformAndDumpsTapsByName) {
  const std::string dir = test::temp_dir("sg3_cli");
  const std::string card = sg3_fixture("t32.json");
  test::CliRun r = test::cli("render -m " + card + " --seed 5 --truncation 0.8 --input-rotate 30 --input-translate=-0.25,0.5 -o " +
                             dir + "/a.png --tensor-out " + dir + "/a.npy --dump-taps " + dir + "/taps");
  ASSERT_EQ(r.code, 0) << r.out;
  const auto gen = load_generator(load_model_card(card));
  SynthesisOptions o;
  o.truncation_psi = 0.8;
  o.input_rotate = 30;
  o.input_translate = {-0.25, 0.5};
  const at::Tensor expected = gen->forward(latents_from_seeds(gen->card().latent, 5, 1), o);
  EXPECT_TRUE(at::allclose(test::load_tensor(dir + "/a.npy"), expected, 1e-5, 1e-6));
  for (const auto& t : gen->taps()) EXPECT_TRUE(std::filesystem::exists(dir + "/taps/" + t.name + ".npy")) << t.name;
  EXPECT_TRUE(at::equal(test::load_tensor(dir + "/taps/L6_32_3.npy") * 0.25, test::load_tensor(dir + "/taps/output.npy")));
  r = test::cli("render -m " + test::fixture("stylegan2/skip16.json") + " --seed 1 --input-rotate 10 -o " + dir + "/b.png");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("--input-rotate and --input-translate need a StyleGAN3 model; skip16 is stylegan2"), std::string::npos) << r.out;
}

// actmap-cli import of an NVIDIA network pickle (t32's weights pickled by the reference script
// with the official module names and flat kwargs) writes a stylegan3 card that renders the
// reference's images.
TEST(StyleGAN3Import, APickleBecomesACardThatRendersTheReference) {
  const std::string dir = test::temp_dir("sg3_import");
  test::CliRun r = test::cli("import " + sg3_fixture("t32_nvidia.pkl") + " -o " + dir + "/g.safetensors --card " + dir + "/g.json");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("family stylegan3, 32x32"), std::string::npos) << r.out;
  const ModelCard card = load_model_card(dir + "/g.json");
  ASSERT_TRUE(card.stylegan3.has_value());
  EXPECT_EQ(card.stylegan3->num_layers, 6);
  EXPECT_EQ(card.stylegan3->channel_base, 64);
  r = test::cli("render -m " + dir + "/g.json --z " + sg3_fixture("t32_z.npy") + " -o " + dir + "/g.png --tensor-out " + dir + "/g.npy");
  ASSERT_EQ(r.code, 0) << r.out;
  const at::Tensor img = test::load_tensor(dir + "/g.npy");
  for (int k = 0; k < 2; ++k) {
    expect_close(img.narrow(0, k, 1), test::load_tensor(sg3_fixture("t32_case0_s" + std::to_string(k) + "_img.npy")), "imported");
  }
}

// A bare state dict: the config is read off the layer names and shapes.
TEST(StyleGAN3Import, ConfigsAreReadOffBareStateDicts) {
  for (const std::string name : {"t32", "r16"}) {
    std::vector<std::string> notes;
    const json config = infer_stylegan3_config(read_weights(sg3_fixture(name + ".safetensors")), &notes);
    const json want = json::parse(read_file_text(sg3_fixture(name + ".json"))).at("config");
    const StyleGAN3Config got = parse_stylegan3_config(config, name), expected = parse_stylegan3_config(want, name);
    EXPECT_EQ(got.channel_base, expected.channel_base) << name;
    EXPECT_EQ(got.channel_max, expected.channel_max) << name;
    EXPECT_EQ(got.num_layers, expected.num_layers) << name;
    EXPECT_EQ(got.conv_kernel, expected.conv_kernel) << name;
    EXPECT_EQ(got.use_radial_filters, expected.use_radial_filters) << name;
    EXPECT_EQ(got.mapping_layers, expected.mapping_layers) << name;
    EXPECT_EQ(got.w_dim, expected.w_dim) << name;
    EXPECT_EQ(got.z_dim, expected.z_dim) << name;
    EXPECT_FALSE(notes.empty());
  }
  // odd32's cutoffs, filter sizes and margin are not the defaults: no config with them fits.
  test::expect_error([&] { infer_stylegan3_config(read_weights(sg3_fixture("odd32.safetensors")), nullptr); },
                     {"no config with the default cutoffs", "L0_24_6 ... L5_32_1"});
}

// Analyses on 52x52 and 36x36 taps: channel sensitivity batches copies of a tap (the layers then
// run batched, their styles normalised over the batch) and must give what ablating one channel at
// a time gives; a depth sweep moves a brush stroke to every map.
TEST(StyleGAN3Analysis, SensitivityAndSweepWorkOnItsTaps) {
  const auto gen = load_fixture("t32");
  SensitivityOptions o;
  o.samples = 2;
  o.batch = 5;
  const SensitivityResult res = channel_sensitivity(*gen, "L2_52_6", o);
  ASSERT_EQ(res.change.size(), 6u);
  for (int c = 0; c < 6; ++c) {
    double sum = 0;
    for (std::uint64_t seed = 0; seed < 2; ++seed) {
      const at::Tensor z = latents_from_seeds(gen->card().latent, seed, 1);
      Renderer r(gen);
      const at::Tensor ablated = r.render(z, {make_edit("L2_52_6", "ablate", c)}).output;
      sum += (ablated - gen->forward(z)).abs().mean().item<double>() * 127.5;  // 8-bit units of [-1, 1]
    }
    EXPECT_NEAR(res.change[static_cast<std::size_t>(c)], sum / 2, 1e-3 * std::max(1.0, sum / 2)) << c;
  }
  const std::string dir = test::temp_dir("sg3_sweep");
  json doc = {{"actmap_session", 1}, {"model", sg3_fixture("t32.json")}, {"latent", {{"seed", 2}}},
              {"edits", json::array({{{"id", "b1"}, {"tap", "L2_52_6"}, {"op", "brush"}, {"channels", {{"range", {0, 2}}}},
                                      {"params", {{"points", {{10, 10}, {30, 40}}}, {"radius", 4}, {"strength", 2.0}}}}})}};
  Session s = parse_session(doc.dump(), dir + "/s.json");
  Renderer r(gen);
  const SweepResult sweep = sweep_edit(r, s, "b1");
  ASSERT_EQ(sweep.steps.size(), gen->taps().size());
  for (const SweepStep& step : sweep.steps) {
    EXPECT_EQ(step.applied, step.tap.name != "mapping") << step.tap.name << ": " << step.skipped;
  }
}

}  // namespace
}  // namespace actmap
