// kill -9 at random points while actmap writes people's work, then a restart: never a damaged or
// partial file under a final name (each final file is the old good one or the new good one),
// nothing left behind once the next writer has run, unsaved work offered for recovery, and a
// killed training run resuming bit-identically from its last checkpoint. The delays come from a
// seeded RNG (kSeed), so a failure reproduces with the same kills; each kill's delay is in the
// failure's trace.
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "actmap/io/files.h"
#include "actmap/io/safetensors.h"
#include "actmap/model/checkpoint_cache.h"
#include "actmap/model/model_card.h"
#include "actmap/session/session.h"
#include "test_net.h"
#include "test_util.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace actmap {
namespace {

constexpr unsigned kSeed = 21;

std::set<std::string> names_in(const std::string& dir) {
  std::set<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.insert(e.path().filename().string());
  return out;
}

bool has_temporary(const std::set<std::string>& names) {
  for (const auto& n : names) {
    if (n.find(".tmp-") != std::string::npos) return true;
  }
  return false;
}

// A forked child running `body` (given the write end of a pipe: one byte there says "ready").
struct Child {
  pid_t pid = -1;
  int ready = -1;
};

Child fork_child(const std::function<void(int)>& body) {
  int p[2];
  if (::pipe(p) != 0) throw std::runtime_error("pipe failed");
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(p[0]);
    try {
      body(p[1]);
    } catch (...) {
      ::_exit(3);
    }
    ::_exit(0);
  }
  ::close(p[1]);
  return {pid, p[0]};
}

void say_ready(int fd) {
  const char c = 'r';
  if (::write(fd, &c, 1) != 1) ::_exit(4);
}

// Waits (up to 30 s) for the child's "ready".
bool wait_ready(const Child& c) {
  pollfd p{c.ready, POLLIN, 0};
  char b = 0;
  const bool ok = ::poll(&p, 1, 30000) == 1 && ::read(c.ready, &b, 1) == 1;
  ::close(c.ready);
  return ok;
}

// SIGKILL, then reaped. True when the signal ended it (false: it had already exited).
bool kill9(pid_t pid) {
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
}

// A command line run by /bin/sh with its output in `log`.
pid_t spawn(const std::string& command, const std::string& log) {
  const std::string line = "exec " + command + " > '" + log + "' 2>&1";
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::execl("/bin/sh", "sh", "-c", line.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  return pid;
}

int wait_exit(pid_t pid) {
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

void sleep_us(int us) { std::this_thread::sleep_for(std::chrono::microseconds(us)); }

// Waits (up to 20 s, polling every 0.2 ms) until `path` exists: the writer `pid` is in its window.
// False once the process has ended (a zombie, not yet reaped) without it.
bool wait_for(const std::string& path, pid_t pid) {
  for (int i = 0; i < 100000; ++i) {
    if (fs::exists(path)) return true;
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string word, state;
    stat >> word >> word >> state;  // pid, (comm), state
    if (state == "Z") return false;
    sleep_us(200);
  }
  return false;
}

// --- Sessions and recovery files -----------------------------------------------------------------

std::string base_session_text() {
  return R"({"actmap_session": 1, "model": ")" + test::fixture("dcgan32/card.json") +
         R"(", "latent": {"seed": 0}, "edits": [{"id": "e0", "tap": "main.2", "op": "multiply", "params": {"factor": 2}, "channels": "all"}]})";
}

// Version v of the work: 1 to 400 edits (up to about 100 kB), every id naming v.
Session version_of(const Session& base, long v) {
  Session s = base;
  s.edits.clear();
  const long n = 1 + (v * 37) % 400;
  for (long i = 0; i < n; ++i) {
    s.edits.push_back(base.edits.front());
    s.edits.back().id = "v" + std::to_string(v) + "e" + std::to_string(i);
    s.edits.back().params["factor"] = static_cast<double>(i % 7) + 0.5;
  }
  return s;
}

