#include <filesystem>

#include "actmap/io/json_text.h"
#include "actmap/session/history.h"
#include "test_util.h"

namespace fs = std::filesystem;

namespace actmap {
namespace {

using nlohmann::json;

Edit edit(const char* text) { return Edit::from_json(json::parse(text), "/edits/0"); }

std::vector<std::string> ids(const SessionHistory& h) {
  std::vector<std::string> out;
  for (const auto& e : h.session().edits) out.push_back(e.id);
  return out;
}

using Ids = std::vector<std::string>;

TEST(History, AddRemoveMoveToggleUndoRedo) {
  SessionHistory h{Session{}};
  EXPECT_FALSE(h.can_undo());
  EXPECT_EQ(h.add_edit(edit(R"({"tap":"t","op":"ablate"})")), "e1");
  EXPECT_EQ(h.add_edit(edit(R"({"id":"b","tap":"t","op":"negate"})")), "b");
  EXPECT_EQ(h.add_edit(edit(R"({"id":"b","tap":"u","op":"invert"})"), 0), "e2");  // "b" is taken
  EXPECT_EQ(ids(h), (Ids{"e2", "e1", "b"}));
  h.move_edit("e2", 2);
  EXPECT_EQ(ids(h), (Ids{"e1", "b", "e2"}));
  h.set_enabled("b", false);
  h.remove_edit("e1");
  EXPECT_EQ(ids(h), (Ids{"b", "e2"}));
  EXPECT_EQ(h.descriptions(), (Ids{"Add ablate at t", "Add negate at t", "Add invert at u", "Move invert at u to position 3",
                                   "Disable negate at t", "Remove ablate at t"}));

  ASSERT_TRUE(h.undo());  // the removal
  EXPECT_EQ(ids(h), (Ids{"e1", "b", "e2"}));
  ASSERT_TRUE(h.undo());  // the toggle
  EXPECT_TRUE(h.session().find_edit("b")->enabled);
  ASSERT_TRUE(h.undo());  // the move
  EXPECT_EQ(ids(h), (Ids{"e2", "e1", "b"}));
  EXPECT_EQ(h.position(), 3u);
  ASSERT_TRUE(h.redo());
  ASSERT_TRUE(h.redo());
  EXPECT_EQ(ids(h), (Ids{"e1", "b", "e2"}));
  EXPECT_FALSE(h.session().find_edit("b")->enabled);
  // A new command drops what could still be redone.
  h.set_enabled("b", true);
  EXPECT_FALSE(h.can_redo());
  EXPECT_EQ(h.descriptions().back(), "Enable negate at t");
  while (h.undo()) {
  }
  EXPECT_TRUE(h.session().edits.empty());
  EXPECT_FALSE(h.undo());
}

TEST(History, ADragIsOneStepAndAStrokeWithItsAddIsOneStep) {
  SessionHistory h{Session{}};
  const std::string id = h.add_edit(edit(R"({"tap":"t","op":"rotate"})"));
  for (int deg = 1; deg <= 30; ++deg) h.set_params(id, {{"degrees", deg}}, "drag-1");
  EXPECT_EQ(h.descriptions().size(), 2u);
  EXPECT_EQ(h.session().edits[0].params["degrees"], 30);
  h.end_gesture();
  h.set_params(id, {{"degrees", 45}}, "drag-1");  // a new drag, even with the same key
  EXPECT_EQ(h.descriptions().size(), 3u);
  h.undo();
  EXPECT_EQ(h.session().edits[0].params["degrees"], 30);
  h.undo();
  EXPECT_EQ(h.session().edits[0].params["degrees"], 0.0);  // before the first drag

  // A brush stroke: the edit is added at mouse-down and grows with every move; one undo step.
  SessionHistory b{Session{}};
  json points = json::array({{1, 1}});
  const std::string s = b.add_edit(edit(R"({"tap":"t","op":"brush","params":{"points":[[1,1]]}})"), SIZE_MAX, "stroke-7");
  for (int i = 2; i < 20; ++i) {
    points.push_back({i, i / 2});
    b.set_params(s, {{"points", points}}, "stroke-7");
  }
  ASSERT_EQ(b.descriptions(), (Ids{"Add brush at t"}));
  EXPECT_EQ(b.session().edits[0].params["points"].size(), 19u);
  b.undo();
  EXPECT_TRUE(b.session().edits.empty());
  b.redo();
  EXPECT_EQ(b.session().edits[0].params["points"].size(), 19u);  // the whole stroke comes back
}

TEST(History, InvalidCommandsChangeNothing) {
  SessionHistory h{Session{}};
  const std::string id = h.add_edit(edit(R"({"tap":"t","op":"multiply","params":{"factor":2}})"));
  const auto revision = h.revision();
  test::expect_error([&] { h.set_params(id, {{"factor", "big"}}); }, {"params/factor: expected a number"});
  test::expect_error([&] { h.set_params(id, {{"scale", 2}}); }, {"no parameter \"scale\""});
  test::expect_error([&] { h.set_params("nope", {{"factor", 1}}); }, {"no edit with id 'nope'"});
  test::expect_error([&] { h.add_edit(edit(R"({"tap":"t","op":"clamp"})"), SIZE_MAX), h.set_params("e2", {{"lo", 5}}); },
                     {"hi", "below lo"});
  EXPECT_EQ(h.session().edits[0].params["factor"], 2);
  EXPECT_EQ(h.session().edits.size(), 2u);  // the clamp was added; its bad change was not
  EXPECT_EQ(h.revision(), revision + 1);
}

TEST(History, LatentAndClusterChangesAreUndoable) {
  SessionHistory h{Session{}};
  h.set_latent(SessionLatent::from_seed(5));
  h.set_latent(SessionLatent::from_seed(6), "seed-drag");
  h.set_latent(SessionLatent::from_seed(7), "seed-drag");
  h.set_clusters("t", {0, 1, 1});
  h.set_clusters("t", {2, 2, 0});
  EXPECT_EQ(h.descriptions(), (Ids{"Latent: seed 5", "Latent: seed 7", "Cluster t (2 clusters)", "Cluster t (3 clusters)"}));
  h.undo();
  EXPECT_EQ(h.session().clusters.at("t"), (std::vector<int>{0, 1, 1}));
  h.undo();
  EXPECT_TRUE(h.session().clusters.empty());
  h.undo();
  EXPECT_EQ(h.session().latent.seed, 5u);
  h.undo();
  EXPECT_EQ(h.session().latent.seed, 0u);
  h.set_latent(SessionLatent::from_z(std::vector<float>(4, 0.5f)));
  EXPECT_EQ(h.descriptions(), (Ids{"Latent: explicit z"}));
}

// The class picker of conditional StyleGAN2 models: each class is one step, named by its class.
TEST(History, ClassChangesAreNamedStepsOfTheirOwn) {
  SessionHistory h{Session{}};
  SynthesisOptions o;
  o.class_index = 2;
  h.set_synthesis(o);
  o.class_index.reset();
  o.c = {0.0f, 0.5f, 0.5f};
  h.set_synthesis(o);
  o.c.clear();
  o.class_index = 1;
  h.set_synthesis(o);
  o.truncation_psi = 0.5;
  h.set_synthesis(o);
  EXPECT_EQ(h.descriptions(), (Ids{"Class 2", "Label c (3 values)", "Class 1", "Truncation 0.50, noise const"}));
  h.undo();
  h.undo();
  h.undo();
  EXPECT_EQ(h.session().synthesis.class_index, std::optional<std::int64_t>(2));
  h.undo();
  EXPECT_FALSE(h.session().synthesis.has_label());
}

TEST(History, DirtyTracksTheSavedState) {
  SessionHistory h{Session{}};
  EXPECT_FALSE(h.dirty());
  const std::string id = h.add_edit(edit(R"({"tap":"t","op":"add"})"));
  EXPECT_TRUE(h.dirty());
  h.mark_saved();
  EXPECT_FALSE(h.dirty());
  h.set_params(id, {{"value", 1}}, "g");
  EXPECT_TRUE(h.dirty());
  h.undo();
  EXPECT_FALSE(h.dirty());  // back at the saved state
  h.redo();
  h.mark_saved();
  h.set_params(id, {{"value", 2}}, "g2");
  h.undo();
  h.undo();
  h.set_params(id, {{"value", 3}});  // branches off: the saved state cannot come back
  EXPECT_TRUE(h.dirty());
  h.undo();
  EXPECT_TRUE(h.dirty());
}

TEST(History, RecoveredSessionStaysUnsavedUntilSaved) {
  SessionHistory h{Session{}};
  h.mark_unsaved();
  EXPECT_TRUE(h.dirty());
  const std::string id = h.add_edit(edit(R"({"tap":"t","op":"add"})"));
  h.undo();
  EXPECT_TRUE(h.dirty());  // undoing everything does not reach a saved state: there is none
  h.mark_saved();
  EXPECT_FALSE(h.dirty());
}

TEST(History, MemoryBoundDropsTheOldestSteps) {
  SessionHistory h{Session{}, /*memory_limit=*/64 * 1024};
  const std::string id = h.add_edit(edit(R"({"tap":"t","op":"brush","params":{"points":[[0,0]]}})"));
  json points = json::array();
  for (int i = 0; i < 300; ++i) points.push_back({i, i});  // ~3 KB per step, before and after
  for (int i = 0; i < 100; ++i) {
    points[0][0] = i;
    h.set_params(id, {{"points", points}});
  }
  EXPECT_LE(h.memory_used(), 64u * 1024);
  EXPECT_LT(h.descriptions().size(), 101u);
  EXPECT_GT(h.descriptions().size(), 3u);
  std::size_t undone = 0;
  while (h.undo()) ++undone;
  EXPECT_EQ(undone, h.descriptions().size());
  EXPECT_EQ(h.session().edits.size(), 1u);  // the add itself was dropped first
}

TEST(Autosave, WritesOnChangeAtMostEveryIntervalAndRecovers) {
  const std::string dir = test::temp_dir("autosave");
  Session s;
  s.model = test::fixture("dcgan32/card.json");
  s.card_path = s.model;
  s.latent = SessionLatent::from_seed(3);
  s.edits.push_back(edit(R"({"id":"a","tap":"main.5","op":"add","params":{"value":0.5}})"));
  const std::string rec = (fs::path(dir) / "r" / "session-1.json").string();
  Autosaver saver(rec, 5.0);
  EXPECT_TRUE(saver.tick(s, 1, "/home/u/faces.json", 100.0));
  EXPECT_FALSE(saver.tick(s, 1, "/home/u/faces.json", 200.0));  // nothing changed
  EXPECT_FALSE(saver.tick(s, 2, "/home/u/faces.json", 102.0));  // too soon
  s.latent.seed = 4;
  EXPECT_TRUE(saver.tick(s, 2, "/home/u/faces.json", 106.0));

  const auto found = list_recovery_files((fs::path(dir) / "r").string());
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].session_path, "/home/u/faces.json");
  const Session back = load_session(found[0].path);
  EXPECT_EQ(back.recovered_from, "/home/u/faces.json");
  EXPECT_EQ(back.latent.seed, 4u);
  ASSERT_EQ(back.edits.size(), 1u);
  EXPECT_EQ(back.edits[0].params["value"], 0.5);
  saver.discard();
  EXPECT_TRUE(list_recovery_files((fs::path(dir) / "r").string()).empty());
}

TEST(Autosave, SaveReplacesTheFileWhole) {
  const std::string dir = test::temp_dir("atomic_save");
  Session s = new_session(test::fixture("dcgan32/card.json"));
  const std::string path = (fs::path(dir) / "s.json").string();
  save_session(s, path);
  const std::string before = read_file_text(path);
  // A save that cannot happen (the target is a directory) leaves no stray file and no change.
  const std::string blocked = (fs::path(dir) / "blocked.json").string();
  fs::create_directories(blocked);
  EXPECT_THROW(save_session(s, blocked), Error);
  EXPECT_EQ(read_file_text(path), before);
  std::size_t files = 0;
  for (const auto& entry : fs::directory_iterator(dir)) files += entry.is_regular_file() ? 1 : 0;
  EXPECT_EQ(files, 1u);
  EXPECT_EQ(parse_json_text(before, path)["latent"], json::parse(R"({"seed": 0})"));
}

}  // namespace
}  // namespace actmap
