// actmap: the desktop editor. This file only reads the command line; the window and its frame
// loop are app_window.cpp, the editor and its panels editor.cpp and panels/.
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <string>
#include <thread>

#include <CLI/CLI.hpp>

#include "actmap/model/device.h"
#include "app_window.h"
#include "ui_probe.h"

int main(int argc, char** argv) {
  CLI::App cli{"actmap: see every activation map of an image generator, paint on it, bend it, and watch the output change"};
  actmap::app::EditorOptions opts;
  actmap::app::WindowOptions window;
  std::string ui_map, size = "1600x1000";
  bool no_recovery = false, fp16 = false;
  int threads = 0;
  cli.add_option("-m,--model", opts.model, "Model: a card (a path, or a name found in models/ or on ACTMAP_MODEL_PATH), or a checkpoint file (.pkl, .pt, .pth, .ckpt, .safetensors; converted once into the cache) (default: the default model)");
  // Not checked here: a session that cannot be opened is reported in the window (and by
  // --screenshot, which then exits 1), which opens on the default model.
  cli.add_option("-s,--session", opts.session_path, "Open this session file");
  cli.add_option("--device", opts.device, "cpu or cuda")->default_str("cpu");
  cli.add_flag("--fp16", fp16, "StyleGAN2 on CUDA: run the blocks num_fp16_res names in float16, as the original does on NVIDIA GPUs (default: float32 everywhere)");
  cli.add_option("--size", size, "Window size, WIDTHxHEIGHT")->default_str(size);
  cli.add_option("--scale", window.ui_scale, "Interface scale (default: the monitor's content scale, or ACTMAP_UI_SCALE)");
  cli.add_option("--screenshot", window.screenshot, "Save the window as a PNG once the session has rendered and N frames were drawn, then exit");
  cli.add_option("--frames", window.frames, "Frames to draw before --screenshot (counted once rendering has settled)")->default_val(3);
  cli.add_option("--threads", threads, "CPU threads for the model (default: all cores but one, for the interface)");
  cli.add_option("--seed-strip", opts.seed_strip, "Seeds in the strip under the output (0: off)")->default_val(4)->check(CLI::Range(0, 16));
  cli.add_flag("--no-recovery", no_recovery, "Do not offer to recover unsaved work from a crash at start");
  cli.add_option("--ui-map", ui_map, "For GUI tests: keep a JSON map of widget positions and state in this file");
  cli.add_option("--frame-delay", window.frame_delay_ms, "For GUI tests: sleep this many milliseconds after every frame")
      ->group("");  // hidden from --help
  cli.add_option("--import-delay", opts.import_delay_ms,
                 "For GUI tests: sleep this many milliseconds at each progress step of a checkpoint's conversion")
      ->group("");  // hidden from --help
  cli.add_option("--stats-out", window.stats_out, "On exit, write frame times and change-to-screen latencies (JSON) to this file");
  CLI11_PARSE(cli, argc, argv);
  opts.offer_recovery = !no_recovery && window.screenshot.empty();

  if (std::sscanf(size.c_str(), "%dx%d", &window.width, &window.height) != 2 || window.width < 320 || window.height < 240) {
    std::cerr << "actmap: --size " << size << ": expected WIDTHxHEIGHT, at least 320x240\n";
    return 2;
  }
  try {
    actmap::check_device(opts.device);
  } catch (const std::exception& e) {
    std::cerr << "actmap: " << e.what() << "\n";
    return 2;
  }
  actmap::set_cuda_fp16(fp16);
  actmap::tune_memory_allocator();
  // The model gets every core but one: the UI thread (and a software GL) keep theirs, so frames
  // stay smooth while renders run.
  if (threads <= 0) threads = std::max(1, int(std::thread::hardware_concurrency()) - 1);
  actmap::set_cpu_threads(threads);
  if (!ui_map.empty()) actmap::app::probe::enable(ui_map);
  return actmap::app::run_editor_window(opts, window);
}
