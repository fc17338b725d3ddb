// Weight edits (ops of category "weight"): applied to a copy of a layer's kernels, never to the
// loaded weights.
#pragma once

#include <vector>

#include <ATen/ATen.h>

#include "actmap/edit/edit.h"
#include "actmap/model/generator.h"
#include "actmap/model/model_card.h"

namespace actmap {

// A copy of `weight` with the edits applied, in order, to the output channels each selects;
// `out_dim` is the dimension that indexes output channels (0 for conv2d and linear weights, 1 for
// conv_transpose2d). Spatial ops need k x k kernels. Errors name the edit.
at::Tensor apply_weight_edits(const at::Tensor& weight, int out_dim, const std::vector<const Edit*>& edits,
                              const TapInfo& tap, const std::vector<int>& cluster_labels);

bool is_weight_op(const std::string& op);

// Runs stage `index` of `generator` with `edits` (all weight edits at that tap) on a copy of the
// kernels of the layer producing the tap. Errors name the first edit where the tap has no such layer.
TapState run_stage_with_weight_edits(const Generator& generator, std::size_t index, const TapState& in,
                                     const std::vector<const Edit*>& edits, const std::vector<int>& cluster_labels);

}  // namespace actmap
