// Opening checkpoint files as models (fetch/model_file.h): genuine files written by the original
// code (tests/reference/make_genuine_checkpoints.py wrote tests/fixtures/checkpoints/genuine/ with
// the original code's images), the cache keyed by sha256, locking, cancelling, refusals, sessions
// and the CLI. The cache goes to a temporary XDG_CACHE_HOME.
#include <array>
#include <filesystem>
#include <fstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "actmap/fetch/model_file.h"
#include "actmap/io/checkpoint_import.h"
#include "actmap/io/npy.h"
#include "actmap/io/safetensors.h"
#include "actmap/model/checkpoint_cache.h"
#include "actmap/model/device.h"
#include "actmap/model/generator.h"
#include "actmap/model/latent.h"
#include "actmap/model/model_card.h"
#include "actmap/render/renderer.h"
#include "actmap/session/session.h"
#include "test_net.h"
#include "test_util.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace actmap {
namespace {

std::string genuine(const std::string& name) { return test::fixture("checkpoints/genuine/" + name); }
json genuine_index() { return json::parse(read_file_text(genuine("index.json"))); }

SynthesisOptions case_options(const json& c) {
  SynthesisOptions o;
  o.truncation_psi = c.at("psi").get<double>();
  if (!c.at("cutoff").is_null()) o.truncation_cutoff = c.at("cutoff").get<std::int64_t>();
  o.noise_mode = c.at("noise").get<std::string>() == "none" ? NoiseMode::None : NoiseMode::Const;
  if (c.contains("class")) o.class_index = c.at("class").get<std::int64_t>();
  if (c.contains("c")) o.c = c.at("c").get<std::vector<float>>();
  return o;
}

at::Tensor seed_latent(const ModelCard& card, std::uint64_t seed) {
  return latents_from_seeds(card.latent, seed, 1, "cpu");
}

// Every file in a fresh cache (DIR/cache through XDG_CACHE_HOME), copied into DIR/files.
class ModelFile : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = test::temp_dir(std::string("model_file_") + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    xdg_ = std::make_unique<test::EnvVar>("XDG_CACHE_HOME", dir_ + "/cache");
    fs::create_directories(dir_ + "/files");
  }
  // A copy of a fixture under DIR/files (so tests can touch it).
  std::string copy(const std::string& name, const std::string& as = "") const {
    const std::string to = dir_ + "/files/" + (as.empty() ? name : as);
    fs::copy_file(genuine(name), to, fs::copy_options::overwrite_existing);
    return to;
  }
  std::vector<std::string> cache_entries() const {
    std::vector<std::string> out;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(converted_models_dir(), ec)) out.push_back(e.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
  }
  std::string dir_;
  std::unique_ptr<test::EnvVar> xdg_;
};

// A StyleGAN3 network pickle (t32's weights pickled with the official module names and flat
// kwargs, tests/fixtures/stylegan3) opens as a stylegan3 model and renders the reference's images.
TEST_F(ModelFile, AStyleGAN3PickleOpensAndRendersTheReference) {
  const std::string pkl = test::fixture("stylegan3/t32_nvidia.pkl");
  const OpenedModelFile opened = open_model_file(pkl);
  ASSERT_FALSE(opened.card.empty());
  EXPECT_FALSE(opened.from_cache);
  std::string report;
  for (const auto& l : opened.report) report += l + "\n";
  EXPECT_NE(report.find("StyleGAN3-T generator, 32x32"), std::string::npos) << report;
  EXPECT_NE(report.find("t32_nvidia.pkl: a stylegan3 network pickle"), std::string::npos) << report;
  const auto gen = load_generator(load_model_card(opened.card), "cpu");
  ASSERT_TRUE(gen->card().stylegan3.has_value());
  const FloatArray z = read_npy(test::fixture("stylegan3/t32_z.npy"));
  const at::Tensor latents = at::from_blob(const_cast<float*>(z.data.data()), {z.shape[0], z.shape[1]}, at::kFloat).clone();
  for (int k = 0; k < 2; ++k) {  // one at a time: the official layers normalise styles over the batch
    const at::Tensor img = gen->forward(latents.narrow(0, k, 1), SynthesisOptions{});
    const at::Tensor want = test::load_tensor(test::fixture("stylegan3/t32_case0_s" + std::to_string(k) + "_img.npy"));
    EXPECT_LT((img - want).abs().max().item<float>(), 1e-4) << k;
  }
  EXPECT_TRUE(open_model_file(pkl).from_cache);
}

// --- Parity: every genuine file renders the original code's images. ------------------------------

TEST_F(ModelFile, GenuineFilesRenderTheOriginalCodesImages) {
  const json index = genuine_index();
  ASSERT_EQ(index.at("files").size(), 4u);
  for (const auto& [file, entry] : index.at("files").items()) {
    SCOPED_TRACE(file);
    const OpenedModelFile opened = open_model_file(genuine(file));
    ASSERT_FALSE(opened.card.empty());
    EXPECT_FALSE(opened.from_cache);
    EXPECT_EQ(opened.source_sha256, sha256_file(genuine(file)));
    const ModelCard card = load_model_card(opened.card);
    ASSERT_TRUE(card.stylegan2.has_value());
    EXPECT_EQ(card.stylegan2->c_dim, entry.at("c_dim").get<std::int64_t>());
    const auto gen = load_generator(card, "cpu");
    int cases = 0;
    double worst = 0;
    for (const auto& c : entry.at("cases")) {
      const at::Tensor out = gen->forward(seed_latent(card, c.at("seed").get<std::uint64_t>()), case_options(c));
      const at::Tensor want = test::load_tensor(genuine(c.at("image").get<std::string>()));
      ASSERT_EQ(out.sizes(), want.sizes()) << c.dump();
      const double diff = (out - want).abs().max().item<double>();
      worst = std::max(worst, diff);
      EXPECT_LE(diff, 1e-4) << c.dump();
      ++cases;
    }
    EXPECT_GE(cases, 8);
    std::cout << file << ": " << cases << " cases, max |diff| " << worst << "\n";
  }
}

