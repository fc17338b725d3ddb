#include <filesystem>
#include <fstream>

#include "actmap/io/json_text.h"
#include "actmap/render/renderer.h"
#include "actmap/session/session.h"
#include "test_util.h"

namespace fs = std::filesystem;

namespace actmap {
namespace {

using nlohmann::json;

// A session on the dcgan32 fixture (taps main.2 [32x4x4], main.5 [16x8x8], main.8 [8x16x16],
// main.10 [3x32x32]; latent size 12), with `edits` and extra top-level keys.
json session_doc(json edits = json::array(), json extra = json::object()) {
  json doc = {{"actmap_session", 1},
              {"model", {{"card", test::fixture("dcgan32/card.json")}}},
              {"latent", {{"seed", 7}}},
              {"edits", std::move(edits)}};
  for (auto& [k, v] : extra.items()) doc[k] = v;
  return doc;
}

std::string write_text(const std::string& dir, const std::string& name, const std::string& text) {
  const std::string path = (fs::path(dir) / name).string();
  std::ofstream(path) << text;
  return path;
}

TEST(Session, LoadsEveryPartAndResolvesPathsFromTheSessionFile) {
  const std::string dir = test::temp_dir("session_load");
  fs::create_directories(fs::path(dir) / "data");
  const float z[12] = {0.5f, -1, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0.25f};
  write_npy((fs::path(dir) / "data" / "z.npy").string(), {1, 12}, z);
  Image mask{4, 4, 1, std::vector<std::uint8_t>(16, 255)};
  write_png((fs::path(dir) / "data" / "m.png").string(), mask);
  json edits = json::parse(R"([
    {"id": "a", "tap": "main.5", "op": "rotate", "params": {"degrees": 90}, "channels": {"range": [0, 3]}},
    {"tap": "main.2", "op": "multiply", "params": {"factor": 2}, "channels": {"cluster": 1}, "mask": {"file": "data/m.png"}},
    {"tap": "main.8", "op": "brush", "params": {"points": [[1, 1], [5, 2]], "radius": 1.5}, "enabled": false}])");
  json doc = session_doc(edits, {{"clusters", {{"main.2", std::vector<int>(32, 1)}}},
                                 {"view", {{"tap", "main.5"}}}, {"notes", "eyes"}});
  doc["latent"] = {{"z_file", "data/z.npy"}};
  const std::string path = write_text(dir, "s.json", doc.dump());

