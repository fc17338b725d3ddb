// Depth sweeps, channel sensitivity, Network Bending configs and reports.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <regex>

#include <nlohmann/json.hpp>

#include "actmap/analysis/bending.h"
#include "actmap/analysis/report.h"
#include "actmap/analysis/sensitivity.h"
#include "actmap/analysis/sweep.h"
#include "actmap/io/safetensors.h"
#include "actmap/model/generator.h"
#include "actmap/render/renderer.h"
#include "actmap/session/session.h"
#include "test_util.h"

namespace actmap {
namespace {

using json = nlohmann::json;

const std::string kSkip16 = test::fixture("stylegan2/skip16.json");

Session skip16_session(const std::vector<json>& edits) {
  Session s = new_session(kSkip16);
  s.latent = SessionLatent::from_seed(3);
  s.edits = edits_from_json(json(edits), "");
  return s;
}

// The edits' tap, channels and op as expected, and each expected parameter (the edits may hold
// more: the ops' defaults).
void expect_edits(const std::vector<Edit>& edits, const std::vector<json>& expected) {
  ASSERT_EQ(edits.size(), expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const json got = edits[i].to_json();
    EXPECT_EQ(got["tap"], expected[i]["tap"]) << i;
    EXPECT_EQ(got["channels"], expected[i]["channels"]) << i;
    EXPECT_EQ(got["op"], expected[i]["op"]) << i;
    for (const auto& [k, v] : expected[i]["params"].items()) EXPECT_EQ(got["params"][k], v) << i << " " << k;
  }
}

double mean_abs(const Image& a, const Image& b) {
  double sum = 0;
  for (std::size_t i = 0; i < a.pixels.size(); ++i) sum += std::abs(int(a.pixels[i]) - int(b.pixels[i]));
  return sum / double(a.pixels.size());
}

TEST(MoveEdit, RescalesCoordinatesAndMapsChannelsByFraction) {
  const TapInfo from{"a", 8, 4, 4, 0}, to{"b", 16, 8, 8, 1}, down{"c", 4, 2, 2, 2};
  const Edit e = Edit::from_json(json{{"tap", "a"}, {"channels", json{1, 6}}, {"op", "brush"},
                                      {"params", {{"points", {{1, 2}}}, {"radius", 1.5}}},
                                      {"mask", {{"rect", {1, 1, 2, 2}}}}},
                                 "/e");
  std::string why;
  const auto up = move_edit(e, from, to, false, {}, &why);
  ASSERT_TRUE(up) << why;
  EXPECT_EQ(up->tap, "b");
  // Channel c of 8 covers [c/8, (c+1)/8) of the range: channels 2c and 2c+1 of 16.
  EXPECT_EQ(up->channels.list, (std::vector<std::int64_t>{2, 3, 12, 13}));
  // Pixel centre (1, 2) of a 4x4 map lies at (3, 5) of an 8x8 one; the radius doubles.
  EXPECT_EQ(up->params["points"], json({{2.5, 4.5}}));
  EXPECT_DOUBLE_EQ(up->params["radius"].get<double>(), 3.0);
  // Pixels 1..2 of 4 are pixels 2..5 of 8: bounds 1.5 and 5.5 take exactly their centres.
  EXPECT_EQ(up->mask.shape, (std::array<double, 4>{1.5, 1.5, 5.5, 5.5}));
  const auto dn = move_edit(e, from, down, false, {}, &why);
  ASSERT_TRUE(dn);
  EXPECT_EQ(dn->channels.list, (std::vector<std::int64_t>{0, 3}));  // 1/8 -> 0 of 4, 6/8 -> 3 of 4
  EXPECT_EQ(dn->mask.shape, (std::array<double, 4>{0.0, 0.0, 1.0, 1.0}));
  // W+: no spatial ops, no W+ ops elsewhere.
  const TapInfo mapping{"mapping", 6, 1, 8, 0};
  EXPECT_FALSE(move_edit(e, from, mapping, true, {}, &why));
  EXPECT_NE(why.find("W+"), std::string::npos);
  const Edit mix = Edit::from_json(json{{"tap", "mapping"}, {"channels", "all"}, {"op", "style_mix"}, {"params", {{"seed", 2}}}}, "/m");
  EXPECT_FALSE(move_edit(mix, mapping, to, true, {}, &why));
  EXPECT_NE(why.find("acts only at mapping"), std::string::npos);
}

TEST(Sweep, OneOutputPerTapWithLabels) {
  const Session s = skip16_session({{{"id", "e1"}, {"tap", "b8.conv0"}, {"channels", json{0, 1}}, {"op", "multiply"},
                                     {"params", {{"factor", -3.0}}}, {"mask", {{"rect", {0, 0, 3, 7}}}}},
                                    {{"id", "e2"}, {"tap", "b4.conv1"}, {"channels", "all"}, {"op", "add"}, {"params", {{"value", 0.5}}}}});
  auto gen = load_generator(load_model_card(kSkip16));
  Renderer renderer(gen);
  const SweepResult r = sweep_edit(renderer, s, "e1");
  const std::vector<std::string> names = {"mapping", "b4.conv1", "b4.torgb", "b8.conv0", "b8.conv1", "b8.torgb",
                                          "b8.img", "b16.conv0", "b16.conv1", "b16.torgb", "b16.img"};
  ASSERT_EQ(r.steps.size(), names.size());
  for (std::size_t i = 0; i < names.size(); ++i) {
    EXPECT_EQ(r.steps[i].tap.name, names[i]);
    EXPECT_EQ(r.steps[i].applied, i != 0) << names[i];
  }
  EXPECT_NE(r.steps[0].skipped.find("mask"), std::string::npos);
  EXPECT_EQ(r.steps[7].tap.height, 16);
  EXPECT_EQ(r.steps[7].tap.channels, 4);
  // At its own tap the sweep equals a plain render of the session against one without e1.
  Renderer plain(gen);
  const Image with = output_to_images(render_session(plain, s).output, gen->card())[0];
  Session without = s;
  without.edits.erase(without.edits.begin());
  const Image base = output_to_images(render_session(plain, without).output, gen->card())[0];
  EXPECT_EQ(r.baseline.pixels, base.pixels);
  EXPECT_EQ(r.steps[3].output.pixels, with.pixels);
  EXPECT_DOUBLE_EQ(r.steps[3].mean_abs_change, mean_abs(with, base));
  EXPECT_GT(r.steps[3].mean_abs_change, 0.0);
  // The moved edit at b16.conv0: rect 0..3 x 0..7 of 8 is 0..7 x 0..15 of 16; channels 0, 1 of 8 -> 0 of 4.
  EXPECT_EQ(r.steps[7].edit.mask.shape, (std::array<double, 4>{-0.5, -0.5, 7.5, 15.5}));
  EXPECT_EQ(r.steps[7].edit.channels.list, (std::vector<std::int64_t>{0}));
  // The strip: header, 12 tiles of 96 (16 x 6) in rows of 8.
  const Image strip = sweep_strip(r);
  EXPECT_EQ(strip.width, 6 + 8 * (96 + 6));
  EXPECT_EQ(strip.height, 28 + 2 * (96 + 46 + 6) + 6);
  const std::string csv = sweep_csv(r);
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 12);
  EXPECT_NE(csv.find("mapping,1,8,"), std::string::npos);
  test::expect_error([&] { sweep_edit(renderer, s, "e9"); }, {"no edit 'e9'", "e1, e2"});
}

TEST(Sweep, WPlusOpsOnlyAtMapping) {
  const Session s = skip16_session({{{"id", "m"}, {"tap", "mapping"}, {"channels", {{"range", {0, 2}}}}, {"op", "style_mix"},
                                     {"params", {{"seed", 7}}}}});
  Renderer renderer(load_generator(load_model_card(kSkip16)));
  const SweepResult r = sweep_edit(renderer, s, "m");
  int applied = 0;
  for (const auto& st : r.steps) applied += st.applied;
  EXPECT_EQ(applied, 1);
  EXPECT_TRUE(r.steps[0].applied);
  EXPECT_GT(r.steps[0].mean_abs_change, 0.0);
}

// A sequential generator with hand-set weights: a 6-channel 2x2 tap ("act", all ones after ReLU)
// and a 1x1 convolution to one output channel with weights 0.01 c, except channel 4 at 0.5:
// the output is tanh(sum_c w_c) = tanh(0.61) everywhere, and ablating channel c gives tanh(0.61 - w_c).
class PlantedSensitivity : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = test::temp_dir("sens");
    write_file_atomic(dir_ + "/card.json", R"({"family": "sequential", "name": "sens",
      "latent": {"size": 2}, "weights": "w.safetensors", "layers": [
        {"type": "linear", "in": 2, "out": 24, "weights": "fc"},
        {"type": "reshape", "shape": [6, 2, 2]},
        {"type": "relu", "name": "act"},
        {"type": "conv2d", "in": 6, "out": 1, "kernel": 1, "weights": "out"},
        {"type": "tanh", "name": "image"}]})");
    w_ = {0.0f, 0.01f, 0.02f, 0.03f, 0.5f, 0.05f};
    write_file_atomic(dir_ + "/w.safetensors",
                      encode_safetensors({{"fc.weight", {{24, 2}, std::vector<float>(48, 0.0f)}},
                                          {"fc.bias", {{24}, std::vector<float>(24, 1.0f)}},
                                          {"out.weight", {{1, 6, 1, 1}, w_}},
                                          {"out.bias", {{1}, {0.0f}}}}));
    gen_ = load_generator(load_model_card(dir_ + "/card.json"));
  }
  std::string dir_;
  std::vector<float> w_;
  std::shared_ptr<const Generator> gen_;
};

