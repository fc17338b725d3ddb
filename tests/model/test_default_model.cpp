// The default model ships in models/: it loads with nothing else present, its weights have the
// hash its card records, and its samples are face-like in the one way a test can check without
// a person: their mean image correlates with the mean face of the training data.
#include <cmath>
#include <filesystem>

#include "actmap/io/files.h"
#include "actmap/io/image.h"
#include "actmap/model/generator.h"
#include "test_util.h"

namespace actmap {
namespace {

const char* kDefault = "faces64";

std::string default_card() { return test::project_models() + "/" + kDefault + ".json"; }

TEST(DefaultModel, LoadsWithTheHashItsCardRecords) {
  const ModelCard card = load_model_card(default_card());
  ASSERT_FALSE(card.weights_sha256.empty()) << "the default model's card must record its weights' sha256";
  const std::string weights = resolve_weights_path(card);
  EXPECT_EQ(std::filesystem::path(weights).parent_path(), std::filesystem::path(default_card()).parent_path())
      << "the default model's weights must be committed beside its card, not found elsewhere";
  EXPECT_EQ(sha256_file(weights), card.weights_sha256);
  EXPECT_LT(std::filesystem::file_size(weights), 8u << 20) << "a few MB at most";
}

TEST(DefaultModel, RendersDistinctImagesInRange) {
  const ModelCard card = load_model_card(default_card());
  const auto gen = load_generator(card);
  const at::Tensor out = gen->forward(latents_from_seeds(card.latent, 0, 8));
  ASSERT_EQ(out.sizes(), (at::IntArrayRef{8, 3, 64, 64}));
  EXPECT_GE(out.min().item<float>(), -1.0f);
  EXPECT_LE(out.max().item<float>(), 1.0f);
  EXPECT_GT(out.std().item<float>(), 0.2f) << "samples are nearly constant";
  // Different seeds give different faces, not one collapsed image.
  const at::Tensor per_pixel_sd = out.std(0).mean();
  EXPECT_GT(per_pixel_sd.item<float>(), 0.1f) << "every seed gives nearly the same image (mode collapse)";
}

// The mean of many samples against the mean of the training faces (Pearson correlation over
// pixels): a generator of faces has a face-shaped, skin-toned mean; noise or a failed training
// does not. Needs the data set (ACTMAP_DATA_PATH, set by .ci/run to ../shared/datasets).
TEST(DefaultModel, MeanSampleLooksLikeTheMeanTrainingFace) {
  const char* data = std::getenv("ACTMAP_DATA_PATH");
  if (!data) GTEST_SKIP() << "ACTMAP_DATA_PATH is not set: this test needs ../shared/datasets/faces64; .ci/run sets it";
  const std::filesystem::path dir = std::filesystem::path(data) / "faces64";
  if (!std::filesystem::is_directory(dir)) GTEST_SKIP() << dir << " is missing";

  // Every 50th photograph of every folder: the mixture the model was trained on, in proportion.
  at::Tensor data_mean = at::zeros({64, 64, 3}, at::kDouble);
  int n = 0, seen = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    if (entry.path().extension() != ".jpg" || seen++ % 50) continue;
    const Image img = read_image(entry.path().string());
    if (img.width != 64 || img.height != 64 || img.channels < 3) continue;
    at::Tensor t = at::from_blob(const_cast<std::uint8_t*>(img.pixels.data()), {64, 64, img.channels}, at::kByte);
    data_mean += t.narrow(2, 0, 3).to(at::kDouble) / 255.0;
    ++n;
  }
  ASSERT_GT(n, 100);
  data_mean /= n;

  const ModelCard card = load_model_card(default_card());
  const auto gen = load_generator(card);
  const at::Tensor out = gen->forward(latents_from_seeds(card.latent, 1000, 256));
  const at::Tensor sample_mean = (out.to(at::kDouble) * 0.5 + 0.5).mean(0).permute({1, 2, 0});

  const at::Tensor a = data_mean.flatten() - data_mean.mean(), b = sample_mean.flatten() - sample_mean.mean();
  const double r = (a * b).sum().item<double>() / std::sqrt((a * a).sum().item<double>() * (b * b).sum().item<double>());
  EXPECT_GT(r, 0.8) << "the mean sample does not resemble the mean training face (r = " << r << ")";
}

}  // namespace
}  // namespace actmap