  const Session s = load_session(path);
  EXPECT_EQ(s.latent.kind, SessionLatent::Kind::ZFile);
  ASSERT_EQ(s.latent.z.size(), 12u);
  EXPECT_EQ(s.latent.z[0], 0.5f);
  EXPECT_EQ(s.latent.z[11], 0.25f);
  ASSERT_EQ(s.edits.size(), 3u);
  EXPECT_EQ(s.edits[1].id, "e1");  // filled in
  EXPECT_EQ(s.edits[1].mask.kind, SpatialMask::Kind::File);
  EXPECT_EQ(s.edits[1].mask.values, std::vector<float>(16, 1.0f));
  EXPECT_FALSE(s.edits[2].enabled);
  EXPECT_EQ(s.edits[2].params["mode"], "add");  // defaults filled in
  EXPECT_EQ(s.cluster_labels("main.2").size(), 32u);
  EXPECT_EQ(s.notes, "eyes");
  EXPECT_EQ(s.view["tap"], "main.5");
  EXPECT_EQ(s.weights_sha256, sha256_file(test::fixture("dcgan32/weights.safetensors")));
}

TEST(Session, SaveLoadSaveIsIdenticalAndPathsFollowTheFile) {
  const std::string dir = test::temp_dir("session_roundtrip");
  fs::create_directories(fs::path(dir) / "in" / "deep");
  const float z[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  write_npy((fs::path(dir) / "in" / "z.npy").string(), {12}, z);
  json edits = json::parse(R"([
    {"tap": "main.5", "op": "brush", "params": {"points": [[0.5, 1.25]], "strength": -0.1}, "mask": {"ellipse": [3, 3, 2, 1.5], "invert": true}},
    {"tap": "main.8", "op": "shuffle", "params": {"seed": 12345}, "channels": {"random": 0.5, "seed": 3}},
    {"tap": "main.2", "op": "fill", "params": {"value": 0.1}, "channels": [3, 1], "mask": {"values": [[0, 0.5], [1, 0.25]]}}])");
  json doc = session_doc(edits, {{"notes", "ü and \"quotes\""}});
  doc["latent"] = {{"z_file", "z.npy"}};
  const std::string first = write_text((fs::path(dir) / "in").string(), "s.json", doc.dump());

  Session s = load_session(first);
  const std::string second = (fs::path(dir) / "in" / "deep" / "t.json").string();
  save_session(s, second);
  const json saved = parse_json_text(read_file_text(second), second);
  EXPECT_EQ(saved["latent"]["z_file"], "../z.npy");  // still the same file, seen from deep/
  EXPECT_EQ(saved["model"]["sha256"], s.weights_sha256);

  const Session again = load_session(second);
  EXPECT_EQ(session_to_json(again, dir), session_to_json(s, dir));
  const std::string third = (fs::path(dir) / "in" / "deep" / "u.json").string();
  Session copy = again;
  save_session(copy, third);
  EXPECT_EQ(read_file_text(third), read_file_text(second));  // byte-identical
  EXPECT_EQ(again.latent.z, std::vector<float>(z, z + 12));
  EXPECT_EQ(again.edits[2].mask.values, (std::vector<float>{0, 0.5f, 1, 0.25f}));
  EXPECT_EQ(again.edits[1].channels.to_json(), json::parse(R"({"random": 0.5, "seed": 3})"));
  EXPECT_EQ(again.notes, "ü and \"quotes\"");
}

// Each bad session is rejected whole with a message naming the file and the JSON pointer at fault.
struct BadCase {
  const char* name;
  std::function<void(json&)> mutate;
  std::vector<std::string> parts;
};

TEST(Session, BadSessionsAreRejectedWithTheirLocation) {
  const std::string dir = test::temp_dir("session_bad");
  const float z_wrong[5] = {0, 0, 0, 0, 0};
  write_npy((fs::path(dir) / "z5.npy").string(), {5}, z_wrong);
  const json ok = json::parse(R"([{"tap":"main.5","op":"ablate","channels":[1]},
                                  {"tap":"main.5","op":"add","params":{"value":1}},
                                  {"tap":"main.8","op":"flip"},
                                  {"tap":"main.8","op":"rotate","params":{"degrees":30}}])");
  const std::vector<BadCase> cases = {
      {"no version", [](json& d) { d.erase("actmap_session"); }, {"/actmap_session: missing", "not an actmap session"}},
      {"version 2", [](json& d) { d["actmap_session"] = 2; }, {"/actmap_session: unsupported schema version 2", "version 1"}},
      {"unknown key", [](json& d) { d["edit"] = json::array(); }, {"/edit: unknown key"}},
      {"no model", [](json& d) { d.erase("model"); }, {"/model: missing"}},
      {"card missing", [](json& d) { d["model"]["card"] = "nowhere/card.json"; }, {"/model/card: no model card at", "nowhere/card.json"}},
      {"model name unknown", [](json& d) { d["model"] = "no-such-model"; }, {"/model/card: ", "'no-such-model' not found"}},
      {"bad sha256", [](json& d) { d["model"]["sha256"] = "abc"; }, {"/model/sha256: expected 64 lowercase hex digits"}},
      {"two latents", [](json& d) { d["latent"]["z"] = json::array(); }, {"/latent: give exactly one of seed, z, z_file, ws or ws_file"}},
      {"negative seed", [](json& d) { d["latent"]["seed"] = -3; }, {"/latent/seed: expected a non-negative integer, got -3"}},
      {"z too short", [](json& d) { d["latent"] = {{"z", {1, 2, 3}}}; }, {"/latent/z: has 3 values; the model's latent has 12"}},
      {"z not a number", [](json& d) { d["latent"] = {{"z", json::parse("[0,0,0,0,0,0,0,0,0,0,0,\"x\"]")}}; }, {"/latent/z/11: expected a number"}},
      {"z file missing", [](json& d) { d["latent"] = {{"z_file", "absent.npy"}}; }, {"/latent/z_file: no such file", "absent.npy"}},
      {"z file shape", [](json& d) { d["latent"] = {{"z_file", "z5.npy"}}; }, {"/latent/z_file: ", "shape [5]", "has 12 values"}},
      {"edits not a list", [](json& d) { d["edits"] = json::object(); }, {"/edits: expected a list of edits"}},
      {"unknown op", [](json& d) { d["edits"][2]["op"] = "twirl"; }, {"/edits/2/op: unknown op \"twirl\"", "rotate"}},
      {"mistyped parameter", [](json& d) { d["edits"][3]["params"]["degrees"] = "ninety"; },
       {"/edits/3/params/degrees: expected a number, got \"ninety\""}},
      {"out-of-range value", [](json& d) { d["edits"][3]["params"]["degrees"] = 1e5; }, {"/edits/3/params/degrees: 100000.0 is outside [-3600.0, 3600.0]"}},
      {"unknown parameter", [](json& d) { d["edits"][1]["params"]["amount"] = 1; }, {"/edits/1/params/amount: op \"add\" has no parameter \"amount\"", "value"}},
      {"missing parameter", [](json& d) { d["edits"][2] = {{"tap", "main.8"}, {"op", "brush"}}; }, {"/edits/2/params/points: missing"}},
      {"wrong choice", [](json& d) { d["edits"][2]["params"] = {{"axis", "diagonal"}}; }, {"/edits/2/params/axis: expected one of \"horizontal\", \"vertical\", got \"diagonal\""}},
      {"even filter size", [](json& d) { d["edits"][2] = {{"tap", "main.8"}, {"op", "mean_filter"}, {"params", {{"size", 4}}}}; }, {"/edits/2/params/size: 4 must be odd"}},
      {"clamp order", [](json& d) { d["edits"][2] = {{"tap", "main.8"}, {"op", "clamp"}, {"params", {{"lo", 2}, {"hi", 1}}}}; }, {"/edits/2/params/hi: 1.0 is below lo 2.0"}},
      {"unknown tap", [](json& d) { d["edits"][1]["tap"] = "main.6"; }, {"/edits/1/tap: no tap \"main.6\" in model dcgan32", "main.5, main.8"}},
      {"channel out of range", [](json& d) { d["edits"][0]["channels"] = json::array({1, 16}); },
       {"/edits/0/channels: channel 16 is out of range for tap 'main.5' (16 channels: 0..15)"}},
      {"bad selector", [](json& d) { d["edits"][0]["channels"] = {{"range", {5, 2}}}; }, {"/edits/0/channels/range: first 5 is after last 2"}},
      {"cluster without clusters", [](json& d) { d["edits"][0]["channels"] = {{"cluster", 0}}; }, {"/edits/0/channels: ", "'main.5' has no clusters"}},
      {"clusters of the wrong size", [](json& d) { d["clusters"] = {{"main.5", {0, 1, 2}}}; }, {"/clusters/main.5: 3 labels, but tap \"main.5\" has 16 channels"}},
      {"duplicate ids", [](json& d) { d["edits"][0]["id"] = "x"; d["edits"][1]["id"] = "x"; }, {"/edits/1/id: \"x\" is used twice"}},
      {"unknown edit key", [](json& d) { d["edits"][0]["chanels"] = 1; }, {"/edits/0/chanels: unknown key in an edit"}},
      {"bad mask", [](json& d) { d["edits"][0]["mask"] = {{"circle", {1, 2, 3}}}; }, {"/edits/0/mask/circle: unknown key in a mask"}},
      {"mask file missing", [](json& d) { d["edits"][0]["mask"] = {{"file", "nope.png"}}; }, {"/edits/0/mask/file: ", "nope.png"}},
      {"mask weight range", [](json& d) { d["edits"][0]["mask"] = {{"values", {{0, 2}}}}; }, {"/edits/0/mask/values/0/1: weight 2 is outside [0, 1]"}},
      {"vanish everything", [](json& d) { d["edits"][0]["op"] = "vanish"; d["edits"][0]["channels"] = "all"; },
       {"/edits/0/channels: vanish needs at least one channel"}},
      {"not an object", [](json& d) { d = json::array(); }, {"/: expected a session object"}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    json doc = session_doc(ok);
    c.mutate(doc);
    const std::string path = write_text(dir, "bad.json", doc.dump(2));
    std::vector<std::string> parts = c.parts;
    parts.insert(parts.begin(), path + ": ");
    test::expect_error([&] { load_session(path); }, parts);
  }
  EXPECT_GE(cases.size(), 15u);
}

TEST(Session, InvalidJsonGivesLineAndColumn) {
  const std::string dir = test::temp_dir("session_json");
  // Line 3, column 12 is the stray 'x'.
  const std::string path = write_text(dir, "s.json", "{\n  \"actmap_session\": 1,\n  \"model\": x\n}\n");
  test::expect_error([&] { load_session(path); }, {path + ":3:12: invalid JSON"});
  const std::string empty = write_text(dir, "e.json", "");
  test::expect_error([&] { load_session(empty); }, {empty + ":1:1: invalid JSON"});
  test::expect_error([&] { load_session(dir + "/absent.json"); }, {dir + "/absent.json"});
}

TEST(Session, HashMismatchWarnsAndStillLoads) {
  const std::string dir = test::temp_dir("session_hash");
  json doc = session_doc();
  doc["model"]["sha256"] = std::string(64, 'a');
  const std::string path = write_text(dir, "s.json", doc.dump());
  std::vector<std::string> warnings;
  set_warning_sink([&](const std::string& w) { warnings.push_back(w); });
  const Session s = load_session(path);
  set_warning_sink({});
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("/model/sha256"), std::string::npos) << warnings[0];
  EXPECT_NE(warnings[0].find(std::string(64, 'a')), std::string::npos) << warnings[0];
  EXPECT_EQ(s.weights_sha256, sha256_file(test::fixture("dcgan32/weights.safetensors")));  // saved from now on
}

