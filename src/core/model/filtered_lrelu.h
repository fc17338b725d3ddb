// StyleGAN3's filtered leaky ReLU (internal), with the semantics of stylegan3's
// torch_utils/ops/filtered_lrelu.py (its reference path), for each channel of x [N, C, H, W]:
//   add the channel's bias; up-sample by inserting up - 1 zeros after each sample; pad by pad0
//   before and pad1 after on both axes (negative crops); convolve with the up filter, gain up^2;
//   leaky ReLU (slope) times gain; clamp to +-clamp; convolve with the down filter; keep every
//   down-th sample from the first.
// Convolutions are true convolutions (the filters are flipped, as upfirdn2d does without
// flip_filter) and only keep outputs whose footprint lies inside the signal.
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#include <ATen/ATen.h>

namespace actmap {

// A FIR filter as a SynthesisLayer stores it: n taps (separable: the 2-D filter is the outer
// product) or n x n (2-D, the radial filters of config R). No taps: the identity.
struct FirFilter {
  std::vector<float> taps;  // row-major
  std::int64_t size = 1;
  bool two_d = false;
  at::Tensor tensor;  // the same on the generator's device ([n] or [n, n]); undefined for the identity

  bool identity() const { return taps.empty(); }
  static FirFilter from_tensor(const at::Tensor& t);  // [n] or [n, n]; undefined: the identity
};

struct FilteredLRelu {
  FirFilter up_filter, down_filter;
  std::int64_t up = 1, down = 1, pad0 = 0, pad1 = 0;
  double gain = std::sqrt(2.0), slope = 0.2;
  double clamp = -1.0;  // < 0: none

  // The output extent for an input extent n: (n up + pad0 + pad1 - (fu - 1) - (fd - 1) + down - 1) / down.
  std::int64_t output_size(std::int64_t n) const;
};

// Float CPU x: polyphase, separable where the filters are, one pass per row with the rows a
// channel needs in cache. Other tensors: filtered_lrelu_aten.
at::Tensor filtered_lrelu(const at::Tensor& x, const at::Tensor& bias, const FilteredLRelu& p);

// LibTorch operations only (zero insertion, padding, depthwise convolutions, strided for the
// down-sampling), on any device and dtype: the path for GPUs and the one the kernel is checked by.
at::Tensor filtered_lrelu_aten(const at::Tensor& x, const at::Tensor& bias, const FilteredLRelu& p);

}  // namespace actmap
