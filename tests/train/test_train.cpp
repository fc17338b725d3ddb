// Training: data loading, the GAN step, determinism and resume, the trained model's card.
#include <sys/resource.h>

#include <csignal>
#include <filesystem>
#include <set>

#include <nlohmann/json.hpp>

#include "actmap/io/image.h"
#include "actmap/model/generator.h"
#include "actmap/train/train.h"
#include "test_util.h"

namespace actmap {
namespace {

namespace fs = std::filesystem;

// nz 8, ngf 4, 32x32: trains in milliseconds per step.
const char* kTinyCard = R"({"family": "dcgan", "name": "tiny", "config": {"nz": 8, "ngf": 4, "nc": 3, "image_size": 32},
                            "weights": "none.safetensors"})";

struct TrainSetup {
  std::string dir, data, card;
};

// A temp dir with data/ (31 images, a corrupt .png, a .txt) and card.json (kTinyCard).
TrainSetup make_setup(const std::string& name, int images = 31) {
  TrainSetup s;
  s.dir = test::temp_dir(name);
  s.data = s.dir + "/data";
  s.card = s.dir + "/card.json";
  test::write_training_folder(s.data, images);
  write_file_atomic(s.card, std::string(kTinyCard));
  return s;
}

TrainOptions tiny_options(const TrainSetup& s, const std::string& out) {
  TrainOptions o;
  o.card = s.card;
  o.data = s.data;
  o.out = s.dir + "/" + out + "/model.json";
  o.epochs = 2;
  o.batch = 8;
  o.seed = 5;
  o.threads = 2;
  o.sample_count = 4;
  return o;
}

at::Tensor batch_tensor(const TrainingBatch& b, const TrainingImageFormat& f) {
  return at::from_blob(const_cast<float*>(b.pixels.data()), {b.count, f.channels, f.size, f.size}, at::kFloat).clone();
}

TEST(TrainData, ListsImagesRecursivelyInSortedOrder) {
  const TrainSetup s = make_setup("train_list", 6);
  std::size_t ignored = 0;
  const auto files = list_training_images(s.data, &ignored);
  EXPECT_EQ(files.size(), 7u);  // 6 images and the corrupt one; the .txt is not an image
  EXPECT_EQ(ignored, 1u);
  EXPECT_TRUE(std::is_sorted(files.begin(), files.end()));
  EXPECT_EQ(std::count_if(files.begin(), files.end(), [](const std::string& f) { return f.find("/b/c/") != std::string::npos; }), 3);

  test::expect_error([&] { list_training_images(s.dir + "/missing"); }, {s.dir + "/missing", "no such directory"});
  fs::create_directories(s.dir + "/empty/sub");
  write_file_atomic(s.dir + "/empty/sub/readme.md", std::string("x"));
  test::expect_error([&] { list_training_images(s.dir + "/empty"); }, {s.dir + "/empty", "no JPEG or PNG", "1 other"});
}