// A StyleGAN2 snapshot written by NVIDIA's stylegan3 repository (train.py --cfg=stylegan2,
// networks_stylegan2.py; tests/reference/make_stylegan3_repo_sg2.py): synthesis arguments flat
// beside z_dim, and the source's own defaults where the pickle records none (num_fp16_res 4,
// conv_clamp 256, which changes this file's pictures by up to 129, fused_modconv_default).
TEST_F(ModelFile, StyleGAN2PicklesOfTheStyleGAN3RepositoryRenderTheOriginalsImages) {
  const json doc = json::parse(read_file_text(genuine("sg3repo_sg2.json")));
  const OpenedModelFile opened = open_model_file(genuine("sg3repo_sg2.pkl"));
  std::string report;
  for (const auto& l : opened.report) report += l + "\n";
  for (const char* want : {"sg3repo_sg2.pkl: a stylegan3 network pickle holding G, D, G_ema, augment_pipe", "using G_ema",
                           "StyleGAN2 generator, 16x16", "the original runs its 4 highest-resolution blocks in float16"}) {
    EXPECT_NE(report.find(want), std::string::npos) << want << "\n" << report;
  }
  const ModelCard card = load_model_card(opened.card);
  ASSERT_TRUE(card.stylegan2.has_value());
  EXPECT_EQ(card.stylegan2->channel_base, 128);
  EXPECT_EQ(card.stylegan2->channel_max, 16);
  EXPECT_EQ(card.stylegan2->num_fp16_res, doc.at("num_fp16_res").get<std::int64_t>());
  ASSERT_TRUE(card.stylegan2->conv_clamp.has_value());
  EXPECT_EQ(*card.stylegan2->conv_clamp, doc.at("conv_clamp").get<double>());
  EXPECT_EQ(card.stylegan2->fused_modconv, std::optional<bool>(true));
  const auto gen = load_generator(card, "cpu");
  int cases = 0;
  for (const auto& c : doc.at("cases")) {
    SCOPED_TRACE(c.dump());
    const at::Tensor out = gen->forward(seed_latent(card, c.at("seed").get<std::uint64_t>()), case_options(c));
    const at::Tensor want = test::load_tensor(genuine(c.at("image").get<std::string>()));
    ASSERT_EQ(out.sizes(), want.sizes());
    EXPECT_LE((out - want).abs().max().item<double>(), 1e-4 * std::max(1.0, want.abs().max().item<double>()));
    ++cases;
  }
  EXPECT_EQ(cases, 6);
}

TEST_F(ModelFile, RosinalityTrainCheckpointGetsTheAverageWOfFourThousandSeededLatents) {
  const OpenedModelFile opened = open_model_file(genuine("rosinality_train_000000.pt"));
  const auto weights = read_safetensors(fs::path(opened.card).parent_path().string() + "/weights.safetensors");
  const FloatArray want = read_npy(genuine("rosinality_train_w_avg.npy"));  // rosinality's own mapping, in Python
  const FloatTensor& got = weights.at("mapping.w_avg");
  ASSERT_EQ(got.data.size(), want.data.size());
  for (std::size_t i = 0; i < want.data.size(); ++i) EXPECT_NEAR(got.data[i], want.data[i], 1e-5) << i;
  // Said in the report, the card and the weights' metadata.
  const std::string report = [&] {
    std::string r;
    for (const auto& l : opened.report) r += l + "\n";
    return r;
  }();
  EXPECT_NE(report.find("rosinality stylegan2-pytorch checkpoint as its train.py writes them (no average W)"), std::string::npos) << report;
  EXPECT_NE(report.find("g_ema, the moving average that rosinality's generate.py renders (not g)"), std::string::npos) << report;
  EXPECT_NE(report.find("estimated: the mean of the mapping network over the 4096 seeded latents of seeds 0 to 4095"),
            std::string::npos) << report;
  const json card = json::parse(read_file_text(opened.card));
  EXPECT_NE(card.at("source").at("w_avg").get<std::string>().find("mean_latent(4096)"), std::string::npos);
  const std::vector<std::uint8_t> bytes = read_file_bytes(fs::path(opened.card).parent_path().string() + "/weights.safetensors");
  const SafetensorsHeader h = parse_safetensors_header(bytes.data(), bytes.size(), "weights");
  EXPECT_NE(h.metadata.at("w_avg").find("estimated"), std::string::npos);
  EXPECT_EQ(h.metadata.at("source_sha256"), opened.source_sha256);
}

