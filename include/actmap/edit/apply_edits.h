// Applying a tap's edits to its activation: the value, geometry, painting and W+ ops of the
// registry on tensors. The renderer calls this once per tap; tests call it directly.
#pragma once

#include <vector>

#include <ATen/core/Tensor.h>

#include "actmap/edit/edit.h"
#include "actmap/model/generator.h"

namespace actmap {

// What the W+ ops (category "latent") need besides the activation: the generator's mapping and
// the latent the render started from (z [N, z_dim], or W+ [N, num_ws, w_dim]) with its options.
struct LatentContext {
  const Generator* generator = nullptr;
  at::Tensor latent;
  SynthesisOptions options;
};

// Applies edits (all for the same tap) to a copy of x [N, C, H, W] and returns it; returns x
// itself when `edits` is empty. Used by the renderer; exposed for tests.
at::Tensor apply_edits(const at::Tensor& x, const std::vector<const Edit*>& edits, const TapInfo& tap,
                       const std::vector<int>& cluster_labels = {}, const LatentContext* latent = nullptr);

}  // namespace actmap