TEST_F(PlantedSensitivity, RanksThePlantedChannelFirstWithHandComputedChanges) {
  for (int batch : {64, 4, 1}) {
    SensitivityOptions o;
    o.samples = 3;
    o.batch = batch;
    const SensitivityResult r = channel_sensitivity(*gen_, "act", o);
    ASSERT_EQ(r.change.size(), 6u);
    EXPECT_EQ(r.ranking().front(), 4);
    EXPECT_EQ(r.ranking().back(), 0);  // weight 0: no change at all
    const double sum = 0.61;
    for (int c = 0; c < 6; ++c) {
      const double expected = std::abs(std::tanh(sum) - std::tanh(sum - w_[static_cast<std::size_t>(c)])) * 127.5;
      EXPECT_NEAR(r.change[static_cast<std::size_t>(c)], expected, 1e-3) << "channel " << c << ", batch " << batch;
    }
  }
  SensitivityOptions scale;
  scale.ablate = false;
  scale.factor = 3.0;
  const SensitivityResult r = channel_sensitivity(*gen_, "act", scale);
  EXPECT_NEAR(r.change[4], std::abs(std::tanh(0.61 + 1.0) - std::tanh(0.61)) * 127.5, 1e-3);
  EXPECT_NE(sensitivity_csv(r).find("1,4,"), std::string::npos);
}

TEST(Sensitivity, StyleGAN2CarryMatchesTheRenderer) {
  // The batched re-run from b8.conv0 (W+ and the running image carried along the batch) against
  // the renderer with an ablate edit, latent by latent.
  const auto gen = load_generator(load_model_card(kSkip16));
  SensitivityOptions o;
  o.samples = 2;
  o.seed = 5;
  o.batch = 5;
  const SensitivityResult r = channel_sensitivity(*gen, "b8.conv0", o);
  ASSERT_EQ(r.change.size(), 8u);
  Renderer renderer(gen);
  const at::Tensor z = latents_from_seeds(gen->card().latent, 5, 2);
  for (int c : {0, 3, 7}) {
    double expected = 0.0;
    for (int i = 0; i < 2; ++i) {
      const at::Tensor zi = z.slice(0, i, i + 1);
      const at::Tensor base = renderer.render(zi, {}).output;
      const auto edits = edits_from_json(json::array({{{"tap", "b8.conv0"}, {"channels", c}, {"op", "ablate"}}}));
      const at::Tensor out = renderer.render(zi, edits).output;
      expected += (out - base).abs().mean().item<double>() * 127.5 / 2;
    }
    EXPECT_NEAR(r.change[static_cast<std::size_t>(c)], expected, 1e-4 + 1e-4 * expected) << "channel " << c;
  }
}

// An edit's JSON without its id.
json edit_json(const Edit& e) {
  json j = e.to_json();
  j.erase("id");
  return j;
}

bool has_note(const BendingImport& in, const std::string& text) {
  for (const auto& n : in.notes) {
    if (n.find(text) != std::string::npos) return true;
  }
  return false;
}

