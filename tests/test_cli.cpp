// actmap-cli as a user runs it: exit codes, messages, files.
#include <array>
#include <cstdio>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "actmap/image.h"
#include "test_util.h"

namespace actmap {
namespace {

struct CliRun {
  int code;
  std::string out;  // stdout and stderr together
};

CliRun cli(const std::string& args) {
  const std::string cmd = std::string(ACTMAP_CLI_PATH) + " " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  CliRun r{-1, ""};
  if (!p) return r;
  std::array<char, 4096> buf;
  std::size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  const int status = pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

const std::string kCard = test::fixture("dcgan64/card.json");

TEST(Cli, HelpForEveryCommand) {
  for (const char* c : {"", "layers", "render", "bench"}) {
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

}  // namespace
}  // namespace actmap
