#include <cstdlib>

#include "actmap/model/model_card.h"
#include "test_util.h"

namespace actmap {
namespace {

std::vector<Stage> dcgan_stages(int image_size, int ngf = 64) {
  return plan_stages(parse_model_card(R"({"family":"dcgan","weights":"x","config":{"nz":100,"ngf":)" + std::to_string(ngf) +
                                          R"(,"nc":3,"image_size":)" + std::to_string(image_size) + "}}",
                                      ""));
}

TEST(ModelCard, DcganMatchesThePyTorchExampleAt64) {
  // pytorch/examples dcgan/main.py: main.2 ReLU (ngf*8 x 4x4) ... main.13 Tanh (3 x 64x64).
  const auto s = dcgan_stages(64);
  ASSERT_EQ(s.size(), 5u);
  const std::vector<std::string> names = {"main.2", "main.5", "main.8", "main.11", "main.13"};
  const std::vector<std::int64_t> channels = {512, 256, 128, 64, 3}, sizes = {4, 8, 16, 32, 64};
  for (std::size_t i = 0; i < s.size(); ++i) {
    EXPECT_EQ(s[i].tap.name, names[i]);
    EXPECT_EQ(s[i].tap.channels, channels[i]);
    EXPECT_EQ(s[i].tap.height, sizes[i]);
    EXPECT_EQ(s[i].tap.width, sizes[i]);
    EXPECT_EQ(s[i].tap.depth, static_cast<int>(i));
  }
}

TEST(ModelCard, DcganOneBlockFewerOrMore) {
  const auto s32 = dcgan_stages(32);
  ASSERT_EQ(s32.size(), 4u);
  EXPECT_EQ(s32[0].tap.channels, 256);  // ngf*4 at 4x4
  EXPECT_EQ(s32.back().tap.name, "main.10");
  const auto s128 = dcgan_stages(128);
  ASSERT_EQ(s128.size(), 6u);
  EXPECT_EQ(s128[0].tap.channels, 1024);  // ngf*16 at 4x4
  EXPECT_EQ(s128.back().tap.height, 128);
  EXPECT_EQ(s128.back().tap.name, "main.16");
}

TEST(ModelCard, RejectsBadDcganConfig) {
  test::expect_error([] { parse_model_card(R"({"family":"dcgan","weights":"x","config":{"nz":10,"image_size":48}})", "c.json"); },
                     {"c.json", "config.image_size", "48"});
  test::expect_error([] { parse_model_card(R"({"family":"dcgan","weights":"x","config":{"ngf":8}})", "c.json"); },
                     {"c.json", "config.nz", "missing"});
}

TEST(ModelCard, SequentialTapAfterActivationMovesPastReshape) {
  const ModelCard c = parse_model_card(R"({"family":"sequential","module_prefix":"main","latent":{"size":8},"weights":"x",
    "layers":[{"type":"linear","in":8,"out":32,"weights":"main.0"},{"type":"silu"},{"type":"reshape","shape":[2,4,4]},
              {"type":"conv2d","in":2,"out":3,"kernel":3,"padding":1,"weights":"main.3"},{"type":"sigmoid"}]})", "");
  const auto s = plan_stages(c);
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[0].tap.name, "main.1");
  EXPECT_EQ(s[0].tap.channels, 2);
  EXPECT_EQ(s[0].tap.height, 4);
  EXPECT_EQ(s[0].end_layer, 3u);  // includes the reshape
  EXPECT_EQ(s[1].tap.name, "main.4");
}

TEST(ModelCard, TapNamesRename) {
  const ModelCard c = parse_model_card(R"({"family":"dcgan","weights":"x","config":{"nz":4,"ngf":2,"image_size":16},
                                          "tap_names":{"main.2":"coarse"}})", "");
  EXPECT_EQ(plan_stages(c)[0].tap.name, "coarse");
  test::expect_error([] {
    parse_model_card(R"({"family":"dcgan","weights":"x","config":{"nz":4,"ngf":2,"image_size":16},"tap_names":{"main.3":"a"}})", "c.json");
  }, {"c.json", "tap_names", "'main.3'", "main.2"});
}

