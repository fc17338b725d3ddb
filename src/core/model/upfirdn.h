// Up-sampling, FIR filtering and cropping in the manner of StyleGAN2's upfirdn2d (internal):
// zeros inserted after each sample, padding (negative = cropping), then a convolution with a
// separable filter. The filter is given in 1-D; the 2-D filter is its outer product.
#pragma once

#include <cstdint>
#include <vector>

#include <ATen/ATen.h>

namespace actmap {

// The 1-D factor of upfirdn2d.setup_filter(f) (normalised to sum 1) with a 2-D gain folded in:
// each axis gets sqrt(gain), so the 2-D filter is outer(f, f) / sum(f)^2 * gain.
std::vector<double> fir_taps(const std::vector<double>& filter, double gain);

// y = upfirdn2d(x, f, up, pad0, pad1) on [N, C, H, W], the same on both axes: insert up - 1 zeros
// after every sample, pad by pad0 before and pad1 after (negative crops), then convolve with the
// taps (a true convolution: the taps are flipped, as upfirdn2d does without flip_filter).
// Float CPU tensors use a direct separable kernel; others LibTorch's depthwise convolution.
at::Tensor upfirdn2d(const at::Tensor& x, const std::vector<double>& taps, int up, int pad0, int pad1);

// The reference path the above must agree with: LibTorch ops only (zero insertion, constant_pad_nd,
// a depthwise conv2d with the 2-D outer-product filter). Used by tests and non-CPU devices.
at::Tensor upfirdn2d_aten(const at::Tensor& x, const std::vector<double>& taps, int up, int pad0, int pad1);

// The 2-D filter upfirdn2d_aten convolves with, [1, 1, fw, fw] (flipped), on x's device and type:
// callers that filter often on a GPU build it once and pass it to the overload below.
at::Tensor upfirdn2d_filter(const std::vector<double>& taps, const at::TensorOptions& options);
at::Tensor upfirdn2d_aten(const at::Tensor& x, const at::Tensor& filter, int up, int pad0, int pad1);

}  // namespace actmap