TEST(TrainData, CropsTheCentreAndAveragesAreas) {
  // 6x4 grey: the centre 4x4 square (columns 1..4) halved to 2x2 averages 2x2 blocks.
  Image im;
  im.width = 6, im.height = 4, im.channels = 1;
  for (int y = 0; y < 4; ++y) {
    for (int x = 0; x < 6; ++x) im.pixels.push_back(static_cast<std::uint8_t>(10 * x + 100 * (y / 2)));
  }
  const std::vector<float> r = crop_and_resize(im, 2);
  ASSERT_EQ(r.size(), 4u);
  EXPECT_FLOAT_EQ(r[0], 15.0f);   // columns 1, 2 of rows 0, 1
  EXPECT_FLOAT_EQ(r[1], 35.0f);
  EXPECT_FLOAT_EQ(r[2], 115.0f);
  EXPECT_FLOAT_EQ(r[3], 135.0f);
  // A third of a size: weights 1/3 at the borders of each output pixel's footprint.
  const std::vector<float> third = crop_and_resize(im, 3);  // 4 source pixels -> 3, each covers 4/3
  EXPECT_NEAR(third[0], (10.0 * 1 + 20.0 / 3) / (4.0 / 3), 1e-4);

  // Grey to RGB in [-1, 1]: 0 -> -1, 255 -> 1, repeated in every channel, CHW.
  Image g;
  g.width = g.height = 1, g.channels = 1, g.pixels = {255};
  EXPECT_EQ(to_training_pixels(g, {1, 3, -1.0, 1.0}), (std::vector<float>{1.0f, 1.0f, 1.0f}));
  Image rgb;
  rgb.width = rgb.height = 1, rgb.channels = 4, rgb.pixels = {0, 255, 0, 7};
  EXPECT_EQ(to_training_pixels(rgb, {1, 3, 0.0, 1.0}), (std::vector<float>{0.0f, 1.0f, 0.0f}));
  EXPECT_NEAR(to_training_pixels(rgb, {1, 1, 0.0, 1.0})[0], 0.587, 1e-6);
}

// Batches come out in order with the same pixels whatever the number of decoding threads.
TEST(TrainData, PrefetchingIsDeterministicAndSkipsUnreadableFiles) {
  const TrainSetup s = make_setup("train_loader", 15);
  const auto files = list_training_images(s.data);
  const TrainingImageFormat f{16, 3, -1.0, 1.0};
  auto files_of = [&](std::int64_t k) {
    std::vector<std::size_t> v;
    for (std::size_t i = 0; i < 4; ++i) v.push_back((static_cast<std::size_t>(k) * 4 + i) % files.size());
    return v;
  };
  auto run = [&](int threads) {
    PrefetchLoader loader(files, f, threads, files_of, 0, 8);
    std::vector<TrainingBatch> out;
    for (int k = 0; k < 8; ++k) out.push_back(loader.next());
    EXPECT_THROW(loader.next(), Error);
    return out;
  };
  const auto one = run(1), four = run(4);
  int failed = 0;
  for (std::size_t k = 0; k < one.size(); ++k) {
    EXPECT_EQ(one[k].pixels, four[k].pixels) << "batch " << k;
    EXPECT_EQ(one[k].count + static_cast<int>(one[k].failed.size()), 4);
    for (const auto& u : one[k].failed) {
      EXPECT_NE(u.path.find("corrupt.png"), std::string::npos);
      EXPECT_NE(u.reason.find("corrupt.png"), std::string::npos);
      ++failed;
    }
  }
  EXPECT_EQ(failed, 2);  // 32 slots over 16 files: every file twice
}

// A training image whose header claims 100000 x 100000 pixels is one more unreadable file, named
// with its reason, and costs no memory: read_image refuses it from the header
// (tests/reliability/test_hostile.cpp has the other crafted images).
TEST(TrainData, AnImageClaimingAHugeSizeIsSkippedNotAllocated) {
  const TrainSetup s = make_setup("train_hostile_image", 3);
  std::vector<std::string> files = list_training_images(s.data);
  const auto good = std::find_if(files.begin(), files.end(), [](const std::string& f) { return f.find("/img") != std::string::npos; });
  ASSERT_NE(good, files.end());
  std::string png = read_file_text(*good);
  for (int at : {16, 20}) png.replace(static_cast<std::size_t>(at), 4, std::string("\x00\x01\x86\xa0", 4));  // IHDR: 100000 x 100000
  write_file_atomic(s.data + "/a/huge.png", png);
  files = list_training_images(s.data);
  ASSERT_EQ(files.size(), 5u);  // 3 images, corrupt.png, huge.png
  rusage before{}, after{};
  ::getrusage(RUSAGE_SELF, &before);
  PrefetchLoader loader(files, TrainingImageFormat{16, 3, -1.0, 1.0}, 2, [&](std::int64_t) {
    std::vector<std::size_t> all(files.size());
    for (std::size_t i = 0; i < all.size(); ++i) all[i] = i;
    return all;
  }, 0, 1);
  const TrainingBatch b = loader.next();
  ::getrusage(RUSAGE_SELF, &after);
  EXPECT_EQ(b.count, 3);
  ASSERT_EQ(b.failed.size(), 2u);
  const UnreadableImage& huge = b.failed[0].path.find("huge.png") != std::string::npos ? b.failed[0] : b.failed[1];
  EXPECT_NE(huge.reason.find(s.data + "/a/huge.png: an image of 100000x100000 pixels, larger than actmap reads"), std::string::npos)
      << huge.reason;
  EXPECT_LT((after.ru_maxrss - before.ru_maxrss) / 1024, 64);
}