TEST(Bending, NetworkBendingConfigToEditsAndBack) {
  const ModelCard card = load_model_card(kSkip16);
  EXPECT_EQ(bending_layer_taps(card), (std::vector<std::string>{"b4.conv1", "b8.conv0", "b8.conv1", "b16.conv0", "b16.conv1"}));
  const BendingImport in = import_bending(read_file_text(test::fixture("bending/transforms.yaml")), "transforms.yaml", card,
                                          read_file_text(test::fixture("bending/clusters.yaml")), "clusters.yaml");
  EXPECT_EQ(in.format, "network_bending");
  EXPECT_TRUE(in.notes.empty()) << in.notes.front();
  // Written by hand from the config and Network Bending's code (docs/research.md).
  const json nb = "network_bending";
  const std::vector<json> expected = {
      {{"tap", "b8.conv0"}, {"channels", "all"}, {"op", "translate"}, {"params", {{"dx", 0.25}, {"dy", -0.125}, {"convention", nb}}}},
      {{"tap", "b8.conv0"}, {"channels", {{"random", 0.5}, {"seed", 1}, {"rule", nb}}}, {"op", "scale"}, {"params", {{"factor", 1.5}, {"convention", nb}}}},
      {{"tap", "b8.conv1"}, {"channels", {{"cluster", 1}}}, {"op", "rotate"}, {"params", {{"degrees", 45.0}, {"convention", nb}}}},
      {{"tap", "b16.conv0"}, {"channels", "all"}, {"op", "erode"}, {"params", {{"radius", 1}, {"shape", "ellipse"}}}},
      {{"tap", "b16.conv1"}, {"channels", "all"}, {"op", "dilate"}, {"params", {{"radius", 2}, {"shape", "ellipse"}}}},
      {{"tap", "b8.conv0"}, {"channels", "all"}, {"op", "multiply"}, {"params", {{"factor", -2.5}}}},
      {{"tap", "b8.conv1"}, {"channels", {{"cluster", 0}}}, {"op", "threshold"}, {"params", {{"t", 0.3}}}},
      {{"tap", "b16.conv0"}, {"channels", "all"}, {"op", "flip"}, {"params", {{"axis", "horizontal"}}}},
      {{"tap", "b16.conv1"}, {"channels", "all"}, {"op", "flip"}, {"params", {{"axis", "vertical"}}}},
      {{"tap", "b8.conv1"}, {"channels", {{"random", 0.25}, {"seed", 9}, {"rule", nb}}}, {"op", "invert"}, {"params", json::object()}},
      {{"tap", "b8.conv1"}, {"channels", {{"cluster", 2}}}, {"op", "ablate"}, {"params", json::object()}},
  };
  expect_edits(in.edits, expected);
  // Channels 0, 3 in cluster 0; 1, 5 in 1; 7 in 2; 2, 4 and 6 in none.
  ASSERT_EQ(in.clusters.size(), 1u);
  EXPECT_EQ(in.clusters.at("b8.conv1"), (std::vector<int>{0, 1, -1, 0, -1, 1, -1, 2}));
  // Network Bending's random draw: int(8 * 0.5) = 4 channels of random.seed(1); random.sample(range(8), 4).
  EXPECT_EQ(in.edits[1].channels.resolve(8, "b8.conv0").size(), 4u);

  // A session with these edits plus four Network Bending cannot express.
  Session s = new_session(kSkip16);
  s.edits = in.edits;
  s.clusters = in.clusters;
  for (const json& j : {json{{"tap", "b8.conv0"}, {"channels", 1}, {"op", "brush"}, {"params", {{"points", {{1, 1}}}}}},
                        json{{"tap", "b8.conv0"}, {"channels", "all"}, {"op", "ablate"}, {"mask", {{"rect", {0, 0, 1, 1}}}}},
                        json{{"tap", "b8.torgb"}, {"channels", "all"}, {"op", "invert"}},
                        json{{"tap", "b4.conv1"}, {"channels", "all"}, {"op", "invert"}}}) {
    s.edits.push_back(Edit::from_json(j, "/x"));
    s.edits.back().id = "x" + std::to_string(s.edits.size());
  }
  check_session_against_card(s, card);
  const BendingExport out = export_bending(s, card);
  ASSERT_EQ(out.skipped.size(), 4u);
  EXPECT_NE(out.skipped[0].find("brush"), std::string::npos);
  EXPECT_NE(out.skipped[1].find("mask"), std::string::npos);
  EXPECT_NE(out.skipped[2].find("after convolutions only"), std::string::npos);
  EXPECT_NE(out.skipped[3].find("never bends layer 0"), std::string::npos);
  EXPECT_NE(out.config.find("transform: \"flip-v\""), std::string::npos) << out.config;
  EXPECT_NE(out.config.find("params: [-2.5]"), std::string::npos) << out.config;
  EXPECT_NE(out.config.find("params: [0.25, -0.125]"), std::string::npos) << out.config;
  EXPECT_EQ(out.notes.size(), 2u);  // the two random seeds, which Network Bending's format has not
  // Channels in no cluster are left out of the dictionary, as Network Bending reads it.
  EXPECT_EQ(out.clusters, "2:\n- {cluster_index: 0, feature_index: 0}\n- {cluster_index: 1, feature_index: 1}\n"
                          "- {cluster_index: 0, feature_index: 3}\n- {cluster_index: 1, feature_index: 5}\n"
                          "- {cluster_index: 2, feature_index: 7}\n");
  // Back in: the same edits and clusters.
  const BendingImport again = import_bending(out.config, "exported", card, out.clusters, "exported clusters");
  EXPECT_TRUE(again.notes.empty());
  ASSERT_EQ(again.edits.size(), in.edits.size());
  for (std::size_t i = 0; i < in.edits.size(); ++i) EXPECT_EQ(edit_json(again.edits[i]), edit_json(in.edits[i])) << i;
  EXPECT_EQ(again.clusters, in.clusters);
}

