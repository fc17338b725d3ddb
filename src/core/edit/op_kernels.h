// The tensor side of the op registry (src/core/edit/ops.cpp): one kernel per op. Internal to the core.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>
#include <nlohmann/json.hpp>

namespace actmap {

struct LatentContext;

// What a kernel sees of one edit at one tap. Everything lives on the activation's device.
struct OpArgs {
  const at::Tensor& sel;       // the selected channels before this edit [N, k, H, W]
  const at::Tensor& current;   // every channel before this edit [N, C, H, W]
  const at::Tensor& unedited;  // every channel before any edit at this tap [N, C, H, W]
  const at::Tensor& index;     // the selected channels (Long); undefined when all are selected
  const std::vector<std::int64_t>& channels;  // the same, sorted
  const nlohmann::json& params;               // validated, every parameter present
  const LatentContext* latent = nullptr;      // W+ ops: the generator and the render's latent
};

// Returns the edited selection as a new tensor the caller may change in place, or args.sel
// itself when the edit changes nothing. Throws actmap::Error (without the edit's id).
using OpKernel = at::Tensor (*)(const OpArgs& args);

// nullptr when `op` has no kernel.
OpKernel find_op_kernel(const std::string& op);

// The W+ ops (latent_ops.cpp): style_mix, w_swap, w_noise, w_negate, interpolate.
OpKernel find_latent_op_kernel(const std::string& op);

}  // namespace actmap
