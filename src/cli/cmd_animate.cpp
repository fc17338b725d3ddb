// actmap-cli animate: sweep a session value or walk its latent through seeds, frame by frame, to
// PNGs, a GIF or an MP4.
#include <chrono>
#include <cstdio>
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
    std::string session, param, seed_walk, out, shard, dask;
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
      "  actmap-cli animate s.json --param /edits/0/params/factor --from 1 --to 4 --frames 30 -o frames/\n"
      "  actmap-cli animate s.json --seed-walk 0,7 --frames 4000 --shard 3/8 -o frames/   an eighth of the frames");
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
  auto* shard = cmd->add_option("--shard", opts->shard,
                                "K/N: render only the K-th of N equal runs of the frames into the frame directory -o (e.g. one\n"
                                "task of a Slurm job array); the union of all N is what one process writes");
  auto* dask = cmd->add_option("--dask", opts->dask,
                               "SCHEDULER_ADDRESS: render the frames on a Dask cluster (actmap.distributed), the video\n"
                               "assembled here; the workers must share the output's folder")
                   ->excludes(shard);
  cmd->callback([opts, param, walk, shard, dask] {
    if (!param->count() && !walk->count()) throw Error("nothing to animate: give --param (with --from and --to) and/or --seed-walk");
    if (dask->count()) {
      std::vector<std::string> args = {"animate", opts->session, "-o", opts->out, "--frames", std::to_string(opts->frames),
                                       "--fps", std::to_string(opts->fps), "--scale", std::to_string(opts->scale),
                                       "--device", opts->model.device};
      if (param->count()) {
        char lo[64], hi[64];
        std::snprintf(lo, sizeof lo, "%.17g", opts->from);
        std::snprintf(hi, sizeof hi, "%.17g", opts->to);
        args.insert(args.end(), {"--param", opts->param, "--from", lo, "--to", hi});
      }
      if (walk->count()) args.insert(args.end(), {"--seed-walk", opts->seed_walk});
      if (opts->model.threads > 0) args.insert(args.end(), {"--threads", std::to_string(opts->model.threads)});
      if (opts->model.class_index >= 0 || !opts->model.c_file.empty() || !opts->model.w_avg.empty()) {
        throw Error("--class, --c and --w-avg do not go with --dask: set the class in the session's synthesis "
                    "(actmap-cli session set) so every worker renders the same");
      }
      if (opts->model.fp16) throw Error(kFp16NotOnDask);
      load_session_file(opts->session);  // converts a checkpoint the session names before the workers need it
      run_on_dask(args, opts->dask);
    }
    Session session = load_session_file(opts->session);
    apply_class_options(opts->model, session.synthesis);
    Animation animation(session, opts->frames, opts->session);
    if (walk->count()) animation.walk_seeds(parse_seed_list(opts->seed_walk));
    if (param->count()) animation.sweep(opts->param, opts->from, opts->to);
    FrameWriter writer(opts->out, opts->fps, opts->frames);
    int first = 0, end = opts->frames;
    if (shard->count()) {
      if (writer.video()) {
        throw Error("--shard writes frames: give -o a directory (frame-NNNN.png), then assemble the video from all shards' "
                    "frames with ffmpeg (docs/python.md#batch-schedulers-without-dask)");
      }
      const Shard part = parse_shard(opts->shard);
      first = static_cast<int>(part.first(opts->frames));
      end = static_cast<int>(part.end(opts->frames));
    }
    const auto gen = open_session_model(session, opts->model);
    Renderer renderer(gen);
    const auto t0 = std::chrono::steady_clock::now();
    {
      ProgressBar progress("animate");
      if (shard->count()) {
        render_animation_frames(renderer, animation, opts->scale, first, end, writer, std::ref(progress));
      } else {
        render_animation(renderer, animation, opts->scale, writer, std::ref(progress));
      }
    }
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::cout << "wrote " << opts->out << (writer.video() ? "" : "/ (frame-NNNN.png)") << ": " << end - first << " frames";
    if (shard->count()) std::cout << " (" << first << ".." << end - 1 << " of " << opts->frames << ", shard " << opts->shard << ")";
    std::cout << " in " << s << " s\n";
  });
}

}  // namespace actmap::cli
