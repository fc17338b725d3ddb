// The stylegan2 family against an independent float64 NumPy reference
// (tests/reference/stylegan2_reference.py wrote tests/fixtures/stylegan2/), and hand-computed cases
// for the FIR up-sampling, demodulation and truncation.
#include <cmath>
#include <fstream>
#include <functional>

#include <ATen/Context.h>
#include <nlohmann/json.hpp>

#include "actmap/io/safetensors.h"
#include "actmap/model/generator.h"
#include "actmap/model/model_card.h"
#include "actmap/render/renderer.h"
#include "actmap/session/session.h"
#include "model/modconv_cpu.h"
#include "model/torch_util.h"
#include "model/upfirdn.h"
#include "test_util.h"

namespace actmap {
namespace {

using nlohmann::json;

std::string sg_fixture(const std::string& rel) { return test::fixture("stylegan2/" + rel); }

json fixture_index() { return json::parse(read_file_text(sg_fixture("index.json"))); }

SynthesisOptions case_options(const json& c) {
  SynthesisOptions o;
  o.truncation_psi = c.at("psi").get<double>();
  if (!c.at("cutoff").is_null()) o.truncation_cutoff = c.at("cutoff").get<std::int64_t>();
  const std::string noise = c.at("noise").get<std::string>();
  o.noise_mode = noise == "none" ? NoiseMode::None : NoiseMode::Const;
  return o;
}

// |a - b| <= 1e-4 * max|b| + 1e-4 * |b| everywhere: float32 against float64.
void expect_close(const at::Tensor& actual, const at::Tensor& expected, const std::string& what) {
  ASSERT_EQ(actual.sizes(), expected.sizes()) << what;
  const double scale = expected.abs().max().item<double>();
  EXPECT_LE(test::closeness(actual, expected, 1e-4 * std::max(scale, 1e-3), 1e-4), 1.0)
      << what << ": max |diff| " << (actual - expected).abs().max().item<double>() << " (scale " << scale << ")";
}

// Each config on each CPU path: auto (channels-last for large layers only, i.e. none here), nhwc
// (every layer channels-last, up-sampling as four phases) and aten (LibTorch's NCHW ops).
using ReferenceCase = std::tuple<std::string, std::string>;
class StyleGAN2Reference : public ::testing::TestWithParam<ReferenceCase> {
 protected:
  std::string name() const { return std::get<0>(GetParam()); }
  std::string layout() const { return std::get<1>(GetParam()); }
  std::shared_ptr<const Generator> load(const std::string& device = "cpu") const {
    const std::string l = layout();
    if (l == "aten") ::setenv("ACTMAP_CPU_KERNELS", "aten", 1);
    else ::setenv("ACTMAP_CPU_LAYOUT", l.c_str(), 1);
    auto gen = load_generator(load_model_card(sg_fixture(name() + ".json")), device);
    ::unsetenv("ACTMAP_CPU_KERNELS");
    ::unsetenv("ACTMAP_CPU_LAYOUT");
    return gen;
  }
};

TEST_P(StyleGAN2Reference, ImagesMatchTheFloat64ReferenceForEveryTruncationAndNoiseCase) {
  const std::string name = this->name();
  const json index = fixture_index();
  const auto gen = load();
  const FloatArray za = read_npy(sg_fixture(name + "_z.npy"));
  const at::Tensor z = latents_from_array(gen->card().latent, za.shape, za.data, "z.npy");
  const json& cases = index.at(name).at("cases");
  for (std::size_t ci = 0; ci < cases.size(); ++ci) {
    const at::Tensor img = gen->forward(z, case_options(cases[ci]));  // the batch of two at once
    for (int s = 0; s < 2; ++s) {
      const std::string stem = name + "_case" + std::to_string(ci) + "_s" + std::to_string(s);
      expect_close(img.narrow(0, s, 1), test::load_tensor(sg_fixture(stem + "_img.npy")), stem);
    }
  }
}

TEST_P(StyleGAN2Reference, EveryTapMatchesTheReference) {
  const std::string name = this->name();
  const json index = fixture_index();
  const auto gen = load();
  std::vector<std::string> expected_taps = index.at(name).at("taps").get<std::vector<std::string>>();
  std::vector<std::string> taps;
  for (const auto& t : gen->taps()) taps.push_back(t.name);
  EXPECT_EQ(taps, expected_taps);
  const FloatArray za = read_npy(sg_fixture(name + "_z.npy"));
  const at::Tensor z = latents_from_array(gen->card().latent, za.shape, za.data, "z.npy").narrow(0, 0, 1);
  TapState s = gen->prepare(z, case_options(index.at(name).at("cases")[0]));
  for (std::size_t i = 0; i < gen->taps().size(); ++i) {
    s = gen->run_stage(i, s);
    const TapInfo& tap = gen->taps()[i];
    const at::Tensor expected = test::load_tensor(sg_fixture(name + "_tap_" + tap.name + ".npy"));
    expect_close(s.x, expected, name + " tap " + tap.name);
    EXPECT_EQ(tap.channels, expected.size(1)) << tap.name;
    EXPECT_EQ(tap.height, expected.size(2)) << tap.name;
    EXPECT_EQ(tap.width, expected.size(3)) << tap.name;
  }
}

INSTANTIATE_TEST_SUITE_P(Configs, StyleGAN2Reference,
                         ::testing::Combine(::testing::Values("skip16", "clamp8", "orig8", "resnet8"),
                                            ::testing::Values("auto", "nhwc", "aten")),
                         [](const ::testing::TestParamInfo<ReferenceCase>& p) {
                           return std::get<0>(p.param) + "_" + std::get<1>(p.param);
                         });

// The same reference on the GPU: every case, batch of two, through the generic (non-CPU) path.
class StyleGAN2Cuda : public ::testing::TestWithParam<std::string> {};

TEST_P(StyleGAN2Cuda, ImagesMatchTheFloat64Reference) {
  if (!at::hasCUDA()) GTEST_SKIP() << "this LibTorch has no CUDA (or no GPU is present): nothing to compare";
  const std::string name = GetParam();
  const json index = fixture_index();
  const auto gen = load_generator(load_model_card(sg_fixture(name + ".json")), "cuda");
  const FloatArray za = read_npy(sg_fixture(name + "_z.npy"));
  const at::Tensor z = latents_from_array(gen->card().latent, za.shape, za.data, "z.npy", "cuda");
  const json& cases = index.at(name).at("cases");
  for (std::size_t ci = 0; ci < cases.size(); ++ci) {
    const at::Tensor img = gen->forward(z, case_options(cases[ci]));
    ASSERT_TRUE(img.is_cuda());
    for (int s = 0; s < 2; ++s) {
      const std::string stem = name + "_case" + std::to_string(ci) + "_s" + std::to_string(s);
      expect_close(img.narrow(0, s, 1).cpu(), test::load_tensor(sg_fixture(stem + "_img.npy")), stem + " (cuda)");
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Configs, StyleGAN2Cuda, ::testing::Values("skip16", "clamp8", "orig8", "resnet8"));

TEST(StyleGAN2Ops, ChannelsLastToContiguousCopiesEveryValueInPlace) {
  for (const auto& shape : std::vector<std::vector<std::int64_t>>{{2, 37, 5, 7}, {1, 64, 33, 31}, {1, 3, 8, 8}}) {
    const at::Tensor x = at::randn(shape).contiguous(at::MemoryFormat::ChannelsLast);
    const at::Tensor y = contiguous_nchw(x);
    EXPECT_TRUE(y.is_contiguous());
    EXPECT_TRUE(at::equal(y, x)) << shape_string(shape);
  }
}

// The transposed convolution by phases (2x2 taps each), then the filter and an identity finish as
// one channels-last pass, against LibTorch's transposed convolution and the reference upfirdn2d.
TEST(StyleGAN2Ops, TransposedConvolutionByPhasesThenFilterPassEqualsTheReference) {
  at::manual_seed(4);
  const at::Tensor x = at::randn({2, 5, 7, 6}), w = at::randn({4, 5, 3, 3});
  const std::vector<double> taps = fir_taps({1, 3, 3, 1}, 4.0);
  const std::optional<at::Tensor> phases = transposed_phases(w, 0);
  ASSERT_TRUE(phases.has_value());
  EXPECT_EQ(phases->sizes(), (std::vector<std::int64_t>{16, 5, 2, 2}));
  // Phase (1, 1) holds the kernel's centre tap alone, at offset (0, 0): tap (1, 1) of its 2x2.
  EXPECT_TRUE(at::equal(phases->narrow(0, 12, 4).select(2, 1).select(2, 1), w.select(2, 1).select(2, 1)));
  EXPECT_EQ(phases->narrow(0, 12, 4).select(2, 0).abs().max().item<float>(), 0.0f);

  const at::Tensor expected = upfirdn2d_aten(at::conv_transpose2d(x, w.transpose(0, 1), {}, 2), taps, 1, 1, 1);
  const auto cl = at::MemoryFormat::ChannelsLast;
  const at::Tensor z = at::conv2d(x.contiguous(cl), phases->contiguous(cl), {}, 1, 1).contiguous(cl);
  ASSERT_EQ(z.sizes(), (std::vector<std::int64_t>{2, 16, 8, 7}));
  LayerFinish identity;
  identity.bias = at::zeros({4});
  identity.activation = false;
  const at::Tensor got = fir_finish_nhwc(z, taps, 1, 14, 12, identity);
  EXPECT_LE(test::closeness(got, expected, 1e-5, 1e-5), 1.0) << (got - expected).abs().max().item<double>();
  EXPECT_FALSE(transposed_phases(at::randn({4, 5, 4, 4}), 0).has_value());  // 3x3 kernels only
  EXPECT_FALSE(transposed_phases(w, 1).has_value());
}

// upsample2d of [[1, 2], [3, 4]] with the [1, 3, 3, 1] filter by hand: in 1-D, [a, b] becomes
// [3a, 3a + b, a + 3b, 3b] / 4 (zeros beyond the edges), applied to rows and then columns.
TEST(StyleGAN2Ops, UpsampleWithTheFirFilterMatchesAHandComputedCase) {
  auto up1 = [](double a, double b) { return std::vector<double>{3 * a / 4, (3 * a + b) / 4, (a + 3 * b) / 4, 3 * b / 4}; };
  const double x[2][2] = {{1, 2}, {3, 4}};
  std::vector<std::vector<double>> rows;
  for (auto& r : x) rows.push_back(up1(r[0], r[1]));
  double expected[4][4];
  for (int c = 0; c < 4; ++c) {
    const auto col = up1(rows[0][c], rows[1][c]);
    for (int r = 0; r < 4; ++r) expected[r][c] = col[r];
  }
  const at::Tensor in = at::tensor({1.0f, 2.0f, 3.0f, 4.0f}).view({1, 1, 2, 2});
  const auto taps = fir_taps({1, 3, 3, 1}, 4.0);
  for (const at::Tensor& y : {upfirdn2d(in, taps, 2, 2, 1), upfirdn2d_aten(in, taps, 2, 2, 1)}) {
    ASSERT_EQ(y.sizes(), (at::IntArrayRef{1, 1, 4, 4}));
    for (int r = 0; r < 4; ++r) {
      for (int c = 0; c < 4; ++c) EXPECT_NEAR(y[0][0][r][c].item<double>(), expected[r][c], 1e-6) << r << "," << c;
    }
  }
  // A constant image keeps its value away from the edges (the filter's gain is exactly 4).
  const at::Tensor ones = at::ones({1, 2, 6, 6});
  EXPECT_NEAR(upfirdn2d(ones, taps, 2, 2, 1)[0][1][5][6].item<double>(), 1.0, 1e-6);
}

TEST(StyleGAN2Ops, SeparableKernelAgreesWithLibTorchOnOddSizesAndCropping) {
  at::manual_seed(3);
  const at::Tensor x = at::randn({2, 3, 7, 5});
  for (const auto& [up, p0, p1] : std::vector<std::tuple<int, int, int>>{{1, 1, 1}, {2, 2, 1}, {1, -1, 2}, {2, 0, -1}}) {
    const auto taps = fir_taps({1, 3, 3, 1}, up == 2 ? 4.0 : 1.0);
    EXPECT_LE(test::closeness(upfirdn2d(x, taps, up, p0, p1), upfirdn2d_aten(x, taps, up, p0, p1), 1e-6, 1e-5), 1.0);
  }
}

// A 4x4 model written here: const = 1, one output channel, weights 1 and 2 on two input channels,
// styles 1 and 0.5 from the affine bias. Demodulation: 1 / sqrt(9 * 1^2 + 9 * 1^2) = 1 / sqrt(18).
// The centre sees all nine taps: 18 / sqrt(18) * sqrt(2) = 6; a corner four: 8 / sqrt(18) * sqrt(2).
TEST(StyleGAN2Ops, DemodulationMatchesAHandComputedCase) {
  const std::string dir = test::temp_dir("sg_demod");
  const std::int64_t w_dim = 2;
  std::map<std::string, FloatTensor> t;
  auto put = [&](const std::string& k, std::vector<std::int64_t> shape, std::vector<float> v) {
    std::int64_t n = 1;
    for (auto d : shape) n *= d;
    if (v.size() == 1) v.assign(static_cast<std::size_t>(n), v[0]);
    t[k] = FloatTensor{shape, v};
  };
  put("mapping.fc0.weight", {w_dim, 2}, {0.5f});
  put("mapping.fc0.bias", {w_dim}, {0.0f});
  put("mapping.w_avg", {w_dim}, {0.0f});
  put("synthesis.b4.const", {1 * 2, 4, 4}, {1.0f});
  put("synthesis.b4.conv1.affine.weight", {2, w_dim}, {0.0f});
  put("synthesis.b4.conv1.affine.bias", {2}, {1.0f, 0.5f});
  std::vector<float> w;  // [out 2][in 2][3][3]: input channel 0 all 1, channel 1 all 2
  for (int i = 0; i < 36; ++i) w.push_back((i / 9) % 2 == 0 ? 1.0f : 2.0f);
  put("synthesis.b4.conv1.weight", {2, 2, 3, 3}, w);
  put("synthesis.b4.conv1.bias", {2}, {0.0f});
  put("synthesis.b4.conv1.noise_const", {4, 4}, {5.0f});
  put("synthesis.b4.conv1.noise_strength", {}, {0.0f});
  put("synthesis.b4.torgb.affine.weight", {2, w_dim}, {0.0f});
  put("synthesis.b4.torgb.affine.bias", {2}, {1.0f});
  put("synthesis.b4.torgb.weight", {3, 2, 1, 1}, {1.0f});
  put("synthesis.b4.torgb.bias", {3}, {0.0f});
  const std::string weights = encode_safetensors(t);
  write_file_atomic(dir + "/m.safetensors", weights);
  write_file_atomic(dir + "/m.json", json({{"family", "stylegan2"}, {"weights", "m.safetensors"},
                                           {"config", {{"z_dim", 2}, {"w_dim", w_dim}, {"img_resolution", 4},
                                                       {"img_channels", 3}, {"mapping_kwargs", {{"num_layers", 1}}},
                                                       {"synthesis_kwargs", {{"channel_base", 8}, {"channel_max", 2}}}}}})
                                          .dump());
  const auto gen = load_generator(load_model_card(dir + "/m.json"));
  ASSERT_EQ(gen->taps().size(), 3u);  // mapping, b4.conv1, b4.torgb
  TapState s = gen->prepare(at::zeros({1, 2, w_dim}));  // explicit W+: the mapping is skipped
  s = gen->run_stage(0, s);
  s = gen->run_stage(1, s);
  EXPECT_NEAR(s.x[0][0][1][1].item<double>(), 6.0, 1e-5);
  EXPECT_NEAR(s.x[0][1][2][2].item<double>(), 6.0, 1e-5);
  EXPECT_NEAR(s.x[0][0][0][0].item<double>(), 8.0 / std::sqrt(18.0) * std::sqrt(2.0), 1e-5);
  // ToRGB: no demodulation; styles 1 / sqrt(2); each RGB channel sums both channels.
  s = gen->run_stage(2, s);
  EXPECT_NEAR(s.x[0][0][1][1].item<double>(), 12.0 / std::sqrt(2.0), 1e-4);
}

TEST(StyleGAN2Ops, TruncationMovesTheFirstCutoffRowsTowardsTheAverage) {
  const auto gen = load_generator(load_model_card(sg_fixture("skip16.json")));
  const at::Tensor z = latents_from_seeds(gen->card().latent, 7, 2);
  const at::Tensor full = gen->map_latents(z, {});
  SynthesisOptions o;
  o.truncation_psi = 0.25;
  o.truncation_cutoff = 3;
  const at::Tensor t = gen->map_latents(z, o);
  const at::Tensor avg = gen->w_average();
  ASSERT_EQ(full.sizes(), (at::IntArrayRef{2, gen->card().stylegan2->num_ws(), 8}));
  EXPECT_TRUE(at::allclose(t.narrow(1, 0, 3), avg + (full.narrow(1, 0, 3) - avg) * 0.25, 1e-5, 1e-6));
  EXPECT_TRUE(at::equal(t.narrow(1, 3, t.size(1) - 3), full.narrow(1, 3, t.size(1) - 3)));
  // Every row of W+ is the same W before truncation.
  EXPECT_TRUE(at::equal(full.select(1, 0), full.select(1, 5)));
}

TEST(StyleGAN2Ops, NoiseModesDifferAndSeededNoiseRepeats) {
  const auto gen = load_generator(load_model_card(sg_fixture("skip16.json")));
  const at::Tensor z = latents_from_seeds(gen->card().latent, 1, 1);
  SynthesisOptions none, random1, random2;
  none.noise_mode = NoiseMode::None;
  random1.noise_mode = random2.noise_mode = NoiseMode::Random;
  random2.noise_seed = 9;
  const at::Tensor a = gen->forward(z, none), b = gen->forward(z, {}), c = gen->forward(z, random1),
                   d = gen->forward(z, random1), e = gen->forward(z, random2);
  EXPECT_FALSE(at::allclose(a, b));
  EXPECT_FALSE(at::allclose(b, c));
  EXPECT_TRUE(at::equal(c, d));
  EXPECT_FALSE(at::allclose(c, e));
}

TEST(StyleGAN2Ops, AnEditReRunsOnlyTheStagesAfterItsTap) {
  const auto gen = load_generator(load_model_card(sg_fixture("skip16.json")));
  Renderer r(gen);
  const at::Tensor z = latents_from_seeds(gen->card().latent, 1, 1);
  const RenderResult base = r.render(z, {});
  Edit e;
  e.id = "e1";
  e.tap = "b8.conv1";
  e.op = "multiply";
  e.params = {{"factor", 0.0}};
  const RenderResult edited = r.render(z, {e});
  EXPECT_EQ(edited.timings.first_stage, gen->tap_index("b8.conv1"));
  EXPECT_FALSE(at::allclose(base.output, edited.output));
}

// W+ edits at the tap "mapping", each against its definition.
class LatentOps : public ::testing::Test {
 protected:
  void SetUp() override {
    gen = load_generator(load_model_card(sg_fixture("skip16.json")));
    z = latents_from_seeds(gen->card().latent, 3, 1);
    base = gen->map_latents(z, {});
    rows = base.size(1);
  }
  // W+ [1, num_ws, w_dim] after one edit at the mapping tap.
  at::Tensor edited(const std::string& op, const json& channels, json params) {
    const Edit e = Edit::from_json({{"id", "e"}, {"tap", "mapping"}, {"op", op}, {"channels", channels}, {"params", params}}, "/edits/0");
    Renderer r(gen);
    r.render(z, {e});
    return r.activation(0).squeeze(2);
  }
  at::Tensor other(std::uint64_t seed) { return gen->map_latents(latents_from_seeds(gen->card().latent, seed, 1), {}); }
  std::shared_ptr<const Generator> gen;
  at::Tensor z, base;
  std::int64_t rows = 0;
};

TEST_F(LatentOps, StyleMixTakesTheSelectedRowsFromTheOtherSeed) {
  const at::Tensor w = edited("style_mix", {{"range", {2, 4}}}, {{"seed", 11}});
  const at::Tensor o = other(11);
  EXPECT_TRUE(at::equal(w.narrow(1, 2, 3), o.narrow(1, 2, 3)));
  EXPECT_TRUE(at::equal(w.narrow(1, 0, 2), base.narrow(1, 0, 2)));
  EXPECT_TRUE(at::equal(w.narrow(1, 5, rows - 5), base.narrow(1, 5, rows - 5)));
  EXPECT_FALSE(at::allclose(o.narrow(1, 2, 3), base.narrow(1, 2, 3)));
}

TEST_F(LatentOps, SwapShowingTheOtherLatentKeepsOnlyTheSelectedRowsOfThisOne) {
  const at::Tensor w = edited("w_swap", json::array({0, 1}), {{"seed", 11}, {"show", "other"}});
  const at::Tensor o = other(11);
  EXPECT_TRUE(at::equal(w.narrow(1, 0, 2), base.narrow(1, 0, 2)));
  EXPECT_TRUE(at::equal(w.narrow(1, 2, rows - 2), o.narrow(1, 2, rows - 2)));
  const at::Tensor t = edited("w_swap", json::array({0, 1}), {{"seed", 11}, {"show", "this"}});
  EXPECT_TRUE(at::equal(t.narrow(1, 0, 2), o.narrow(1, 0, 2)));
  EXPECT_TRUE(at::equal(t.narrow(1, 2, rows - 2), base.narrow(1, 2, rows - 2)));
}

TEST_F(LatentOps, NegateReflectsThroughTheAverageOrZero) {
  const at::Tensor avg = gen->w_average();
  const at::Tensor a = edited("w_negate", 1, {{"about", "average"}});
  EXPECT_TRUE(at::allclose(a.select(1, 1), avg * 2 - base.select(1, 1), 1e-5, 1e-6));
  EXPECT_TRUE(at::equal(a.select(1, 0), base.select(1, 0)));
  EXPECT_TRUE(at::equal(edited("w_negate", 1, {{"about", "zero"}}).select(1, 1), -base.select(1, 1)));
}

TEST_F(LatentOps, NoiseIsSeededPerRowAndScaledByStrength) {
  const at::Tensor a = edited("w_noise", json::array({1, 3}), {{"seed", 5}, {"strength", 2.0}});
  const at::Tensor b = edited("w_noise", 3, {{"seed", 5}, {"strength", 1.0}});
  // Row 3 gets the same noise whether or not row 1 is selected, twice as strong at strength 2.
  EXPECT_TRUE(at::allclose(a.select(1, 3) - base.select(1, 3), (b.select(1, 3) - base.select(1, 3)) * 2, 1e-4, 1e-5));
  EXPECT_FALSE(at::allclose(a.select(1, 1), base.select(1, 1)));
  EXPECT_TRUE(at::equal(a.select(1, 0), base.select(1, 0)));
}

TEST_F(LatentOps, InterpolationEndsAtBothLatentsInWAndZ) {
  const at::Tensor o = other(11);
  EXPECT_TRUE(at::allclose(edited("interpolate", "all", {{"seed", 11}, {"position", 0.0}, {"space", "w"}}), base));
  EXPECT_TRUE(at::allclose(edited("interpolate", "all", {{"seed", 11}, {"position", 1.0}, {"space", "w"}}), o));
  EXPECT_TRUE(at::allclose(edited("interpolate", "all", {{"seed", 11}, {"position", 0.5}, {"space", "w"}}), (base + o) / 2, 1e-5, 1e-6));
  EXPECT_TRUE(at::allclose(edited("interpolate", "all", {{"seed", 11}, {"position", 0.0}, {"space", "z"}}), base, 1e-5, 1e-5));
  EXPECT_TRUE(at::allclose(edited("interpolate", "all", {{"seed", 11}, {"position", 1.0}, {"space", "z"}}), o, 1e-5, 1e-5));
  // Halfway in z: the mapping of the normalised mean direction, with the norms' mean length.
  const at::Tensor z1 = latents_from_seeds(gen->card().latent, 11, 1).to(at::kDouble), z0 = z.to(at::kDouble);
  const double omega = std::acos((z0 / z0.norm() * z1 / z1.norm()).sum().item<double>());
  const at::Tensor mid = ((z0 + z1) * (std::sin(omega / 2) / std::sin(omega))).to(at::kFloat);
  EXPECT_TRUE(at::allclose(edited("interpolate", "all", {{"seed", 11}, {"position", 0.5}, {"space", "z"}}),
                           gen->map_latents(mid, {}), 1e-4, 1e-4));
}

TEST(StyleGAN2Session, SynthesisAndWPlusRoundTripAndErrorsPointAtTheKey) {
  const std::string dir = test::temp_dir("sg_session");
  const std::string card = sg_fixture("skip16.json");
  const auto gen = load_generator(load_model_card(card));
  const std::int64_t rows = gen->card().stylegan2->num_ws();
  json ws = json::array();
  for (std::int64_t r = 0; r < rows; ++r) ws.push_back(std::vector<float>(8, static_cast<float>(r) * 0.1f));
  json doc = {{"actmap_session", 1}, {"model", card}, {"latent", {{"ws", ws}}},
              {"synthesis", {{"truncation_psi", 0.5}, {"noise_mode", "random"}, {"noise_seed", 4}}},
              {"edits", json::array({{{"tap", "mapping"}, {"op", "style_mix"}, {"channels", {{"range", {0, 3}}}}, {"params", {{"seed", 2}}}}})}};
  Session s = parse_session(doc.dump(), dir + "/s.json");
  EXPECT_TRUE(s.latent.is_ws());
  EXPECT_EQ(s.synthesis.noise_mode, NoiseMode::Random);
  save_session(s, dir + "/s.json");
  const Session back = load_session(dir + "/s.json");
  EXPECT_EQ(back.latent, s.latent);
  EXPECT_EQ(back.synthesis, s.synthesis);
  Renderer r(gen);
  const at::Tensor out = render_session(r, back).output;
  const at::Tensor w = r.activation(0).squeeze(2);
  EXPECT_NEAR(w[0][rows - 1][0].item<double>(), 0.1 * static_cast<double>(rows - 1), 1e-6);  // W+ as given, mapping skipped
  EXPECT_EQ(out.size(3), 16);

  auto bad = [&](const std::function<void(json&)>& change, const std::string& message) {
    json d = doc;
    change(d);
    test::expect_error([&] { parse_session(d.dump(), dir + "/bad.json"); }, {message});
  };
  bad([](json& d) { d["synthesis"]["noise_mode"] = "loud"; }, "/synthesis/noise_mode: expected \"const\", \"random\" or \"none\"");
  bad([](json& d) { d["synthesis"]["truncation_cutoff"] = -1; }, "/synthesis/truncation_cutoff");
  bad([](json& d) { d["latent"]["ws"].erase(0); }, "/latent/ws: expected " + std::to_string(rows) + " rows of 8");
  bad([](json& d) { d["latent"]["ws"][2].erase(0); }, "/latent/ws/2: has 7 values");
  bad([](json& d) { d["edits"][0]["tap"] = "b8.conv0"; }, "/edits/0/tap: op 'style_mix' edits W+ and works only at the tap \"mapping\"");
  bad([](json& d) { d["edits"][0] = {{"tap", "mapping"}, {"op", "interpolate"}, {"params", {{"seed", 1}, {"space", "z"}}}}; },
      "/edits/0/params/space: interpolating in z needs a z latent");
  // Synthesis settings on a model without a mapping network.
  json dc = {{"actmap_session", 1}, {"model", test::project_models() + "/faces64.json"}, {"latent", {{"seed", 1}}},
             {"synthesis", {{"truncation_psi", 0.5}}}, {"edits", json::array()}};
  test::expect_error([&] { parse_session(dc.dump(), dir + "/dc.json"); }, {"/synthesis: model faces64 (dcgan) has no mapping network"});
}

TEST(StyleGAN2Card, ErrorsNameTheKeyAtFault) {
  auto card = [](const std::string& config) {
    return R"({"family": "stylegan2", "weights": "x.safetensors", "config": )" + config + "}";
  };
  test::expect_error([&] { parse_model_card(card(R"({"w_dim": 8, "img_resolution": 16, "img_channels": 3})"), "c.json"); },
                     {"c.json: config.z_dim: missing required key"});
  test::expect_error([&] { parse_model_card(card(R"({"z_dim": 8, "w_dim": 8, "img_resolution": 12, "img_channels": 3})"), "c.json"); },
                     {"img_resolution: must be a power of two"});
  test::expect_error([&] {
    parse_model_card(card(R"({"z_dim": 8, "w_dim": 8, "img_resolution": 16, "img_channels": 3, "synthesis_kwargs": {"architecture": "fancy"}})"), "c.json");
  }, {"c.json: config.synthesis_kwargs.architecture: must be \"orig\", \"skip\" or \"resnet\""});
  test::expect_error([&] { parse_model_card(card(R"({"z_dim": 8, "w_dim": 8, "c_dim": -1, "img_resolution": 16, "img_channels": 3})"), "c.json"); },
                     {"c.json: config.c_dim"});
  // Conditional models (c_dim > 0) are read; an average W may come from a file beside the card.
  const ModelCard c = parse_model_card(R"({"family": "stylegan2", "weights": "x.safetensors", "w_avg": "avg.npy",
      "config": {"z_dim": 8, "w_dim": 8, "c_dim": 10, "img_resolution": 16, "img_channels": 3}})", "c.json");
  EXPECT_EQ(c.stylegan2->c_dim, 10);
  EXPECT_EQ(c.stylegan2->w_avg_file, "avg.npy");
}

TEST(StyleGAN2Card, WeightsThatDoNotMatchTheConfigNameTheKey) {
  const std::string dir = test::temp_dir("sg_mismatch");
  json card = json::parse(read_file_text(sg_fixture("skip16.json")));
  card["config"]["synthesis_kwargs"]["channel_max"] = 16;
  card["weights"] = sg_fixture("skip16.safetensors");
  write_file_atomic(dir + "/c.json", card.dump());
  test::expect_error([&] { load_generator(load_model_card(dir + "/c.json")); }, {"expected shape"});
}

}  // namespace
}  // namespace actmap