TEST_F(ModelFile, ReportsSayWhatWasFoundInWords) {
  auto report_of = [](const std::string& file) {
    std::string r;
    for (const auto& l : open_model_file(genuine(file)).report) r += l + "\n";
    return r;
  };
  const std::string ada = report_of("ada_uncond_fp16.pkl");
  for (const char* want : {"ada_uncond_fp16.pkl: a stylegan2-ada-pytorch network pickle holding G, D, G_ema, augment_pipe",
                           "using G_ema, the moving average of the generator that NVIDIA's own scripts render (not G)",
                           "StyleGAN2 generator, 16x16, 3 channels, z 6, w 8, 2 mapping layers, skip architecture",
                           "unconditional (c_dim 0)", "fp16: the original runs its 2 highest-resolution blocks in float16",
                           "actmap runs every block in float32", "--fp16 (or \"cuda_fp16\": true in the card) runs them in float16 on CUDA",
                           "average W (for truncation): stored in the checkpoint"}) {
    EXPECT_NE(ada.find(want), std::string::npos) << want << "\n" << ada;
  }
  const std::string cond = report_of("ada_cond.pkl");
  EXPECT_NE(cond.find("conditional: 3 classes (c_dim 3); pick one with --class K"), std::string::npos) << cond;
  const std::string tf = report_of("tf_stylegan2.pkl");
  EXPECT_NE(tf.find("an NVIDIA TensorFlow StyleGAN2 pickle (dnnlib.tflib) holding G, D, Gs"), std::string::npos) << tf;
  EXPECT_NE(tf.find("using Gs, the moving average"), std::string::npos) << tf;
}

// --- The cache: keyed by sha256, converted once, locked, atomic, cancellable. ------------------

TEST_F(ModelFile, OpeningAgainOrACopyComesFromTheCacheWithoutConverting) {
  const std::string a = copy("ada_cond.pkl");
  const OpenedModelFile first = open_model_file(a);
  ASSERT_FALSE(first.from_cache);
  const std::string weights = fs::path(first.card).parent_path().string() + "/weights.safetensors";
  const auto written = fs::last_write_time(weights);
  int stages = 0;
  ModelFileOptions o;
  o.progress = [&](const ModelFileProgress& p) { stages += p.stage != ModelFileProgress::Stage::Hash; };
  const OpenedModelFile again = open_model_file(a, o);
  EXPECT_TRUE(again.from_cache);
  EXPECT_EQ(again.card, first.card);
  EXPECT_EQ(again.report, first.report);
  EXPECT_EQ(stages, 0);  // not read, not converted
  // The same bytes under another name are the same model.
  const OpenedModelFile renamed = open_model_file(copy("ada_cond.pkl", "renamed.pkl"));
  EXPECT_TRUE(renamed.from_cache);
  EXPECT_EQ(renamed.card, first.card);
  EXPECT_EQ(fs::last_write_time(weights), written);
  EXPECT_EQ(cache_entries(), (std::vector<std::string>{first.source_sha256, first.source_sha256 + ".lock", "index"}));
  // A changed file is another model (its size and time differ, so it is hashed again).
  { std::ofstream(a, std::ios::app) << "trailing bytes after the pickle's STOP"; }
  const OpenedModelFile changed = open_model_file(a);
  EXPECT_FALSE(changed.from_cache);
  EXPECT_NE(changed.source_sha256, first.source_sha256);
  EXPECT_EQ(changed.source_sha256, sha256_file(a));
}

TEST_F(ModelFile, TwoProcessesOpeningTheSameFileConvertItOnce) {
  const std::string file = copy("rosinality_train_000000.pt");  // the slowest: it estimates the average W
  // Four CLI processes at once, each opening the file and listing its taps.
  std::string cmd;
  for (int i = 0; i < 4; ++i) {
    cmd += std::string(ACTMAP_CLI_PATH) + " layers -m " + file + " > " + dir_ + "/out" + std::to_string(i) + ".txt 2>&1 & ";
  }
  const test::CliRun r = test::cli_shell(cmd + "wait");
  ASSERT_EQ(r.code, 0) << r.out;
  int converted = 0;
  for (int i = 0; i < 4; ++i) {
    const std::string out = read_file_text(dir_ + "/out" + std::to_string(i) + ".txt");
    EXPECT_NE(out.find("b16.img"), std::string::npos) << out;
    converted += out.find("converted " + file) != std::string::npos;
  }
  EXPECT_EQ(converted, 1);  // the others waited and found it in the cache
  const std::string sha = sha256_file(file);
  EXPECT_EQ(cache_entries(), (std::vector<std::string>{sha, sha + ".lock", "index"}));  // no temporary folders left
  EXPECT_EQ(fs::path(find_converted_card(sha)).parent_path().filename().string(), sha);
}

TEST_F(ModelFile, CancellingLeavesNothingInTheCache) {
  std::atomic<int> cancel{0};
  ModelFileOptions o;
  o.cancel = &cancel;
  std::vector<ModelFileProgress::Stage> seen;
  o.progress = [&](const ModelFileProgress& p) {
    seen.push_back(p.stage);
    if (p.stage == ModelFileProgress::Stage::Estimate) cancel = 1;  // stop while estimating the average W
  };
  const OpenedModelFile r = open_model_file(genuine("rosinality_train_000000.pt"), o);
  EXPECT_TRUE(r.cancelled);
  EXPECT_TRUE(r.card.empty());
  EXPECT_NE(std::find(seen.begin(), seen.end(), ModelFileProgress::Stage::Read), seen.end());
  const std::string sha = sha256_file(genuine("rosinality_train_000000.pt"));
  EXPECT_EQ(find_converted_card(sha), "");
  for (const auto& e : cache_entries()) EXPECT_EQ(e.find(".tmp-"), std::string::npos) << e;
  // Then it opens normally.
  cancel = 0;
  o.progress = nullptr;
  EXPECT_FALSE(open_model_file(genuine("rosinality_train_000000.pt"), o).card.empty());
}

