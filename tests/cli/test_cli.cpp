// actmap-cli as a user runs it: exit codes, messages, files.
#include <algorithm>
#include <array>
#include <cstdio>
#include <filesystem>
#include <set>

#include <ATen/Context.h>
#include <nlohmann/json.hpp>

#include "actmap/io/image.h"
#include "actmap/model/generator.h"
#include "actmap/session/session.h"
#include "cli_run.h"
#include "test_util.h"

namespace actmap {
namespace {

using test::cli;
using test::cli_shell;
using test::CliRun;

const std::string kCard = test::fixture("dcgan64/card.json");

TEST(Cli, HelpForEveryCommand) {
  for (const char* c : {"", "layers", "render", "bench", "check", "ops", "train", "cluster", "dissect", "animate", "fetch", "import",
                        "sweep", "sensitivity", "import-bending", "export-bending", "report"}) {
    const CliRun r = cli(std::string(c) + " --help");
    EXPECT_EQ(r.code, 0) << c;
    EXPECT_NE(r.out.find("--"), std::string::npos) << c;
  }
}

// StyleGAN2 flags: truncation and noise reach the generator, --ws-out / --ws round-trip W+.
TEST(Cli, StyleGAN2TruncationNoiseAndWPlusFiles) {
  const std::string dir = test::temp_dir("cli_sg2");
  const std::string card = test::fixture("stylegan2/skip16.json");
  CliRun r = cli("render -m " + card + " --seed 4 --truncation 0.6 --truncation-cutoff 3 --noise none -o " + dir + "/a.png --tensor-out " +
                 dir + "/a.npy --ws-out " + dir + "/ws.npy");
  ASSERT_EQ(r.code, 0) << r.out;
  const auto gen = load_generator(load_model_card(card));
  SynthesisOptions o;
  o.truncation_psi = 0.6;
  o.truncation_cutoff = 3;
  o.noise_mode = NoiseMode::None;
  const at::Tensor expected = gen->forward(latents_from_seeds(gen->card().latent, 4, 1), o);
  EXPECT_LE(test::closeness(test::load_tensor(dir + "/a.npy"), expected, 1e-6, 1e-5), 1.0);
  const at::Tensor ws = test::load_tensor(dir + "/ws.npy");
  EXPECT_EQ(ws.sizes(), (at::IntArrayRef{1, gen->card().stylegan2->num_ws(), 8}));
  r = cli("render -m " + card + " --ws " + dir + "/ws.npy --noise none -o " + dir + "/b.png --tensor-out " + dir + "/b.npy");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_TRUE(at::equal(test::load_tensor(dir + "/b.npy"), test::load_tensor(dir + "/a.npy")));
  r = cli("render -m " + card + " --seed 4 --noise random --noise-seed 2 -o " + dir + "/c.png --tensor-out " + dir + "/c.npy");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_FALSE(at::allclose(test::load_tensor(dir + "/c.npy"), test::load_tensor(dir + "/a.npy")));

  r = cli("render -m " + card + " --ws " + dir + "/a.npy -o " + dir + "/x.png");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("a.npy: W+ must have shape [N, " + std::to_string(gen->card().stylegan2->num_ws()) + ", 8]"), std::string::npos) << r.out;
  r = cli("render -m " + kCard + " --seed 1 --truncation 0.5 -o " + dir + "/x.png");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("need a StyleGAN2 or StyleGAN3 model"), std::string::npos) << r.out;
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

  if (!at::hasCUDA()) {  // with a GPU this render succeeds
    r = cli("render -m " + kCard + " --seed 1 -o /tmp/x.png --device cuda");
    EXPECT_EQ(r.code, 1);
    EXPECT_NE(r.out.find("cuda"), std::string::npos) << r.out;
  }

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
  EXPECT_NE(r.out.find("edit at main.8 (16x16)"), std::string::npos);
  EXPECT_NE(r.out.find("edit at main.2 "), std::string::npos);

  const CliRun one = cli("bench -m " + kCard + " --iters 2 --warmup 0 --tap main.8");
  ASSERT_EQ(one.code, 0) << one.out;
  EXPECT_NE(one.out.find("edit at main.8 (16x16)"), std::string::npos) << one.out;
  EXPECT_EQ(one.out.find("edit at main.2 "), std::string::npos) << one.out;
  const CliRun bad = cli("bench -m " + kCard + " --iters 2 --tap main.99");
  EXPECT_EQ(bad.code, 1);
  EXPECT_NE(bad.out.find("main.99"), std::string::npos) << bad.out;
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
                           "sharpen", "sobel", "shuffle", "vanish", "sin_disrupt", "sin_field", "style_mix", "w_swap", "w_noise",
                           "w_negate", "interpolate", "weight_zero", "weight_ones", "weight_negate", "weight_transpose",
                           "weight_rotate90", "weight_mean"}) {
    EXPECT_TRUE(names.count(want)) << want;
  }
  EXPECT_EQ(names.size(), 37u);
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

