// 3x3 convolutions on the CPU by Winograd's minimal filtering F(4x4, 3x3) (internal): each 4x4
// block of outputs from a 6x6 block of inputs with 36 multiplications per input channel instead
// of 144, the sums over input channels as 36 matrix products. Interpolation points 0, 1, -1, 2,
// -1/2 and infinity (float32 results within a few 1e-6 of the direct convolution, relative to
// the output's scale).
#pragma once

#include <cstdint>

#include <ATen/ATen.h>

namespace actmap {

// conv2d(x, w, stride 1, padding `pad`) for contiguous float CPU x [1, I, H, W], w [O, I, 3, 3].
// The matrix products split over the threads themselves (BLAS calls are made single-threaded).
at::Tensor conv3x3_winograd(const at::Tensor& x, const at::Tensor& w, std::int64_t pad);

// a [M, K] x b [K, N] for float CPU tensors, the rows of `a` split over the threads (one
// single-threaded BLAS call each).
at::Tensor parallel_matmul(const at::Tensor& a, const at::Tensor& b);

}  // namespace actmap