TEST_F(ModelFile, ACrashedConversionsTemporaryFolderIsCleanedUp) {
  const std::string sha = sha256_file(genuine("ada_cond.pkl"));
  fs::create_directories(converted_models_dir() + "/" + sha + ".tmp-999999/partial");
  write_file_atomic(converted_models_dir() + "/" + sha + ".tmp-999999/weights.safetensors", std::string("half"));
  const OpenedModelFile r = open_model_file(genuine("ada_cond.pkl"));
  EXPECT_FALSE(r.card.empty());
  EXPECT_FALSE(fs::exists(converted_models_dir() + "/" + sha + ".tmp-999999"));
}

// --- The average W: missing, from a file beside the card, or from --w-avg. --------------------

TEST_F(ModelFile, WithoutAnAverageWPsiOneRendersAndTruncationSaysWhatToDo) {
  const std::string src = test::fixture("stylegan2/skip16.json");
  json card = json::parse(read_file_text(src));
  auto weights = read_safetensors(test::fixture("stylegan2/") + card["weights"].get<std::string>());
  const std::vector<float> stored = weights.at("mapping.w_avg").data;
  weights.erase("mapping.w_avg");
  write_file_atomic(dir_ + "/files/noavg.safetensors", encode_safetensors(weights));
  card["weights"] = "noavg.safetensors";
  write_file_atomic(dir_ + "/files/noavg.json", card.dump());
  const auto gen = load_generator(load_model_card(dir_ + "/files/noavg.json"), "cpu");
  const at::Tensor z = seed_latent(gen->card(), 0);
  EXPECT_EQ(gen->forward(z, {}).dim(), 4);  // psi 1 needs no average
  SynthesisOptions trunc;
  trunc.truncation_psi = 0.7;
  test::expect_error([&] { gen->forward(z, trunc); },
                     {"truncation (psi 0.7", "noavg.safetensors has no mapping.w_avg", "--w-avg FILE.npy"});
  // "w_avg" in the card: a .npy beside it, as [w_dim] or [1, w_dim].
  write_npy(dir_ + "/files/avg.npy", {1, static_cast<std::int64_t>(stored.size())}, stored.data());
  card["w_avg"] = "avg.npy";
  write_file_atomic(dir_ + "/files/withavg.json", card.dump());
  const auto with_avg = load_generator(load_model_card(dir_ + "/files/withavg.json"), "cpu");
  EXPECT_EQ(tensor_to_floats(with_avg->w_average()), stored);
  const auto original = load_generator(load_model_card(src), "cpu");
  EXPECT_TRUE(at::equal(with_avg->forward(z, trunc), original->forward(z, trunc)));
  write_npy(dir_ + "/files/avg.npy", {2}, stored.data());
  test::expect_error([&] { load_generator(load_model_card(dir_ + "/files/withavg.json"), "cpu"); },
                     {"avg.npy: an average W must have shape [", "got [2]"});
}

// --- Refusals name the file, say what it is and what to do, in one line. -------------------------

TEST_F(ModelFile, FilesThatAreNotGeneratorsAreRefusedInOneLine) {
  struct Case {
    std::string file, says;
  };
  for (const Case& c : {Case{"d_only.pkl", "d_only.pkl: this file holds only a discriminator ('D'), not a generator; open a "
                                           "checkpoint with the generator (G_ema or g_ema)"},
                        Case{"optimizer_state.pt", "optimizer_state.pt: this is an optimizer state (torch.optim's 'state' "
                                                   "and 'param_groups'), not a generator; open the checkpoint that holds the "
                                                   "generator's weights"}}) {
    SCOPED_TRACE(c.file);
    try {
      open_model_file(genuine(c.file));
      ADD_FAILURE() << "no error";
    } catch (const Error& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find(c.says), std::string::npos) << what;
      EXPECT_EQ(what.find('\n'), std::string::npos) << what;
    }
  }
  // G_ema's discriminator by itself (a state dict with D's names), a StyleGAN3-like state dict, a
  // DCGAN: each says what it is.
  auto save = [&](const std::string& name, std::map<std::string, FloatTensor> t) {
    const std::string path = dir_ + "/files/" + name;
    write_file_atomic(path, encode_safetensors(t));
    return path;
  };
  FloatTensor one;
  one.shape = {1};
  one.data = {1};
  test::expect_error([&] { open_model_file(save("d.safetensors", {{"b4.out.weight", one}, {"b4.fc.weight", one}})); },
                     {"d.safetensors: this is a StyleGAN2 discriminator (b4.fc, b4.out), not a generator"});
  test::expect_error([&] { open_model_file(save("sg3.safetensors", {{"synthesis.input.affine.weight", one}, {"synthesis.L0_36_512.weight", one}})); },
                     {"sg3.safetensors: not a StyleGAN2 or StyleGAN3 generator", "its 2 tensors are at the root"});
  test::expect_error([&] { open_model_file(test::fixture("dcgan32/weights.safetensors")); },
                     {"weights.safetensors: not a StyleGAN2 or StyleGAN3 generator", "actmap-cli import and write its card's layer list"});
  test::expect_error([&] { open_model_file(test::fixture("dcgan32/card.json")); },
                     {"card.json: not a checkpoint file actmap opens (.pkl, .pt, .pth, .ckpt, .safetensors)"});
  test::expect_error([&] { open_model_file(dir_ + "/files/missing.pkl"); }, {"missing.pkl: no such file"});
  for (const auto& e : cache_entries()) {  // the hash index and locks; nothing converted
    EXPECT_TRUE(e == "index" || e.find(".lock") != std::string::npos) << e;
  }
}

