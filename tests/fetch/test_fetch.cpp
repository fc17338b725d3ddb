// The model registry and downloads, against a real HTTP server on 127.0.0.1
// (tests/net/http_test_server.py, started by each test that needs it).
#include <atomic>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <functional>


#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "actmap/fetch/fetch.h"
#include "actmap/io/checkpoint_import.h"
#include "actmap/io/files.h"
#include "actmap/io/safetensors.h"
#include "actmap/model/model_card.h"
#include "actmap/model/registry.h"
#include "test_net.h"
#include "test_util.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace actmap {
namespace {

// A registry in a temp dir listing one model, the served dcgan32 test weights (or another file),
// with its card beside it; the cache goes to DIR/cache through XDG_CACHE_HOME.
class Fetch : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(ACTMAP_TEST_PYTHON)) GTEST_SKIP() << ACTMAP_TEST_PYTHON << " is missing: the download tests need it";
    dir_ = test::temp_dir(::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_ + "/www");
    fs::create_directories(dir_ + "/registry");
    fs::copy_file(test::fixture("dcgan32/weights.safetensors"), dir_ + "/www/weights.safetensors");
    json card = json::parse(read_file_text(test::fixture("dcgan32/card.json")));
    card["name"] = "fetchtest";
    card["license"] = "MIT";
    card["weights"] = "fetchtest/weights.safetensors";
    write_file_atomic(dir_ + "/registry/fetchtest.json", card.dump(2));
    xdg_ = std::make_unique<test::EnvVar>("XDG_CACHE_HOME", dir_ + "/cache");
    server_ = std::make_unique<test::TestServer>(dir_ + "/www", dir_ + "/requests.log");
  }

  // Writes the registry with the entry's url in `mode` and returns it loaded.
  Registry registry(const std::string& mode, json overrides = json::object()) {
    const std::string served = dir_ + "/www/weights.safetensors";
    json entry = {{"name", "fetchtest"},         {"family", "dcgan"},
                  {"card", "fetchtest.json"},    {"url", server_->url(mode, "weights.safetensors")},
                  {"sha256", sha256_file(served)}, {"size", fs::file_size(served)},
                  {"license", "MIT"},            {"format", "safetensors"}};
    entry.update(overrides);
    const json doc = {{"actmap_model_registry", 1}, {"models", json::array({entry})}};
    write_file_atomic(dir_ + "/registry/registry.json", doc.dump(2));
    return load_registry(dir_ + "/registry/registry.json");
  }

  std::string cached(const std::string& rel) const { return dir_ + "/cache/actmap/models/" + rel; }
  std::vector<std::uint8_t> served() const { return read_file_bytes(dir_ + "/www/weights.safetensors"); }

  std::string dir_;
  std::unique_ptr<test::EnvVar> xdg_;
  std::unique_ptr<test::TestServer> server_;
};

TEST_F(Fetch, DownloadsVerifiesAndIsFoundByName) {
  const Registry reg = registry("ok");
  std::vector<FetchProgress> progress;
  FetchOptions o;
  o.progress = [&](const FetchProgress& p) { progress.push_back(p); };
  const FetchResult r = fetch_model(reg, "fetchtest", o);
  EXPECT_FALSE(r.cancelled);
  EXPECT_FALSE(r.already_present);
  EXPECT_EQ(r.weights, cached("fetchtest/weights.safetensors"));
  EXPECT_EQ(read_file_bytes(r.weights), served());
  EXPECT_FALSE(fs::exists(r.weights + ".part"));
  ASSERT_FALSE(progress.empty());
  EXPECT_EQ(progress.back().stage, FetchProgress::Stage::Verify);
  EXPECT_EQ(progress.front().total, served().size());

  // Found by name with no ACTMAP_MODEL_PATH: the cached card and its weights beside it.
  test::EnvVar no_path("ACTMAP_MODEL_PATH", "");
  const std::string card = find_model_card("fetchtest");
  EXPECT_EQ(card, cached("fetchtest.json"));
  EXPECT_EQ(resolve_weights_path(load_model_card(card)), r.weights);
  const auto status = registry_status(reg);
  ASSERT_EQ(status.size(), 1u);
  EXPECT_TRUE(status[0].in_cache);
  EXPECT_EQ(status[0].weights, r.weights);

  // A verified copy is not downloaded again; --force downloads it again.
  const std::size_t requests = server_->requests().size();
  EXPECT_EQ(requests, 1u);
  EXPECT_TRUE(fetch_model(reg, "fetchtest").already_present);
  EXPECT_EQ(server_->requests().size(), requests);
  FetchOptions force;
  force.force = true;
  EXPECT_FALSE(fetch_model(reg, "fetchtest", force).already_present);
  EXPECT_EQ(server_->requests().size(), requests + 1);
}