TEST(Kill, SavingASessionLeavesTheOldOrTheNewFile) {
  const std::string dir = test::temp_dir("kill_save");
  write_file_atomic(dir + "/base.json", base_session_text());
  const Session base = load_session(dir + "/base.json");
  const std::string path = dir + "/work.json";
  Session first = version_of(base, 0);
  save_session(first, path);
  std::mt19937 rng(kSeed);
  std::uniform_int_distribution<int> delay_us(0, 20000);
  int mid_write = 0;
  constexpr int kKills = 20;
  for (int k = 1; k <= kKills; ++k) {
    const int delay = delay_us(rng);
    SCOPED_TRACE("kill " + std::to_string(k) + " after " + std::to_string(delay) + " us (seed " + std::to_string(kSeed) + ")");
    // The child saves versions k*100000+1, +2, ... without end.
    const Child child = fork_child([&](int ready) {
      for (long v = k * 100000L + 1;; ++v) {
        Session s = version_of(base, v);
        save_session(s, path);
        if (v == k * 100000L + 1) say_ready(ready);
      }
    });
    ASSERT_TRUE(wait_ready(child));
    sleep_us(delay);
    ASSERT_TRUE(kill9(child.pid));
    const auto names = names_in(dir);
    mid_write += has_temporary(names);
    EXPECT_TRUE(names == (std::set<std::string>{"base.json", "work.json"}) ||
                names == (std::set<std::string>{"base.json", "work.json", "work.json.tmp-" + std::to_string(child.pid)}))
        << testing::PrintToString(names);
    // The file under the final name is one whole version of this child's, byte for byte.
    Session got = load_session(path);
    ASSERT_FALSE(got.edits.empty());
    const long v = std::stol(got.edits.front().id.substr(1));
    EXPECT_GT(v, k * 100000L);
    Session expected = version_of(base, v);
    save_session(expected, dir + "/expected.json");
    EXPECT_EQ(read_file_text(path), read_file_text(dir + "/expected.json"));
    fs::remove(dir + "/expected.json");
    // The restart saves again: the killed writer's temporary file goes.
    save_session(got, path);
    EXPECT_EQ(names_in(dir), (std::set<std::string>{"base.json", "work.json"}));
  }
  std::cout << "[ kill ] " << kKills << " kills while saving, " << mid_write << " of them mid-write\n";
  EXPECT_GT(mid_write, 0) << "no kill landed while a save was being written: the loop proves little";
}

TEST(Kill, AutosavedWorkIsOfferedAfterAKill) {
  const std::string dir = test::temp_dir("kill_autosave");
  const std::string session_path = dir + "/work.json";
  write_file_atomic(session_path, base_session_text());
  const std::string recovery = dir + "/recovery";
  std::mt19937 rng(kSeed + 1);
  std::uniform_int_distribution<int> delay_us(0, 20000);
  constexpr int kKills = 15;
  int mid_write = 0;
  for (int k = 0; k < kKills; ++k) {
    const int delay = delay_us(rng);
    SCOPED_TRACE("kill " + std::to_string(k) + " after " + std::to_string(delay) + " us");
    // An editor with unsaved changes: each change autosaved at once (interval 0).
    const Child child = fork_child([&](int ready) {
      Session s = load_session(session_path);
      Autosaver saver(new_recovery_path(recovery), 0.0);
      for (std::uint64_t rev = 1;; ++rev) {
        s.edits.push_back(s.edits.front());
        s.edits.back().id = "k" + std::to_string(k) + "r" + std::to_string(rev);
        if (s.edits.size() > 300) s.edits.erase(s.edits.begin() + 1);
        if (!saver.flush(s, rev, session_path)) ::_exit(5);
        if (rev == 1) say_ready(ready);
      }
    });
    ASSERT_TRUE(wait_ready(child));
    sleep_us(delay);
    ASSERT_TRUE(kill9(child.pid));
    mid_write += has_temporary(names_in(recovery));
    // The next start offers every killed editor's work (one file each), and each one loads.
    std::vector<std::string> warnings;
    set_warning_sink([&](const std::string& w) { warnings.push_back(w); });
    const std::vector<RecoveryFile> offered = list_recovery_files(recovery);
    set_warning_sink({});
    EXPECT_TRUE(warnings.empty()) << warnings.front();
    ASSERT_EQ(offered.size(), static_cast<std::size_t>(k + 1));
    for (const RecoveryFile& r : offered) {
      EXPECT_EQ(r.session_path, session_path);
      const Session s = load_session(r.path);
      EXPECT_EQ(s.recovered_from, session_path);
      ASSERT_GE(s.edits.size(), 2u);
      const std::string who = s.edits[1].id.substr(0, s.edits[1].id.find('r'));
      for (std::size_t i = 1; i < s.edits.size(); ++i) EXPECT_EQ(s.edits[i].id.rfind(who + "r", 0), 0u) << s.edits[i].id;
    }
    // No temporary file of a killed editor is left, and nothing is set aside as damaged.
    for (const auto& n : names_in(recovery)) EXPECT_EQ(fs::path(n).extension(), ".json") << n;
  }
  std::cout << "[ kill ] " << kKills << " editors killed while autosaving, " << mid_write << " mid-write\n";
  EXPECT_GT(mid_write, 0);
}