// --- Conditional generators: the class in the synthesis options and sessions. ------------------

TEST_F(ModelFile, ConditionalModelsTakeAClassOrACVectorAndSayWhatIsWrong) {
  const auto gen = load_generator(load_model_card(open_model_file(genuine("ada_cond.pkl")).card), "cpu");
  const at::Tensor z = seed_latent(gen->card(), 0);
  SynthesisOptions k0, k2, onehot2;
  k0.class_index = 0;
  k2.class_index = 2;
  onehot2.c = {0, 0, 1};
  EXPECT_TRUE(at::equal(gen->forward(z, {}), gen->forward(z, k0)));   // no class: class 0
  EXPECT_TRUE(at::allclose(gen->forward(z, k2), gen->forward(z, onehot2)));
  EXPECT_FALSE(at::allclose(gen->forward(z, k0), gen->forward(z, k2)));
  SynthesisOptions bad;
  bad.class_index = 3;
  test::expect_error([&] { gen->forward(z, bad); }, {"class 3 is out of range; this model has 3 classes (0 to 2)"});
  bad.class_index.reset();
  bad.c = {1, 0};
  test::expect_error([&] { gen->forward(z, bad); }, {"the c vector has 2 values; this conditional model takes c_dim = 3"});
  const auto uncond = load_generator(load_model_card(open_model_file(genuine("ada_uncond_fp16.pkl")).card), "cpu");
  test::expect_error([&] { uncond->forward(seed_latent(uncond->card(), 0), k2); },
                     {"is not conditional (c_dim 0): it takes no class or c vector"});
}

// --- float16 blocks (num_fp16_res; --fp16 on CUDA). ----------------------------------------------

// The lowest float16 block, max(2^(log2(res) + 1 - num_fp16_res), 8), by hand for the official
// configs: FFHQ 1024 and 256 (num_fp16_res 4), CIFAR-10 32 (4), and this fixture, 16 with 2.
TEST(Float16Blocks, StartWhereTheOriginalStartsThem) {
  StyleGAN2Config c;
  const std::vector<std::array<std::int64_t, 3>> cases = {{1024, 4, 128}, {256, 4, 32}, {32, 4, 8}, {16, 2, 8}, {512, 0, 0}, {64, 1, 64}};
  for (const auto& [res, n, want] : cases) {
    c.img_resolution = res;
    c.num_fp16_res = n;
    EXPECT_EQ(c.fp16_resolution(), want) << res << " " << n;
  }
}

// A card's float16 path emulated in bfloat16 on the CPU (ACTMAP_TEST_CPU_BFLOAT16=1), as the card
// says and fused at every batch size (fused_modconv_default true), for the cases of
// fp16_emulated.json.
struct EmulatedFloat16 {
  explicit EmulatedFloat16(const ModelCard& card) {
    test::EnvVar emulate("ACTMAP_TEST_CPU_BFLOAT16", "1");
    plain = load_generator(card, "cpu");
    ModelCard f = card;
    f.stylegan2->fused_modconv = true;
    fused = load_generator(f, "cpu");
  }
  const std::shared_ptr<const Generator>& for_case(const json& c) const { return c.value("fused_modconv", false) ? fused : plain; }
  std::shared_ptr<const Generator> plain, fused;
};

// The float16 path (--fp16 on CUDA) against the original code's float16 path. The CPU has no
// float16 convolutions, so both run it in bfloat16 here (tests/reference/make_fp16_reference.py;
// actmap with ACTMAP_TEST_CPU_BFLOAT16=1): same casts, pre-normalisation, fused form at batch 1 and
// non-fused above, the resnet skip branch, rounding once per kernel. The reduced path must land
// closer to the original's reduced-precision images than float32 does, and float32 on the
// original's float32 images.
TEST_F(ModelFile, Float16BlocksFollowTheOriginalsFloat16Path) {
  const json doc = json::parse(read_file_text(genuine("fp16_emulated.json")));
  int cases = 0, exact_cases = 0;
  for (const auto& [file, entry] : doc.at("files").items()) {
    SCOPED_TRACE(file);
    const ModelCard card = load_model_card(open_model_file(genuine(file)).card);
    ASSERT_TRUE(card.stylegan2.has_value());
    EXPECT_EQ(card.stylegan2->num_fp16_res, 2);
    EXPECT_EQ(card.stylegan2->fp16_resolution(), entry.at("fp16_resolution").get<std::int64_t>());
    EXPECT_FALSE(card.stylegan2->cuda_fp16);  // the converted card shows the switch, off
    EXPECT_EQ(json::parse(read_file_text(card.path)).at("cuda_fp16"), false);
    const auto exact = load_generator(card, "cpu");
    EXPECT_EQ(exact->precision(), "float32");
    const EmulatedFloat16 emulated(card);
    EXPECT_NE(emulated.plain->precision().find("in blocks 8x8 and up (num_fp16_res 2"), std::string::npos)
        << emulated.plain->precision();
    for (const auto& c : entry.at("cases")) {
      SCOPED_TRACE(c.dump());
      const auto& reduced = emulated.for_case(c);
      const auto seeds = c.at("seeds").get<std::vector<std::uint64_t>>();
      const at::Tensor z = latents_from_seeds(card.latent, seeds.front(), static_cast<std::int64_t>(seeds.size()), "cpu");
      const SynthesisOptions o = case_options(c);
      const at::Tensor want = test::load_tensor(genuine(c.at("image").get<std::string>()));
      const at::Tensor got = reduced->forward(z, o), plain = exact->forward(z, o);
      ASSERT_EQ(got.sizes(), want.sizes());
      EXPECT_LE((plain - test::load_tensor(genuine(c.at("float32_image").get<std::string>()))).abs().max().item<double>(), 1e-4);
      const double diff = (got - want).abs().max().item<double>(), gap = (plain - want).abs().max().item<double>();
      const double diff_mean = (got - want).abs().mean().item<double>(), gap_mean = (plain - want).abs().mean().item<double>();
      EXPECT_GT(gap, 5e-3);            // reduced precision shows
      EXPECT_LT(diff_mean, gap_mean);  // and the reduced path lands nearer the original's than float32 does
      // Mostly the original's pixels to 1e-6. Where one rounding falls the other way (the inputs
      // differ in float32's last bits) the layers after it spread the difference (one resnet case
      // here: 0.039); the stage-by-stage test below holds each rounding to account.
      if (diff <= 1e-4) ++exact_cases;
      std::cout << file << " case " << cases << ": reduced vs the original's reduced: max " << diff << " mean " << diff_mean
                << "; float32: max " << gap << " mean " << gap_mean << "\n";
      ++cases;
    }
  }
  EXPECT_EQ(cases, 10);
  EXPECT_GE(exact_cases, 6);  // 9 of 10 here
}

