#include "actmap/analysis/dissection.h"

#include <algorithm>
#include <cmath>
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

DissectResult dissect_tap(const Generator& generator, const std::string& tap, const Region& region_in,
                          const DissectOptions& o, const ProgressFn& progress) {
  c10::InferenceMode guard;
  if (!(o.quantile > 0.0 && o.quantile < 1.0)) throw Error("quantile must be between 0 and 1 (exclusive), got " + std::to_string(o.quantile));
  const std::size_t index = generator.tap_index(tap);
  const TapInfo& out_tap = generator.taps().back();
  const TapInfo& info = generator.taps()[index];
  const int W = static_cast<int>(out_tap.width), H = static_cast<int>(out_tap.height);
  const Region region = region_in.resized(W, H);
  const std::int64_t R = region.count(), HW = std::int64_t(W) * H;
  if (R == 0 || R == HW) throw Error("the region must cover some, but not all, of the output");

  // Every sample's activation at the tap, kept for the second pass.
  const std::int64_t C = info.channels;
  at::Tensor acts;
  sample_tap(generator, index, o.samples, o.seed, o.batch,
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

  std::vector<float> rv(region.inside.begin(), region.inside.end());
  const at::Tensor reg = at::from_blob(rv.data(), {1, 1, H, W}, at::kFloat).clone().to(acts.device());
  const at::Tensor reg_b = reg > 0.5;
  at::Tensor inter = at::zeros({C}, acts.options().dtype(at::kDouble)), on = inter.clone(), in_sum = inter.clone(),
             all_sum = inter.clone();
  const std::int64_t per_sample = C * HW;
  const int batch = static_cast<int>(std::max<std::int64_t>(1, (std::int64_t(32) << 20) / std::max<std::int64_t>(1, per_sample)));
  for (int first = 0; first < o.samples; first += batch) {
    const std::int64_t n = std::min(batch, o.samples - first);
    const at::Tensor up = at::upsample_bilinear2d(acts.narrow(0, first, n), {H, W}, false);
    const at::Tensor mask = up > threshold.view({1, C, 1, 1});
    inter += (mask & reg_b).sum({0, 2, 3}).to(at::kDouble);
    on += mask.sum({0, 2, 3}).to(at::kDouble);
    in_sum += (up * reg).sum({0, 2, 3}).to(at::kDouble);
    all_sum += up.sum({0, 2, 3}).to(at::kDouble);
    report_progress(progress, o.samples + first + n, 2 * std::int64_t(o.samples));
  }
  const double region_total = double(R) * o.samples;
  const at::Tensor uni = on + region_total - inter;
  const at::Tensor iou = (inter / uni.clamp_min(1.0)).cpu().contiguous();
  const at::Tensor in_mean = (in_sum / region_total).cpu().contiguous();
  const at::Tensor out_mean = ((all_sum - in_sum) / (double(HW - R) * o.samples)).cpu().contiguous();
  const at::Tensor thr = threshold.to(at::kCPU, at::kFloat).contiguous();

  DissectResult result;
  result.tap = tap;
  result.region_pixels = R;
  result.width = W;
  result.height = H;
  for (std::int64_t c = 0; c < C; ++c) {
    UnitScore u;
    u.channel = static_cast<int>(c);
    u.iou = iou.data_ptr<double>()[c];
    u.inside_mean = in_mean.data_ptr<double>()[c];
    u.outside_mean = out_mean.data_ptr<double>()[c];
    u.ratio = u.outside_mean > 0 ? u.inside_mean / u.outside_mean
              : u.inside_mean > 0 ? std::numeric_limits<double>::infinity() : 0.0;
    u.threshold = thr.data_ptr<float>()[c];
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
