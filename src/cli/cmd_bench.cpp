// actmap-cli bench: how long a full forward pass, and the re-render after an edit at each tap, take.
#include <algorithm>
#include <cstdio>

#include <CLI/CLI.hpp>
#include <ATen/ATen.h>

#include "actmap/device.h"
#include "actmap/renderer.h"
#include "cli_common.h"

namespace actmap::cli {

void register_bench(CLI::App& app) {
  struct Options {
    ModelOptions model;
    int iters = 100;
    int warmup = 10;
    std::uint64_t seed = 0;
  };
  auto opts = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand("bench", "Time a full forward pass and the re-render after an edit at each tap (batch 1)");
  add_model_options(*cmd, opts->model);
  cmd->add_option("--iters", opts->iters, "Timed iterations per measurement")->check(CLI::Range(1, 100000))->capture_default_str();
  cmd->add_option("--warmup", opts->warmup, "Untimed iterations first")->check(CLI::Range(0, 100000))->capture_default_str();
  cmd->add_option("--seed", opts->seed, "Seed of the latent")->capture_default_str();
  cmd->callback([opts] {
    const auto gen = open_model(opts->model);
    const auto& taps = gen->taps();
    const at::Tensor z = latents_from_seeds(gen->card().latent, opts->seed, 1, opts->model.device);
    std::printf("model %s on %s, batch 1, %d CPU thread%s, BLAS %s\n", gen->card().name.c_str(),
                opts->model.device.c_str(), cpu_threads(), cpu_threads() == 1 ? "" : "s", blas_in_use().c_str());
    std::printf("%d iterations after %d warm-up\n\n", opts->iters, opts->warmup);
    std::printf("%-34s %10s %10s\n", "measurement", "median ms", "min ms");

    Renderer renderer(gen);
    std::vector<double> full;
    for (int i = 0; i < opts->warmup + opts->iters; ++i) {
      renderer.invalidate();
      const double ms = renderer.render(z, {}).timings.total_ms;
      if (i >= opts->warmup) full.push_back(ms);
    }
    const Stats f = summarize(full);
    std::printf("%-34s %10.3f %10.3f\n", "full forward", f.median, f.min);

    // An edit at tap k that changes every iteration: the stages after k are recomputed, while
    // the cache up to k (k's own output before its edits too) is reused.
    for (std::size_t k = 0; k < taps.size(); ++k) {
      std::vector<double> times;
      Edit e;
      e.id = "bench";
      e.tap = taps[k].name;
      e.op = "multiply";
      renderer.render(z, {});
      for (int i = 0; i < opts->warmup + opts->iters; ++i) {
        e.params = {{"factor", 1.0 + 1e-3 * (i % 2 + 1)}};
        const RenderResult r = renderer.render(z, {e});
        if (i >= opts->warmup) times.push_back(r.timings.total_ms);
      }
      const Stats s = summarize(times);
      char label[128];
      std::snprintf(label, sizeof label, "edit at %s (%lldx%lld)", taps[k].name.c_str(),
                    static_cast<long long>(taps[k].height), static_cast<long long>(taps[k].width));
      std::printf("%-34s %10.3f %10.3f   %.2fx faster\n", label, s.median, s.min, f.median / s.median);
    }
  });
}

}  // namespace actmap::cli
