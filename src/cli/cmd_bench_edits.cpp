// actmap-cli bench-edits: how long apply_edits takes for each op alone and for a chain of ten,
// on a random activation (no model needed).
#include <algorithm>
#include <chrono>
#include <cstdio>

#include <CLI/CLI.hpp>
#include <ATen/ATen.h>

#include "actmap/edit/edit.h"
#include "actmap/model/device.h"
#include "actmap/render/renderer.h"
#include "cli_common.h"

using nlohmann::json;

namespace actmap::cli {
namespace {

struct Options {
  std::string device = "cpu";
  int threads = 0;
  int iters = 200;
  int warmup = 20;
  std::int64_t batch = 1, channels = 512, size = 16;
  bool channels_last = false;
};

Edit make_edit(const std::string& id, const json& j) {
  json e = j;
  e["id"] = id;
  e["tap"] = "bench";
  return Edit::from_json(e, "/" + id);
}

// Median and minimum milliseconds of apply_edits over opts.iters runs.
Stats time_edits(const at::Tensor& x, const std::vector<Edit>& edits, const TapInfo& tap,
                                     const Options& opts) {
  std::vector<const Edit*> list;
  for (const auto& e : edits) list.push_back(&e);
  const bool sync = !x.device().is_cpu();  // a one-value read waits for the device to finish
  std::vector<double> times;
  for (int i = 0; i < opts.warmup + opts.iters; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    const at::Tensor y = apply_edits(x, list, tap);
    if (sync) (void)y.flatten()[0].item<float>();
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    if (i >= opts.warmup) times.push_back(ms);
  }
  return summarize(std::move(times));
}

}  // namespace

void register_bench_edits(CLI::App& app) {
  auto opts = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand("bench-edits", "Time each edit op alone and a chain of ten on a random activation");
  cmd->add_option("--device", opts->device, "cpu, cuda or cuda:N (available: " + available_devices() + ")")
      ->capture_default_str();
  cmd->add_option("--threads", opts->threads, "CPU threads (0: every core, or OMP_NUM_THREADS when set)")->check(CLI::NonNegativeNumber);
  cmd->add_option("--iters", opts->iters, "Timed iterations per measurement")->check(CLI::Range(1, 100000))->capture_default_str();
  cmd->add_option("--warmup", opts->warmup, "Untimed iterations first")->check(CLI::Range(0, 100000))->capture_default_str();
  cmd->add_option("--batch", opts->batch, "N")->check(CLI::Range(1, 64))->capture_default_str();
  cmd->add_option("--channels", opts->channels, "C")->check(CLI::Range(2, 8192))->capture_default_str();
  cmd->add_option("--size", opts->size, "H = W")->check(CLI::Range(1, 1024))->capture_default_str();
  cmd->add_flag("--channels-last", opts->channels_last,
                "Hold the activation channels-last, as the large StyleGAN2 taps are on the CPU");
  cmd->callback([opts] {
    set_cpu_threads(opts->threads);
    check_device(opts->device);
    const TapInfo tap{"bench", opts->channels, opts->size, opts->size, 0};
    at::Tensor x = at::randn({opts->batch, opts->channels, opts->size, opts->size},
                             at::TensorOptions().device(c10::Device(opts->device)));
    if (opts->channels_last) x = x.contiguous(at::MemoryFormat::ChannelsLast);
    const double s = static_cast<double>(opts->size);
    const std::int64_t c = opts->channels;
    std::printf("apply_edits on [%lld, %lld, %lld, %lld] float%s on %s, %d CPU thread%s\n",
                static_cast<long long>(opts->batch), static_cast<long long>(c), static_cast<long long>(opts->size),
                static_cast<long long>(opts->size), opts->channels_last ? " channels-last" : "", opts->device.c_str(),
                cpu_threads(), cpu_threads() == 1 ? "" : "s");
    std::printf("%d iterations after %d warm-up\n\n", opts->iters, opts->warmup);
    std::printf("%-40s %10s %10s\n", "edits", "median ms", "min ms");

    // Each op alone on every channel, with parameters that change something.
    const json stroke = json::array({{0.2 * s, 0.2 * s}, {0.5 * s, 0.7 * s}, {0.8 * s, 0.3 * s}});
    const std::vector<json> singles = {
        {{"op", "brush"}, {"params", {{"points", stroke}, {"radius", 0.15 * s}, {"strength", 2.0}}}},
        {{"op", "fill"}, {"params", {{"value", 1.0}}}},
        {{"op", "rect"}, {"params", {{"x0", 0.25 * s}, {"y0", 0.25 * s}, {"x1", 0.75 * s}, {"y1", 0.75 * s}, {"value", 1.0}}}},
        {{"op", "erase"}, {"params", {{"points", stroke}, {"radius", 0.15 * s}}}},
        {{"op", "rotate"}, {"params", {{"degrees", 30.0}}}},
        {{"op", "rotate"}, {"params", {{"degrees", 90.0}}}},
        {{"op", "scale"}, {"params", {{"factor", 1.5}}}},
        {{"op", "translate"}, {"params", {{"dx", 0.1}, {"dy", -0.05}}}},
        {{"op", "translate"}, {"params", {{"dx", 0.25}, {"dy", 0.0}}}},
        {{"op", "flip"}, {"params", json::object()}},
        {{"op", "mirror"}, {"params", json::object()}},
        {{"op", "multiply"}, {"params", {{"factor", 2.0}}}},
        {{"op", "add"}, {"params", {{"value", 1.0}}}},
        {{"op", "negate"}},
        {{"op", "invert"}},
        {{"op", "threshold"}, {"params", {{"t", 0.5}}}},
        {{"op", "clamp"}, {"params", {{"lo", -0.5}, {"hi", 0.5}}}},
        {{"op", "ablate"}},
        {{"op", "erode"}, {"params", {{"radius", 1}}}},
        {{"op", "dilate"}, {"params", {{"radius", 2}}}},
        {{"op", "mean_filter"}, {"params", {{"size", 3}}}},
        {{"op", "gaussian_blur"}, {"params", {{"sigma", 1.0}}}},
        {{"op", "sharpen"}, {"params", {{"amount", 1.0}}}},
        {{"op", "sobel"}},
        {{"op", "shuffle"}, {"params", {{"seed", 7}}}},
        {{"op", "vanish"}, {"params", {{"seed", 7}}}, {"channels", {{"range", {0, c / 2 - 1}}}}},
        {{"op", "sin_disrupt"}, {"params", {{"fx", 2.0}, {"fy", 1.0}}}},
        {{"op", "multiply"}, {"params", {{"factor", 2.0}, {"renormalize", true}}}},
        {{"op", "multiply"}, {"params", {{"factor", 2.0}}}, {"mask", {{"ellipse", {0.5 * s, 0.5 * s, 0.3 * s, 0.4 * s}}}}},
        {{"op", "multiply"}, {"params", {{"factor", 2.0}}}, {"channels", {{"range", {0, c / 2 - 1}}}}},
    };
    int n = 0;
    for (const json& j : singles) {
      const Edit e = make_edit("s" + std::to_string(++n), j);
      const auto [median, min] = time_edits(x, {e}, tap, *opts);
      std::string label = e.op;
      const json& p = j.value("params", json::object());
      if (j.contains("channels")) label += " (half the channels)";
      else if (j.contains("mask")) label += " (ellipse mask)";
      else if (p.value("renormalize", false)) label += " (renormalize)";
      else if (e.op == "rotate") label += " " + p.at("degrees").dump() + " deg";
      else if (e.op == "translate") label += " " + p.at("dx").dump() + ", " + p.at("dy").dump();
      std::printf("%-40s %10.3f %10.3f\n", label.c_str(), median, min);
    }

    // The chain: ten typical edits with mixed channel selections.
    const json half_lo = {{"range", {0, c / 2 - 1}}}, half_hi = {{"range", {c / 2, c - 1}}};
    const std::vector<json> chain_json = {
        {{"op", "rotate"}, {"params", {{"degrees", 30.0}}}},
        {{"op", "scale"}, {"params", {{"factor", 1.5}}}, {"channels", half_lo}},
        {{"op", "translate"}, {"params", {{"dx", 0.1}, {"dy", -0.05}}}},
        {{"op", "multiply"}, {"params", {{"factor", 2.0}}}, {"channels", {{"random", 0.25}, {"seed", 3}}}},
        {{"op", "erode"}, {"params", {{"radius", 1}}}},
        {{"op", "mean_filter"}, {"params", {{"size", 3}}}, {"channels", half_hi}},
        {{"op", "gaussian_blur"}, {"params", {{"sigma", 1.0}}}},
        {{"op", "sharpen"}, {"params", {{"amount", 1.0}}}, {"channels", json::array({0, c / 8, c / 4, c / 2, c - 1})}},
        {{"op", "threshold"}, {"params", {{"t", 0.0}}}, {"channels", {{"range", {0, c / 4 - 1}}}}},
        {{"op", "multiply"}, {"params", {{"factor", 0.5}, {"renormalize", true}}}},
    };
    std::vector<Edit> chain;
    for (const json& j : chain_json) chain.push_back(make_edit("c" + std::to_string(chain.size() + 1), j));
    const auto [median, min] = time_edits(x, chain, tap, *opts);
    std::printf("\n%-40s %10.3f %10.3f\n", "chain of 10 (rotate .. renormalize)", median, min);
  });
}

}  // namespace actmap::cli
