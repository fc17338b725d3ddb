// Every tap of every generator against an independent PyTorch reference
// (tests/reference/reference.py wrote the fixtures from torch.nn modules with forward hooks).
#include <cstdlib>

#include "actmap/model/generator.h"
#include "actmap/model/model_card.h"
#include "test_util.h"

namespace actmap {
namespace {

struct ParityCase {
  std::string name;
  std::string card;    // path of the card
  bool shared_weights; // needs ../shared/models
  std::string kernels; // ACTMAP_CPU_KERNELS: "actmap" or "aten"
};

std::ostream& operator<<(std::ostream& os, const ParityCase& c) { return os << c.name << "/" << c.kernels; }

class Parity : public ::testing::TestWithParam<ParityCase> {};

TEST_P(Parity, EveryTapMatchesPyTorchWithin1e4) {
  const ParityCase& c = GetParam();
  if (c.shared_weights) ACTMAP_REQUIRE_SHARED_MODELS();
  ::setenv("ACTMAP_CPU_KERNELS", c.kernels.c_str(), 1);
  const auto gen = load_generator(load_model_card(c.card));
  ::unsetenv("ACTMAP_CPU_KERNELS");
  const FloatArray za = read_npy(test::fixture(c.name + "/z.npy"));
  const at::Tensor z = latents_from_array(gen->card().latent, za.shape, za.data, "z.npy");

  TapState s = gen->prepare(z);
  ASSERT_GE(gen->taps().size(), 4u);
  for (std::size_t i = 0; i < gen->taps().size(); ++i) {
    s = gen->run_stage(i, s);
    const TapInfo& tap = gen->taps()[i];
    const at::Tensor expected = test::load_tensor(test::fixture(c.name + "/" + tap.name + ".npy"));
    ASSERT_EQ(s.x.sizes(), expected.sizes()) << tap.name;
    EXPECT_EQ(tap.channels, expected.size(1));
    EXPECT_EQ(tap.height, expected.size(2));
    EXPECT_LE(test::closeness(s.x, expected, 1e-4, 1e-4), 1.0)
        << tap.name << ": max abs diff " << (s.x - expected).abs().max().item<float>();
  }
  // The image is not trivially constant: the reference really exercises the model.
  EXPECT_GT(s.x.std().item<float>(), 0.05f);
}

std::vector<ParityCase> cases() {
  std::vector<ParityCase> out;
  for (const char* kernels : {"actmap", "aten"}) {
    for (const char* d : {"dcgan64", "dcgan32", "dcgan128"}) {
      out.push_back({d, test::fixture(std::string(d) + "/card.json"), false, kernels});
    }
    for (const char* m : {"ffhq64-vae", "celeba32-fletcher"}) {
      out.push_back({m, test::project_models() + "/" + m + ".json", true, kernels});
    }
  }
  return out;
}

INSTANTIATE_TEST_SUITE_P(Generators, Parity, ::testing::ValuesIn(cases()),
                         [](const auto& param_info) {
                           std::string n = param_info.param.name + "_" + param_info.param.kernels;
                           for (char& ch : n) if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           return n;
                         });

TEST(Generator, LatentShapeErrors) {
  const auto gen = load_generator(load_model_card(test::fixture("dcgan64/card.json")));
  test::expect_error([&] { latents_from_array(gen->card().latent, {2, 15}, std::vector<float>(30), "z.npy"); },
                     {"z.npy", "[N, 16]", "[2, 15]"});
  const at::Tensor z4 = latents_from_array(gen->card().latent, {1, 16, 1, 1}, std::vector<float>(16, 0.5f), "z.npy");
  EXPECT_EQ(z4.sizes(), (std::vector<std::int64_t>{1, 16}));
  test::expect_error([&] { gen->tap_index("main.3"); }, {"'main.3'", "main.2, main.5"});
}

TEST(Generator, SameSeedSameImage) {
  const auto gen = load_generator(load_model_card(test::fixture("dcgan32/card.json")));
  const at::Tensor a = gen->forward(latents_from_seeds(gen->card().latent, 5, 2));
  const at::Tensor b = gen->forward(latents_from_seeds(gen->card().latent, 5, 2));
  EXPECT_TRUE(at::equal(a, b));
  // Sample 1 of seed 5 is sample 0 of seed 6.
  const at::Tensor c = gen->forward(latents_from_seeds(gen->card().latent, 6, 1));
  EXPECT_LE(test::closeness(a[1], c[0], 1e-6, 1e-6), 1.0);
}

TEST(Generator, UnknownDeviceIsAClearError) {
  test::expect_error([] { load_generator(load_model_card(test::fixture("dcgan32/card.json")), "tpu"); },
                     {"unknown device 'tpu'", "cpu"});
}

}  // namespace
}  // namespace actmap
