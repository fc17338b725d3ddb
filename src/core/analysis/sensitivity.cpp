#include "actmap/analysis/sensitivity.h"

#include <algorithm>
#include <chrono>
#include <numeric>
#include <sstream>

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include "actmap/io/error.h"
#include "actmap/model/generator.h"

namespace actmap {

std::vector<int> SensitivityResult::ranking() const {
  std::vector<int> order(change.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
    return change[static_cast<std::size_t>(a)] > change[static_cast<std::size_t>(b)];
  });
  return order;
}

SensitivityResult channel_sensitivity(const Generator& generator, const std::string& tap,
                                      const SensitivityOptions& options, const ProgressFn& progress) {
  if (options.samples < 1) throw Error("sensitivity: samples must be at least 1, got " + std::to_string(options.samples));
  if (options.batch < 1) throw Error("sensitivity: batch must be at least 1, got " + std::to_string(options.batch));
  if (options.synthesis.noise_mode == NoiseMode::Random) {
    throw Error("sensitivity: noise 'random' is drawn per batch element; use 'const' or 'none'");
  }
  const auto t_start = std::chrono::steady_clock::now();
  c10::InferenceMode guard;
  const std::size_t index = generator.tap_index(tap);
  const auto& taps = generator.taps();
  const std::int64_t channels = taps[index].channels;
  const ModelCard& card = generator.card();
  const double pixel_scale = 255.0 / (card.output_high - card.output_low);

  const at::Tensor z = latents_from_seeds(card.latent, options.seed, options.samples, generator.device());
  TapState state = generator.prepare(z, options.synthesis);
  for (std::size_t i = 0; i <= index; ++i) state = generator.run_stage(i, state);
  TapState out = state;
  for (std::size_t i = index + 1; i < taps.size(); ++i) out = generator.run_stage(i, out);
  const at::Tensor baseline = out.x;

  const std::int64_t total = options.samples * channels;
  const auto device = state.x.device();
  at::Tensor sums = at::zeros({channels}, at::TensorOptions().dtype(at::kDouble));
  report_progress(progress, 0, total);
  for (std::int64_t first = 0; first < total; first += options.batch) {
    const std::int64_t b = std::min<std::int64_t>(options.batch, total - first);
    // Pair p = sample * channels + channel.
    const at::Tensor pairs = at::arange(first, first + b, at::TensorOptions().dtype(at::kLong).device(device));
    const at::Tensor sample = at::div(pairs, channels, "floor");
    const at::Tensor channel = at::remainder(pairs, channels);
    const at::Tensor rows = at::arange(b, at::TensorOptions().dtype(at::kLong).device(device));
    TapState batch;
    batch.options = state.options;
    batch.x = state.x.index_select(0, sample);
    if (options.ablate) {
      batch.x.index_put_({rows, channel}, 0.0);
    } else {
      batch.x.index_put_({rows, channel}, batch.x.index({rows, channel}) * options.factor);
    }
    for (const at::Tensor& c : state.carry) batch.carry.push_back(c.defined() ? c.index_select(0, sample) : c);
    for (std::size_t i = index + 1; i < taps.size(); ++i) batch = generator.run_stage(i, batch);
    const at::Tensor diff = (batch.x - baseline.index_select(0, sample)).abs().mean({1, 2, 3}).to(at::kCPU, at::kDouble);
    sums.index_add_(0, channel.cpu(), diff);
    report_progress(progress, first + b, total);
  }
  SensitivityResult r;
  r.tap = tap;
  r.samples = options.samples;
  const at::Tensor mean = (sums * (pixel_scale / options.samples)).contiguous();
  r.change.assign(mean.data_ptr<double>(), mean.data_ptr<double>() + channels);
  r.ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t_start).count();
  return r;
}

std::string sensitivity_csv(const SensitivityResult& result) {
  std::ostringstream csv;
  csv << "rank,channel,mean_abs_change\n";
  const auto order = result.ranking();
  for (std::size_t i = 0; i < order.size(); ++i) {
    csv << i + 1 << "," << order[i] << "," << result.change[static_cast<std::size_t>(order[i])] << "\n";
  }
  return csv.str();
}

}  // namespace actmap