TEST(TrainGan, ParameterNamesAreTheCardsWeightKeys) {
  const ModelCard card = parse_model_card(kTinyCard, "");
  GanTrainer t(card, 1);
  std::set<std::string> keys;
  for (const auto& [k, v] : t.generator_weights()) keys.insert(k);
  const std::set<std::string> expected = {
      "main.0.weight", "main.1.weight", "main.1.bias", "main.1.running_mean", "main.1.running_var",
      "main.3.weight", "main.4.weight", "main.4.bias", "main.4.running_mean", "main.4.running_var",
      "main.6.weight", "main.7.weight", "main.7.bias", "main.7.running_mean", "main.7.running_var",
      "main.9.weight"};
  EXPECT_EQ(keys, expected);
  // D mirrors G: ngf, 2 ngf, 4 ngf channels at 16, 8 and 4 pixels.
  EXPECT_EQ(t.discriminator_widths(), (std::vector<std::int64_t>{4, 8, 16}));
  // DCGAN initialisation: weights N(0, 0.02), batch-norm gamma N(1, 0.02), beta 0.
  const auto w = t.generator_weights();
  const at::Tensor conv = at::tensor(w.at("main.3.weight").data);
  EXPECT_NEAR(conv.std().item<double>(), 0.02, 0.003);
  EXPECT_NEAR(at::tensor(w.at("main.1.weight").data).mean().item<double>(), 1.0, 0.01);
  EXPECT_EQ(at::tensor(w.at("main.1.bias").data).abs().max().item<float>(), 0.0f);

  // A sequential card mirrors its widest activation at each size (celeba32: 32 at 16x16, 64 at 8x8,
  // and at 4x4 the wider of its two taps, 256 and 128).
  const ModelCard celeba = load_model_card(test::project_models() + "/celeba32-fletcher.json");
  EXPECT_EQ(discriminator_widths(celeba), (std::vector<std::int64_t>{32, 64, 256}));
}

TEST(TrainGan, DiscriminatorLossFallsOnAFixedBatch) {
  const TrainSetup s = make_setup("train_dloss", 16);
  const ModelCard card = parse_model_card(kTinyCard, "");
  const TrainingImageFormat f = training_format(card);
  const auto files = list_training_images(s.data);
  PrefetchLoader loader(files, f, 2, [](std::int64_t) { return std::vector<std::size_t>{0, 1, 2, 3, 4, 5, 6, 7}; }, 0, 1);
  const at::Tensor real = batch_tensor(loader.next(), f);
  GanTrainer t(card, 3);
  const at::Tensor fake = t.generate(t.latents(0, real.size(0)));
  const double before = t.discriminator_loss(real, fake);
  EXPECT_NEAR(before, 2 * std::log(2.0), 0.5);  // an untrained D is unsure: about -2 log(1/2)
  for (int i = 0; i < 20; ++i) t.discriminator_step(real, fake);
  const double after = t.discriminator_loss(real, fake);
  // Over seeds 0-7 the loss falls to 0.68-0.71 of its start in 20 steps.
  EXPECT_LT(after, 0.8 * before) << "before " << before << ", after " << after;
}

