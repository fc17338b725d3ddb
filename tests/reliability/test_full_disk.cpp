// A full disk while saving: every writer of people's work (a session, a recovery file, a training
// checkpoint, a converted checkpoint in the cache) fails with a message that says what happened,
// leaves the previous file as it was and nothing half-written under a final name. The disk is
// "full" through RLIMIT_FSIZE (writes past the limit fail with EFBIG, as past the end of a full
// filesystem they fail with ENOSPC: both reach the same code), set for this process only.
#include <sys/resource.h>

#include <csignal>
#include <filesystem>

#include "actmap/fetch/model_file.h"
#include "actmap/io/error.h"
#include "actmap/io/files.h"
#include "actmap/model/checkpoint_cache.h"
#include "actmap/model/model_card.h"
#include "actmap/session/session.h"
#include "actmap/train/train.h"
#include "test_net.h"
#include "test_util.h"

namespace fs = std::filesystem;

namespace actmap {
namespace {

// While alive, no file of this process may grow past `bytes` (SIGXFSZ ignored, so the write
// fails with EFBIG instead of killing the process).
class DiskFullAfter {
 public:
  explicit DiskFullAfter(rlim_t bytes) {
    ::getrlimit(RLIMIT_FSIZE, &old_);
    old_handler_ = std::signal(SIGXFSZ, SIG_IGN);
    rlimit lim = old_;
    lim.rlim_cur = bytes;
    ::setrlimit(RLIMIT_FSIZE, &lim);
  }
  ~DiskFullAfter() {
    ::setrlimit(RLIMIT_FSIZE, &old_);
    std::signal(SIGXFSZ, old_handler_);
  }
  DiskFullAfter(const DiskFullAfter&) = delete;
  DiskFullAfter& operator=(const DiskFullAfter&) = delete;

 private:
  rlimit old_{};
  void (*old_handler_)(int) = SIG_DFL;
};

std::vector<std::string> files_in(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) out.push_back(fs::relative(e.path(), dir).string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string session_text(int edits) {
  std::string s = R"({"actmap_session": 1, "model": ")" + test::fixture("dcgan32/card.json") +
                  R"(", "latent": {"seed": 0}, "edits": [)";
  for (int i = 0; i < edits; ++i) {
    s += std::string(i ? "," : "") + R"({"id": "e)" + std::to_string(i) +
         R"(", "tap": "main.2", "op": "multiply", "params": {"factor": 2}, "channels": "all"})";
  }
  return s + "]}";
}

TEST(FullDisk, SavingASessionKeepsThePreviousFile) {
  const std::string dir = test::temp_dir("full_disk_session");
  const std::string path = dir + "/work.json";
  write_file_atomic(path, session_text(1));
  const std::string before = read_file_text(path);
  Session s = load_session(path);
  for (int i = 0; i < 200; ++i) s.edits.push_back(s.edits.front()), s.edits.back().id = "n" + std::to_string(i);
  {
    const DiskFullAfter full(1024);  // the new file is about 30 kB
    test::expect_error([&] { save_session(s, path); }, {path, "write failed", "File too large"});
  }
  EXPECT_EQ(read_file_text(path), before);
  EXPECT_EQ(files_in(dir), std::vector<std::string>{"work.json"});  // no temporary file left
  save_session(s, path);  // with room again it saves
  EXPECT_EQ(load_session(path).edits.size(), 201u);
}

TEST(FullDisk, ARecoveryFileThatCannotBeWrittenWarnsAndKeepsTheLastOne) {
  const std::string dir = test::temp_dir("full_disk_recovery");
  const std::string session_path = dir + "/work.json";
  write_file_atomic(session_path, session_text(1));
  Session s = load_session(session_path);
  Autosaver saver(dir + "/work.recovery.json", 0.0);
  ASSERT_TRUE(saver.flush(s, 1, session_path));
  const std::string first = read_file_text(saver.path());
  for (int i = 0; i < 200; ++i) s.edits.push_back(s.edits.front()), s.edits.back().id = "n" + std::to_string(i);
  std::vector<std::string> warnings;
  {
    set_warning_sink([&](const std::string& w) { warnings.push_back(w); });
    const DiskFullAfter full(1024);
    EXPECT_FALSE(saver.flush(s, 2, session_path));  // never throws: the editor goes on
  }
  set_warning_sink({});
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("File too large"), std::string::npos) << warnings[0];
  EXPECT_EQ(read_file_text(saver.path()), first);
  EXPECT_EQ(files_in(dir), (std::vector<std::string>{"work.json", "work.recovery.json"}));
  EXPECT_TRUE(saver.flush(s, 2, session_path));  // room again: the next write succeeds
  EXPECT_EQ(load_session(saver.path()).edits.size(), 201u);
}