// Two editors autosave different sessions into one recovery folder at the same time, many times
// over: every recovery file holds exactly one of the two sessions, whole, and both are offered.
// Rounds 1-4 kill both at a random moment; the last round lets them finish.
TEST(Autosave, TwoEditorsAutosavingAtOnceNeverMixTheirRecoveryFiles) {
  const std::string dir = test::temp_dir("two_editors");
  write_file_atomic(dir + "/a.json", base_session_text());
  std::string b_text = base_session_text();
  b_text.replace(b_text.find(R"("seed": 0)"), 9, R"("seed": 7)");
  write_file_atomic(dir + "/b.json", b_text);
  const std::string recovery = dir + "/recovery";
  constexpr int kWrites = 400, kRounds = 5;
  std::mt19937 rng(kSeed + 2);
  std::uniform_int_distribution<int> delay_us(1000, 40000);
  auto editor = [&](const std::string& who, int go) {
    return [&, who, go](int ready) {
      Session s = load_session(dir + "/" + who + ".json");
      Autosaver saver(new_recovery_path(recovery), 0.0);
      say_ready(ready);
      char c = 0;
      if (::read(go, &c, 1) != 1) ::_exit(6);  // both start writing together
      for (int rev = 1; rev <= kWrites; ++rev) {
        s.edits.push_back(s.edits.front());
        s.edits.back().id = who + std::to_string(rev);
        if (!saver.flush(s, static_cast<std::uint64_t>(rev), dir + "/" + who + ".json")) ::_exit(5);
      }
    };
  };
  for (int round = 0; round < kRounds; ++round) {
    const bool kill = round + 1 < kRounds;
    const int delay = delay_us(rng);
    SCOPED_TRACE("round " + std::to_string(round) + (kill ? ", both killed after " + std::to_string(delay) + " us" : ", to the end"));
    int go[2];
    ASSERT_EQ(::pipe(go), 0);
    const Child a = fork_child(editor("a", go[0])), b = fork_child(editor("b", go[0]));
    ASSERT_TRUE(wait_ready(a));
    ASSERT_TRUE(wait_ready(b));
    ::close(go[0]);
    ASSERT_EQ(::write(go[1], "gg", 2), 2);
    ::close(go[1]);
    if (kill) {
      sleep_us(delay);
      kill9(a.pid), kill9(b.pid);
    } else {
      EXPECT_EQ(wait_exit(a.pid), 0);
      EXPECT_EQ(wait_exit(b.pid), 0);
    }
    const std::vector<RecoveryFile> offered = list_recovery_files(recovery);
    ASSERT_EQ(offered.size(), static_cast<std::size_t>(2 * (round + 1)));
    std::set<std::string> pids;
    int as = 0, bs = 0;
    for (const RecoveryFile& r : offered) {
      const std::string name = fs::path(r.path).filename().string();  // session-<time>-<pid>-<n>.json
      EXPECT_EQ(name.rfind("session-", 0), 0u) << name;
      pids.insert(name.substr(0, name.rfind('-')));
      const Session s = load_session(r.path);
      const std::string who = s.latent.seed == 7 ? "b" : "a";
      (who == "a" ? as : bs)++;
      EXPECT_EQ(r.session_path, dir + "/" + who + ".json");
      for (std::size_t i = 1; i < s.edits.size(); ++i) EXPECT_EQ(s.edits[i].id, who + std::to_string(i)) << r.path;
      const bool last_round = name.find("-" + std::to_string(a.pid) + "-") != std::string::npos ||
                              name.find("-" + std::to_string(b.pid) + "-") != std::string::npos;
      if (!kill && last_round) {
        EXPECT_EQ(s.edits.size(), kWrites + 1u) << r.path;  // finished: the last write of all
      }
    }
    EXPECT_EQ(as, round + 1);
    EXPECT_EQ(bs, round + 1);
    EXPECT_EQ(pids.size(), offered.size());  // every file its own editor's name
  }
}

