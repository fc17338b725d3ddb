// Weight edits (ops of category "weight"): applied to a copy of a layer's kernels (internal).
#pragma once

#include <vector>

#include <ATen/ATen.h>

#include "actmap/edit.h"
#include "actmap/model_card.h"

namespace actmap {

// A copy of `weight` with the edits applied, in order, to the output channels each selects;
// `out_dim` is the dimension that indexes output channels (0 for conv2d and linear weights, 1 for
// conv_transpose2d). Spatial ops need k x k kernels. Errors name the edit.
at::Tensor apply_weight_edits(const at::Tensor& weight, int out_dim, const std::vector<const Edit*>& edits,
                              const TapInfo& tap, const std::vector<int>& cluster_labels);

bool is_weight_op(const std::string& op);

}  // namespace actmap
