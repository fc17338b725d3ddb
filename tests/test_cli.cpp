// actmap-cli as a user runs it: exit codes, messages, files.
#include <filesystem>
#include <set>

#include <nlohmann/json.hpp>

#include "actmap/image.h"
#include "cli_run.h"
#include "test_util.h"

namespace actmap {
namespace {

using test::cli;
using test::cli_shell;
using test::CliRun;

const std::string kCard = test::fixture("dcgan64/card.json");

TEST(Cli, HelpForEveryCommand) {
  for (const char* c : {"", "layers", "render", "bench", "check", "ops", "train", "import"}) {
    const CliRun r = cli(std::string(c) + " --help");
    EXPECT_EQ(r.code, 0) << c;
    EXPECT_NE(r.out.find("--"), std::string::npos) << c;
  }
}

TEST(Cli, LayersJson) {
  const CliRun r = cli("layers --json -m " + kCard);
  ASSERT_EQ(r.code, 0) << r.out;
  const auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["taps"].size(), 5u);
  EXPECT_EQ(j["taps"][1]["name"], "main.5");
  EXPECT_EQ(j["taps"][1]["channels"], 32);
  EXPECT_EQ(j["taps"][4]["height"], 64);
}

TEST(Cli, RenderMatchesReferenceAndDumpsTaps) {
  const std::string dir = test::temp_dir("cli_render");
  const CliRun r = cli("render -m " + kCard + " --z " + test::fixture("dcgan64/z.npy") + " -o " + dir + "/grid.png --tensor-out " +
                    dir + "/out.npy --dump-taps " + dir + "/taps");
  ASSERT_EQ(r.code, 0) << r.out;
  // The raw output equals the PyTorch reference's output tap.
  const at::Tensor out = test::load_tensor(dir + "/out.npy");
  const at::Tensor ref = test::load_tensor(test::fixture("dcgan64/main.13.npy"));
  ASSERT_EQ(out.sizes(), ref.sizes());
  EXPECT_LE(test::closeness(out, ref, 1e-4, 1e-4), 1.0);
  const at::Tensor tap = test::load_tensor(dir + "/taps/main.8.npy");
  EXPECT_LE(test::closeness(tap, test::load_tensor(test::fixture("dcgan64/main.8.npy")), 1e-4, 1e-4), 1.0);
  // Two samples side by side with a 2-pixel gap.
  const Image grid = read_image(dir + "/grid.png");
  EXPECT_EQ(grid.width, 64 * 2 + 2);
  EXPECT_EQ(grid.height, 64);
  // Pixel (0, 0) of sample 0 follows the documented mapping round((v + 1) / 2 * 255).
  const float v = ref[0][0][0][0].item<float>();
  EXPECT_EQ(grid.pixels[0], static_cast<int>(std::floor((v + 1.0) / 2.0 * 255.0 + 0.5)));
}

TEST(Cli, RenderWithEdits) {
  const std::string dir = test::temp_dir("cli_edits");
  write_file_atomic(dir + "/edits.json", std::string(R"({"edits":[{"tap":"main.2","op":"ablate","channels":"all"}]})"));
  const CliRun r = cli("render -m " + kCard + " --seed 3 --count 4 -o " + dir + "/a.png --edits " + dir + "/edits.json --tensor-out " + dir + "/a.npy");
  ASSERT_EQ(r.code, 0) << r.out;
  const at::Tensor a = test::load_tensor(dir + "/a.npy");
  EXPECT_EQ(a.size(0), 4);
  // With the first tap ablated every latent gives the same image.
  EXPECT_LE((a[0] - a[3]).abs().max().item<float>(), 1e-6);
}

TEST(Cli, ErrorsAreMessagesNotCrashes) {
  CliRun r = cli("render -m /nonexistent/card.json --seed 1 -o /tmp/x.png");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("actmap-cli: error:"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("/nonexistent/card.json"), std::string::npos) << r.out;

  r = cli("render -m " + kCard + " --z /nonexistent/z.npy -o /tmp/x.png");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("/nonexistent/z.npy"), std::string::npos) << r.out;