// --- Converting a checkpoint ---------------------------------------------------------------------

std::string cli_path() { return ACTMAP_CLI_PATH; }

// `actmap-cli layers -m FILE.pkl` converts the file into the cache (open_model_file), killed at
// random points: the cache holds a whole entry or none, and a killed conversion's temporary
// folder goes with the next conversion. `actmap-cli import` likewise: its two outputs are each
// absent or whole, and its scratch folder (actmap-convert-PID under TMPDIR) goes with the next run.
TEST(Kill, ConvertingACheckpointLeavesAWholeEntryOrNone) {
  const std::string dir = test::temp_dir("kill_convert");
  // rosinality's training checkpoint: the average W is estimated while converting, so a good part
  // of each run has the temporary folder (and the import's scratch folder) open.
  const std::string source = test::fixture("checkpoints/genuine/rosinality_train_000000.pt");
  const std::string sha = sha256_file(source);
  fs::create_directories(dir + "/tmp");
  fs::create_directories(dir + "/ref");
  fs::create_directories(dir + "/out");
  const test::EnvVar tmpdir("TMPDIR", dir + "/tmp");
  const std::string convert = cli_path() + " layers -m " + source;
  const std::string import = cli_path() + " import " + source + " -o " + dir + "/out/g.safetensors --card " + dir + "/out/g.json";
  // The references, converted without interruption; their run times set the range of the kills.
  std::vector<std::uint8_t> want_weights, want_import;
  double convert_s = 0, import_s = 0;
  {
    const test::EnvVar xdg("XDG_CACHE_HOME", dir + "/refcache");
    auto start = std::chrono::steady_clock::now();
    ASSERT_EQ(wait_exit(spawn(convert, dir + "/ref.log")), 0) << read_file_text(dir + "/ref.log");
    convert_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    want_weights = read_file_bytes(fs::path(find_converted_card(sha)).parent_path().string() + "/weights.safetensors");
    start = std::chrono::steady_clock::now();
    ASSERT_EQ(wait_exit(spawn(import, dir + "/ref.log")), 0) << read_file_text(dir + "/ref.log");
    import_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    want_import = read_file_bytes(dir + "/out/g.safetensors");
    fs::remove(dir + "/out/g.safetensors"), fs::remove(dir + "/out/g.json");
  }
  const test::EnvVar xdg("XDG_CACHE_HOME", dir + "/cache");
  std::mt19937 rng(kSeed + 3);
  std::uniform_real_distribution<double> at(0.0, 1.1);  // a fraction of the uninterrupted run
  constexpr int kKills = 12;
  int whole = 0, partial = 0, interrupted = 0;
  std::set<std::string> killed;
  for (int k = 0; k < kKills; ++k) {
    // Even kills anywhere in the run; odd ones once the temporary folder exists.
    const bool in_window = k % 2;
    // In the window the delay is short and absolute: the window is a few milliseconds however
    // long the process takes to start on a loaded machine.
    const int delay = static_cast<int>(at(rng) * (in_window ? 0.002 : convert_s) * 1e6);
    SCOPED_TRACE("kill " + std::to_string(k) + " after " + std::to_string(delay) + " us" + (in_window ? " in the window" : ""));
    const pid_t pid = spawn(convert, dir + "/run.log");
    if (in_window) wait_for(converted_models_dir() + "/" + sha + ".tmp-" + std::to_string(pid), pid);
    sleep_us(delay);
    interrupted += kill9(pid);
    const std::string root = converted_models_dir();
    if (!fs::exists(root)) continue;
    killed.insert(sha + ".tmp-" + std::to_string(pid));
    for (const auto& n : names_in(root)) {
      // A killed run's temporary folder stays until the next run gets as far as the conversion.
      EXPECT_TRUE(n == "index" || n == sha || n == sha + ".lock" || killed.count(n)) << n;
    }
    partial += fs::exists(root + "/" + sha + ".tmp-" + std::to_string(pid));
    if (fs::exists(root + "/" + sha)) {
      ++whole;
      ASSERT_NE(find_converted_card(sha), "");
      EXPECT_NO_THROW(load_model_card(find_converted_card(sha)));
      EXPECT_EQ(read_file_bytes(root + "/" + sha + "/weights.safetensors"), want_weights);
      fs::remove_all(root + "/" + sha);  // converted: start over, so the next kill lands in a conversion again
    }
  }
  ASSERT_EQ(wait_exit(spawn(convert, dir + "/run.log")), 0) << read_file_text(dir + "/run.log");
  EXPECT_EQ(names_in(converted_models_dir()), (std::set<std::string>{"index", sha, sha + ".lock"}));
  EXPECT_EQ(read_file_bytes(converted_models_dir() + "/" + sha + "/weights.safetensors"), want_weights);
  std::cout << "[ kill ] " << kKills << " kills while converting (a run takes " << convert_s << " s): " << interrupted
            << " before the process ended, " << partial << " left a temporary folder, " << whole << " after the entry was whole\n";
  EXPECT_GT(interrupted, 0);
  EXPECT_GT(partial, 0);

  // actmap-cli import FILE -o g.safetensors --card g.json. A scratch folder of a process that is
  // gone (a reaped child's pid) stands for one a kill left where the kill came too early or late.
  const pid_t gone = spawn("true", dir + "/run.log");
  wait_exit(gone);
  fs::create_directories(dir + "/tmp/actmap-convert-" + std::to_string(gone) + "/x");
  int import_interrupted = 0, import_scratch = 0;
  for (int k = 0; k < kKills; ++k) {
    const bool in_window = k % 2;
    const int delay = static_cast<int>(at(rng) * (in_window ? 0.002 : import_s) * 1e6);
    SCOPED_TRACE("import kill " + std::to_string(k) + " after " + std::to_string(delay) + " us" + (in_window ? " in the window" : ""));
    const pid_t pid = spawn(import, dir + "/run.log");
    if (in_window) wait_for(dir + "/tmp/actmap-convert-" + std::to_string(pid), pid);
    sleep_us(delay);
    import_interrupted += kill9(pid);
    import_scratch += fs::exists(dir + "/tmp/actmap-convert-" + std::to_string(pid));
    if (fs::exists(dir + "/out/g.safetensors")) {
      EXPECT_EQ(read_file_bytes(dir + "/out/g.safetensors"), want_import);
    }
    if (fs::exists(dir + "/out/g.json")) {
      EXPECT_NO_THROW(json::parse(read_file_text(dir + "/out/g.json")));
    }
    fs::remove(dir + "/out/g.safetensors"), fs::remove(dir + "/out/g.json");
  }
  ASSERT_EQ(wait_exit(spawn(import, dir + "/run.log")), 0) << read_file_text(dir + "/run.log");
  EXPECT_EQ(read_file_bytes(dir + "/out/g.safetensors"), want_import);
  EXPECT_EQ(names_in(dir + "/out"), (std::set<std::string>{"g.json", "g.safetensors"}));  // killed writers' temporaries gone
  EXPECT_TRUE(names_in(dir + "/tmp").empty()) << testing::PrintToString(names_in(dir + "/tmp"));  // and their scratch folders
  std::cout << "[ kill ] " << kKills << " kills while importing (a run takes " << import_s << " s): " << import_interrupted
            << " before the process ended, " << import_scratch << " left a scratch folder\n";
  EXPECT_GT(import_interrupted, 0);
  EXPECT_GT(import_scratch, 0);
}