// The same, stage by stage: each stage is fed the original's value of the tap before it, so a
// rounding that falls the other way (the inputs differ from the original's in float32's last bits)
// cannot spread through the layers after it. Nearly every value must then be the original's, and
// none more than a few roundings away.
TEST_F(ModelFile, Float16BlocksFollowTheOriginalStageByStage) {
  const json doc = json::parse(read_file_text(genuine("fp16_emulated.json")));
  std::int64_t total = 0, differing = 0;
  for (const auto& [file, entry] : doc.at("files").items()) {
    SCOPED_TRACE(file);
    const ModelCard card = load_model_card(open_model_file(genuine(file)).card);
    const EmulatedFloat16 emulated(card);
    for (const auto& c : entry.at("cases")) {
      SCOPED_TRACE(c.dump());
      const auto& gen = emulated.for_case(c);
      const auto seeds = c.at("seeds").get<std::vector<std::uint64_t>>();
      const at::Tensor z = latents_from_seeds(card.latent, seeds.front(), static_cast<std::int64_t>(seeds.size()), "cpu");
      const std::string path = genuine(c.at("taps").get<std::string>());
      std::map<std::string, FloatTensor> taps = read_safetensors(path);
      TapState s = gen->run_stage(0, gen->prepare(z, case_options(c)));
      for (std::size_t i = 1; i < gen->taps().size(); ++i) {
        const std::string& name = gen->taps()[i].name;
        ASSERT_TRUE(taps.count(name)) << name;
        FloatTensor& t = taps.at(name);
        const at::Tensor want = at::from_blob(t.data.data(), t.shape, at::kFloat);
        TapState out = gen->run_stage(i, s);
        ASSERT_EQ(out.x.sizes(), want.sizes()) << name;
        const at::Tensor d = (out.x - want).abs();
        const double scale = want.abs().max().item<double>();
        EXPECT_LE(d.max().item<double>(), scale / 64) << name;  // a few roundings of bfloat16 (2^-8) at most
        total += want.numel();
        differing += (d > want.abs() * 1e-6 + 1e-7).sum().item<std::int64_t>();
        out.x = want.clone();
        s = std::move(out);
      }
    }
  }
  std::cout << differing << " of " << total << " tap values differ from the original's\n";
  EXPECT_GT(total, 20000);
  EXPECT_LE(differing, total / 200);
}

// --fp16 on the CPU: a note saying so, and the float32 pixels of the original.
TEST_F(ModelFile, CliFp16OnTheCpuSaysSoAndRendersFloat32) {
  test::CliRun r = test::cli("render -m " + genuine("ada_uncond_fp16.pkl") + " --seed 1 --noise none --fp16 -o " + dir_ +
                             "/a.png --tensor-out " + dir_ + "/a.npy");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("note: --fp16 applies on CUDA only; on cpu every block computes in float32"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("computes in float32"), std::string::npos) << r.out;
  EXPECT_LE((test::load_tensor(dir_ + "/a.npy") - test::load_tensor(genuine("ada_uncond_fp16_s1_uncond_case2.npy"))).abs().max().item<double>(),
            1e-4);
  r = test::cli("render -m " + genuine("ada_cond.pkl") + " --seed 0 --fp16 -o " + dir_ + "/b.png");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("--fp16 changes nothing for"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("its num_fp16_res is 0"), std::string::npos) << r.out;
}

