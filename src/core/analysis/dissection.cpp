#include "actmap/analysis/dissection.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include "actmap/model/generator.h"
#include "actmap/render/renderer.h"
#include "analysis/tap_sampling.h"
#include "model/torch_util.h"

namespace actmap {

std::int64_t Region::count() const {
  std::int64_t n = 0;
  for (auto v : inside) n += v ? 1 : 0;
  return n;
}

Region Region::resized(int w, int h) const {
  if (w == width && h == height) return *this;
  Region r;
  r.width = w;
  r.height = h;
  r.inside.resize(static_cast<std::size_t>(w) * static_cast<std::size_t>(h));
  for (int y = 0; y < h; ++y) {
    const int sy = std::min(height - 1, static_cast<int>((y + 0.5) * height / h));
    for (int x = 0; x < w; ++x) {
      const int sx = std::min(width - 1, static_cast<int>((x + 0.5) * width / w));
      r.inside[static_cast<std::size_t>(y) * w + x] = inside[static_cast<std::size_t>(sy) * width + sx];
    }
  }
  return r;
}

Region region_from_image(const Image& image, const std::string& source) {
  if (image.width < 1 || image.height < 1) throw Error(source + ": empty image");
  Region r;
  r.width = image.width;
  r.height = image.height;
  r.inside.resize(static_cast<std::size_t>(image.width) * image.height);
  const int c = image.channels, colour = c >= 3 ? 3 : 1;
  for (std::size_t i = 0; i < r.inside.size(); ++i) {
    int sum = 0;
    for (int k = 0; k < colour; ++k) sum += image.pixels[i * static_cast<std::size_t>(c) + k];
    r.inside[i] = sum >= 128 * colour ? 1 : 0;
  }
  const std::int64_t n = r.count();
  if (n == 0) throw Error(source + ": the region is empty (no pixel is white; pixels with grey >= 128 are inside)");
  if (n == static_cast<std::int64_t>(r.inside.size())) throw Error(source + ": the region is the whole image (every pixel is white); nothing is outside it");
  return r;
}

namespace {

struct DissectGeometry {
  std::size_t index = 0;
  std::int64_t C = 0, R = 0, HW = 0;
  int W = 0, H = 0;
  Region region;
};

DissectGeometry dissect_geometry(const Generator& generator, const std::string& tap, const Region& region_in) {
  DissectGeometry g;
  g.index = generator.tap_index(tap);
  const TapInfo& out_tap = generator.taps().back();
  g.C = generator.taps()[g.index].channels;
  g.W = static_cast<int>(out_tap.width);
  g.H = static_cast<int>(out_tap.height);
  g.region = region_in.resized(g.W, g.H);
  g.R = g.region.count();
  g.HW = std::int64_t(g.W) * g.H;
  if (g.R == 0 || g.R == g.HW) throw Error("the region must cover some, but not all, of the output");
  return g;
}

void check_quantile(double quantile) {
  if (!(quantile > 0.0 && quantile < 1.0)) throw Error("quantile must be between 0 and 1 (exclusive), got " + std::to_string(quantile));
}

// Adds one batch of tap activations [n, C, h, w] to the sums: each channel up-sampled to the output,
// "on" above its threshold; the activation sums in double, so the order of samples hardly matters.
void accumulate_sums(const at::Tensor& acts, const at::Tensor& threshold, const DissectGeometry& g, const at::Tensor& reg,
                     DissectSums& sums) {
  const at::Tensor up = at::upsample_bilinear2d(acts, {g.H, g.W}, false);
  const at::Tensor mask = up > threshold.view({1, g.C, 1, 1});
  const at::Tensor reg_b = reg > 0.5;
  const at::Tensor inter = (mask & reg_b).sum({0, 2, 3}).to(at::kCPU, at::kDouble).contiguous();
  const at::Tensor on = mask.sum({0, 2, 3}).to(at::kCPU, at::kDouble).contiguous();
  const at::Tensor up_d = up.to(at::kDouble);
  const at::Tensor in_sum = (up_d * reg.to(at::kDouble)).sum({0, 2, 3}).to(at::kCPU).contiguous();
  const at::Tensor all_sum = up_d.sum({0, 2, 3}).to(at::kCPU).contiguous();
  for (std::int64_t c = 0; c < g.C; ++c) {
    sums.intersection[c] += inter.data_ptr<double>()[c];
    sums.on[c] += on.data_ptr<double>()[c];
    sums.inside_sum[c] += in_sum.data_ptr<double>()[c];
    sums.total_sum[c] += all_sum.data_ptr<double>()[c];
  }
  sums.samples += static_cast<int>(acts.size(0));
}

DissectSums empty_sums(std::int64_t channels) {
  DissectSums s;
  s.intersection.assign(static_cast<std::size_t>(channels), 0.0);
  s.on = s.inside_sum = s.total_sum = s.intersection;
  return s;
}

at::Tensor region_tensor(const DissectGeometry& g, const at::Device& device) {
  std::vector<float> rv(g.region.inside.begin(), g.region.inside.end());
  return at::from_blob(rv.data(), {1, 1, g.H, g.W}, at::kFloat).clone().to(device);
}

}  // namespace

void DissectSums::add(const DissectSums& o) {
  if (o.intersection.size() != intersection.size()) throw Error("dissection sums of different taps cannot be added");
  samples += o.samples;
  for (std::size_t c = 0; c < intersection.size(); ++c) {
    intersection[c] += o.intersection[c];
    on[c] += o.on[c];
    inside_sum[c] += o.inside_sum[c];
    total_sum[c] += o.total_sum[c];
  }
}

DissectResult dissect_tap(const Generator& generator, const std::string& tap, const Region& region_in,
                          const DissectOptions& o, const ProgressFn& progress) {
  c10::InferenceMode guard;
  check_quantile(o.quantile);
  const DissectGeometry g = dissect_geometry(generator, tap, region_in);

  // Every sample's activation at the tap, kept for the second pass.
  const std::int64_t C = g.C;
  at::Tensor acts;
  sample_tap(generator, g.index, o.samples, o.seed, o.batch,
             [&](const at::Tensor& a, int first) {
               if (!acts.defined()) acts = at::empty({o.samples, C, a.size(2), a.size(3)}, a.options().dtype(at::kFloat));
               acts.narrow(0, first, a.size(0)).copy_(a);
             },
             progress, 0, 2 * std::int64_t(o.samples));

  // Per channel quantile level over all samples and pixels.
  const at::Tensor flat = acts.transpose(0, 1).reshape({C, -1});
  const std::int64_t m = flat.size(1);
  const std::int64_t kth = std::clamp<std::int64_t>(static_cast<std::int64_t>(std::ceil(o.quantile * double(m))), 1, m);
  const at::Tensor threshold = std::get<0>(flat.kthvalue(kth, 1));  // [C]

  const at::Tensor reg = region_tensor(g, acts.device());
  DissectSums sums = empty_sums(C);
  const std::int64_t per_sample = C * g.HW;
  const int batch = static_cast<int>(std::max<std::int64_t>(1, (std::int64_t(32) << 20) / std::max<std::int64_t>(1, per_sample)));
  for (int first = 0; first < o.samples; first += batch) {
    const std::int64_t n = std::min(batch, o.samples - first);
    accumulate_sums(acts.narrow(0, first, n), threshold, g, reg, sums);
    report_progress(progress, o.samples + first + n, 2 * std::int64_t(o.samples));
  }
  const at::Tensor thr = threshold.to(at::kCPU, at::kFloat).contiguous();
  return dissect_scores(generator, tap, region_in, std::vector<float>(thr.data_ptr<float>(), thr.data_ptr<float>() + C), sums);
}

std::int64_t dissect_keep(const Generator& generator, const std::string& tap, double quantile, int total_samples) {
  check_quantile(quantile);
  if (total_samples < 1) throw Error("samples must be at least 1, got " + std::to_string(total_samples));
  const TapInfo& info = generator.taps()[generator.tap_index(tap)];
  const std::int64_t m = std::int64_t(total_samples) * info.height * info.width;
  const std::int64_t kth = std::clamp<std::int64_t>(static_cast<std::int64_t>(std::ceil(quantile * double(m))), 1, m);
  return m - kth + 1;  // the kth smallest is the (m - kth + 1)th largest
}

std::vector<std::vector<float>> dissect_top_values(const Generator& generator, const std::string& tap, int samples,
                                                   std::uint64_t seed, int batch, std::int64_t keep, const ProgressFn& progress) {
  c10::InferenceMode guard;
  if (keep < 1) throw Error("keep must be at least 1, got " + std::to_string(keep));
  const std::size_t index = generator.tap_index(tap);
  const std::int64_t C = generator.taps()[index].channels;
  at::Tensor acts;
  sample_tap(generator, index, samples, seed, batch,
             [&](const at::Tensor& a, int first) {
               if (!acts.defined()) acts = at::empty({samples, C, a.size(2), a.size(3)}, a.options().dtype(at::kFloat));
               acts.narrow(0, first, a.size(0)).copy_(a);
             },
             progress);
  const at::Tensor flat = acts.transpose(0, 1).reshape({C, -1});
  const std::int64_t k = std::min<std::int64_t>(keep, flat.size(1));
  const at::Tensor top = std::get<0>(flat.topk(k, 1, true, true)).to(at::kCPU, at::kFloat).contiguous();
  std::vector<std::vector<float>> out(static_cast<std::size_t>(C));
  for (std::int64_t c = 0; c < C; ++c) out[c].assign(top.data_ptr<float>() + c * k, top.data_ptr<float>() + (c + 1) * k);
  return out;
}

std::vector<float> dissect_thresholds(const std::vector<std::vector<std::vector<float>>>& parts, std::int64_t keep) {
  if (parts.empty()) throw Error("dissect_thresholds: no parts");
  const std::size_t C = parts.front().size();
  std::vector<float> out(C);
  for (std::size_t c = 0; c < C; ++c) {
    std::vector<float> all;
    for (const auto& p : parts) {
      if (p.size() != C) throw Error("dissect_thresholds: the parts have different numbers of channels");
      all.insert(all.end(), p[c].begin(), p[c].end());
    }
    if (static_cast<std::int64_t>(all.size()) < keep) {
      throw Error("dissect_thresholds: channel " + std::to_string(c) + " has " + std::to_string(all.size()) + " values, needs " +
                  std::to_string(keep));
    }
    std::nth_element(all.begin(), all.begin() + (keep - 1), all.end(), std::greater<float>());
    out[c] = all[static_cast<std::size_t>(keep - 1)];
  }
  return out;
}

DissectSums dissect_sums(const Generator& generator, const std::string& tap, const Region& region_in,
                         const std::vector<float>& thresholds, int samples, std::uint64_t seed, int batch,
                         const ProgressFn& progress) {
  c10::InferenceMode guard;
  const DissectGeometry g = dissect_geometry(generator, tap, region_in);
  if (static_cast<std::int64_t>(thresholds.size()) != g.C) {
    throw Error("dissect_sums: " + std::to_string(thresholds.size()) + " thresholds for " + std::to_string(g.C) + " channels of " + tap);
  }
  DissectSums sums = empty_sums(g.C);
  at::Tensor threshold, reg;
  sample_tap(generator, g.index, samples, seed, batch,
             [&](const at::Tensor& a, int) {
               if (!threshold.defined()) {
                 threshold = at::from_blob(const_cast<float*>(thresholds.data()), {g.C}, at::kFloat).clone().to(a.device());
                 reg = region_tensor(g, a.device());
               }
               accumulate_sums(a.to(at::kFloat), threshold, g, reg, sums);
             },
             progress);
  return sums;
}

DissectResult dissect_scores(const Generator& generator, const std::string& tap, const Region& region_in,
                             const std::vector<float>& thresholds, const DissectSums& sums) {
  const DissectGeometry g = dissect_geometry(generator, tap, region_in);
  if (static_cast<std::int64_t>(thresholds.size()) != g.C || static_cast<std::int64_t>(sums.on.size()) != g.C) {
    throw Error("dissect_scores: the thresholds and sums do not fit the " + std::to_string(g.C) + " channels of " + tap);
  }
  if (sums.samples < 1) throw Error("dissect_scores: no samples");
  const double region_total = double(g.R) * sums.samples;
  DissectResult result;
  result.tap = tap;
  result.region_pixels = g.R;
  result.width = g.W;
  result.height = g.H;
  for (std::int64_t c = 0; c < g.C; ++c) {
    UnitScore u;
    u.channel = static_cast<int>(c);
    const double uni = sums.on[c] + region_total - sums.intersection[c];
    u.iou = sums.intersection[c] / std::max(uni, 1.0);
    u.inside_mean = sums.inside_sum[c] / region_total;
    u.outside_mean = (sums.total_sum[c] - sums.inside_sum[c]) / (double(g.HW - g.R) * sums.samples);
    u.ratio = u.outside_mean > 0 ? u.inside_mean / u.outside_mean
              : u.inside_mean > 0 ? std::numeric_limits<double>::infinity() : 0.0;
    u.threshold = thresholds[c];
    result.units.push_back(u);
  }
  std::stable_sort(result.units.begin(), result.units.end(), [](const UnitScore& a, const UnitScore& b) {
    return a.iou != b.iou ? a.iou > b.iou : a.ratio > b.ratio;
  });
  return result;
}

Edit unit_edit(const std::string& tap, const std::vector<int>& channels, bool ablate, double factor) {
  if (channels.empty()) throw Error("no channels to " + std::string(ablate ? "ablate" : "boost"));
  nlohmann::json list = nlohmann::json::array();
  for (int c : channels) list.push_back(c);
  nlohmann::json j = {{"tap", tap}, {"channels", list}, {"op", ablate ? "ablate" : "multiply"}};
  j["params"] = ablate ? nlohmann::json::object() : nlohmann::json{{"factor", factor}};
  return edits_from_json(nlohmann::json::array({j})).front();
}

EditEffect measure_edit_effect(const Generator& generator, const std::vector<Edit>& base, const Edit& edit,
                               const std::map<std::string, std::vector<int>>& clusters, const Region& region_in,
                               int samples, std::uint64_t seed, const ProgressFn& progress) {
  c10::InferenceMode guard;
  if (samples < 1) throw Error("samples must be at least 1, got " + std::to_string(samples));
  const TapInfo& out_tap = generator.taps().back();
  const int W = static_cast<int>(out_tap.width), H = static_cast<int>(out_tap.height);
  const Region region = region_in.resized(W, H);
  const std::int64_t R = region.count(), HW = std::int64_t(W) * H;
  if (R == 0 || R == HW) throw Error("the region must cover some, but not all, of the output");
  std::vector<float> rv(region.inside.begin(), region.inside.end());
  Renderer renderer(std::shared_ptr<const Generator>(&generator, [](const Generator*) {}));
  renderer.set_clusters(clusters);
  const at::Tensor reg = at::from_blob(rv.data(), {1, 1, H, W}, at::kFloat).clone();
  std::vector<Edit> with = base;
  with.push_back(edit);
  const double scale = 255.0 / (generator.card().output_high - generator.card().output_low);
  double in_sum = 0.0, all_sum = 0.0;
  const int batch = 8;
  std::int64_t colours = 0;
  report_progress(progress, 0, samples);
  for (int first = 0; first < samples; first += batch) {
    const int n = std::min(batch, samples - first);
    const at::Tensor z = latents_from_seeds(generator.card().latent, seed + static_cast<std::uint64_t>(first), n, generator.device());
    const at::Tensor before = renderer.render(z, base).output.to(at::kCPU, at::kDouble);
    const at::Tensor after = renderer.render(z, with).output.to(at::kCPU, at::kDouble);  // re-runs from the edit's tap
    const at::Tensor d = (after - before).abs() * scale;
    colours = d.size(1);
    in_sum += (d * reg.to(at::kDouble)).sum().item<double>();
    all_sum += d.sum().item<double>();
    report_progress(progress, first + n, samples);
  }
  EditEffect e;
  e.samples = samples;
  e.inside = in_sum / (double(R) * double(colours) * samples);
  e.outside = (all_sum - in_sum) / (double(HW - R) * double(colours) * samples);
  return e;
}

}  // namespace actmap