TEST(FullDisk, ATrainingCheckpointThatCannotBeWrittenKeepsThePreviousOne) {
  const std::string dir = test::temp_dir("full_disk_train");
  const ModelCard card = parse_model_card(
      R"({"family": "dcgan", "name": "tiny", "config": {"nz": 8, "ngf": 4, "nc": 3, "image_size": 32}, "weights": "none.safetensors"})", "");
  GanTrainer t(card, 1);
  const std::string path = dir + "/checkpoint.safetensors";
  t.save_checkpoint(path, {{"step", 1}});
  const std::string before = read_file_text(path);
  {
    const DiskFullAfter full(4096);
    test::expect_error([&] { t.save_checkpoint(path, {{"step", 2}}); }, {path, "write failed", "File too large"});
  }
  EXPECT_EQ(read_file_text(path), before);
  EXPECT_EQ(files_in(dir), std::vector<std::string>{"checkpoint.safetensors"});
  GanTrainer u(card, 2);
  EXPECT_EQ(u.load_checkpoint(path).at("step"), 1);
}

TEST(FullDisk, AConversionThatCannotBeWrittenLeavesNothingInTheCache) {
  const std::string dir = test::temp_dir("full_disk_convert");
  const test::EnvVar xdg("XDG_CACHE_HOME", dir + "/cache");
  // A stylegan2-ada-pytorch training snapshot (G, D, G_ema, augment_pipe) as its training loop writes them.
  const std::string source = test::fixture("checkpoints/genuine/ada_uncond_fp16.pkl");
  {
    const DiskFullAfter full(8 * 1024);  // the converted weights are larger
    test::expect_error([&] { open_model_file(source); }, {"write failed", "File too large"});
  }
  for (const auto& e : fs::directory_iterator(converted_models_dir())) {
    const std::string name = e.path().filename().string();
    EXPECT_TRUE(name == "index" || name.find(".lock") != std::string::npos) << name;  // no entry, no temporary folder
  }
  const OpenedModelFile opened = open_model_file(source);  // room again: it converts
  EXPECT_FALSE(opened.from_cache);
  EXPECT_TRUE(fs::exists(opened.card));
}

// A recovery file cut short (or damaged otherwise) is reported and set aside, and the good ones
// are still offered.
TEST(Recovery, ADamagedRecoveryFileIsReportedAndSetAside) {
  const std::string dir = test::temp_dir("damaged_recovery");
  const std::string session_path = dir + "/work.json";
  write_file_atomic(session_path, session_text(1));
  Autosaver saver(dir + "/recovery/good.json", 0.0);
  ASSERT_TRUE(saver.flush(load_session(session_path), 1, session_path));
  const std::string text = read_file_text(saver.path());
  write_file_atomic(dir + "/recovery/cut.json", text.substr(0, text.size() / 2));
  std::vector<std::string> warnings;
  set_warning_sink([&](const std::string& w) { warnings.push_back(w); });
  const std::vector<RecoveryFile> found = list_recovery_files(dir + "/recovery");
  set_warning_sink({});
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].session_path, session_path);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("recovery file " + dir + "/recovery/cut.json is damaged"), std::string::npos) << warnings[0];
  EXPECT_NE(warnings[0].find("set aside as " + dir + "/recovery/cut.json.corrupt"), std::string::npos) << warnings[0];
  EXPECT_EQ(read_file_text(dir + "/recovery/cut.json.corrupt"), text.substr(0, text.size() / 2));  // kept, not lost
  EXPECT_FALSE(fs::exists(dir + "/recovery/cut.json"));
  EXPECT_EQ(list_recovery_files(dir + "/recovery").size(), 1u);  // and not reported again
}

}  // namespace
}  // namespace actmap