// Files of our own in the layout of Network Bending's shipped configs (its repository has no
// licence, so its files are not here): its example config with an `all-transforms:` section, its
// empty config (random with feature-param 0), its sample strip, its 16-layer dictionary.
TEST(Bending, NetworkBendingsOwnLayoutsImport) {
  const ModelCard card = load_model_card(kSkip16);
  const std::string dict = read_file_text(test::fixture("bending/nb_layout_clusters.yaml"));
  const BendingImport ex = import_bending(read_file_text(test::fixture("bending/nb_layout_example.yaml")), "example.yaml",
                                          card, dict, "dict.yaml");
  ASSERT_EQ(ex.edits.size(), 3u);
  EXPECT_EQ(edit_json(ex.edits[0]), (json{{"tap", "b16.conv0"}, {"channels", "all"}, {"op", "translate"}, {"enabled", true},
                                          {"params", {{"dx", 0.25}, {"dy", 0.0}, {"convention", "network_bending"}, {"renormalize", false}}}}));
  EXPECT_EQ(edit_json(ex.edits[1])["channels"], (json{{"cluster", 1}}));
  EXPECT_EQ(ex.edits[1].op, "ablate");
  EXPECT_EQ(edit_json(ex.edits[2])["channels"], (json{{"random", 0.5}, {"seed", 2}, {"rule", "network_bending"}}));
  EXPECT_EQ(ex.edits[2].op, "threshold");
  // Layer 2's dictionary leaves features 2 and 6 out: in no cluster. Only that layer is read,
  // though the dictionary has 16 layers and the model 5.
  EXPECT_EQ(ex.clusters, (std::map<std::string, std::vector<int>>{{"b8.conv1", {0, 1, -1, 1, 0, 1, -1, 1}}}));
  ASSERT_EQ(ex.notes.size(), 1u);
  EXPECT_NE(ex.notes[0].find("example.yaml: line 26: all-transforms: Network Bending's generate.py reads only 'transforms'"),
            std::string::npos) << ex.notes[0];
  test::expect_error([&] { import_bending(read_file_text(test::fixture("bending/nb_layout_example.yaml")), "example.yaml", card,
                                          dict, "dict.yaml", BendingOptions{true, 0}); },
                     {"all-transforms", "(--strict)"});

  // The empty config: layer 0 is never bent (and its random fraction 0 would take no channel).
  const BendingImport empty = import_bending(read_file_text(test::fixture("bending/nb_layout_empty.yaml")), "empty.yaml", card);
  EXPECT_TRUE(empty.edits.empty());
  ASSERT_EQ(empty.notes.size(), 1u);
  EXPECT_NE(empty.notes[0].find("empty.yaml: line 2: transforms[0].layer: layer 0 (b4.conv1) is never bent"), std::string::npos);
  // The same at layer 1 imports as an edit that selects nothing: int(8 * 0) = 0 channels.
  std::string text = read_file_text(test::fixture("bending/nb_layout_empty.yaml"));
  text.replace(text.find("layer: 0"), 8, "layer: 1");
  const BendingImport none = import_bending(text, "empty1.yaml", card);
  ASSERT_EQ(none.edits.size(), 1u);
  EXPECT_TRUE(none.edits[0].channels.resolve(8, "b8.conv0").empty());
  EXPECT_TRUE(has_note(none, "= 0 channels"));

  // The strip: one transform, held at layer 1, swept over Network Bending's layers.
  const BendingImport strip = import_bending(read_file_text(test::fixture("bending/nb_layout_strip.yaml")), "strip.yaml", card);
  EXPECT_EQ(strip.format, "network_bending_strip");
  EXPECT_EQ(strip.strip_edit, "e1");
  ASSERT_EQ(strip.edits.size(), 1u);
  EXPECT_EQ(strip.edits[0].tap, "b8.conv0");
  EXPECT_EQ(strip.edits[0].op, "multiply");
  Session s = skip16_session({});
  s.edits = strip.edits;
  auto gen = load_generator(card);
  Renderer renderer(gen);
  SweepOptions o;
  o.network_bending = true;
  const SweepResult r = sweep_edit(renderer, s, "e1", {}, o);
  ASSERT_EQ(r.steps.size(), 5u);
  EXPECT_EQ(r.steps[0].tap.name, "b4.conv1");
  EXPECT_FALSE(r.steps[0].applied);
  EXPECT_NE(r.steps[0].skipped.find("never bends"), std::string::npos);
  for (std::size_t i = 1; i < 5; ++i) {
    EXPECT_TRUE(r.steps[i].applied) << i;
    EXPECT_GT(r.steps[i].mean_abs_change, 0.0) << i;
  }
  EXPECT_EQ(r.steps[4].tap.name, "b16.conv1");
}

TEST(Bending, ReadsValuesAsPyYAMLDoes) {
  const ModelCard card = load_model_card(kSkip16);
  auto one = [&](const std::string& entry) {
    return import_bending("transforms:\n- " + entry + "\n", "c.yaml", card);
  };
  // -.2 and 1e3 are text to PyYAML: Network Bending's op fails on them.
  BendingImport in = one("{layer: 1, transform: translate, params: [0.5, -.2], features: all}");
  EXPECT_TRUE(in.edits.empty());
  EXPECT_TRUE(has_note(in, "transforms[0].params[1]: the text '-.2' is not a number to PyYAML"));
  EXPECT_TRUE(one("{layer: 1, transform: rotate, params: [1e3], features: all}").edits.empty());
  // 1.0e+3 is a float; 010 an octal 8 (a layer beyond the model: skipped); 0x2 is layer 2.
  in = one("{layer: 1, transform: rotate, params: [1.0e+3], features: all}");
  ASSERT_EQ(in.edits.size(), 1u);
  EXPECT_EQ(in.edits[0].params["degrees"], 1000.0);
  EXPECT_TRUE(has_note(one("{layer: 010, transform: invert, params: [], features: all}"), "layer 8: model skip16 has layers 0 to 4"));
  EXPECT_EQ(one("{layer: 0x2, transform: invert, params: [], features: all}").edits.at(0).tap, "b8.conv1");
  // erode takes an int: 2.0 fails there.
  EXPECT_TRUE(has_note(one("{layer: 1, transform: erode, params: [2.0], features: all}"), "is not an int"));
  // Quoted names, surplus parameters (ignored, a note), features Network Bending does not know.
  in = one("{layer: \"1\", transform: invert, params: [], features: all}");
  EXPECT_TRUE(in.edits.empty());
  EXPECT_TRUE(has_note(in, "is not a layer number"));
  in = one("{layer: 2, transform: scalar-multiply, params: [2, 3], features: all}");
  ASSERT_EQ(in.edits.size(), 1u);
  EXPECT_TRUE(has_note(in, "reads the first 1 value(s)"));
  EXPECT_TRUE(has_note(one("{layer: 2, transform: invert, params: [], features: some}"), "'some' is not all, random or cluster"));
  EXPECT_TRUE(has_note(one("{layer: 2, transform: invert, params: []}"), "no 'features'"));
  EXPECT_TRUE(has_note(one("{layer: 2, transform: resize, params: [0.5, 0.5], features: all}"), "resize grows every map"));
  EXPECT_TRUE(has_note(one("{layer: 2, transform: resize, params: [0.1, 0.1], features: all}"), "resize adds no border"));
  EXPECT_TRUE(has_note(one("{layer: 17, transform: invert, params: [], features: all}"), "layers 0 to 16"));
  // Random fractions: int(C f) in [0, C], else random.sample fails.
  EXPECT_TRUE(has_note(one("{layer: 2, transform: invert, params: [], features: random, feature-param: 1.5}"), "from 0 to 1"));
  EXPECT_EQ(one("{layer: 2, transform: invert, params: [], features: random, feature-param: 1}").edits.at(0).channels.resolve(8, "t").size(), 8u);
}