  r = cli("render -m " + kCard + " --seed 1 -o /tmp/x.png --device cuda");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("cuda"), std::string::npos) << r.out;

  r = cli("render -m " + kCard + " --seed 1 --z " + test::fixture("dcgan64/z.npy") + " -o /tmp/x.png");
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.out.find("excludes"), std::string::npos) << r.out;

  r = cli("render -m " + kCard + " --seed 1");
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.out.find("--out"), std::string::npos) << r.out;
}

TEST(Cli, BenchReportsThreadsAndBlas) {
  const CliRun r = cli("bench -m " + kCard + " --iters 3 --warmup 1");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("BLAS"), std::string::npos);
  EXPECT_NE(r.out.find("full forward"), std::string::npos);
  EXPECT_NE(r.out.find("re-run from main.8 (16x16)"), std::string::npos);
}

// A session renders to the same bytes on every run, --seed carries its edits to another latent,
// and --seeds writes one file per seed with exactly those pixels.
TEST(Cli, RendersSessionsReproducibly) {
  const std::string dir = test::temp_dir("cli_session");
  const nlohmann::json doc = {
      {"actmap_session", 1},
      {"model", {{"card", test::fixture("dcgan32/card.json")}}},
      {"latent", {{"seed", 5}}},
      {"edits", nlohmann::json::parse(R"([
          {"tap":"main.2","op":"multiply","params":{"factor":3},"channels":{"range":[0,15]}},
          {"tap":"main.5","op":"rotate","params":{"degrees":60},"channels":"all"},
          {"tap":"main.8","op":"brush","params":{"points":[[3,3],[12,9]],"radius":2.5,"strength":2},"channels":[0,2]}])")}};
  const std::string session = dir + "/s.json";
  write_file_atomic(session, doc.dump(2));

  CliRun r = cli("render " + session + " -o " + dir + "/a.png --tensor-out " + dir + "/a.npy");
  ASSERT_EQ(r.code, 0) << r.out;
  r = cli("render " + session + " -o " + dir + "/b.png --tensor-out " + dir + "/b.npy");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(read_file_bytes(dir + "/a.png"), read_file_bytes(dir + "/b.png"));
  EXPECT_EQ(read_file_bytes(dir + "/a.npy"), read_file_bytes(dir + "/b.npy"));

  // The same edits through the model-and-edits path on the same seed give the same bits.
  write_file_atomic(dir + "/edits.json", doc["edits"].dump());
  r = cli("render -m " + test::fixture("dcgan32/card.json") + " --seed 5 --edits " + dir + "/edits.json -o " + dir +
          "/c.png --tensor-out " + dir + "/c.npy");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(read_file_bytes(dir + "/a.npy"), read_file_bytes(dir + "/c.npy"));

  // The edits change the output; on another seed they give another image.
  r = cli("render -m " + test::fixture("dcgan32/card.json") + " --seed 5 -o " + dir + "/plain.png --tensor-out " + dir + "/plain.npy");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(read_file_bytes(dir + "/a.npy"), read_file_bytes(dir + "/plain.npy"));

  r = cli("render " + session + " --seeds 2-4 -o " + dir + "/many");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("wrote 3 images"), std::string::npos) << r.out;
  r = cli("render " + session + " --seed 3 -o " + dir + "/three.png");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(read_file_bytes(dir + "/many/seed-3.png"), read_file_bytes(dir + "/three.png"));
  EXPECT_NE(read_file_bytes(dir + "/many/seed-3.png"), read_file_bytes(dir + "/many/seed-4.png"));
  const Image img = read_image(dir + "/many/seed-2.png");
  EXPECT_EQ(img.width, 32);
  EXPECT_EQ(img.height, 32);

  r = cli("check " + session);
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("ok: " + session + ": model dcgan32, seed 5, 3 edits (3 enabled)"), std::string::npos) << r.out;
}