TEST(Session, ModelByNameResolvesThroughTheSearchPath) {
  const std::string dir = test::temp_dir("session_name");
  const fs::path models = fs::path(dir) / "models";
  fs::create_directories(models);
  fs::copy_file(test::fixture("dcgan32/card.json"), models / "mini.json");
  fs::copy_file(test::fixture("dcgan32/weights.safetensors"), models / "weights.safetensors");
  const char* old = std::getenv("ACTMAP_MODEL_PATH");
  const std::string saved = old ? old : "";
  ::setenv("ACTMAP_MODEL_PATH", models.c_str(), 1);
  json doc = session_doc();
  doc["model"] = "mini";  // a name, not a path: found on ACTMAP_MODEL_PATH
  const std::string path = write_text(dir, "s.json", doc.dump());
  Session s;
  EXPECT_NO_THROW(s = load_session(path));
  if (old) ::setenv("ACTMAP_MODEL_PATH", saved.c_str(), 1);
  else ::unsetenv("ACTMAP_MODEL_PATH");
  EXPECT_EQ(fs::path(s.card_path), models / "mini.json");
  save_session(s, (fs::path(dir) / "t.json").string());
  EXPECT_EQ(parse_json_text(read_file_text((fs::path(dir) / "t.json").string()), "t")["model"]["card"], "mini");  // names stay names
}