TEST(Bending, RandomFeaturesFromOnePythonStream) {
  // Three random transforms (the middle one at layer 0, which is not bent but still draws, as
  // util.py draws before the layer is used): with random_stream, each edit draws from
  // random.seed(7)'s stream after the draws before it; with 2 passes, after a whole pass more.
  const ModelCard card = load_model_card(kSkip16);
  const std::string text =
      "transforms:\n- {layer: 1, transform: invert, params: [], features: random, feature-param: 0.5}\n"
      "- {layer: 0, transform: invert, params: [], features: random, feature-param: 0.25}\n"
      "- {layer: 3, transform: ablate, params: [], features: random, feature-param: 0.5}\n";
  BendingOptions o;
  o.random_seed = 7;
  o.random_stream = 1;
  const BendingImport one = import_bending(text, "c.yaml", card, "", "", o);
  ASSERT_EQ(one.edits.size(), 2u);
  EXPECT_EQ(one.edits[0].channels.seed, 7u);
  EXPECT_TRUE(one.edits[0].channels.draws_before.empty());
  EXPECT_EQ(one.edits[1].channels.draws_before, (std::vector<std::array<std::int64_t, 2>>{{8, 4}, {8, 2}}));
  o.random_stream = 2;
  const BendingImport two = import_bending(text, "c.yaml", card, "", "", o);
  EXPECT_EQ(two.edits[0].channels.draws_before, (std::vector<std::array<std::int64_t, 2>>{{8, 4}, {8, 2}, {4, 2}}));
  EXPECT_EQ(two.edits[1].channels.draws_before.size(), 5u);
  // Without it: a seed per transform (random_seed + i).
  o.random_stream = 0;
  const BendingImport per = import_bending(text, "c.yaml", card, "", "", o);
  EXPECT_EQ(per.edits[0].channels.seed, 7u);
  EXPECT_EQ(per.edits[1].channels.seed, 9u);
  EXPECT_TRUE(per.edits[1].channels.draws_before.empty());
}

TEST(Bending, ClustersAsNetworkBendingReadsThem) {
  const ModelCard card = load_model_card(kSkip16);
  const std::string dict = read_file_text(test::fixture("bending/nb_layout_clusters.yaml"));
  auto cluster = [&](int layer, const std::string& k, const std::string& d) {
    return import_bending("transforms:\n- {layer: " + std::to_string(layer) + ", transform: ablate, params: [], features: cluster, "
                          "feature-param: " + k + "}\n", "c.yaml", card, d, "d.yaml");
  };
  // A cluster the layer has not: Network Bending prints "No indicies found" and bends nothing;
  // the edit stays and selects nothing.
  BendingImport in = cluster(2, "2", dict);
  ASSERT_EQ(in.edits.size(), 1u);
  EXPECT_TRUE(has_note(in, "No indicies found"));
  EXPECT_TRUE(in.edits[0].channels.resolve(8, "b8.conv1", in.clusters.at("b8.conv1")).empty());
  // int(feature-param): "1" and 1.7 are cluster 1.
  EXPECT_EQ(cluster(2, "\"1\"", dict).edits.at(0).channels.cluster, 1);
  EXPECT_EQ(cluster(2, "1.7", dict).edits.at(0).channels.cluster, 1);
  // Layer 3 has 4 channels: features 4 to 7 of the dictionary select nothing (a note).
  in = cluster(3, "0", dict);
  ASSERT_EQ(in.edits.size(), 1u);
  EXPECT_EQ(in.clusters.at("b16.conv0"), (std::vector<int>{0, 0, 0, 0}));  // (c * 3) % 3
  EXPECT_TRUE(has_note(in, "feature_index is not a channel"));
  // No dictionary: "not recognised"; a dictionary without the layer: Network Bending fails.
  EXPECT_TRUE(has_note(cluster(2, "1", ""), "no cluster dictionary was given"));
  EXPECT_TRUE(has_note(cluster(2, "1", "5:\n- {cluster_index: 0, feature_index: 0}\n"), "has no layer 2"));
  // A channel listed in two clusters: Network Bending bends it with either. The session's labels
  // keep its last cluster (1), so cluster 0 becomes the list of its channels.
  in = cluster(2, "0", "2:\n- {cluster_index: 0, feature_index: 3}\n- {cluster_index: 1, feature_index: 3}\n"
                       "- {cluster_index: 1, feature_index: 5}\n");
  EXPECT_EQ(in.edits.at(0).channels.list, (std::vector<std::int64_t>{3}));
  EXPECT_TRUE(has_note(in, "two clusters"));
  // The whole dictionary into a session: every layer the model has.
  std::vector<std::string> notes;
  const auto all = read_bending_clusters(dict, "d.yaml", card, &notes);
  EXPECT_EQ(all.size(), 4u);  // layers 1 to 4; 5 to 16 left out
  EXPECT_EQ(all.at("b8.conv0"), (std::vector<int>{0, 1, 2, 0, 1, 2, 0, 1}));
  EXPECT_FALSE(notes.empty());
}

TEST(Bending, StrictTurnsNotesIntoErrors) {
  const ModelCard card = load_model_card(kSkip16);
  const BendingOptions strict{true, 0};
  auto import = [&](const std::string& text) { import_bending(text, "c.yaml", card, "", "", strict); };
  test::expect_error([&] { import("transforms:\n- {layer: 1, transform: melt, params: [], features: all}\n"); },
                     {"c.yaml: line 2: transforms[0].transform: unknown transform 'melt'", "flip-h", "(--strict)"});
  test::expect_error([&] { import("transforms:\n  - {layer: 9, transform: invert, params: [], features: all}\n"); },
                     {"line 2: transforms[0].layer", "layers 0 to 4"});
  test::expect_error([&] { import("transforms:\n- {layer: 1, transform: rotate, params: [], features: all}\n"); },
                     {"transforms[0].params", "reads 1 value(s)"});
  test::expect_error([&] { import("transforms:\n- {layer: 2, transform: ablate, params: [], features: cluster, feature-param: 1}\n"); },
                     {"features", "--clusters"});
  test::expect_error([&] { import("transforms:\n- {layer: 1, transform: ablate, params: [], features: all, feature: all}\n"); },
                     {"transforms[0].feature: not a key Network Bending reads"});
  test::expect_error([&] { import("{resolution: 16, install_after: Conv7, layers: [{operation: block, with_norm: False}]}"); },
                     {"install_after", "Conv7"});
  // Errors whatever the mode.
  test::expect_error([&] { import_bending("transforms: [\n", "c.yaml", card); }, {"c.yaml: line", "not YAML"});
  test::expect_error([&] { import_bending("transforms: 3", "c.yaml", card); }, {"transforms: expected a list"});
  test::expect_error([&] { import_bending("transforms: []", "c.yaml", load_model_card(test::fixture("dcgan64/card.json"))); },
                     {"need a StyleGAN2 model"});
}

