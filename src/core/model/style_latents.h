// What the StyleGAN2 and StyleGAN3 generators share before synthesis: their latents (z [N, z_dim]
// or W+ [N, num_ws, w_dim]), the mapping network's input normalisation and the broadcast of w to
// every layer with truncation towards the average W, as both official networks do them.
#pragma once

#include <cstdint>
#include <string>

#include <ATen/ATen.h>

#include "actmap/model/synthesis.h"

namespace actmap {

struct StyleLatentShape {
  std::string model;  // named in errors
  std::int64_t z_dim = 0, num_ws = 0, w_dim = 0;
};

// A latent given to prepare(): z or W+ of this shape, and a cutoff of at least 0.
void check_style_latent(const StyleLatentShape& shape, const at::Tensor& latent, const SynthesisOptions& options);
// A z given to map_latents().
void check_style_z(const StyleLatentShape& shape, const at::Tensor& z);
// x / sqrt(mean(x^2 over dim 1) + 1e-8): normalize_2nd_moment of the official code.
at::Tensor normalize_2nd_moment(const at::Tensor& x);
// The mapping's w [N, w_dim] repeated for every layer ([N, num_ws, w_dim]); with psi != 1 the
// first `truncation_cutoff` rows (all when unset) are moved towards `w_avg`: w_avg + psi (w - w_avg).
at::Tensor broadcast_and_truncate(const at::Tensor& w, const at::Tensor& w_avg, const SynthesisOptions& options,
                                  std::int64_t num_ws);

}  // namespace actmap