// Replay: the same session renders to the same bits every time, in a fresh renderer or a warm one,
// and its edits carry over to any seed exactly as if applied to that seed directly.
TEST(Session, ReplayIsBitIdenticalAndEditsCarryOverToOtherSeeds) {
  const std::string dir = test::temp_dir("session_replay");
  const json edits = json::parse(R"([
    {"tap":"main.2","op":"multiply","params":{"factor":-1.5},"channels":{"random":0.25,"seed":4}},
    {"tap":"main.5","op":"rotate","params":{"degrees":33},"channels":{"range":[0,7]}},
    {"tap":"main.5","op":"shuffle","params":{"seed":99},"channels":"all"},
    {"tap":"main.8","op":"brush","params":{"points":[[2,2],[9,12]],"radius":2,"strength":3}}])");
  const std::string path = write_text(dir, "s.json", session_doc(edits).dump());
  const Session s = load_session(path);
  const auto gen = load_generator(load_model_card(s.card_path));
  Renderer a(gen), b(gen);
  const at::Tensor first = render_session(a, s).output.clone();
  EXPECT_TRUE(at::equal(first, render_session(b, s).output));
  EXPECT_TRUE(at::equal(first, render_session(a, s).output));  // from the cache
  a.invalidate();
  EXPECT_TRUE(at::equal(first, render_session(a, s).output));
  // The edits change the image...
  Renderer plain(gen);
  const at::Tensor z7 = latents_from_seeds(gen->card().latent, 7, 1);
  EXPECT_FALSE(at::equal(first, plain.render(z7, {}).output));
  // ... and on seed 11 they are the same edits on that seed's latent.
  const at::Tensor on11 = render_session(a, s, 11).output;
  EXPECT_TRUE(at::equal(on11, plain.render(latents_from_seeds(gen->card().latent, 11, 1), s.edits).output));
}

}  // namespace
}  // namespace actmap