TEST(Bending, TheReportsTemplateImports) {
  // A card (no weights needed) with 16 channels at 16x16, and a dictionary of 8 clusters there:
  // channel c in cluster c % 8.
  const ModelCard card = parse_model_card(R"({"family": "stylegan2", "name": "t16", "weights": "none.safetensors",
    "config": {"z_dim": 8, "w_dim": 8, "img_resolution": 16, "img_channels": 3,
               "synthesis_kwargs": {"channel_base": 256, "channel_max": 16}}})", "t16.json");
  std::string dict = "3:\n";
  for (int c = 0; c < 16; ++c) dict += "  - {cluster_index: " + std::to_string(c % 8) + ", feature_index: " + std::to_string(c) + "}\n";
  const BendingImport in = import_bending(read_file_text(test::fixture("bending/template.yaml")), "template.yaml", card, dict, "dict");
  EXPECT_EQ(in.format, "report_template");
  // erosion [1,5,6]; mean_filter 5 [3]; mean_filter 3 [2,3]; scale -6 [3,7]; scale 8 [1,5,6];
  // erosion [1,4,5,6]; dilation [3,7]; scale -4 [3,7]; scale -8 [0], as NetworkOperations.py does them.
  auto channels_of = [](std::initializer_list<int> clusters) {
    std::vector<std::int64_t> out;
    for (int c = 0; c < 16; ++c) {
      if (std::find(clusters.begin(), clusters.end(), c % 8) != clusters.end()) out.push_back(c);
    }
    return out;
  };
  const std::vector<std::tuple<std::string, std::vector<std::int64_t>, json>> expected = {
      {"erode", channels_of({1, 5, 6}), {{"radius", 1}, {"shape", "square"}}},
      {"mean_filter", channels_of({3}), {{"size", 5}, {"border", "reflect"}}},
      {"mean_filter", channels_of({2, 3}), {{"size", 3}, {"border", "reflect"}}},
      {"scale", channels_of({3, 7}), {{"factor", 10.0 / 16}}},
      {"scale", channels_of({1, 5, 6}), {{"factor", 24.0 / 16}}},
      {"erode", channels_of({1, 4, 5, 6}), {{"radius", 1}}},
      {"dilate", channels_of({3, 7}), {{"radius", 1}}},
      {"scale", channels_of({3, 7}), {{"factor", 12.0 / 16}}},
      {"scale", channels_of({0}), {{"factor", 8.0 / 16}}}};
  ASSERT_EQ(in.edits.size(), expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const Edit& e = in.edits[i];
    EXPECT_EQ(e.tap, "b16.conv0");
    EXPECT_EQ(e.op, std::get<0>(expected[i])) << i;
    EXPECT_EQ(e.channels.resolve(16, e.tap, in.clusters.count(e.tap) ? in.clusters.at(e.tap) : std::vector<int>{}),
              std::get<1>(expected[i])) << i;
    EXPECT_EQ(e.params["renormalize"], true) << i;  // with_norm
    for (const auto& [k, v] : std::get<2>(expected[i]).items()) EXPECT_EQ(e.params[k], v) << i << " " << k;
  }
  EXPECT_EQ(in.edits[1].channels.kind, ChannelSelector::Kind::Cluster);  // one cluster: {"cluster": 3}
  EXPECT_TRUE(has_note(in, "scale: the report resizes"));
  // The template's other operations, with their own conventions.
  const BendingImport more = import_bending(
      "[{resolution: 8, install_after: Conv1, layers: [{operation: block, with_norm: False}, "
      "{operation: brightness, delta: 0.5, with_norm: False}, {operation: invert, with_norm: False},"
      " {operation: mirrorY, with_norm: False}, {operation: mirrorX, with_norm: False},"
      " {operation: vanish, clusters: [0, 1], with_norm: False}, {operation: sin_disrupt, sinX: [2], translateX: 1, with_norm: False},"
      " {operation: rotate, rotation: 1.5707963267948966, with_norm: True}, {operation: translate, translateX: 2, translateY: -1, with_norm: False}]},"
      " {resolution: 4, install_after: Conv0_up, layers: [{operation: block, with_norm: False}]}]",
      "t", card, "2:\n  - {cluster_index: 0, feature_index: 1}\n  - {cluster_index: 1, feature_index: 4}\n", "d");
  ASSERT_EQ(more.edits.size(), 10u);
  EXPECT_EQ(more.edits[0].op, "ablate");
  EXPECT_EQ(more.edits[1].op, "add");
  EXPECT_EQ(more.edits[1].params["value"], 0.5);
  EXPECT_EQ(more.edits[2].op, "negate");  // the report's invert is -x
  EXPECT_EQ(more.edits[3].op, "mirror");
  EXPECT_EQ(more.edits[4].op, "flip");  // mirrorY: the bottom half turned 180 degrees
  EXPECT_EQ(more.edits[4].mask.kind, SpatialMask::Kind::Rect);
  EXPECT_EQ(more.edits[5].op, "rotate");  // mirrorX: channels from H/2 = 4 on
  EXPECT_EQ(more.edits[5].channels.list, (std::vector<std::int64_t>{4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}));
  EXPECT_EQ(more.edits[6].op, "vanish");
  EXPECT_EQ(more.edits[6].params["pick"], "repeat");
  EXPECT_EQ(more.edits[6].channels.list, (std::vector<std::int64_t>{1, 4}));
  EXPECT_EQ(more.edits[7].op, "sin_field");
  EXPECT_NEAR(more.edits[7].params["fy"].get<double>(), 2 / (2 * M_PI), 1e-12);
  EXPECT_EQ(more.edits[7].params["x0"], 3.0);
  EXPECT_EQ(more.edits[8].params["convention"], "tensorflow");
  EXPECT_NEAR(more.edits[8].params["degrees"].get<double>(), 90.0, 1e-9);
  EXPECT_EQ(more.edits[9].params["dx"], 0.25);
  EXPECT_EQ(more.edits[9].params["dy"], -0.125);
  EXPECT_TRUE(has_note(more, "constant input layer"));
}