// The generator saved after training loads with the inference path (batch norm folded, actmap's
// own kernels) and gives what the training module gives in eval mode: for a dcgan card and for a
// sequential one (ffhq64-vae: linear, reshape, SiLU, batch norm on the output).
TEST(TrainGan, SavedWeightsLoadForInference) {
  const TrainSetup s = make_setup("train_export", 0);
  for (const std::string& path : {s.card, test::project_models() + "/ffhq64-vae.json"}) {
    const ModelCard card = load_model_card(path);
    const TrainingImageFormat f = training_format(card);
    GanTrainer t(card, 3);
    for (int k = 0; k < 3; ++k) t.step(at::rand({8, f.channels, f.size, f.size}) * 2 - 1, t.latents(k, 8));
    write_file_atomic(s.dir + "/g.safetensors", encode_safetensors(t.generator_weights()));
    nlohmann::json doc = card.document;
    doc["weights"] = "g.safetensors";
    write_file_atomic(s.dir + "/g.json", doc.dump());
    const auto gen = load_generator(load_model_card(s.dir + "/g.json"));
    const at::Tensor z = latents_from_seeds(card.latent, 0, 4);
    EXPECT_LE(test::closeness(gen->forward(z), t.generate(z), 1e-5, 1e-4), 1.0) << path;
  }
}

// Same seed, data and threads: the same weights; interrupted at step 3 and resumed: the same
// weights as the uninterrupted run, bit for bit.
TEST(TrainRun, ResumeFromCheckpointIsBitIdentical) {
  const TrainSetup s = make_setup("train_resume");
  TrainOptions a = tiny_options(s, "a");
  a.max_steps = 6;  // 4 steps per epoch: crosses an epoch boundary
  const TrainSummary ra = train_gan(a);
  ASSERT_EQ(ra.steps, 6);
  TrainOptions a2 = tiny_options(s, "a2");
  a2.max_steps = 6;
  train_gan(a2);
  EXPECT_EQ(read_file_bytes(ra.weights), read_file_bytes(s.dir + "/a2/model.safetensors"));

  // Interrupted as SIGINT would: the flag is raised during step 3, the run stops after it.
  std::atomic<int> stop{0};
  TrainOptions b = tiny_options(s, "b");
  b.max_steps = 6;
  b.stop = &stop;
  const TrainSummary rb = train_gan(b, [&](const TrainProgress& p) { if (p.step == 3) stop = SIGINT; });
  EXPECT_EQ(rb.interrupted_by, SIGINT);
  EXPECT_EQ(rb.steps, 3);
  EXPECT_TRUE(fs::exists(rb.checkpoint));
  EXPECT_FALSE(fs::exists(s.dir + "/b/model.json"));  // no model from an interrupted run

  TrainOptions c = tiny_options(s, "b");
  c.max_steps = 6;
  c.resume = rb.checkpoint;
  std::int64_t first_step = 0;
  const TrainSummary rc = train_gan(c, [&](const TrainProgress& p) { if (!first_step) first_step = p.step; });
  EXPECT_EQ(first_step, 4);
  EXPECT_EQ(rc.steps, 6);
  EXPECT_EQ(read_file_bytes(rc.weights), read_file_bytes(ra.weights));
  // The checkpoints agree too (D, both Adam states, position), apart from where they say they came from.
  const auto ta = read_safetensors(ra.checkpoint), tc = read_safetensors(rc.checkpoint);
  ASSERT_EQ(ta.size(), tc.size());
  for (const auto& [k, v] : ta) EXPECT_EQ(v.data, tc.at(k).data) << k;

  // Resuming with another seed is refused, naming the option.
  TrainOptions d = c;
  d.seed = 6;
  test::expect_error([&] { train_gan(d); }, {rb.checkpoint, "--seed"});
}