TEST(Cli, BadSessionsFailWithTheirLocation) {
  const std::string dir = test::temp_dir("cli_bad_session");
  const std::string session = dir + "/s.json";
  write_file_atomic(session, R"({"actmap_session": 1, "model": ")" + test::fixture("dcgan32/card.json") +
                                 R"(", "latent": {"seed": 1}, "edits": [{"tap": "main.5", "op": "rotate", "params": {"degrees": "ninety"}}]})");
  for (const std::string& cmd : {"render " + session + " -o " + dir + "/x.png", "check " + session}) {
    const CliRun r = cli(cmd);
    EXPECT_EQ(r.code, 1) << cmd;
    EXPECT_NE(r.out.find(session + ": /edits/0/params/degrees: expected a number, got \"ninety\""), std::string::npos) << r.out;
  }
  EXPECT_FALSE(std::filesystem::exists(dir + "/x.png"));
  const CliRun m = cli("render " + session + " -m ffhq64-vae -o " + dir + "/x.png");
  EXPECT_EQ(m.code, 1);
  EXPECT_NE(m.out.find("a session names its model"), std::string::npos) << m.out;
  const CliRun seeds = cli("render " + session + " --seeds 9-2 -o " + dir);
  EXPECT_NE(seeds.code, 0);
}

TEST(Cli, OpsListsTheWholeRegistry) {
  const CliRun r = cli("ops --json");
  ASSERT_EQ(r.code, 0) << r.out;
  const auto ops = nlohmann::json::parse(r.out);
  std::set<std::string> names;
  for (const auto& op : ops) names.insert(op["name"].get<std::string>());
  for (const char* want : {"brush", "fill", "rect", "erase", "rotate", "scale", "translate", "flip", "mirror", "multiply", "add",
                           "negate", "invert", "threshold", "clamp", "ablate", "erode", "dilate", "mean_filter", "gaussian_blur",
                           "sharpen", "sobel", "shuffle", "vanish", "sin_disrupt"}) {
    EXPECT_TRUE(names.count(want)) << want;
  }
  EXPECT_EQ(names.size(), 25u);
}

// Training as a user runs it, on a tiny card (nz 8, ngf 4, 32x32) and a folder of 31 PNGs, a
// corrupt .png and a .txt.
std::string train_setup(const std::string& name) {
  const std::string dir = test::temp_dir(name);
  test::write_training_folder(dir + "/data", 31);
  write_file_atomic(dir + "/card.json",
                    std::string(R"({"family": "dcgan", "config": {"nz": 8, "ngf": 4, "nc": 3, "image_size": 32}, "weights": "x"})"));
  return dir;
}

TEST(TrainCli, TrainsAndTheResultRenders) {
  const std::string dir = train_setup("cli_train");
  const std::string args = "train --card " + dir + "/card.json --data " + dir + "/data --epochs 1 --batch 8 --samples 4 -o " +
                           dir + "/out/m.json";
  const CliRun r = cli(args);
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("epoch 1/1 [########################] 4/4"), std::string::npos) << r.out;  // stderr is no TTY here
  EXPECT_NE(r.out.find("skipped 1 unreadable image"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("corrupt.png"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("trained 4 steps on 31 images"), std::string::npos) << r.out;
  for (const char* f : {"m.json", "m.safetensors", "m-checkpoint.safetensors", "m-samples/epoch-001.png"}) {
    EXPECT_TRUE(std::filesystem::exists(dir + "/out/" + f)) << f;
  }
  const auto card = nlohmann::json::parse(read_file_text(dir + "/out/m.json"));
  EXPECT_EQ(card["training"]["command"], std::string(ACTMAP_CLI_PATH) + " " + args);
  const CliRun rr = cli("render -m " + dir + "/out/m.json --seed 0 --count 4 -o " + dir + "/grid.png");
  ASSERT_EQ(rr.code, 0) << rr.out;
  EXPECT_EQ(read_image(dir + "/grid.png").width, 2 * 32 + 2);
}

TEST(TrainCli, ErrorsAreMessages) {
  const std::string dir = train_setup("cli_train_errors");
  CliRun r = cli("train --card " + dir + "/card.json --data " + dir + "/nothing -o " + dir + "/m.json");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("actmap-cli: error: " + dir + "/nothing: no such directory"), std::string::npos) << r.out;
  r = cli("train --card " + dir + "/card.json --data " + dir + "/data --size 64 -o " + dir + "/m.json");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("--size 64 does not match the output size 32x32"), std::string::npos) << r.out;
  r = cli("train --data " + dir + "/data -o " + dir + "/m.json");
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.out.find("--card"), std::string::npos) << r.out;
  EXPECT_FALSE(std::filesystem::exists(dir + "/m.json"));
}