TEST(Bending, AutolumePresetImports) {
  const ModelCard card = load_model_card(kSkip16);
  const std::string path = test::fixture("bending/autolume_preset/layer.pkl");
  const std::string bytes = read_file_text(path);
  const BendingImport in = import_autolume_preset(std::vector<std::uint8_t>(bytes.begin(), bytes.end()), "layer.pkl", card);
  EXPECT_EQ(in.format, "autolume");
  const std::vector<json> expected = {
      {{"tap", "b8.conv0"}, {"channels", "all"}, {"op", "translate"}, {"params", {{"dx", 0.25}, {"dy", -0.125}, {"convention", "actmap"}}}},
      {{"tap", "b8.conv1"}, {"channels", {1, 3, 5}}, {"op", "rotate"}, {"params", {{"degrees", 30.0}}}},
      {{"tap", "b16.conv0"}, {"channels", {0, 2}}, {"op", "erode"}, {"params", {{"radius", 1}, {"shape", "square"}}}},
      {{"tap", "b16.conv1"}, {"channels", "all"}, {"op", "flip"}, {"params", {{"axis", "vertical"}}}},
      {{"tap", "b8.torgb"}, {"channels", "all"}, {"op", "multiply"}, {"params", {{"factor", -2.0}}}},
      {{"tap", "b4.conv1"}, {"channels", {0, 1}}, {"op", "dilate"}, {"params", {{"radius", 1}}}},
  };
  expect_edits(in.edits, expected);
  EXPECT_TRUE(has_note(in, "switched off"));
  EXPECT_TRUE(has_note(in, "indices are empty"));
  EXPECT_TRUE(has_note(in, "Sobel module"));
  EXPECT_TRUE(has_note(in, "an even kernel"));
  test::expect_error([&] { import_autolume_preset({0x80, 0x04, 'K', 3, '.'}, "x.pkl", card); }, {"x.pkl", "layer widget state"});
}

// A session saved before the conventions existed renders as it did: bit for bit the output the
// build of then wrote (tests/fixtures/bending/legacy/, rendered by commit 0f1607c), and the same
// as the session with every convention spelt out.
TEST(Bending, SessionsSavedBeforeRenderAsTheyDid) {
  const std::string dir = test::fixture("bending/legacy");
  const Session old = load_session(dir + "/session_v1.json");
  auto gen = load_generator(load_model_card(old.card_path));
  Renderer renderer(gen);
  const at::Tensor out = render_session(renderer, old).output;
  Session spelt = old;
  for (Edit& e : spelt.edits) {
    if (e.op == "rotate" || e.op == "scale" || e.op == "translate") {
      EXPECT_EQ(e.params["convention"], "actmap");
    }
    if (e.op == "erode" || e.op == "dilate") {
      EXPECT_EQ(e.params["shape"], "square");
    }
    EXPECT_EQ(e.channels.rule, ChannelSelector::RandomRule::Actmap);
  }
  Renderer again(gen);
  EXPECT_TRUE(at::equal(render_session(again, spelt).output, out));
  // The output of then, where this machine renders the unedited session as that one did.
  const at::Tensor stored = test::load_tensor(dir + "/session_v1.out.npy");
  Session plain = old;
  plain.edits.clear();
  const at::Tensor base = render_session(renderer, plain).output;
  if (!at::equal(base, test::load_tensor(dir + "/session_v1.base.npy"))) {
    EXPECT_LE(test::closeness(out, stored, 1e-4, 1e-4), 1.0);
    GTEST_SKIP() << "this machine renders skip16 differently from the one that stored the output (to float rounding); "
                    "compared to 1e-4 only";
  }
  EXPECT_TRUE(at::equal(out, stored)) << "max |difference| " << (out - stored).abs().max().item<double>();
  // Written back, the session still means the same.
  const std::string tmp = test::temp_dir("legacy") + "/s.json";
  Session copy = old;
  save_session(copy, tmp);
  Renderer third(gen);
  EXPECT_TRUE(at::equal(render_session(third, load_session(tmp)).output, stored));
}

TEST(ResearchCli, ImportExportSweepSensitivity) {
  const std::string dir = test::temp_dir("research_cli");
  const std::string cli = ACTMAP_CLI_PATH;
  test::CliRun r = test::cli_shell(cli + " import-bending " + test::fixture("bending/transforms.yaml") + " -m " + kSkip16 +
                                   " --clusters " + test::fixture("bending/clusters.yaml") + " --seed 2 --random-seed 10 -o " + dir + "/s.json 2>&1");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("11 edits on skip16"), std::string::npos) << r.out;
  const Session s = load_session(dir + "/s.json");
  EXPECT_EQ(s.edits.size(), 11u);
  EXPECT_EQ(s.latent.seed, 2u);
  EXPECT_EQ(s.edits[1].channels.seed, 11u);  // --random-seed 10, transform 1
  r = test::cli_shell(cli + " export-bending " + dir + "/s.json -o " + dir + "/out.yaml --clusters-out " + dir + "/c.yaml 2>&1");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(r.out.find("not exported"), std::string::npos) << r.out;
  EXPECT_TRUE(std::filesystem::exists(dir + "/c.yaml"));
  r = test::cli_shell(cli + " sweep " + dir + "/s.json --edit e3 -o " + dir + "/strip.png --csv " + dir + "/sweep.csv 2>&1");
  ASSERT_EQ(r.code, 0) << r.out;
  const Image strip = read_image(dir + "/strip.png");
  EXPECT_GT(strip.width, 8 * 96);
  const std::string csv = read_file_text(dir + "/sweep.csv");
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 12);
  r = test::cli_shell(cli + " sweep " + dir + "/s.json --edit e1 --network-bending -o " + dir + "/nb.png --csv " + dir + "/nb.csv 2>&1");
  ASSERT_EQ(r.code, 0) << r.out;
  const std::string nb_csv = read_file_text(dir + "/nb.csv");
  EXPECT_EQ(std::count(nb_csv.begin(), nb_csv.end(), '\n'), 6);  // header and the 5 layers
  r = test::cli_shell(cli + " sensitivity -m " + kSkip16 + " --tap b8.conv1 --samples 2 --op scale:x -o " + dir + "/x.csv 2>&1");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("--op: expected 'ablate' or 'scale:FACTOR'"), std::string::npos) << r.out;
  r = test::cli_shell(cli + " sensitivity -m " + kSkip16 + " --tap b8.conv1 --samples 2 -o " + dir + "/sens.csv 2>&1");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(read_file_text(dir + "/sens.csv").rfind("rank,channel,mean_abs_change\n1,", 0), 0u);
  // Without the dictionary the cluster transforms are not recognised (notes), or errors with --strict.
  r = test::cli_shell(cli + " import-bending " + test::fixture("bending/transforms.yaml") + " -m " + kSkip16 + " -o " + dir +
                      "/t.json 2>&1");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("note: " + test::fixture("bending/transforms.yaml") + ": line 17: transforms[2].features"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("8 edits on skip16"), std::string::npos) << r.out;
  r = test::cli_shell(cli + " import-bending " + test::fixture("bending/transforms.yaml") + " -m " + kSkip16 + " --strict -o " + dir +
                      "/t2.json 2>&1");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("(--strict)"), std::string::npos) << r.out;
  EXPECT_FALSE(std::filesystem::exists(dir + "/t2.json"));
  // An Autolume preset folder.
  r = test::cli_shell(cli + " import-bending " + test::fixture("bending/autolume_preset") + " -m " + kSkip16 + " -o " + dir +
                      "/a.json 2>&1");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("6 edits on skip16"), std::string::npos) << r.out;
  // A Network Bending dictionary into a session.
  r = test::cli_shell(cli + " cluster --session " + dir + "/a.json --from-network-bending " +
                      test::fixture("bending/nb_layout_clusters.yaml") + " 2>&1");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(load_session(dir + "/a.json").clusters.size(), 4u);
}