namespace actmap {
namespace {

// A session on the dcgan32 fixture with a rotation at main.5 (and a multiply at main.8).
std::string write_animation_session(const std::string& dir, double degrees = 0.0) {
  const nlohmann::json doc = {
      {"actmap_session", 1},
      {"model", {{"card", test::fixture("dcgan32/card.json")}}},
      {"latent", {{"seed", 4}}},
      {"edits", {{{"tap", "main.5"}, {"op", "rotate"}, {"params", {{"degrees", degrees}}}, {"channels", "all"}},
                 {{"tap", "main.8"}, {"op", "multiply"}, {"params", {{"factor", 2}}}, {"channels", {{"range", {0, 3}}}}}}}};
  const std::string path = dir + "/s" + std::to_string(static_cast<int>(degrees)) + ".json";
  write_file_atomic(path, doc.dump(2));
  return path;
}

bool have_ffmpeg() { return cli_shell("ffmpeg -version >/dev/null 2>&1 && ffprobe -version >/dev/null 2>&1").code == 0; }

int video_frames(const std::string& path) {
  const CliRun r = cli_shell("ffprobe -v error -count_frames -select_streams v:0 -show_entries stream=nb_read_frames -of csv=p=0 " + path);
  return r.code == 0 ? std::atoi(r.out.c_str()) : -1;
}

TEST(AnimateCli, FramesEqualSingleRendersAtBothEnds) {
  const std::string dir = test::temp_dir("cli_animate");
  const std::string session = write_animation_session(dir);
  CliRun r = cli("animate " + session + " --param /edits/0/params/degrees --from 0 --to 90 --frames 7 -o " + dir + "/frames");
  ASSERT_EQ(r.code, 0) << r.out;
  int n = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir + "/frames")) n += e.path().extension() == ".png";
  EXPECT_EQ(n, 7);
  // Frame 0 is the session with 0 degrees, frame 6 with 90: byte-equal to actmap-cli render.
  ASSERT_EQ(cli("render " + write_animation_session(dir, 0) + " -o " + dir + "/at0.png").code, 0);
  ASSERT_EQ(cli("render " + write_animation_session(dir, 90) + " -o " + dir + "/at90.png").code, 0);
  EXPECT_EQ(read_file_bytes(dir + "/frames/frame-0000.png"), read_file_bytes(dir + "/at0.png"));
  EXPECT_EQ(read_file_bytes(dir + "/frames/frame-0006.png"), read_file_bytes(dir + "/at90.png"));
  EXPECT_NE(read_file_bytes(dir + "/frames/frame-0003.png"), read_file_bytes(dir + "/at0.png"));

  // A seed walk starts and ends on the seeds' own renders; --scale enlarges by nearest neighbour.
  r = cli("animate " + session + " --seed-walk 2,9,5 --frames 5 --scale 3 -o " + dir + "/walk");
  ASSERT_EQ(r.code, 0) << r.out;
  ASSERT_EQ(cli("render " + session + " --seed 2 -o " + dir + "/seed2.png").code, 0);
  ASSERT_EQ(cli("render " + session + " --seed 5 -o " + dir + "/seed5.png").code, 0);
  ASSERT_EQ(cli("render " + session + " --seed 9 -o " + dir + "/seed9.png").code, 0);
  const Image first = read_image(dir + "/walk/frame-0000.png"), small = read_image(dir + "/seed2.png");
  ASSERT_EQ(first.width, 96);
  for (int y = 0; y < 96; ++y) {
    for (int x = 0; x < 96; ++x) {
      for (int c = 0; c < 3; ++c) {
        ASSERT_EQ(first.pixels[static_cast<std::size_t>((y * 96 + x) * 3 + c)],
                  small.pixels[static_cast<std::size_t>(((y / 3) * 32 + x / 3) * 3 + c)]);
      }
    }
  }
  // Frame 2 of 5 over three seeds is exactly the middle seed.
  r = cli("animate " + session + " --seed-walk 2,9,5 --frames 5 -o " + dir + "/walk1");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(read_file_bytes(dir + "/walk1/frame-0002.png"), read_file_bytes(dir + "/seed9.png"));
  EXPECT_EQ(read_file_bytes(dir + "/walk1/frame-0004.png"), read_file_bytes(dir + "/seed5.png"));
}