// Ctrl+C and SIGTERM: a checkpoint at the next step boundary, exit 130 / 143, and a resume command
// that works as printed.
TEST(TrainCli, SignalsSaveACheckpointToResumeFrom) {
  const std::string dir = train_setup("cli_train_signal");
  for (const auto& [sig, code] : {std::pair<std::string, int>{"INT", 130}, {"TERM", 143}}) {
    const std::string out = dir + "/" + sig;
    // Signalled once the first epoch's samples exist, so the handlers are surely installed.
    write_file_atomic(dir + "/run.sh",
                      std::string(ACTMAP_CLI_PATH) + " train --card " + dir + "/card.json --data " + dir +
                          "/data --batch 8 --samples 1 --epochs 100000 -o " + out + "/m.json > " + out + ".log 2>&1 &\n"
                          "pid=$!; i=0\n"
                          "while [ ! -e " + out + "/m-samples/epoch-001.png ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i+1)); done\n"
                          "kill -" + sig + " $pid; wait $pid; echo \"exit $?\"\n");
    const CliRun r = cli_shell("sh " + dir + "/run.sh");
    EXPECT_EQ(r.out, "exit " + std::to_string(code) + "\n") << sig;
    const std::string log = read_file_text(out + ".log");
    EXPECT_NE(log.find(sig == "INT" ? "interrupted (SIGINT) after step " : "stopped (SIGTERM) after step "), std::string::npos) << log;
    EXPECT_TRUE(std::filesystem::exists(out + "/m-checkpoint.safetensors"));
    EXPECT_FALSE(std::filesystem::exists(out + "/m.json"));
    const auto at = log.find("after step "), hint = log.find("resume with: ");
    ASSERT_NE(hint, std::string::npos) << log;
    const long steps = std::stol(log.substr(at + 11));
    std::string resume = log.substr(hint + 13);
    resume = resume.substr(0, resume.find('\n'));
    EXPECT_NE(resume.find("--resume " + out + "/m-checkpoint.safetensors"), std::string::npos) << resume;
    const CliRun rr = cli_shell(resume + " --max-steps " + std::to_string(steps + 2) + " 2>&1");
    EXPECT_EQ(rr.code, 0) << rr.out;
    EXPECT_NE(rr.out.find("trained " + std::to_string(steps + 2) + " steps"), std::string::npos) << rr.out;
  }
}

TEST(Cli, ExampleSessionsCheckAndRender) {
  ACTMAP_REQUIRE_SHARED_MODELS();
  const std::string dir = test::temp_dir("cli_examples");
  int seen = 0;
  for (const auto& entry : std::filesystem::directory_iterator(std::string(ACTMAP_TEST_MODELS) + "/../assets/examples")) {
    if (entry.path().extension() != ".json") continue;
    ++seen;
    const std::string path = entry.path().string();
    CliRun r = cli("check " + path);
    EXPECT_EQ(r.code, 0) << r.out;
    r = cli("render " + path + " -o " + dir + "/" + entry.path().stem().string() + ".png");
    EXPECT_EQ(r.code, 0) << r.out;
  }
  EXPECT_GE(seen, 2);
}

}  // namespace
}  // namespace actmap
