// actmap-cli animate: sweep a session value or walk its latent through seeds, frame by frame, to
// PNGs, a GIF or an MP4.
#include <chrono>
#include <iostream>

#include <CLI/CLI.hpp>

#include "actmap/analysis/animation.h"
#include "actmap/io/error.h"
#include "actmap/model/generator.h"
#include "actmap/render/renderer.h"
#include "actmap/session/session.h"
#include "cli_common.h"

namespace actmap::cli {

void register_animate(CLI::App& app) {
  struct Options {
    ModelOptions model;
    std::string session, param, seed_walk, out;
    double from = 0.0, to = 0.0, fps = 30.0;
    int frames = 60, scale = 1;
  };
  auto opts = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand(
      "animate",
      "Render a session frame by frame while a number in it sweeps from --from to --to (any numeric\n"
      "value a JSON pointer addresses, e.g. an edit's parameter) and/or its latent walks through seeds\n"
      "(slerp in z). Frames go to DIR/frame-NNNN.png, or through ffmpeg to .gif or .mp4.\n"
      "  actmap-cli animate s.json --param /edits/2/params/degrees --from 0 --to 360 --frames 120 -o spin.mp4\n"
      "  actmap-cli animate s.json --seed-walk 0,7,3 --frames 90 --scale 4 -o walk.gif\n"
      "  actmap-cli animate s.json --param /edits/0/params/factor --from 1 --to 4 --frames 30 -o frames/");
  cmd->add_option("session", opts->session, "The session to animate")->required();
  add_device_options(*cmd, opts->model);
  add_class_options(*cmd, opts->model);
  auto* param = cmd->add_option("--param", opts->param, "JSON pointer of the number to sweep, e.g. /edits/2/params/degrees");
  auto* from = cmd->add_option("--from", opts->from, "Its value at the first frame")->needs(param);
  auto* to = cmd->add_option("--to", opts->to, "Its value at the last frame")->needs(param);
  param->needs(from)->needs(to);
  auto* walk = cmd->add_option("--seed-walk", opts->seed_walk, "A,B,...: walk the latent from seed A to B to ... (slerp in z)");
  cmd->add_option("--frames", opts->frames, "Number of frames (first and last at the end values)")
      ->check(CLI::Range(1, 1000000))->capture_default_str();
  cmd->add_option("-o,--out", opts->out, "OUT.mp4, OUT.gif (ffmpeg) or a directory for frame-NNNN.png")->required();
  cmd->add_option("--fps", opts->fps, "Frames per second of a GIF or MP4")->capture_default_str();
  cmd->add_option("--scale", opts->scale, "Enlarge each frame by this whole factor (nearest neighbour)")
      ->check(CLI::Range(1, 64))->capture_default_str();
  cmd->callback([opts, param, walk] {
    if (!param->count() && !walk->count()) throw Error("nothing to animate: give --param (with --from and --to) and/or --seed-walk");
    Session session = load_session_file(opts->session);
    apply_class_options(opts->model, session.synthesis);
    Animation animation(session, opts->frames, opts->session);
    if (walk->count()) animation.walk_seeds(parse_seed_list(opts->seed_walk));
    if (param->count()) animation.sweep(opts->param, opts->from, opts->to);
    FrameWriter writer(opts->out, opts->fps, opts->frames);
    const auto gen = open_session_model(session, opts->model);
    Renderer renderer(gen);
    const auto t0 = std::chrono::steady_clock::now();
    {
      ProgressBar progress("animate");
      render_animation(renderer, animation, opts->scale, writer, std::ref(progress));
    }
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::cout << "wrote " << opts->out << (writer.video() ? "" : "/ (frame-NNNN.png)") << ": " << opts->frames << " frames in "
              << s << " s\n";
  });
}

}  // namespace actmap::cli