// On a GPU: --fp16 runs the float16 blocks in float16, which moves the picture from the original's
// float32 images by about float16's rounding, no more.
TEST_F(ModelFile, Float16BlocksOnCuda) {
  if (!at::hasCUDA()) GTEST_SKIP() << "this LibTorch has no CUDA (or no GPU is present): nothing to run in float16";
  const ModelCard card = load_model_card(open_model_file(genuine("ada_uncond_fp16.pkl")).card);
  set_cuda_fp16(true);
  const auto gen = load_generator(card, "cuda");
  set_cuda_fp16(false);
  EXPECT_NE(gen->precision().find("float16 in blocks 8x8 and up"), std::string::npos) << gen->precision();
  const auto plain = load_generator(card, "cuda");
  for (const auto& c : genuine_index().at("files").at("ada_uncond_fp16.pkl").at("cases")) {
    SCOPED_TRACE(c.dump());
    const at::Tensor z = latents_from_seeds(card.latent, c.at("seed").get<std::uint64_t>(), 1, "cuda");
    const at::Tensor want = test::load_tensor(genuine(c.at("image").get<std::string>()));
    const at::Tensor half = gen->forward(z, case_options(c)).cpu(), full = plain->forward(z, case_options(c)).cpu();
    EXPECT_LE((full - want).abs().max().item<double>(), 1e-3);  // float32 on the GPU (TF32 off)
    const double d = (half - want).abs().max().item<double>();
    EXPECT_GT(d, 1e-5);   // float16 did run
    EXPECT_LE(d, 1e-2);   // and only rounds: bfloat16 moves these images by 0.013 to 0.03
    std::cout << "float16 vs the original's float32: max " << d << "\n";
  }
  const at::Tensor zz = latents_from_seeds(card.latent, 0, 2, "cuda");  // batch 2: the non-fused form
  EXPECT_LE((gen->forward(zz, {}).cpu() - plain->forward(zz, {}).cpu()).abs().max().item<double>(), 1e-2);
}

TEST_F(ModelFile, ASessionNamingACheckpointRecordsItsHashAndReplaysTheSamePixels) {
  const std::string file = copy("ada_cond.pkl", "cond.pkl");
  // Not converted yet: the session says so, naming the file, for the front end to convert it.
  write_file_atomic(dir_ + "/files/s.json", json({{"actmap_session", 1}, {"model", "cond.pkl"}, {"latent", {{"seed", 1}}},
                                                  {"synthesis", {{"class", 2}, {"truncation_psi", 0.7}}}, {"edits", json::array()}})
                                                .dump());
  try {
    load_session(dir_ + "/files/s.json");
    ADD_FAILURE() << "no error";
  } catch (const CheckpointNotConverted& e) {
    EXPECT_EQ(fs::path(e.checkpoint()).filename(), "cond.pkl");
    EXPECT_NE(std::string(e.what()).find("has not been converted for actmap yet"), std::string::npos);
  }
  const OpenedModelFile opened = open_model_file(file);
  Session s = load_session(dir_ + "/files/s.json");
  EXPECT_EQ(s.card_path, opened.card);
  EXPECT_EQ(s.weights_sha256, sha256_file(file));  // the checkpoint's own hash
  EXPECT_EQ(s.synthesis.class_index, std::optional<std::int64_t>(2));
  // Saved elsewhere, the model path follows the file; loaded again it renders the same pixels.
  fs::create_directories(dir_ + "/other");
  save_session(s, dir_ + "/other/s2.json");
  const json saved = json::parse(read_file_text(dir_ + "/other/s2.json"));
  EXPECT_EQ(saved["model"]["card"], "../files/cond.pkl");
  EXPECT_EQ(saved["model"]["sha256"], sha256_file(file));
  EXPECT_EQ(saved["synthesis"]["class"], 2);
  const Session back = load_session(dir_ + "/other/s2.json");
  const auto gen = load_generator(load_model_card(back.card_path), "cpu");
  Renderer r1(gen), r2(gen);
  const at::Tensor a = render_session(r1, s).output, b = render_session(r2, back).output;
  EXPECT_TRUE(at::equal(a, b));
  // And the pixels are the original code's (seed 1, class 2, psi 0.7 is case 3 of the index).
  const at::Tensor want = test::load_tensor(genuine("ada_cond_s1_class2_case3.npy"));
  SynthesisOptions o = back.synthesis;
  o.noise_mode = NoiseMode::None;
  EXPECT_LE((gen->forward(seed_latent(gen->card(), 1), o) - want).abs().max().item<double>(), 1e-4);
  // A class the model does not have, or a class for an unconditional model: errors at the key.
  write_file_atomic(dir_ + "/files/bad.json", json({{"actmap_session", 1}, {"model", "cond.pkl"}, {"latent", {{"seed", 1}}},
                                                    {"synthesis", {{"class", 5}}}, {"edits", json::array()}}).dump());
  test::expect_error([&] { load_session(dir_ + "/files/bad.json"); },
                     {"/synthesis/class: class 5 is out of range; model cond has 3 classes (0 to 2)"});
  write_file_atomic(dir_ + "/files/both.json", json({{"actmap_session", 1}, {"model", "cond.pkl"}, {"latent", {{"seed", 1}}},
                                                     {"synthesis", {{"class", 1}, {"c", {0, 1, 0}}}}, {"edits", json::array()}}).dump());
  test::expect_error([&] { load_session(dir_ + "/files/both.json"); }, {"/synthesis: give either \"class\" (an index) or \"c\""});
}

// --- The CLI: --model FILE, sessions naming files, --class, --c, --w-avg, import. ---------------

