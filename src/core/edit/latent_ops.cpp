// Kernels of the W+ ops (category "latent"): they act on the StyleGAN2 tap "mapping", whose
// activation is W+ as [N, num_ws, 1, w_dim] (a "channel" is a W+ row), and take other latents from
// seeds, mapped with the render's truncation.
#include <cmath>

#include <ATen/ATen.h>

#include "actmap/edit/apply_edits.h"
#include "actmap/io/error.h"
#include "actmap/model/latent.h"
#include "edit/op_kernels.h"

namespace actmap {
namespace {

const LatentContext& context(const OpArgs& a) {
  if (!a.latent || !a.latent->generator || !a.latent->generator->has_mapping()) {
    throw Error("W+ ops work only on the tap \"mapping\" of a StyleGAN2 model");
  }
  if (a.sel.dim() != 4 || a.sel.size(2) != 1) throw Error("W+ ops work only on the tap \"mapping\"");
  return *a.latent;
}

std::uint64_t seed_param(const OpArgs& a) { return a.params.at("seed").get<std::uint64_t>(); }

at::Tensor other_z(const LatentContext& c, std::uint64_t seed, std::int64_t batch) {
  const Generator& g = *c.generator;
  return latents_from_seeds(g.card().latent, seed, 1, g.device()).expand({batch, -1});
}

// The selected rows of a W+ [N, num_ws, w_dim] as [N, k, 1, w_dim], like args.sel.
at::Tensor select_rows(const OpArgs& a, const at::Tensor& ws) {
  const at::Tensor v = ws.unsqueeze(2).to(a.sel.scalar_type());
  return a.index.defined() ? v.index_select(1, a.index) : v;
}

at::Tensor other_ws(const OpArgs& a, std::uint64_t seed) {
  const LatentContext& c = context(a);
  return c.generator->map_latents(other_z(c, seed, a.sel.size(0)), c.options);
}

at::Tensor style_mix(const OpArgs& a) { return select_rows(a, other_ws(a, seed_param(a))).clone(); }

// "this": this latent with the other's selected rows (style mixing). "other": the other latent
// with this latent's selected rows, which is style mixing of the rows outside the selection:
// apply_edits hands this kernel the complement (see swapped_selection).
at::Tensor w_swap(const OpArgs& a) { return style_mix(a); }

at::Tensor w_noise(const OpArgs& a) {
  context(a);
  const std::int64_t k = a.sel.size(1), w = a.sel.size(3);
  std::vector<float> all;
  for (std::int64_t r = 0; r < k; ++r) {
    // Each W+ row its own stream, so the noise on a row does not depend on which others are selected.
    const std::uint64_t row = a.channels.empty() ? static_cast<std::uint64_t>(r) : static_cast<std::uint64_t>(a.channels[static_cast<std::size_t>(r)]);
    const auto v = latent_from_seed(SplitMix64(seed_param(a) * 0x9E3779B97F4A7C15ULL + row).next(), {w, LatentDistribution::Normal});
    all.insert(all.end(), v.begin(), v.end());
  }
  const at::Tensor n = at::from_blob(all.data(), {1, k, 1, w}, at::kFloat).clone().to(a.sel.options());
  return a.sel + n * a.params.at("strength").get<double>();
}

at::Tensor w_negate(const OpArgs& a) {
  const LatentContext& c = context(a);
  if (a.params.at("about").get<std::string>() == "zero") return -a.sel;
  const at::Tensor avg = c.generator->w_average().to(a.sel.options()).view({1, 1, 1, -1});
  return avg * 2.0 - a.sel;
}

// Spherical interpolation of z [N, D] towards z1 at t (linear where the two are parallel).
at::Tensor slerp(const at::Tensor& z0, const at::Tensor& z1, double t) {
  const at::Tensor a = z0.to(at::kDouble), b = z1.to(at::kDouble);
  const at::Tensor na = a.norm(2, 1, true), nb = b.norm(2, 1, true);
  const at::Tensor cos = ((a / na) * (b / nb)).sum(1, true).clamp(-1.0, 1.0);
  const at::Tensor omega = at::acos(cos), so = at::sin(omega);
  const at::Tensor lin = a * (1.0 - t) + b * t;
  const at::Tensor sph = a * (at::sin(omega * (1.0 - t)) / so) + b * (at::sin(omega * t) / so);
  return at::where(so.abs() < 1e-6, lin, sph).to(z0.scalar_type());
}

at::Tensor interpolate(const OpArgs& a) {
  const LatentContext& c = context(a);
  const double t = a.params.at("position").get<double>();
  const std::uint64_t seed = seed_param(a);
  if (a.params.at("space").get<std::string>() == "w") return at::lerp(a.sel, select_rows(a, other_ws(a, seed)), t);
  if (c.latent.dim() != 2) throw Error("interpolating in z needs a z latent; this render starts from W+");
  const at::Tensor z = slerp(c.latent, other_z(c, seed, c.latent.size(0)), t);
  return select_rows(a, c.generator->map_latents(z, c.options)).clone();
}

}  // namespace

OpKernel find_latent_op_kernel(const std::string& op) {
  if (op == "style_mix") return style_mix;
  if (op == "w_swap") return w_swap;
  if (op == "w_noise") return w_noise;
  if (op == "w_negate") return w_negate;
  if (op == "interpolate") return interpolate;
  return nullptr;
}

}  // namespace actmap
