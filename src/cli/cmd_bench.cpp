// actmap-cli bench: how long a full forward pass, and the re-render after an edit at each tap, take.
#include <algorithm>
#include <cstdio>

#include <CLI/CLI.hpp>
#include <ATen/ATen.h>

#include "actmap/model/device.h"
#include "actmap/render/renderer.h"
#include "cli_common.h"

namespace actmap::cli {

void register_bench(CLI::App& app) {
  struct Options {
    ModelOptions model;
    int iters = 100;
    int warmup = 10;
    std::uint64_t seed = 0;
    std::vector<std::string> taps;
    bool stages = false;
  };
  auto opts = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand("bench", "Time a full forward pass and the re-render after an edit at each tap (batch 1)");
  add_model_options(*cmd, opts->model);
  cmd->add_option("--iters", opts->iters, "Timed iterations per measurement")->check(CLI::Range(1, 100000))->capture_default_str();
  cmd->add_option("--warmup", opts->warmup, "Untimed iterations first")->check(CLI::Range(0, 100000))->capture_default_str();
  cmd->add_option("--seed", opts->seed, "Seed of the latent")->capture_default_str();
  cmd->add_flag("--stages", opts->stages, "Also print each stage's time in the full forward pass (GPU: waits after each)");
  cmd->add_option("--tap", opts->taps, "Time the edit only at these taps (repeatable; default: every tap)");
  cmd->callback([opts] {
    const auto gen = open_model(opts->model);
    const auto& taps = gen->taps();
    std::vector<std::size_t> chosen;
    for (const std::string& name : opts->taps) chosen.push_back(gen->tap_index(name));  // names the taps on error
    if (opts->taps.empty()) {
      for (std::size_t k = 0; k < taps.size(); ++k) chosen.push_back(k);
    }
    const at::Tensor z = latents_from_seeds(gen->card().latent, opts->seed, 1, opts->model.device);
    std::printf("model %s on %s, batch 1, %d CPU thread%s, BLAS %s\n", gen->card().name.c_str(),
                opts->model.device.c_str(), cpu_threads(), cpu_threads() == 1 ? "" : "s", blas_in_use().c_str());
    std::printf("%d iterations after %d warm-up\n\n", opts->iters, opts->warmup);
    std::printf("%-34s %10s %10s\n", "measurement", "median ms", "min ms");

    Renderer renderer(gen);
    std::vector<double> full;
    std::vector<std::vector<double>> per_stage(taps.size());
    for (int i = 0; i < opts->warmup + opts->iters; ++i) {
      renderer.invalidate();
      renderer.set_sync_stages(opts->stages);
      const RenderTimings t = renderer.render(z, {}).timings;
      if (i < opts->warmup) continue;
      full.push_back(t.total_ms);
      for (std::size_t k = 0; k < taps.size(); ++k) per_stage[k].push_back(t.stage_ms[k]);
    }
    renderer.set_sync_stages(false);
    const Stats f = summarize(full);
    std::printf("%-34s %10.3f %10.3f\n", "full forward", f.median, f.min);
    if (opts->stages) {
      for (std::size_t k = 0; k < taps.size(); ++k) {
        const Stats s = summarize(per_stage[k]);
        char label[128];
        std::snprintf(label, sizeof label, "  stage %s (%lldx%lldx%lld)", taps[k].name.c_str(),
                      static_cast<long long>(taps[k].channels), static_cast<long long>(taps[k].height),
                      static_cast<long long>(taps[k].width));
        std::printf("%-34s %10.3f %10.3f   %4.1f%%\n", label, s.median, s.min, 100.0 * s.median / f.median);
      }
    }

    // An edit at tap k that changes every iteration: the stages after k are recomputed, while
    // the cache up to k (k's own output before its edits too) is reused.
    for (const std::size_t k : chosen) {
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
    const BufferCacheStats cache = cpu_buffer_cache_stats();
    if (cache.hits + cache.misses > 0) {
      std::printf("\nCPU buffer cache: %zu of %zu large allocations reused, %.0f MB held\n", cache.hits,
                  cache.hits + cache.misses, static_cast<double>(cache.cached_bytes) / (1 << 20));
    }
  });
}

}  // namespace actmap::cli