// --- A download ----------------------------------------------------------------------------------

// `actmap-cli fetch` killed at random points of a download from the local test server: the .part
// is always a prefix of the served file, the final file is absent or whole, and the next run
// resumes to the right file.
TEST(Kill, ADownloadKilledAnywhereResumesToTheRightFile) {
  if (!fs::exists(ACTMAP_TEST_PYTHON)) GTEST_SKIP() << ACTMAP_TEST_PYTHON << " is missing: the download tests need it";
  const std::string dir = test::temp_dir("kill_fetch");
  fs::create_directories(dir + "/www");
  fs::copy_file(test::fixture("dcgan32/weights.safetensors"), dir + "/www/weights.safetensors");
  json card = json::parse(read_file_text(test::fixture("dcgan32/card.json")));
  card["name"] = "fetchtest";
  card["weights"] = "fetchtest/weights.safetensors";
  write_file_atomic(dir + "/fetchtest.json", card.dump(2));
  const test::EnvVar xdg("XDG_CACHE_HOME", dir + "/cache");
  const test::TestServer server(dir + "/www", "");
  const std::vector<std::uint8_t> served = read_file_bytes(dir + "/www/weights.safetensors");
  auto registry = [&](const std::string& mode) {
    const json entry = {{"name", "fetchtest"}, {"family", "dcgan"}, {"card", "fetchtest.json"},
                        {"url", server.url(mode, "weights.safetensors")}, {"sha256", sha256_file(dir + "/www/weights.safetensors")},
                        {"size", served.size()}, {"license", "MIT"}, {"format", "safetensors"}};
    write_file_atomic(dir + "/registry.json", json{{"actmap_model_registry", 1}, {"models", json::array({entry})}}.dump(2));
  };
  registry("slow-100000");  // the 69 kB file takes about 0.7 s
  const std::string cmd = cli_path() + " fetch fetchtest --registry " + dir + "/registry.json";
  const std::string models = dir + "/cache/actmap/models/fetchtest";
  std::mt19937 rng(kSeed + 4);
  // Each run is killed at a random moment once its download has moved on (the .part grew): in
  // the download, the check of its hash, or the move into place.
  std::uniform_int_distribution<int> delay_us(0, 400000);
  constexpr int kKills = 15;
  int resumed_parts = 0, whole = 0;
  for (int k = 0; k < kKills; ++k) {
    const int delay = delay_us(rng);
    SCOPED_TRACE("kill " + std::to_string(k) + " after " + std::to_string(delay) + " us");
    const std::string part_path = models + "/weights.safetensors.part";
    std::error_code ec;
    const auto had = fs::exists(part_path) ? fs::file_size(part_path, ec) : 0;
    const pid_t pid = spawn(cmd, dir + "/run.log");
    for (int i = 0; i < 100000; ++i) {  // up to 20 s
      std::error_code size_ec;
      if (fs::exists(models + "/weights.safetensors") || (fs::exists(part_path) && fs::file_size(part_path, size_ec) > had)) break;
      sleep_us(200);
    }
    sleep_us(delay);
    kill9(pid);
    if (fs::exists(models + "/weights.safetensors.part")) {
      const auto part = read_file_bytes(models + "/weights.safetensors.part");
      ASSERT_LE(part.size(), served.size());
      EXPECT_TRUE(std::equal(part.begin(), part.end(), served.begin())) << "the partial download is not a prefix of the file";
      resumed_parts += !part.empty();
    }
    if (fs::exists(models + "/weights.safetensors")) {
      ++whole;
      EXPECT_EQ(read_file_bytes(models + "/weights.safetensors"), served);
      fs::remove_all(models);  // downloaded: start over, so the next kill lands in a download again
    }
    if (fs::exists(models)) {
      for (const auto& n : names_in(models)) {
        EXPECT_TRUE(n == "weights.safetensors.part" || n == "weights.safetensors.lock" || n.find(".json") != std::string::npos) << n;
        if (n.size() > 5 && n.substr(n.size() - 5) == ".json") {
          EXPECT_NO_THROW(json::parse(read_file_text(models + "/" + n))) << n;
        }
      }
    }
  }
  registry("ok");
  ASSERT_EQ(wait_exit(spawn(cmd, dir + "/run.log")), 0) << read_file_text(dir + "/run.log");
  EXPECT_EQ(read_file_bytes(models + "/weights.safetensors"), served);
  EXPECT_FALSE(fs::exists(models + "/weights.safetensors.part"));
  std::cout << "[ kill ] " << kKills << " kills while downloading: " << resumed_parts << " left a partial file, " << whole
            << " after the file was whole\n";
  EXPECT_GT(resumed_parts, 0);
}