// Chromium loads the report: every <img> has a natural width. Skips when chromium is absent.
TEST(Report, OpensInHeadlessChromiumAndItsImagesLoad) {
  const std::string dir = test::temp_dir("report");
  Session s = skip16_session({{{"id", "e1"}, {"tap", "b8.conv0"}, {"channels", json{0, 2}}, {"op", "multiply"}, {"params", {{"factor", 3.0}}}},
                              {{"id", "e2"}, {"tap", "b16.conv1"}, {"channels", "all"}, {"op", "rotate"}, {"params", {{"degrees", 90}}}}});
  save_session(s, dir + "/s.json");
  const test::CliRun run = test::cli_shell("cd " + dir + " && " + ACTMAP_CLI_PATH + " report s.json -o rep 2>&1");
  ASSERT_EQ(run.code, 0) << run.out;
  const std::string html = read_file_text(dir + "/rep/index.html");
  EXPECT_NE(html.find("actmap-cli report s.json -o rep"), std::string::npos);
  EXPECT_NE(html.find(sha256_file(test::fixture("stylegan2/skip16.safetensors"))), std::string::npos);
  EXPECT_NE(html.find("seed 3"), std::string::npos);
  EXPECT_NE(html.find("Depth sweep of e2"), std::string::npos);
  const std::regex img("<img src=\"([^\"]+)\"");
  int images = 0;
  for (auto it = std::sregex_iterator(html.begin(), html.end(), img); it != std::sregex_iterator(); ++it) {
    ++images;
    EXPECT_TRUE(std::filesystem::exists(dir + "/rep/" + (*it)[1].str())) << (*it)[1];
  }
  EXPECT_EQ(images, 1 + 2 * 4 + 1);

  if (test::cli_shell("command -v chromium >/dev/null 2>&1").code != 0) {
    GTEST_SKIP() << "chromium is not installed (Debian: chromium; cmake/install-deps.sh): the report was not opened";
  }
  // A copy of the page that reports, once loaded, how many images decoded.
  std::string check = html;
  check.insert(check.rfind("</body>"),
               "<script>window.addEventListener('load', () => { const im = [...document.images];"
               "document.body.setAttribute('data-result', im.filter(i => i.complete && i.naturalWidth > 0).length + '/' + im.length); });</script>");
  write_file_atomic(dir + "/rep/check.html", check);
  const test::CliRun dom = test::cli_shell(
      "chromium --headless --disable-gpu --no-sandbox --allow-file-access-from-files --virtual-time-budget=5000 "
      "--dump-dom file://" + dir + "/rep/check.html 2>/dev/null");
  ASSERT_EQ(dom.code, 0) << dom.out;
  EXPECT_NE(dom.out.find("data-result=\"" + std::to_string(images) + "/" + std::to_string(images) + "\""), std::string::npos)
      << dom.out.substr(0, 400);
}

}  // namespace
}  // namespace actmap

namespace actmap {
namespace {

double median_ms(const std::vector<double>& v) {
  std::vector<double> s = v;
  std::sort(s.begin(), s.end());
  return s.size() % 2 ? s[s.size() / 2] : 0.5 * (s[s.size() / 2 - 1] + s[s.size() / 2]);
}

// The figures in README's Performance section: ACTMAP_PERF=1 actmap_tests --gtest_filter='PerfResearch.*'
TEST(PerfResearch, SweepAndSensitivityOfThe64x64Models) {
  if (!std::getenv("ACTMAP_PERF")) GTEST_SKIP() << "timing run: set ACTMAP_PERF=1";
  ACTMAP_REQUIRE_SHARED_MODELS();
  for (const std::string model : {"faces64", "ffhq64-vae"}) {
    const auto gen = load_generator(load_model_card(find_model_card(model)));
    Session s = new_session(model);
    s.latent = SessionLatent::from_seed(4);
    s.edits = edits_from_json(json::array({{{"id", "e1"}, {"tap", gen->taps()[1].name}, {"channels", {{"range", {0, 31}}}},
                                            {"op", "brush"}, {"params", {{"points", {{2, 2}, {6, 6}}}, {"strength", 4}}}}}));
    std::vector<double> sweep_ms, sens_ms;
    for (int i = 0; i < 7; ++i) {
      Renderer renderer(gen);  // a cold cache each time
      sweep_ms.push_back(sweep_edit(renderer, s, "e1").total_ms);
    }
    std::string tap;
    for (const auto& t : gen->taps()) {
      if (t.channels == 64 && tap.empty()) tap = t.name;
    }
    for (int i = 0; i < 5; ++i) {
      SensitivityOptions o;
      o.samples = 16;
      sens_ms.push_back(channel_sensitivity(*gen, tap, o).ms);
    }
    std::printf("%s: depth sweep over %zu taps: median %.0f ms; sensitivity of %s (64 channels), 16 latents: median %.0f ms\n",
                model.c_str(), gen->taps().size(), median_ms(sweep_ms), tap.c_str(), median_ms(sens_ms));
    EXPECT_LT(median_ms(sweep_ms), 1000.0);
    EXPECT_LT(median_ms(sens_ms), 5000.0);
  }
}

}  // namespace
}  // namespace actmap