TEST_F(Fetch, CorruptFileIsRefusedAndRemoved) {
  const Registry reg = registry("corrupt");
  std::vector<std::uint8_t> corrupt = served();
  corrupt[corrupt.size() / 2] ^= 0xFF;  // what the server's corrupt mode sends
  test::expect_error([&] { fetch_model(reg, "fetchtest"); },
                     {"sha256 mismatch", "expected " + sha256_file(dir_ + "/www/weights.safetensors"),
                      "got " + sha256_hex(corrupt.data(), corrupt.size()), "deleted", server_->url("corrupt", "weights.safetensors")});
  EXPECT_FALSE(fs::exists(cached("fetchtest/weights.safetensors")));
  EXPECT_FALSE(fs::exists(cached("fetchtest/weights.safetensors.part")));
  EXPECT_FALSE(fs::exists(cached("fetchtest.json")));
}

TEST_F(Fetch, WrongSizeIsRefused) {
  const Registry reg = registry("ok", {{"size", served().size() + 10}});
  test::expect_error([&] { fetch_model(reg, "fetchtest"); }, {"sent", std::to_string(served().size()) + " bytes", "kept"});
  const Registry small = registry("ok", {{"size", 1000}});
  EXPECT_TRUE(fs::remove(cached("fetchtest/weights.safetensors.part")));
  test::expect_error([&] { fetch_model(small, "fetchtest"); }, {"more than the expected 1000 bytes", "deleted"});
  EXPECT_FALSE(fs::exists(cached("fetchtest/weights.safetensors.part")));
}

TEST_F(Fetch, DroppedConnectionResumesWithRange) {
  const Registry reg = registry("drop-20000");
  test::expect_error([&] { fetch_model(reg, "fetchtest"); },
                     {"interrupted after 20000 bytes", "weights.safetensors.part", "fetch again to resume"});
  const std::string part = cached("fetchtest/weights.safetensors.part");
  ASSERT_TRUE(fs::exists(part));
  EXPECT_EQ(fs::file_size(part), 20000u);
  EXPECT_FALSE(fs::exists(cached("fetchtest/weights.safetensors")));

  const FetchResult r = fetch_model(reg, "fetchtest");
  EXPECT_EQ(r.resumed_from, 20000u);
  EXPECT_EQ(read_file_bytes(r.weights), served());
  const auto req = server_->requests();
  ASSERT_EQ(req.size(), 2u);
  EXPECT_TRUE(req[0]["range"].is_null());
  EXPECT_EQ(req[1]["range"], "bytes=20000-");
  EXPECT_EQ(req[1]["status"], 206);
}

TEST_F(Fetch, ServerWithoutRangeStartsOver) {
  const Registry reg = registry("norange");
  // A partial file of wrong bytes: appended to, the result could not verify.
  fs::create_directories(cached("fetchtest"));
  write_file_atomic(cached("fetchtest/weights.safetensors.part"), std::string(5000, 'x'));
  const FetchResult r = fetch_model(reg, "fetchtest");
  EXPECT_EQ(r.resumed_from, 0u);
  EXPECT_EQ(read_file_bytes(r.weights), served());
  const auto req = server_->requests();
  ASSERT_EQ(req.size(), 1u);
  EXPECT_EQ(req[0]["range"], "bytes=5000-");
  EXPECT_EQ(req[0]["status"], 200);
}

TEST_F(Fetch, CancelKeepsThePartialFileAndResumes) {
  const Registry reg = registry("slow-200000");  // ~0.35 s for the 69 KB file
  std::atomic<int> cancel{0};
  FetchOptions o;
  o.cancel = &cancel;
  o.progress = [&](const FetchProgress& p) {
    if (p.bytes >= 10000) cancel = SIGINT;
  };
  const FetchResult r = fetch_model(reg, "fetchtest", o);
  EXPECT_TRUE(r.cancelled);
  ASSERT_EQ(r.part, cached("fetchtest/weights.safetensors.part"));
  const auto kept = fs::file_size(r.part);
  EXPECT_GE(kept, 10000u);
  EXPECT_LT(kept, served().size());
  EXPECT_FALSE(fs::exists(r.weights));

  const FetchResult again = fetch_model(reg, "fetchtest");
  EXPECT_EQ(again.resumed_from, kept);
  EXPECT_EQ(read_file_bytes(again.weights), served());
}

