#include "actmap/analysis/channel_stats.h"

#include <algorithm>

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include "actmap/io/error.h"
#include "actmap/model/generator.h"
#include "actmap/render/renderer.h"

namespace actmap {

std::vector<double> ChannelStats::variance() const {
  std::vector<double> v(m2.size(), 0.0);
  for (std::size_t c = 0; c < m2.size(); ++c) v[c] = count > 0 ? m2[c] / double(count) : 0.0;
  return v;
}

void ChannelStats::merge(const ChannelStats& o) {
  if (o.count == 0) return;
  if (count == 0) {
    const std::string keep_tap = tap.empty() ? o.tap : tap;
    *this = o;
    tap = keep_tap;
    return;
  }
  if (o.tap != tap || o.mean.size() != mean.size()) {
    throw Error("channel statistics of '" + o.tap + "' (" + std::to_string(o.mean.size()) + " channels) cannot merge into '" + tap +
                "' (" + std::to_string(mean.size()) + " channels)");
  }
  const double na = double(count), nb = double(o.count), n = na + nb;
  for (std::size_t c = 0; c < mean.size(); ++c) {
    const double delta = o.mean[c] - mean[c];
    mean[c] += delta * nb / n;
    m2[c] += o.m2[c] + delta * delta * na * nb / n;
    min[c] = std::min(min[c], o.min[c]);
    max[c] = std::max(max[c], o.max[c]);
  }
  count += o.count;
  samples += o.samples;
}

ChannelStats channel_stats(Renderer& renderer, const std::string& tap, const std::vector<Edit>& edits,
                           const SynthesisOptions& synthesis, int samples, std::uint64_t seed, int batch, bool edited,
                           const ProgressFn& progress) {
  if (samples < 1) throw Error("samples must be at least 1, got " + std::to_string(samples));
  batch = std::max(1, batch);
  const Generator& gen = renderer.generator();
  const std::size_t index = gen.tap_index(tap);
  c10::InferenceMode guard;
  ChannelStats total;
  total.tap = tap;
  report_progress(progress, 0, samples);
  for (int first = 0; first < samples; first += batch) {
    const int n = std::min(batch, samples - first);
    const at::Tensor z = latents_from_seeds(gen.card().latent, seed + static_cast<std::uint64_t>(first), n, gen.device());
    renderer.render(z, edits, synthesis);
    const at::Tensor a = (edited ? renderer.activation(index) : renderer.unedited_activation(index)).to(at::kCPU, at::kDouble);
    const at::Tensor per_channel = a.transpose(0, 1).reshape({a.size(1), -1});  // [C, n*h*w]
    const at::Tensor mean = per_channel.mean(1);
    const at::Tensor m2 = (per_channel - mean.unsqueeze(1)).pow(2).sum(1).contiguous();
    const at::Tensor lo = std::get<0>(per_channel.min(1)).to(at::kFloat).contiguous();
    const at::Tensor hi = std::get<0>(per_channel.max(1)).to(at::kFloat).contiguous();
    const at::Tensor mean_c = mean.contiguous();
    const std::size_t C = static_cast<std::size_t>(per_channel.size(0));
    ChannelStats part;
    part.tap = tap;
    part.count = per_channel.size(1);
    part.samples = n;
    part.mean.assign(mean_c.data_ptr<double>(), mean_c.data_ptr<double>() + C);
    part.m2.assign(m2.data_ptr<double>(), m2.data_ptr<double>() + C);
    part.min.assign(lo.data_ptr<float>(), lo.data_ptr<float>() + C);
    part.max.assign(hi.data_ptr<float>(), hi.data_ptr<float>() + C);
    total.merge(part);
    report_progress(progress, first + n, samples);
  }
  return total;
}

}  // namespace actmap
