#include "model/style_latents.h"

#include <algorithm>

#include "actmap/io/error.h"
#include "model/torch_util.h"

namespace actmap {

void check_style_latent(const StyleLatentShape& s, const at::Tensor& latent, const SynthesisOptions& options) {
  const bool z = latent.dim() == 2 && latent.size(1) == s.z_dim;
  const bool ws = latent.dim() == 3 && latent.size(1) == s.num_ws && latent.size(2) == s.w_dim;
  if (!z && !ws) {
    throw Error(s.model + ": latents must be z [N, " + std::to_string(s.z_dim) + "] or W+ [N, " +
                std::to_string(s.num_ws) + ", " + std::to_string(s.w_dim) + "], got " + shape_string(latent.sizes()));
  }
  if (options.truncation_cutoff && *options.truncation_cutoff < 0) {
    throw Error("truncation cutoff must be at least 0, got " + std::to_string(*options.truncation_cutoff));
  }
}

void check_style_z(const StyleLatentShape& s, const at::Tensor& z) {
  if (z.dim() != 2 || z.size(1) != s.z_dim) {
    throw Error(s.model + ": z must be [N, " + std::to_string(s.z_dim) + "], got " + shape_string(z.sizes()));
  }
}

at::Tensor normalize_2nd_moment(const at::Tensor& x) { return x * (x.square().mean(1, true) + 1e-8).rsqrt(); }

at::Tensor broadcast_and_truncate(const at::Tensor& w, const at::Tensor& w_avg, const SynthesisOptions& options,
                                  std::int64_t num_ws) {
  at::Tensor ws = w.unsqueeze(1).repeat({1, num_ws, 1});
  if (options.truncation_psi != 1.0) {
    const std::int64_t cutoff = std::min(options.truncation_cutoff.value_or(num_ws), num_ws);
    at::Tensor head = ws.narrow(1, 0, cutoff);
    head.copy_(at::lerp(w_avg, head, options.truncation_psi));
  }
  return ws;
}

}  // namespace actmap