TEST(TrainRun, UnreadableImagesAreCountedAndSkipped) {
  const TrainSetup s = make_setup("train_unreadable");  // 31 images + corrupt.png: 4 batches of 8
  TrainOptions o = tiny_options(s, "out");
  o.epochs = 1;
  const TrainSummary r = train_gan(o);
  EXPECT_EQ(r.steps, 4);
  ASSERT_EQ(r.unreadable.size(), 1u);
  EXPECT_NE(r.unreadable[0].path.find("corrupt.png"), std::string::npos);
  EXPECT_EQ(r.images, 31u);
  EXPECT_EQ(r.ignored_files, 1u);  // notes.txt
  const auto doc = nlohmann::json::parse(read_file_text(o.out));
  EXPECT_EQ(doc["training"]["unreadable_images"], 1);
  EXPECT_NE(doc["training"]["unreadable_first"][0].get<std::string>().find("corrupt.png"), std::string::npos);
}

TEST(TrainRun, WritesACardThatLoadsAndRenders) {
  const TrainSetup s = make_setup("train_card");
  TrainOptions o = tiny_options(s, "models");
  o.epochs = 1;
  o.command_line = "actmap-cli train --card card.json";
  const TrainSummary r = train_gan(o);
  const ModelCard card = load_model_card(o.out);
  EXPECT_EQ(card.family, "dcgan");
  EXPECT_EQ(card.weights_path, "model.safetensors");
  EXPECT_EQ(card.weights_sha256, sha256_file(r.weights));
  const auto gen = load_generator(card);
  const auto images = output_to_images(gen->forward(latents_from_seeds(card.latent, 0, 2)), card);
  ASSERT_EQ(images.size(), 2u);
  EXPECT_EQ(images[0].width, 32);
  EXPECT_EQ(images[0].channels, 3);

  const auto t = nlohmann::json::parse(read_file_text(o.out))["training"];
  EXPECT_EQ(card.document["config"], nlohmann::json::parse(kTinyCard)["config"]);
  EXPECT_EQ(t["command"], o.command_line);
  EXPECT_EQ(t["data"], s.data);
  EXPECT_EQ(t["images"], 31);
  EXPECT_EQ(t["epochs"], 1);
  EXPECT_EQ(t["batch"], 8);
  EXPECT_EQ(t["seed"], 5);
  EXPECT_TRUE(t["final_losses"]["d"].get<double>() > 0);
  EXPECT_TRUE(t["final_losses"]["g"].get<double>() > 0);
  EXPECT_TRUE(t["images_per_second"].get<double>() > 0);
  ASSERT_EQ(r.samples.size(), 1u);
  EXPECT_EQ(r.samples[0], s.dir + "/models/model-samples/epoch-001.png");
  EXPECT_EQ(read_image(r.samples[0]).width, 2 * 32 + 2);  // 4 samples: a 2x2 grid
}

TEST(TrainRun, ErrorsNameWhatIsAtFault) {
  const TrainSetup s = make_setup("train_errors", 4);
  TrainOptions o = tiny_options(s, "out");
  o.size = 64;
  test::expect_error([&] { train_gan(o); }, {"--size 64", "32x32", s.card});
  o.size = 0;
  o.data = s.dir + "/nowhere";
  test::expect_error([&] { train_gan(o); }, {s.dir + "/nowhere", "no such directory"});
  o.data = s.data;
  test::expect_error([&] { train_gan(o); }, {s.data, "5 images", "fewer than one batch"});  // 4 + corrupt, batch 8
  o.batch = 2;
  o.out = s.card + "/model.json";  // a file where a directory should be
  test::expect_error([&] { train_gan(o); }, {s.card + "/model.json", "cannot create directory"});
  write_file_atomic(s.dir + "/style.json", std::string(R"({"family": "stylegan2", "weights": "w.safetensors", "config":
      {"z_dim": 8, "w_dim": 8, "img_resolution": 16, "img_channels": 3}})"));
  o.card = s.dir + "/style.json";
  o.out = s.dir + "/style-out/model.json";
  test::expect_error([&] { train_gan(o); }, {s.dir + "/style.json", "stylegan2"});
}

}  // namespace
}  // namespace actmap
