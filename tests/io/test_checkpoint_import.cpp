// Safe checkpoint import: formats, hostile files, key maps, NVIDIA pickles and the CLI command.
// Fixtures under fixtures/checkpoints/ come from tests/reference/make_checkpoint_fixtures.py.
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "actmap/io/checkpoint_import.h"
#include "actmap/io/safetensors.h"
#include "actmap/model/model_card.h"
#include "cli_run.h"
#include "test_util.h"

namespace actmap {
namespace {

std::string ckpt(const std::string& name) { return test::fixture("checkpoints/" + name); }

FloatTensor make(std::vector<std::int64_t> shape, float base) {
  FloatTensor t;
  t.shape = std::move(shape);
  std::int64_t n = 1;
  for (auto d : t.shape) n *= d;
  for (std::int64_t i = 0; i < n; ++i) t.data.push_back(base + 0.001f * static_cast<float>(i));
  return t;
}

const FloatTensor& at_key(const std::map<std::string, FloatTensor>& m, const std::string& key) {
  static const FloatTensor empty;
  const auto it = m.find(key);
  if (it == m.end()) {
    ADD_FAILURE() << "missing tensor '" << key << "'";
    return empty;
  }
  return it->second;
}

// --- The real originals in ../shared/models import to exactly the safetensors beside them. -------

TEST(CheckpointImport, SharedOriginalsMatchTheirSafetensors) {
  ACTMAP_REQUIRE_SHARED_MODELS();
  std::string models;
  for (const auto& dir : model_search_path()) {
    if (std::filesystem::exists(dir + "/celeba32-fletcher/generator.pt")) models = dir;
  }
  if (models.empty()) GTEST_SKIP() << "no celeba32-fletcher/generator.pt on ACTMAP_MODEL_PATH";
  struct Case {
    std::string original, converted, format;
    std::size_t skipped;
  };
  for (const Case& c : {Case{"celeba32-fletcher/generator.pt", "celeba32-fletcher/generator.safetensors", "legacy", 4},
                        Case{"ffhq64-vae/ffhq-64x64-g.pth", "ffhq64-vae/generator.safetensors", "zip", 5}}) {
    SCOPED_TRACE(c.original);
    const ImportResult r = import_checkpoint(models + "/" + c.original);
    const auto expected = read_safetensors(models + "/" + c.converted);
    EXPECT_EQ(r.format, c.format);
    EXPECT_EQ(r.prefix, "");
    EXPECT_EQ(r.key_map, "none");
    ASSERT_EQ(r.tensors.size(), expected.size());
    for (const auto& [key, t] : expected) {
      const FloatTensor& got = at_key(r.tensors, key);
      EXPECT_EQ(got.shape, t.shape) << key;
      EXPECT_EQ(got.data, t.data) << key;
    }
    // The integer num_batches_tracked buffers are the only entries left out.
    ASSERT_EQ(r.skipped.size(), c.skipped);
    for (const auto& s : r.skipped) EXPECT_NE(s.find("num_batches_tracked (int64 [])"), std::string::npos) << s;
  }
}

// --- One small state dict in every container format, values recomputed from the script's formulas.

TEST(CheckpointImport, EveryFormatGivesTheSameTensors) {
  for (const auto& [file, format] : std::vector<std::pair<std::string, std::string>>{
           {"tiny_zip.pt", "zip"}, {"tiny_legacy.pt", "legacy"}, {"tiny_zip64.pt", "zip"}, {"tiny_deflate.pt", "zip"}}) {
    SCOPED_TRACE(file);
    const ImportResult r = import_checkpoint(ckpt(file));
    EXPECT_EQ(r.format, format);
    ASSERT_EQ(r.tensors.size(), 7u);
    const auto& w = at_key(r.tensors, "w");
    const auto& wt = at_key(r.tensors, "wt");
    ASSERT_EQ(w.shape, (std::vector<std::int64_t>{3, 4}));
    ASSERT_EQ(wt.shape, (std::vector<std::int64_t>{4, 3}));
    for (int i = 0; i < 3; ++i) {
      for (int j = 0; j < 4; ++j) {
        EXPECT_EQ(w.data[i * 4 + j], (4 * i + j) / 2.0f);
        EXPECT_EQ(wt.data[j * 3 + i], (4 * i + j) / 2.0f);  // the transposed view, read through its strides
      }
    }
    EXPECT_EQ(at_key(r.tensors, "slice").data, (std::vector<float>{2, 3, 4}));  // storage offset 2
    EXPECT_EQ(at_key(r.tensors, "h").data, (std::vector<float>{0, 0.25f, 0.5f, 0.75f, 1, 1.25f}));
    EXPECT_EQ(at_key(r.tensors, "bf").data, (std::vector<float>{-1, 0, 1, 2, 3}));
    EXPECT_EQ(at_key(r.tensors, "d").data, (std::vector<float>{0, static_cast<float>(1.0 / 3), static_cast<float>(2.0 / 3)}));
    const auto& scalar = at_key(r.tensors, "scalar");
    EXPECT_TRUE(scalar.shape.empty());
    EXPECT_EQ(scalar.data, (std::vector<float>{2.5f}));
    EXPECT_EQ(r.skipped, (std::vector<std::string>{"count (int64 [])"}));
  }
}

// --- Hostile files: each refused with the precise reason, naming the file. ---------------------

TEST(CheckpointImport, HostileFilesAreRefused) {
  const std::string allow = "which is not on the allow-list of tensor/container types; actmap never runs code from a model file";
  const std::vector<std::pair<std::string, std::vector<std::string>>> cases = {
      {"hostile_os_system.pkl", {"refused to load: the checkpoint names the global 'os.system', " + allow}},
      {"hostile_posix_system.pt", {"entry 'archive/data.pkl'", "the global 'posix.system', " + allow}},
      {"hostile_builtins_eval.pkl", {"the global 'builtins.eval', " + allow}},
      {"hostile_past_storage.pt",
       {"tensor 'w' (shape [4], stride [1], offset 2) reaches element 5 of its storage '0', which holds 4"}},
      {"hostile_huge_numel.pt",
       {"storage '0' claims 1000000000000 float32 elements (4000000000000 bytes) but entry 'archive/data/0' holds 16 bytes"}},
      {"hostile_nesting.pkl", {"containers nested deeper than 1000 levels (a nesting bomb)"}},
      {"hostile_truncated.pt", {"truncated or not a zip archive: no end-of-central-directory record"}},
      {"hostile_size_lies.pt", {"zip entry 'archive/data/0' claims 1073741824 bytes at offset", "past the end of the file"}},
  };
  for (const auto& [file, parts] : cases) {
    SCOPED_TRACE(file);
    std::vector<std::string> all = parts;
    all.push_back(ckpt(file));
    test::expect_error([&] { import_checkpoint(ckpt(file)); }, all);
  }
}

TEST(CheckpointImport, DamagedBytesGiveErrorsNotCrashes) {
  // Every single-byte change of small real files either imports or throws actmap::Error.
  for (const char* file : {"tiny_zip.pt", "tiny_legacy.pt"}) {
    const auto original = read_file_bytes(ckpt(file));
    int errors = 0;
    for (std::size_t i = 0; i < original.size(); i += 3) {
      auto bytes = original;
      bytes[i] ^= 0x5a;
      try {
        import_checkpoint_bytes(bytes, file);
      } catch (const Error&) {
        ++errors;
      }
      bytes.resize(i);  // and every truncation
      try {
        import_checkpoint_bytes(bytes, file);
        ADD_FAILURE() << file << " truncated to " << i << " bytes imported";
      } catch (const Error&) {
      }
    }
    EXPECT_GT(errors, 0) << file;
  }
  test::expect_error([] { import_checkpoint_bytes({'h', 'i'}, "x.pt"); }, {"x.pt: not a PyTorch checkpoint"});
}

// --- Finding the state dict. ---------------------------------------------------------------------

TEST(CheckpointImport, PrefixChoiceAndErrors) {
  test::expect_error([] { import_checkpoint(ckpt("tiny_zip.pt"), {"nope"}); },
                     {"--prefix 'nope': no key 'nope'", "the keys are [w, wt, slice, h, bf, d, scalar, count]"});
  // Modules of a network pickle are walked by name.
  const ImportResult b4 = import_checkpoint(ckpt("nvidia_tiny.pkl"), {"G_ema.synthesis.b4"});
  EXPECT_EQ(b4.prefix, "G_ema.synthesis.b4");
  EXPECT_EQ(b4.tensors.count("const"), 1u);
  EXPECT_EQ(b4.tensors.count("conv1.affine.weight"), 1u);
  test::expect_error([] { import_checkpoint(ckpt("nvidia_tiny.pkl"), {"training_set_kwargs"}); },
                     {"--prefix 'training_set_kwargs' names a dict without tensors", "path, resolution"});
  test::expect_error([] { import_checkpoint(ckpt("nvidia_tiny.pkl"), {"G_ema.synthesis.b16"}); },
                     {"no key 'b16' under 'G_ema.synthesis'"});
  test::expect_error([] { import_checkpoint(ckpt("tiny_zip.pt"), {"", "rosinality"}); },
                     {"key map rosinality", "not a rosinality"});
  test::expect_error([] { import_checkpoint(ckpt("tiny_zip.pt"), {"", "mystery"}); }, {"unknown key map 'mystery'"});
}

// --- rosinality -> official StyleGAN2 names, on a synthetic 16x16 generator. ---------------------

TEST(CheckpointImport, RosinalityKeyMapMovesNamesShapesAndValues) {
  std::map<std::string, FloatTensor> src;
  float base = 1;
  auto add = [&](const std::string& k, std::vector<std::int64_t> shape) { src[k] = make(std::move(shape), base++); };
  for (int i = 1; i <= 3; ++i) {
    add("style." + std::to_string(i) + ".weight", {6, 6});
    add("style." + std::to_string(i) + ".bias", {6});
  }
  add("input.input", {1, 8, 4, 4});
  // Channels: 8 at 4x4, 4 at 8x8, 2 at 16x16.
  const std::vector<std::pair<std::string, std::pair<int, int>>> styled = {
      {"conv1.", {8, 8}}, {"convs.0.", {8, 4}}, {"convs.1.", {4, 4}}, {"convs.2.", {4, 2}}, {"convs.3.", {2, 2}}};
  for (const auto& [p, io] : styled) {
    add(p + "conv.weight", {1, io.second, io.first, 3, 3});
    add(p + "conv.modulation.weight", {io.first, 6});
    add(p + "conv.modulation.bias", {io.first});
    add(p + "noise.weight", {1});
    add(p + "activate.bias", {io.second});
  }
  const float k1[4] = {1, 3, 3, 1};
  FloatTensor blur;
  blur.shape = {4, 4};
  for (float a : k1) {
    for (float b : k1) blur.data.push_back(a * b / 16.0f);  // rosinality: outer / 64, times upsample factor 4
  }
  src["convs.0.conv.blur.kernel"] = src["convs.2.conv.blur.kernel"] = src["to_rgbs.0.upsample.kernel"] = blur;
  for (const auto& [p, in] : std::vector<std::pair<std::string, int>>{{"to_rgb1.", 8}, {"to_rgbs.0.", 4}, {"to_rgbs.1.", 2}}) {
    add(p + "conv.weight", {1, 3, in, 1, 1});
    add(p + "conv.modulation.weight", {in, 6});
    add(p + "conv.modulation.bias", {in});
    add(p + "bias", {1, 3, 1, 1});
  }
  const int noise_res[5] = {4, 8, 8, 16, 16};
  for (int n = 0; n < 5; ++n) add("noises.noise_" + std::to_string(n), {1, 1, noise_res[n], noise_res[n]});
  const FloatTensor latent_avg = make({6}, 100);

  std::vector<std::string> notes;
  const auto out = map_rosinality_keys(src, &latent_avg, &notes);

  // Every official key: (official, rosinality source, official shape).
  struct Moved {
    std::string to, from;
    std::vector<std::int64_t> shape;
  };
  std::vector<Moved> moved = {
      {"mapping.fc0.weight", "style.1.weight", {6, 6}}, {"mapping.fc0.bias", "style.1.bias", {6}},
      {"mapping.fc2.weight", "style.3.weight", {6, 6}}, {"mapping.fc2.bias", "style.3.bias", {6}},
      {"synthesis.b4.const", "input.input", {8, 4, 4}},
      {"synthesis.b4.conv1.weight", "conv1.conv.weight", {8, 8, 3, 3}},
      {"synthesis.b4.conv1.affine.weight", "conv1.conv.modulation.weight", {8, 6}},
      {"synthesis.b4.conv1.affine.bias", "conv1.conv.modulation.bias", {8}},
      {"synthesis.b4.conv1.noise_strength", "conv1.noise.weight", {}},
      {"synthesis.b4.conv1.bias", "conv1.activate.bias", {8}},
      {"synthesis.b4.conv1.noise_const", "noises.noise_0", {4, 4}},
      {"synthesis.b4.torgb.weight", "to_rgb1.conv.weight", {3, 8, 1, 1}},
      {"synthesis.b4.torgb.affine.weight", "to_rgb1.conv.modulation.weight", {8, 6}},
      {"synthesis.b4.torgb.bias", "to_rgb1.bias", {3}},
      {"synthesis.b8.conv0.weight", "convs.0.conv.weight", {4, 8, 3, 3}},
      {"synthesis.b8.conv0.noise_const", "noises.noise_1", {8, 8}},
      {"synthesis.b8.conv1.weight", "convs.1.conv.weight", {4, 4, 3, 3}},
      {"synthesis.b8.conv1.bias", "convs.1.activate.bias", {4}},
      {"synthesis.b8.conv1.noise_const", "noises.noise_2", {8, 8}},
      {"synthesis.b8.torgb.weight", "to_rgbs.0.conv.weight", {3, 4, 1, 1}},
      {"synthesis.b8.torgb.affine.bias", "to_rgbs.0.conv.modulation.bias", {4}},
      {"synthesis.b16.conv0.weight", "convs.2.conv.weight", {2, 4, 3, 3}},
      {"synthesis.b16.conv0.affine.weight", "convs.2.conv.modulation.weight", {4, 6}},
      {"synthesis.b16.conv0.noise_strength", "convs.2.noise.weight", {}},
      {"synthesis.b16.conv0.noise_const", "noises.noise_3", {16, 16}},
      {"synthesis.b16.conv1.noise_const", "noises.noise_4", {16, 16}},
      {"synthesis.b16.conv1.weight", "convs.3.conv.weight", {2, 2, 3, 3}},
      {"synthesis.b16.torgb.weight", "to_rgbs.1.conv.weight", {3, 2, 1, 1}},
      {"synthesis.b16.torgb.bias", "to_rgbs.1.bias", {3}},
  };
  for (const auto& m : moved) {
    const FloatTensor& t = at_key(out, m.to);
    EXPECT_EQ(t.shape, m.shape) << m.to;
    EXPECT_EQ(t.data, src.at(m.from).data) << m.to << " <- " << m.from;
  }
  EXPECT_EQ(at_key(out, "mapping.w_avg").data, latent_avg.data);
  // Official resample_filter buffers: [1,3,3,1] outer product normalised to sum 1.
  for (const char* key : {"synthesis.b4.resample_filter", "synthesis.b4.conv1.resample_filter",
                          "synthesis.b16.resample_filter", "synthesis.b16.conv0.resample_filter"}) {
    const FloatTensor& f = at_key(out, key);
    ASSERT_EQ(f.shape, (std::vector<std::int64_t>{4, 4})) << key;
    EXPECT_FLOAT_EQ(f.data[0], 1.0f / 64) << key;
    EXPECT_FLOAT_EQ(f.data[5], 9.0f / 64) << key;
  }
  // 6 mapping + 1 w_avg + const + 5 layers x 6 (5 tensors and a noise_const) + 3 torgb x 4
  // + 3 block filters + 5 layer filters.
  EXPECT_EQ(out.size(), 6u + 1 + 1 + 30 + 12 + 3 + 5);

  // The config read off these shapes: channel_base 32 (= 4 * 8 = 8 * 4 = 16 * 2), channel_max 8.
  notes.clear();
  const auto config = infer_stylegan2_config(out, &notes);
  EXPECT_EQ(config["z_dim"], 6);
  EXPECT_EQ(config["w_dim"], 6);
  EXPECT_EQ(config["c_dim"], 0);
  EXPECT_EQ(config["img_resolution"], 16);
  EXPECT_EQ(config["img_channels"], 3);
  EXPECT_EQ(config["mapping_kwargs"]["num_layers"], 3);
  EXPECT_EQ(config["synthesis_kwargs"]["channel_base"], 32);
  EXPECT_EQ(config["synthesis_kwargs"]["channel_max"], 8);
  EXPECT_EQ(config["synthesis_kwargs"]["architecture"], "skip");
  EXPECT_TRUE(config["synthesis_kwargs"]["conv_clamp"].is_null());
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_NE(notes[0].find("lr_multiplier 0.01"), std::string::npos);

  // Errors name the key.
  auto bad = src;
  bad["convs.0.conv.weight"] = make({4, 8, 3, 3}, 0);
  test::expect_error([&] { map_rosinality_keys(bad, nullptr, nullptr); },
                     {"key map rosinality: 'convs.0.conv.weight' has shape [4, 8, 3, 3], expected [1, *, *, *, *]"});
  bad = src;
  bad["convs.0.extra"] = make({1}, 0);
  test::expect_error([&] { map_rosinality_keys(bad, nullptr, nullptr); },
                     {"no official StyleGAN2 name for 'convs.0.extra'"});
  bad = src;
  bad["noises.noise_3"] = make({1, 1, 8, 8}, 0);
  test::expect_error([&] { map_rosinality_keys(bad, nullptr, nullptr); }, {"'noises.noise_3' has shape [1, 1, 8, 8]"});
}

TEST(CheckpointImport, RosinalityCheckpointFile) {
  // {"g_ema", "d", "latent_avg", "args": argparse.Namespace}: g_ema is picked and mapped.
  const ImportResult r = import_checkpoint(ckpt("rosinality_tiny.pt"));
  EXPECT_EQ(r.prefix, "g_ema");
  EXPECT_EQ(r.key_map, "rosinality");
  const ImportResult raw = import_checkpoint(ckpt("rosinality_tiny.pt"), {"g_ema", "none"});
  EXPECT_EQ(raw.key_map, "none");
  EXPECT_EQ(at_key(r.tensors, "synthesis.b8.conv0.weight").data, at_key(raw.tensors, "convs.0.conv.weight").data);
  EXPECT_EQ(at_key(r.tensors, "synthesis.b8.conv1.noise_const").data, at_key(raw.tensors, "noises.noise_2").data);
  EXPECT_EQ(at_key(r.tensors, "mapping.fc1.weight").data, at_key(raw.tensors, "style.2.weight").data);
  test::expect_error([] { import_checkpoint(ckpt("rosinality_tiny.pt"), {"latent_avg"}); },
                     {"--prefix 'latent_avg' names tensor, not a state dict"});
}

// --- NVIDIA network pickle: G_ema walked into a flat state dict, config from its kwargs. ---------

TEST(CheckpointImport, NvidiaNetworkPickle) {
  const ImportResult r = import_checkpoint(ckpt("nvidia_tiny.pkl"));
  EXPECT_EQ(r.format, "nvidia-pkl");
  EXPECT_EQ(r.prefix, "G_ema");
  EXPECT_EQ(r.key_map, "none");
  const auto expected = read_safetensors(ckpt("nvidia_tiny_expected.safetensors"));  // PyTorch's state_dict()
  ASSERT_EQ(r.tensors.size(), expected.size());
  for (const auto& [key, t] : expected) {
    const FloatTensor& got = at_key(r.tensors, key);
    EXPECT_EQ(got.shape, t.shape) << key;
    EXPECT_EQ(got.data, t.data) << key;
  }
  const nlohmann::json want = {
      {"z_dim", 4}, {"c_dim", 0}, {"w_dim", 4}, {"img_resolution", 8}, {"img_channels", 3},
      {"mapping_kwargs", {{"num_layers", 2}, {"lr_multiplier", 0.01}}},
      {"synthesis_kwargs", {{"channel_base", 32}, {"channel_max", 8}, {"num_fp16_res", 0}, {"conv_clamp", 256},
                            {"architecture", "skip"}}}};
  EXPECT_EQ(r.config, want) << r.config.dump();
  // The shapes alone give the same config except conv_clamp, which weights cannot tell.
  nlohmann::json inferred = infer_stylegan2_config(r.tensors, nullptr);
  inferred["synthesis_kwargs"]["conv_clamp"] = 256;
  EXPECT_EQ(inferred, want) << inferred.dump();
  // G (not G_ema) by prefix: other values.
  const ImportResult g = import_checkpoint(ckpt("nvidia_tiny.pkl"), {"G"});
  EXPECT_NE(at_key(g.tensors, "synthesis.b4.const").data, at_key(r.tensors, "synthesis.b4.const").data);
}

// --- NVIDIA's TensorFlow pickles: variables read as numpy data, mapped as legacy.py does. --------

TEST(CheckpointImport, TensorFlowPickleGivesTheOfficialGeneratorsStateDict) {
  // A conditional 4x4 network made from an official PyTorch generator (make_genuine_checkpoints.py):
  // the mapped tensors must be that generator's state_dict, exactly.
  const auto expected = read_safetensors(ckpt("genuine/tf_tiny_expected.safetensors"));
  for (const char* file : {"genuine/tf_tiny_p4.pkl", "genuine/tf_tiny_p5.pkl"}) {  // numpy _reconstruct / _frombuffer
    SCOPED_TRACE(file);
    const ImportResult r = import_checkpoint(ckpt(file));
    EXPECT_EQ(r.format, "tf-pkl");
    EXPECT_EQ(r.prefix, "Gs");
    EXPECT_EQ(r.key_map, "tf");
    EXPECT_EQ(r.networks, (std::vector<std::string>{"G", "D", "Gs"}));
    ASSERT_EQ(r.tensors.size(), expected.size());
    for (const auto& [key, t] : expected) {
      const FloatTensor& got = at_key(r.tensors, key);
      EXPECT_EQ(got.shape, t.shape) << key;
      EXPECT_EQ(got.data, t.data) << key;
    }
    EXPECT_EQ(r.config["c_dim"], 2);
    EXPECT_EQ(r.config["synthesis_kwargs"]["channel_base"], 8);  // fmap_base 4, doubled
    EXPECT_EQ(r.config["mapping_kwargs"]["num_layers"], 1);
  }
  // --prefix G (the same network here), D (raw TF names, not mapped), anything else: refused.
  EXPECT_EQ(import_checkpoint(ckpt("genuine/tf_tiny_p4.pkl"), {"G"}).prefix, "G");
  const ImportResult raw = import_checkpoint(ckpt("genuine/tf_tiny_p4.pkl"), {"", "none"});
  EXPECT_EQ(raw.key_map, "none");
  EXPECT_EQ(at_key(raw.tensors, "synthesis/4x4/Conv/weight").shape, (std::vector<std::int64_t>{3, 3, 2, 2}));
  test::expect_error([] { import_checkpoint(ckpt("genuine/tf_tiny_p4.pkl"), {"G_ema"}); },
                     {"--prefix 'G_ema': a TensorFlow pickle holds the networks G, D and Gs"});
}

TEST(CheckpointImport, TensorFlowVariablesMapAsLegacyPyDoesAndErrorsNameTheVariable) {
  // By hand: a 3x3 up-sampling kernel [kh, kw, I, O] = [3, 3, 1, 1] is flipped and becomes [1, 1, 3, 3];
  // a dense [in, out] = [2, 3] is transposed; mod_bias gets +1.
  std::map<std::string, FloatTensor> v;
  auto t = [](std::vector<std::int64_t> shape, std::vector<float> data) {
    FloatTensor x;
    x.shape = std::move(shape);
    x.data = std::move(data);
    return x;
  };
  const nlohmann::json kwargs = {{"resolution", 8}, {"latent_size", 2}, {"dlatent_size", 2}, {"mapping_layers", 1},
                                 {"fmap_base", 1}, {"fmap_max", 1}, {"num_channels", 1}, {"label_size", 0}};
  v["mapping/Dense0/weight"] = t({2, 2}, {1, 2, 3, 4});
  v["mapping/Dense0/bias"] = t({2}, {0, 0});
  v["dlatent_avg"] = t({2}, {5, 6});
  v["lod"] = t({}, {0});
  v["synthesis/4x4/Const/const"] = t({1, 1, 4, 4}, std::vector<float>(16, 1));
  auto layer = [&](const std::string& p, std::int64_t k, bool noise) {
    std::vector<float> w(static_cast<std::size_t>(k * k));
    for (std::size_t i = 0; i < w.size(); ++i) w[i] = static_cast<float>(i);
    v[p + "/weight"] = t({k, k, 1, 1}, w);
    v[p + "/mod_weight"] = t({2, 1}, {7, 8});
    v[p + "/mod_bias"] = t({1}, {0.5f});
    v[p + "/bias"] = t({1}, {0.25f});
    if (noise) v[p + "/noise_strength"] = t({}, {0.1f});
  };
  layer("synthesis/4x4/Conv", 3, true);
  layer("synthesis/4x4/ToRGB", 1, false);
  layer("synthesis/8x8/Conv0_up", 3, true);
  layer("synthesis/8x8/Conv1", 3, true);
  layer("synthesis/8x8/ToRGB", 1, false);
  v["synthesis/noise0"] = t({1, 1, 4, 4}, std::vector<float>(16, 2));
  v["synthesis/noise1"] = t({1, 1, 8, 8}, std::vector<float>(64, 3));
  v["synthesis/noise2"] = t({1, 1, 8, 8}, std::vector<float>(64, 4));
  v["synthesis/8x8/Unknown/thing"] = t({1}, {0});
  nlohmann::json config;
  std::vector<std::string> notes;
  const auto out = map_tf_stylegan2(v, kwargs, &config, &notes);
  EXPECT_EQ(at_key(out, "mapping.fc0.weight").data, (std::vector<float>{1, 3, 2, 4}));
  EXPECT_EQ(at_key(out, "mapping.w_avg").data, (std::vector<float>{5, 6}));
  EXPECT_EQ(at_key(out, "synthesis.b4.const").shape, (std::vector<std::int64_t>{1, 4, 4}));
  EXPECT_EQ(at_key(out, "synthesis.b4.conv1.weight").data, (std::vector<float>{0, 1, 2, 3, 4, 5, 6, 7, 8}));
  EXPECT_EQ(at_key(out, "synthesis.b8.conv0.weight").data, (std::vector<float>{8, 7, 6, 5, 4, 3, 2, 1, 0}));
  EXPECT_EQ(at_key(out, "synthesis.b8.conv0.affine.weight").shape, (std::vector<std::int64_t>{1, 2}));
  EXPECT_EQ(at_key(out, "synthesis.b8.conv0.affine.bias").data, (std::vector<float>{1.5f}));
  EXPECT_EQ(at_key(out, "synthesis.b8.conv0.noise_const").data, std::vector<float>(64, 3));  // noise 2*3-5 = 1
  EXPECT_EQ(at_key(out, "synthesis.b8.conv1.noise_const").data, std::vector<float>(64, 4));  // noise 2*3-4 = 2
  EXPECT_EQ(at_key(out, "synthesis.b8.torgb.weight").shape, (std::vector<std::int64_t>{1, 1, 1, 1}));
  EXPECT_EQ(out.count("synthesis.b8.torgb.noise_strength"), 0u);
  EXPECT_EQ(config["synthesis_kwargs"]["channel_base"], 2);
  ASSERT_EQ(notes.size(), 2u);  // lr multiplier assumed; the unknown variable left out
  EXPECT_NE(notes[1].find("synthesis/8x8/Unknown/thing"), std::string::npos) << notes[1];

  auto bad = v;
  bad.erase("synthesis/noise2");
  test::expect_error([&] { map_tf_stylegan2(bad, kwargs, nullptr, nullptr); }, {"the variable 'synthesis/noise2' is missing"});
  nlohmann::json odd = kwargs;
  odd["fmap_decay"] = 1.0;
  test::expect_error([&] { map_tf_stylegan2(v, odd, nullptr, nullptr); }, {"unknown static kwargs [fmap_decay]"});
  bad = v;
  bad["mapping/LabelConcat/weight"] = t({1}, {0});
  test::expect_error([&] { map_tf_stylegan2(bad, kwargs, nullptr, nullptr); },
                     {"'mapping/LabelConcat/weight': the original StyleGAN2 release's conditional mapping"});
}

// --- Files that are not generators say so in one line. ----------------------------------------

TEST(CheckpointImport, OptimizerStatesAndDiscriminatorOnlyFilesSaySo) {
  test::expect_error([] { import_checkpoint(ckpt("genuine/optimizer_state.pt")); },
                     {"optimizer_state.pt: this is an optimizer state (torch.optim's 'state' and 'param_groups'), not a generator"});
  test::expect_error([] { import_checkpoint(ckpt("genuine/d_only.pkl")); },
                     {"d_only.pkl: this file holds only a discriminator ('D'), not a generator"});
  // Asked for by name, D is exported (as before).
  const ImportResult d = import_checkpoint(ckpt("genuine/d_only.pkl"), {"D"});
  EXPECT_EQ(recognise_non_generator(d.tensors), "a StyleGAN2 discriminator (b4.fc, b4.out)");
  // A genuine snapshot picks G_ema and lists the networks it holds.
  const ImportResult g = import_checkpoint(ckpt("genuine/ada_uncond_fp16.pkl"));
  EXPECT_EQ(g.prefix, "G_ema");
  EXPECT_EQ(g.networks, (std::vector<std::string>{"G", "D", "G_ema", "augment_pipe"}));
  EXPECT_EQ(g.config["synthesis_kwargs"]["num_fp16_res"], 2);
  EXPECT_EQ(recognise_non_generator(g.tensors), "");
  const ImportResult ros = import_checkpoint(ckpt("genuine/rosinality_train_000000.pt"));
  EXPECT_EQ(ros.prefix, "g_ema");
  EXPECT_FALSE(ros.has_latent_avg);
  EXPECT_EQ(ros.tensors.count("mapping.w_avg"), 0u);
  EXPECT_EQ(ros.networks, (std::vector<std::string>{"g", "d", "g_ema"}));
}

// --- actmap-cli import. --------------------------------------------------------------------------

TEST(CheckpointImport, CliWritesSafetensorsAndCard) {
  const std::string dir = test::temp_dir("cli_import");
  test::CliRun r = test::cli("import " + ckpt("tiny_legacy.pt") + " -o " + dir + "/tiny.safetensors");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("legacy torch.save"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("tensors:    7 (42 parameters"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("count (int64 [])"), std::string::npos) << r.out;
  const auto tiny = read_safetensors(dir + "/tiny.safetensors");
  EXPECT_EQ(tiny.size(), 7u);
  EXPECT_EQ(at_key(tiny, "slice").data, (std::vector<float>{2, 3, 4}));

  // --card for a non-StyleGAN network: refused, nothing written.
  r = test::cli("import " + ckpt("tiny_zip.pt") + " -o " + dir + "/x.safetensors --card " + dir + "/x.json");
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("write the card's layer list by hand (models/celeba32-fletcher.json is an example)"),
            std::string::npos) << r.out;
  EXPECT_FALSE(std::filesystem::exists(dir + "/x.safetensors"));

  // A rosinality checkpoint with a card in another directory: config inferred from the shapes.
  std::filesystem::create_directories(dir + "/cards");
  r = test::cli("import " + ckpt("rosinality_tiny.pt") + " -o " + dir + "/ros.safetensors --card " + dir +
                "/cards/ros.json --name tiny-ros");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("key map:    rosinality"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("cannot be read off the weights"), std::string::npos) << r.out;
  const auto card = nlohmann::json::parse(read_file_text(dir + "/cards/ros.json"));
  EXPECT_EQ(card["actmap_model_card"], 1);
  EXPECT_EQ(card["name"], "tiny-ros");
  EXPECT_EQ(card["family"], "stylegan2");
  EXPECT_EQ(card["license"], "unknown: state the checkpoint's license");
  EXPECT_EQ(card["weights"]["path"], "../ros.safetensors");
  EXPECT_EQ(card["weights"]["sha256"], sha256_file(dir + "/ros.safetensors"));
  EXPECT_EQ(card["config"]["img_resolution"], 8);
  EXPECT_EQ(card["config"]["z_dim"], 4);
  EXPECT_EQ(card["config"]["synthesis_kwargs"]["channel_base"], 32);
  EXPECT_NE(card["description"].get<std::string>().find("rosinality_tiny.pt"), std::string::npos);
  const auto ros = read_safetensors(dir + "/ros.safetensors");
  EXPECT_EQ(ros.count("synthesis.b4.const"), 1u);
  EXPECT_EQ(ros.count("mapping.w_avg"), 1u);

  // The NVIDIA pickle's card carries the pickle's own config (conv_clamp 256).
  r = test::cli("import " + ckpt("nvidia_tiny.pkl") + " -o " + dir + "/nv.safetensors --card " + dir +
                "/nv.json --license CC-BY-NC-4.0");
  ASSERT_EQ(r.code, 0) << r.out;
  const auto nv = nlohmann::json::parse(read_file_text(dir + "/nv.json"));
  EXPECT_EQ(nv["config"]["synthesis_kwargs"]["conv_clamp"], 256);
  EXPECT_EQ(nv["license"], "CC-BY-NC-4.0");
  EXPECT_EQ(nv["weights"]["path"], "nv.safetensors");

  // A hostile file: exit 1 with the reason.
  r = test::cli("import " + ckpt("hostile_posix_system.pt") + " -o " + dir + "/h.safetensors");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("refused to load: the checkpoint names the global 'posix.system'"), std::string::npos) << r.out;
  EXPECT_FALSE(std::filesystem::exists(dir + "/h.safetensors"));
}

}  // namespace
}  // namespace actmap