TEST(AnimateCli, VideosHaveTheRequestedFrameCount) {
  if (!have_ffmpeg()) GTEST_SKIP() << "ffmpeg/ffprobe not on PATH (cmake/install-deps.sh installs them)";
  const std::string dir = test::temp_dir("cli_video");
  const std::string session = write_animation_session(dir);
  CliRun r = cli("animate " + session + " --param /edits/1/params/factor --from 1 --to 4 --frames 12 -o " + dir + "/a.mp4");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(video_frames(dir + "/a.mp4"), 12);
  r = cli("animate " + session + " --param /edits/0/params/degrees --from 0 --to 360 --frames 9 --fps 12 -o " + dir + "/a.gif");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(video_frames(dir + "/a.gif"), 9);
  // Nothing temporary is left beside the results.
  int files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) files += e.path().extension() != ".json";
  EXPECT_EQ(files, 2);
}

TEST(AnimateCli, ErrorsNameTheValueAtFault) {
  const std::string dir = test::temp_dir("cli_animate_errors");
  const std::string session = write_animation_session(dir);
  const std::string base = "animate " + session + " --frames 3 -o " + dir + "/out ";
  auto expect = [&](const std::string& args, const std::vector<std::string>& parts) {
    const CliRun r = cli(base + args);
    EXPECT_EQ(r.code, 1) << args << ": " << r.out;
    for (const auto& p : parts) EXPECT_NE(r.out.find(p), std::string::npos) << args << ": " << r.out;
  };
  expect("--param /edits/5/params/degrees --from 0 --to 1", {"/edits/5/params/degrees", "no value there", "/edits/0/params/degrees"});
  expect("--param /edits/0/op --from 0 --to 1", {"/edits/0/op", "\"rotate\"", "not a number"});
  expect("--param edits/0 --from 0 --to 1", {"'edits/0'", "not a JSON pointer"});
  expect("--param /edits/0/params/degrees --from 0 --to 5000", {"/edits/0/params/degrees", "5000"});
  expect("--seed-walk 3,x", {"'x'", "--seed-walk"});
  expect("--seed-walk 3", {"'3'", "fewer than two"});
  expect("", {"nothing to animate"});
  const CliRun avi = cli("animate " + session + " --seed-walk 1,2 --frames 3 -o " + dir + "/out.avi");
  EXPECT_EQ(avi.code, 1);
  EXPECT_NE(avi.out.find("'.avi'"), std::string::npos) << avi.out;
  const CliRun seeds = cli("render " + session + " --seeds 9-3 -o " + dir + "/many");
  EXPECT_EQ(seeds.code, 1);
  EXPECT_NE(seeds.out.find("'9-3'"), std::string::npos) << seeds.out;
  EXPECT_NE(cli("render " + session + " --seeds 1-x -o " + dir + "/many").out.find("'1-x'"), std::string::npos);
}

TEST(BatchCli, EverySeedEqualsItsSingleRenderPlusAContactSheet) {
  const std::string dir = test::temp_dir("cli_batch");
  const std::string session = write_animation_session(dir, 30);
  const CliRun r = cli("render " + session + " --seeds 10-14 -o " + dir + "/out");
  ASSERT_EQ(r.code, 0) << r.out;
  int n = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir + "/out")) n += e.path().filename().string().rfind("seed-", 0) == 0;
  EXPECT_EQ(n, 5);
  for (int s = 10; s <= 14; ++s) {
    ASSERT_EQ(cli("render " + session + " --seed " + std::to_string(s) + " -o " + dir + "/one.png").code, 0);
    EXPECT_EQ(read_file_bytes(dir + "/out/seed-" + std::to_string(s) + ".png"), read_file_bytes(dir + "/one.png")) << s;
  }
  // Five 32x32 images in a 3x2 grid with 2-pixel gaps.
  const Image sheet = read_image(dir + "/out/contact-sheet.png");
  EXPECT_EQ(sheet.width, 3 * 32 + 2 * 2);
  EXPECT_EQ(sheet.height, 2 * 32 + 2);
}