TEST(ModelCard, ErrorsNameTheLayerAndKey) {
  test::expect_error([] {
    parse_model_card(R"({"family":"sequential","latent":{"size":8},"weights":"x",
      "layers":[{"type":"linear","in":8,"out":32,"weights":"a"},{"type":"reshape","shape":[2,4,4]},
                {"type":"conv2d","in":5,"out":3,"kernel":3,"weights":"b"}]})", "m.json");
  }, {"m.json", "layers[2]", "conv2d", "'in' is 5", "2 channels"});
  test::expect_error([] { parse_model_card(R"({"family":"sequential","latent":{"size":8},"weights":"x","layers":[{"type":"gelu"}]})", "m.json"); },
                     {"m.json", "layers[0].type", "unknown layer type 'gelu'"});
  test::expect_error([] { parse_model_card(R"({"family":"sequential","latent":{"size":8},"weights":"x","layers":[{"type":"tanh","strde":2}]})", "m.json"); },
                     {"layers[0].strde", "unknown key"});
  test::expect_error([] { parse_model_card("{not json", "m.json"); }, {"m.json:1:", "invalid JSON"});
  test::expect_error([] { parse_model_card("{\"family\": 1e99999}", "m.json"); }, {"m.json: invalid JSON", "overflow"});
  test::expect_error([] { parse_model_card(R"({"family":"vqgan","weights":"x"})", "m.json"); }, {"m.json", "unknown family 'vqgan'"});
  test::expect_error([] { parse_model_card(R"({"family":"dcgan","config":{"nz":4}})", "m.json"); }, {"m.json", "weights", "missing"});
}

TEST(ModelCard, WeightsFoundBesideCardThenOnModelPath) {
  const std::string a = test::temp_dir("cards_a"), b = test::temp_dir("cards_b");
  write_file_atomic(a + "/card.json", std::string(R"({"family":"dcgan","weights":"sub/w.safetensors","config":{"nz":4,"ngf":2,"image_size":16}})"));
  std::filesystem::create_directories(b + "/sub");
  write_file_atomic(b + "/sub/w.safetensors", std::string("x"));
  const ModelCard card = load_model_card(a + "/card.json");
  const char* saved = std::getenv("ACTMAP_MODEL_PATH");
  const std::string saved_value = saved ? saved : "";
  ::setenv("ACTMAP_MODEL_PATH", ("/nonexistent:" + b).c_str(), 1);
  EXPECT_EQ(resolve_weights_path(card), b + "/sub/w.safetensors");
  std::filesystem::create_directories(a + "/sub");
  write_file_atomic(a + "/sub/w.safetensors", std::string("y"));
  EXPECT_EQ(resolve_weights_path(card), a + "/sub/w.safetensors");  // beside the card wins
  std::filesystem::remove(a + "/sub/w.safetensors");
  ::setenv("ACTMAP_MODEL_PATH", "/nonexistent", 1);
  test::expect_error([&] { resolve_weights_path(card); }, {"sub/w.safetensors", "not found", "/nonexistent/sub/w.safetensors"});
  if (saved) ::setenv("ACTMAP_MODEL_PATH", saved_value.c_str(), 1); else ::unsetenv("ACTMAP_MODEL_PATH");
}

TEST(ModelCard, ProjectCardsDescribeTheSharedModels) {
  // The committed cards parse and give the shapes the shared models' README documents.
  const auto ffhq = plan_stages(load_model_card(test::project_models() + "/ffhq64-vae.json"));
  ASSERT_EQ(ffhq.size(), 6u);
  EXPECT_EQ(ffhq[0].tap.name, "main.1");
  EXPECT_EQ(ffhq[3].tap.height, 16);
  EXPECT_EQ(ffhq.back().tap.channels, 3);
  const auto celeba = plan_stages(load_model_card(test::project_models() + "/celeba32-fletcher.json"));
  ASSERT_EQ(celeba.size(), 5u);
  EXPECT_EQ(celeba[0].tap.channels, 256);
  EXPECT_EQ(celeba.back().tap.height, 32);
}

}  // namespace
}  // namespace actmap