// --- Training ------------------------------------------------------------------------------------

// `actmap-cli train` with a checkpoint every step, killed at random points and restarted with
// --resume from whatever checkpoint is there: the checkpoint and the model files are each absent
// or whole after every kill, and the final weights are bit-identical to a run never interrupted.
TEST(Kill, TrainingResumesBitIdenticallyAfterKills) {
  const std::string dir = test::temp_dir("kill_train");
  test::write_training_folder(dir + "/data", 31);
  write_file_atomic(dir + "/card.json",
                    std::string(R"({"family": "dcgan", "config": {"nz": 8, "ngf": 4, "nc": 3, "image_size": 32}, "weights": "x"})"));
  // 4 steps an epoch (31 images, batches of 8), 40 epochs: 160 steps, a checkpoint after each.
  auto command = [&](const std::string& out) {
    return cli_path() + " train --card " + dir + "/card.json --data " + dir + "/data --batch 8 --samples 1 --epochs 40 --threads 1 " +
           "--seed 5 --checkpoint-every 1 -o " + dir + "/" + out + "/m.json";
  };
  const auto start = std::chrono::steady_clock::now();
  ASSERT_EQ(wait_exit(spawn(command("ref"), dir + "/ref.log")), 0) << read_file_text(dir + "/ref.log");
  const double run_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const auto want = read_file_bytes(dir + "/ref/m.safetensors");
  const std::string checkpoint = dir + "/run/m-checkpoint.safetensors";
  std::mt19937 rng(kSeed + 5);
  constexpr int kKills = 12;
  // Each run is killed at a random moment after it has written its first checkpoint (so every
  // run gets somewhere), within a tenth of a whole run's time.
  std::uniform_real_distribution<double> at(0.0, 0.1);
  int killed = 0, resumed = 0, checkpoints_seen = 0;
  for (int k = 0; k < kKills; ++k) {
    const int delay = static_cast<int>(at(rng) * run_s * 1e6);
    SCOPED_TRACE("kill " + std::to_string(k) + " after " + std::to_string(delay) + " us");
    const bool resume = fs::exists(checkpoint);
    resumed += resume;
    const auto before = resume ? fs::last_write_time(checkpoint) : fs::file_time_type::min();
    const pid_t pid = spawn(command("run") + (resume ? " --resume " + checkpoint : ""), dir + "/run.log");
    for (int i = 0; i < 100000; ++i) {  // up to 20 s for its first checkpoint
      std::error_code ec;
      const auto t = fs::last_write_time(checkpoint, ec);
      if (!ec && t != before) break;
      sleep_us(200);
    }
    sleep_us(delay);
    if (!kill9(pid)) break;  // it finished first
    ++killed;
    if (fs::exists(checkpoint)) {
      ++checkpoints_seen;
      EXPECT_NO_THROW(read_safetensors(checkpoint));
    }
    if (fs::exists(dir + "/run/m.safetensors")) {
      EXPECT_NO_THROW(read_safetensors(dir + "/run/m.safetensors"));
    }
    if (fs::exists(dir + "/run/m.json")) {
      EXPECT_NO_THROW(json::parse(read_file_text(dir + "/run/m.json")));
    }
  }
  const std::string last = command("run") + (fs::exists(checkpoint) ? " --resume " + checkpoint : "");
  ASSERT_EQ(wait_exit(spawn(last, dir + "/run.log")), 0) << read_file_text(dir + "/run.log");
  EXPECT_EQ(read_file_bytes(dir + "/run/m.safetensors"), want) << "the resumed run's weights differ from the uninterrupted run's";
  for (const auto& n : names_in(dir + "/run")) EXPECT_EQ(n.find(".tmp-"), std::string::npos) << n;
  std::cout << "[ kill ] " << killed << " kills while training (a whole run takes " << run_s << " s), " << resumed
            << " restarts resumed from a checkpoint\n";
  EXPECT_GE(killed, kKills / 2);
  EXPECT_GE(resumed, kKills / 3);
}

}  // namespace
}  // namespace actmap