TEST(ClusterCli, WritesLabelsThatSelectorsUse) {
  const std::string dir = test::temp_dir("cli_cluster");
  const std::string session = write_animation_session(dir);
  CliRun r = cli("cluster --session " + session + " --tap main.5 --k 3 --samples 8 --restarts 3");
  ASSERT_EQ(r.code, 0) << r.out;
  for (const char* k : {"   2  ", "   3  ", "   7  ", "<- chosen"}) EXPECT_NE(r.out.find(k), std::string::npos) << k << r.out;
  const Session s = load_session(session);
  ASSERT_EQ(s.clusters.count("main.5"), 1u);
  EXPECT_EQ(s.clusters.at("main.5").size(), 16u);  // dcgan32's main.5: 16 channels
  EXPECT_EQ(*std::max_element(s.clusters.at("main.5").begin(), s.clusters.at("main.5").end()), 2);
  // The same arguments give the same labels, written to a file this time.
  r = cli("cluster -m " + test::fixture("dcgan32/card.json") + " --tap main.5 --k 3 --samples 8 --restarts 3 -o " + dir + "/c.json");
  ASSERT_EQ(r.code, 0) << r.out;
  const auto doc = nlohmann::json::parse(read_file_text(dir + "/c.json"));
  EXPECT_EQ(doc["clusters"]["main.5"].get<std::vector<int>>(), s.clusters.at("main.5"));
  EXPECT_EQ(doc["silhouette"].size(), 7u);

  r = cli("cluster -m " + test::fixture("dcgan32/card.json") + " --tap main.9 -o " + dir + "/c.json");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("no tap named 'main.9'"), std::string::npos) << r.out;
}

// --method network_bending with Network Bending's sampling, and its dictionary format: every channel
// listed as {cluster_index, feature_index} under the layer number (b8.conv0 is its layer 1).
TEST(ClusterCli, NetworkBendingMethodAndDictionary) {
  const std::string dir = test::temp_dir("cli_cluster_nb");
  const std::string skip16 = test::fixture("stylegan2/skip16.json");
  CliRun r = cli("cluster -m " + skip16 + " --tap b8.conv0 --method network_bending --truncation 0.5 --samples 4 --restarts 2 -o " +
                 dir + "/c.json --dict-out " + dir + "/d.yaml");
  ASSERT_EQ(r.code, 0) << r.out;
  const auto labels = nlohmann::json::parse(read_file_text(dir + "/c.json"))["clusters"]["b8.conv0"].get<std::vector<int>>();
  ASSERT_EQ(labels.size(), 8u);
  EXPECT_EQ(*std::max_element(labels.begin(), labels.end()), 4);  // its table: 5 clusters at layer 1
  std::string want = "1:\n";
  for (std::size_t c = 0; c < labels.size(); ++c) {
    want += "- {cluster_index: " + std::to_string(labels[c]) + ", feature_index: " + std::to_string(c) + "}\n";
  }
  EXPECT_EQ(read_file_text(dir + "/d.yaml"), want);
  r = cli("cluster -m " + skip16 + " --tap b8.torgb --samples 2 --dict-out " + dir + "/d.yaml -o " + dir + "/c.json");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("b8.torgb is not one of Network Bending's layers"), std::string::npos) << r.out;
  r = cli("cluster -m " + test::fixture("dcgan32/card.json") + " --tap main.5 --truncation 0.5 -o " + dir + "/c.json");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("truncation needs a StyleGAN2 model"), std::string::npos) << r.out;
}

TEST(DissectCli, RanksAndAppliesAnEdit) {
  const std::string dir = test::temp_dir("cli_dissect");
  const std::string session = write_animation_session(dir);
  Image mask;
  mask.width = mask.height = 32;
  mask.channels = 1;
  mask.pixels.assign(32 * 32, 0);
  for (int y = 4; y < 14; ++y) for (int x = 8; x < 24; ++x) mask.pixels[static_cast<std::size_t>(y * 32 + x)] = 255;
  write_png(dir + "/mask.png", mask);
  CliRun r = cli("dissect --session " + session + " --tap main.8 --region " + dir + "/mask.png --samples 8 --top 3 --csv " +
                 dir + "/units.csv --apply ablate");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("rank  channel"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("measured effect over 8 samples"), std::string::npos) << r.out;
  const Session s = load_session(session);
  ASSERT_EQ(s.edits.size(), 3u);
  EXPECT_EQ(s.edits[2].op, "ablate");
  EXPECT_EQ(s.edits[2].channels.list.size(), 3u);
  const std::string csv = read_file_text(dir + "/units.csv");
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 1 + 8);  // header + dcgan32's main.8 has 8 channels

  mask.pixels.assign(32 * 32, 0);
  write_png(dir + "/empty.png", mask);
  r = cli("dissect --session " + session + " --tap main.8 --region " + dir + "/empty.png");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find(dir + "/empty.png: the region is empty"), std::string::npos) << r.out;
  r = cli("dissect --session " + session + " --tap main.8 --region " + dir + "/mask.png --apply boost:x");
  EXPECT_NE(r.out.find("'boost:x'"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace actmap
