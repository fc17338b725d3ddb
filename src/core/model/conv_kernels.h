// CPU kernels for the layer-list generators at batch sizes where LibTorch's own convolution
// leaves one of the two cores idle: each thread takes a block of output channels and runs its
// part of the GEMM, the col2im scatter, the bias and the activation, all in cache.
#pragma once

#include <ATen/ATen.h>

#include "actmap/model/model_card.h"

namespace actmap {

struct FusedActivation {
  LayerType type = LayerType::Reshape;  // Reshape: none
  double slope = 0.01;
};

struct PackedConvTranspose {
  at::Tensor wt;    // [Cout * k * k, Cin]: rows ordered (o, ky, kx)
  at::Tensor bias;  // [Cout], zeros when the layer has none
  std::int64_t cin = 0, cout = 0, kernel = 0, stride = 1, padding = 0, output_padding = 0;
};

// From a ConvTranspose2d weight [Cin, Cout, k, k] and an optional bias.
PackedConvTranspose pack_conv_transpose(const at::Tensor& weight, const at::Tensor& bias, std::int64_t stride,
                                        std::int64_t padding, std::int64_t output_padding);

// y = act(conv_transpose2d(x, w, b)) for contiguous float CPU x [N, Cin, H, W].
at::Tensor conv_transpose2d_fused(const at::Tensor& x, const PackedConvTranspose& p, const FusedActivation& act);

// Applies an activation in place (no-op for none).
void apply_activation_(at::Tensor& x, const FusedActivation& act);

// False when ACTMAP_CPU_KERNELS=aten: LibTorch's own operations everywhere (for comparisons).
bool use_actmap_cpu_kernels();

// OpenBLAS runs its own thread pool; the kernels above split work themselves, so BLAS calls
// made from them must stay single-threaded. No-op when the BLAS is not OpenBLAS.
void use_single_threaded_blas();

}  // namespace actmap