TEST_F(ModelFile, CliRendersCheckpointFilesDirectly) {
  const std::string cond = copy("ada_cond.pkl");
  // First use converts (and says what it found), rendering class 2 of seed 0 with psi 0.5, cutoff 2.
  test::CliRun r = test::cli("render -m " + cond + " --seed 0 --class 2 --truncation 0.5 --truncation-cutoff 2 -o " + dir_ +
                             "/a.png --tensor-out " + dir_ + "/a.npy");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("conditional: 3 classes"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("converted " + cond), std::string::npos) << r.out;
  EXPECT_LE((test::load_tensor(dir_ + "/a.npy") - test::load_tensor(genuine("ada_cond_s0_class2_case1.npy"))).abs().max().item<double>(),
            1e-4);
  // --c with a label vector; the second run comes from the cache and converts nothing.
  const std::vector<float> c = {0.25f, -0.5f, 1.5f};
  write_npy(dir_ + "/c.npy", {3}, c.data());
  r = test::cli("render -m " + cond + " --seed 1 --c " + dir_ + "/c.npy --noise none -o " + dir_ + "/b.png --tensor-out " + dir_ + "/b.npy");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(r.out.find("converted"), std::string::npos) << r.out;
  EXPECT_LE((test::load_tensor(dir_ + "/b.npy") - test::load_tensor(genuine("ada_cond_s1_cvec_case2.npy"))).abs().max().item<double>(),
            1e-4);
  // No class: class 0, with a note.
  r = test::cli("render -m " + cond + " --seed 0 -o " + dir_ + "/c.png");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("is conditional (3 classes): rendering class 0"), std::string::npos) << r.out;
  // --class on an unconditional model, a non-generator: errors naming the problem.
  r = test::cli("render -m " + genuine("ada_uncond_fp16.pkl") + " --seed 0 --class 1 -o " + dir_ + "/d.png");
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("is not conditional (c_dim 0)"), std::string::npos) << r.out;
  r = test::cli("layers -m " + genuine("optimizer_state.pt"));
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("this is an optimizer state"), std::string::npos) << r.out;
}

TEST_F(ModelFile, CliTruncatesRosinalityCheckpointsAndTakesAnAverageW) {
  const std::string ros = copy("rosinality_train_000000.pt");
  test::CliRun r = test::cli("render -m " + ros + " --seed 1 --truncation 0.5 --truncation-cutoff 2 -o " + dir_ + "/a.png --tensor-out " +
                             dir_ + "/a.npy");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("estimated: the mean of the mapping network over the 4096 seeded latents"), std::string::npos) << r.out;
  EXPECT_LE((test::load_tensor(dir_ + "/a.npy") - test::load_tensor(genuine("rosinality_train_s1_case1.npy"))).abs().max().item<double>(),
            1e-4);
  // --w-avg: another average (zeros) gives other pixels: psi scales W itself.
  const std::vector<float> zeros(8, 0.0f);
  write_npy(dir_ + "/zero.npy", {8}, zeros.data());
  r = test::cli("render -m " + ros + " --seed 1 --truncation 0.5 --w-avg " + dir_ + "/zero.npy -o " + dir_ + "/b.png --ws-out " +
                dir_ + "/ws.npy");
  ASSERT_EQ(r.code, 0) << r.out;
  r = test::cli("render -m " + ros + " --seed 1 -o " + dir_ + "/c.png --ws-out " + dir_ + "/ws1.npy");
  ASSERT_EQ(r.code, 0) << r.out;
  const at::Tensor half = test::load_tensor(dir_ + "/ws.npy"), full = test::load_tensor(dir_ + "/ws1.npy");
  EXPECT_TRUE(at::allclose(half, full * 0.5, 1e-5, 1e-6));
  // A session naming the checkpoint (relative to the session) renders it too.
  write_file_atomic(dir_ + "/files/s.json", json({{"actmap_session", 1}, {"model", "rosinality_train_000000.pt"},
                                                  {"latent", {{"seed", 1}}}, {"synthesis", {{"noise_mode", "none"}}},
                                                  {"edits", json::array()}}).dump());
  r = test::cli("render " + dir_ + "/files/s.json -o " + dir_ + "/s.png --tensor-out " + dir_ + "/s.npy");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_LE((test::load_tensor(dir_ + "/s.npy") - test::load_tensor(genuine("rosinality_train_s1_case2.npy"))).abs().max().item<double>(),
            1e-4);
}

TEST_F(ModelFile, CliImportEstimatesTheAverageWOrTakesOne) {
  test::CliRun r = test::cli("import " + genuine("rosinality_train_000000.pt") + " -o " + dir_ + "/r.safetensors --card " + dir_ + "/r.json");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("average W (for truncation): estimated"), std::string::npos) << r.out;
  const FloatArray want = read_npy(genuine("rosinality_train_w_avg.npy"));
  const auto w = read_safetensors(dir_ + "/r.safetensors");
  for (std::size_t i = 0; i < want.data.size(); ++i) EXPECT_NEAR(w.at("mapping.w_avg").data[i], want.data[i], 1e-5);
  const std::vector<float> mine = {1, 2, 3, 4, 5, 6, 7, 8};
  write_npy(dir_ + "/mine.npy", {1, 8}, mine.data());
  r = test::cli("import " + genuine("rosinality_train_000000.pt") + " -o " + dir_ + "/m.safetensors --w-avg " + dir_ + "/mine.npy");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("average W (for truncation): supplied from mine.npy"), std::string::npos) << r.out;
  EXPECT_EQ(read_safetensors(dir_ + "/m.safetensors").at("mapping.w_avg").data, mine);
  // The TensorFlow pickle: Gs mapped to the official names.
  r = test::cli("import " + genuine("tf_stylegan2.pkl") + " -o " + dir_ + "/tf.safetensors --card " + dir_ + "/tf.json");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("format:     NVIDIA TensorFlow network pickle"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("key map:    tf"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(dir_ + "/cache"));  // import writes where it is told, not into the cache
}

}  // namespace
}  // namespace actmap