TEST_F(Fetch, OfflineFailsFastWithAClearMessage) {
  const Registry reg = registry("ok", {{"url", "http://127.0.0.1:" + std::to_string(test::closed_port()) + "/ok/w.safetensors"}});
  const auto start = std::chrono::steady_clock::now();
  test::expect_error([&] { fetch_model(reg, "fetchtest"); }, {"cannot reach", reg.models[0].url, "looks offline"});
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 2.0);
  EXPECT_FALSE(fs::exists(cached("fetchtest/weights.safetensors.part")));
}

TEST_F(Fetch, HttpErrorNamesTheStatus) {
  const Registry reg = registry("ok", {{"url", server_->url("ok", "missing.safetensors")}});
  test::expect_error([&] { fetch_model(reg, "fetchtest"); }, {"missing.safetensors", "HTTP 404"});
}

// actmap-cli fetch as a user runs it: --list, fetch, then the model renders by name.
TEST_F(Fetch, CliListsFetchesAndRenders) {
  registry("ok");
  const std::string cli = std::string(ACTMAP_CLI_PATH) + " ";
  const std::string reg = " --registry " + dir_ + "/registry/registry.json";
  test::CommandRun r = test::run_command(cli + "fetch --list" + reg + " 2>&1");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("fetchtest"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("no (actmap-cli fetch fetchtest)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(dir_ + "/cache/actmap/models"), std::string::npos) << r.out;

  r = test::run_command(cli + "fetch fetchtest" + reg + " 2>&1");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("100%"), std::string::npos) << r.out;  // the progress line's last state
  EXPECT_NE(r.out.find("fetched fetchtest"), std::string::npos) << r.out;
  r = test::run_command(cli + "render --model fetchtest --seed 3 -o " + dir_ + "/out.png 2>&1");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(read_image(dir_ + "/out.png").width, 32);
}

// Ctrl+C during a download keeps the partial file, says so, exits 130; the same command resumes.
TEST_F(Fetch, CliInterruptKeepsAResumablePart) {
  registry("slow-15000");  // the 69 KB file takes about 4.6 s
  const std::string cmd = std::string(ACTMAP_CLI_PATH) + " fetch fetchtest --registry " + dir_ + "/registry/registry.json";
  // Ctrl+C once the download has started (the .part has bytes), however long the start took.
  const std::string part = cached("fetchtest/weights.safetensors.part");
  const test::CommandRun r = test::run_command("sh -c '" + cmd + " & pid=$!; i=0; while [ ! -s " + part +
                                               " ] && [ $i -lt 400 ]; do sleep 0.05; i=$((i+1)); done; sleep 0.3; "
                                               "kill -INT $pid; wait $pid; echo exit=$?' 2>&1");
  EXPECT_NE(r.out.find("exit=130"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("interrupted; the partial download " + cached("fetchtest/weights.safetensors.part") +
                       " is kept: run the same command to resume"),
            std::string::npos)
      << r.out;
  const auto kept = fs::file_size(part);
  EXPECT_GT(kept, 0u);
  EXPECT_LT(kept, served().size());
  // Resuming at full speed: a registry whose address serves without delay.
  registry("ok");
  const test::CommandRun again = test::run_command(cmd + " 2>&1");
  ASSERT_EQ(again.code, 0) << again.out;
  EXPECT_NE(again.out.find("resumed from"), std::string::npos) << again.out;
  EXPECT_EQ(read_file_bytes(cached("fetchtest/weights.safetensors")), served());
}

// Two processes fetching the same model at once: one downloads (a lock per target), the other
// waits and then finds it; both succeed, with one good copy and no partial file left.
TEST_F(Fetch, TwoProcessesFetchingTheSameModelEndWithOneGoodCopy) {
  registry("slow-60000");  // the 69 KB file takes about a second: the two overlap
  const std::string cmd = std::string(ACTMAP_CLI_PATH) + " fetch fetchtest --registry " + dir_ + "/registry/registry.json";
  const test::CommandRun r = test::run_command("sh -c '" + cmd + " > " + dir_ + "/a.log 2>&1 & a=$!; " + cmd + " > " + dir_ +
                                               "/b.log 2>&1 & b=$!; wait $a; ea=$?; wait $b; eb=$?; echo exit=$ea,$eb' 2>&1");
  EXPECT_NE(r.out.find("exit=0,0"), std::string::npos) << r.out << read_file_text(dir_ + "/a.log") << read_file_text(dir_ + "/b.log");
  EXPECT_EQ(read_file_bytes(cached("fetchtest/weights.safetensors")), served());
  EXPECT_FALSE(fs::exists(cached("fetchtest/weights.safetensors.part")));
  // One of them downloaded; the other found the model already there.
  const std::string logs = read_file_text(dir_ + "/a.log") + read_file_text(dir_ + "/b.log");
  EXPECT_NE(logs.find("already"), std::string::npos) << logs;
}

// The pytorch path runs the real importer on the shared celeba32 checkpoint and compares with the
// safetensors converted independently (../shared/models). It skips while the importer is the
// stub of branch `fetch` (until branch `import` is merged).
TEST_F(Fetch, PytorchEntryIsImported) {
  ACTMAP_REQUIRE_SHARED_MODELS();
  std::string shared;
  for (const auto& d : model_search_path()) {
    if (fs::exists(d + "/celeba32-fletcher/generator.pt")) shared = d + "/celeba32-fletcher";
  }
  if (shared.empty()) GTEST_SKIP() << "celeba32-fletcher/generator.pt is not on ACTMAP_MODEL_PATH";
  fs::copy_file(shared + "/generator.pt", dir_ + "/www/generator.pt");
  fs::copy_file(test::project_models() + "/celeba32-fletcher.json", dir_ + "/registry/celeba32-fletcher.json");
  const Registry reg = registry("ok", {{"name", "celeba32-fletcher"},
                                       {"family", "sequential"},
                                       {"card", "celeba32-fletcher.json"},
                                       {"url", server_->url("ok", "generator.pt")},
                                       {"sha256", sha256_file(shared + "/generator.pt")},
                                       {"size", fs::file_size(shared + "/generator.pt")},
                                       {"format", "pytorch"}});
  FetchResult r;
  try {
    r = fetch_model(reg, "celeba32-fletcher");
  } catch (const Error& e) {
    if (std::string(e.what()).find("checkpoint import is not built yet") != std::string::npos) {
      GTEST_SKIP() << "the checkpoint importer is a stub on this branch: enable by merging branch `import`";
    }
    throw;
  }
  EXPECT_EQ(r.weights, cached("celeba32-fletcher/generator.safetensors"));
  EXPECT_FALSE(fs::exists(cached("celeba32-fletcher/generator.pt.part")));
  const auto got = read_safetensors(r.weights);
  const auto want = read_safetensors(shared + "/generator.safetensors");
  ASSERT_EQ(got.size(), want.size());
  for (const auto& [key, t] : want) {
    ASSERT_TRUE(got.count(key)) << key;
    EXPECT_EQ(got.at(key).shape, t.shape) << key;
    EXPECT_EQ(got.at(key).data, t.data) << key;
  }
  // The file users get is the one the committed card records.
  EXPECT_EQ(sha256_file(r.weights), load_model_card(test::project_models() + "/celeba32-fletcher.json").weights_sha256);
  // Present now (recognised by the upstream hash it records): not fetched again.
  EXPECT_TRUE(fetch_model(reg, "celeba32-fletcher").already_present);
}

TEST(Registry, CacheDirFollowsXdg) {
  {
    test::EnvVar xdg("XDG_CACHE_HOME", "/tmp/some cache");
    EXPECT_EQ(model_cache_dir(), "/tmp/some cache/actmap/models");
  }
  test::EnvVar home("HOME", "/home/someone");
  test::EnvVar restore_xdg("XDG_CACHE_HOME", "");  // restores the caller's value at the end
  {
    test::EnvVar xdg("XDG_CACHE_HOME", "relative/dir");  // invalid by the XDG spec: ignored
    EXPECT_EQ(model_cache_dir(), "/home/someone/.cache/actmap/models");
  }
  ::unsetenv("XDG_CACHE_HOME");
  EXPECT_EQ(model_cache_dir(), "/home/someone/.cache/actmap/models");
}

TEST(Registry, BadKeysAreNamed) {
  const json good = {{"actmap_model_registry", 1},
                     {"models",
                      {{{"name", "m"},
                        {"family", "dcgan"},
                        {"card", "m.json"},
                        {"url", "https://example.org/m.pt"},
                        {"sha256", std::string(64, 'a')},
                        {"size", 10},
                        {"license", "MIT"},
                        {"format", "pytorch"},
                        {"import", {{"prefix", "g_ema"}}}}}}};
  const Registry r = parse_registry(good.dump(), "reg.json");
  ASSERT_EQ(r.models.size(), 1u);
  EXPECT_EQ(r.models[0].format, RegistryFormat::PyTorch);
  EXPECT_EQ(r.models[0].import_prefix, "g_ema");
  EXPECT_EQ(r.models[0].size, 10u);
  EXPECT_EQ(r.card_path(r.models[0]), "m.json");
  test::expect_error([&] { r.find("n"); }, {"reg.json", "no model named 'n'", "lists: m"});

  auto bad = [&](const std::function<void(json&)>& mutate, const std::vector<std::string>& parts) {
    json doc = good;
    mutate(doc);
    test::expect_error([&] { parse_registry(doc.dump(), "reg.json"); }, parts);
  };
  bad([](json& d) { d["models"][0]["sizee"] = 3; }, {"reg.json", "models[0]", "sizee", "unknown key"});
  bad([](json& d) { d["models"][0].erase("sha256"); }, {"reg.json", "(m).sha256", "missing"});
  bad([](json& d) { d["models"][0]["sha256"] = "ABC"; }, {"(m).sha256", "64 lowercase hex"});
  bad([](json& d) { d["models"][0]["size"] = -5; }, {"(m).size", "-5"});
  bad([](json& d) { d["models"][0]["size"] = "10"; }, {"(m).size", "\"10\""});
  bad([](json& d) { d["models"][0]["format"] = "onnx"; }, {"(m).format", "onnx"});
  bad([](json& d) { d["models"][0]["url"] = "file:///etc/passwd"; }, {"(m).url", "http"});
  bad([](json& d) { d["models"][0]["name"] = "../evil"; }, {"models[0].name", "../evil"});
  bad([](json& d) { d["models"][0]["license"] = ""; }, {"(m).license"});
  bad([](json& d) { d["models"][0]["import"] = {{"prefx", "a"}}; }, {"(m).import.prefx", "unknown key"});
  bad([](json& d) { d["models"][0]["format"] = "safetensors"; }, {"(m).import", "pytorch"});
  bad([](json& d) { d["models"].push_back(d["models"][0]); }, {"models[1].name", "'m'", "twice"});
  bad([](json& d) { d["actmap_model_registry"] = 2; }, {"reg.json", "actmap_model_registry", "version 2"});
  bad([](json& d) { d["model"] = d["models"]; }, {"reg.json", "model: unknown key"});
  bad([](json& d) { d["models"] = json::object(); }, {"reg.json", "models", "list"});
  test::expect_error([] { parse_registry("{\"models\": [", "reg.json"); }, {"reg.json", "invalid JSON"});
}

// The committed registry: every entry's card exists and agrees with it; no model without a license.
TEST(Registry, CommittedRegistryIsConsistent) {
  const Registry reg = load_registry(test::project_models() + "/registry.json");
  ASSERT_FALSE(reg.models.empty());
  bool celeba = false;
  for (const auto& e : reg.models) {
    const ModelCard card = load_model_card(reg.card_path(e));
    EXPECT_EQ(card.name, e.name);
    EXPECT_EQ(card.family, e.family) << e.name;
    EXPECT_EQ(card.license, e.license) << e.name;
    EXPECT_NE(e.name, "ffhq64-vae") << "ffhq64-vae states no license: it must not be listed";
    if (e.name == "celeba32-fletcher") {
      celeba = true;
      EXPECT_EQ(e.license, "Apache-2.0");
      EXPECT_EQ(e.format, RegistryFormat::PyTorch);
      EXPECT_EQ(e.url, "https://raw.githubusercontent.com/fletchersarip93/face-generator/"
                       "50ce2ed215d2ed1331a3c34b07518f8aa408f063/generator.pt");
      for (const auto& d : model_search_path()) {
        const std::string pt = d + "/celeba32-fletcher/generator.pt";
        if (!fs::exists(pt)) continue;
        EXPECT_EQ(e.sha256, sha256_file(pt));
        EXPECT_EQ(e.size, fs::file_size(pt));
      }
    }
  }
  EXPECT_TRUE(celeba);
}

}  // namespace
}  // namespace actmap
