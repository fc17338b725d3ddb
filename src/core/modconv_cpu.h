// CPU pieces of StyleGAN2's modulated convolutions in channels-last (NHWC) memory, where oneDNN's
// convolutions run 1.5-3x faster than in NCHW at the 32-256 channels of the high-resolution
// blocks (internal).
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include <ATen/ATen.h>

namespace actmap {

// "Transposed convolution with stride 2, then the FIR filter" as one stride-1 convolution at the
// input resolution with four output phases. Output pixel (2q + py, 2r + px), channel o, is channel
// (2 py + px) * O + o of conv2d(x, weight, padding = pad) at (q, r): the phases are the combined
// kernel (the 3x3 kernel convolved with the filter, 6x6) taken every other tap.
struct PolyphaseUp {
  at::Tensor weight;  // [4 * O, I, kp, kp]
  std::int64_t pad = 0;
};

// From a layer weight [O, I, k, k] and the correlation form of the 2-D filter [1, 1, fw, fw]
// (upfirdn2d_filter), for the up-sampling geometry of conv2d_resample: transposed-convolution
// padding `pt` and filter padding `p0`, `p1` before/after. Empty when that geometry is not one the
// phases reproduce exactly (the caller keeps the transposed convolution).
std::optional<PolyphaseUp> polyphase_up(const at::Tensor& weight, const at::Tensor& filter, std::int64_t pt,
                                        std::int64_t p0, std::int64_t p1);

// The transposed convolution alone (stride 2, no cropping) as one stride-1 convolution with four
// output phases of 2x2 taps, for 3x3 kernels: u(2q + py, 2r + px), channel o, is channel
// (2 py + px) * O + o of conv2d(x, weight, padding = 1) at (q, r), for q, r in [0, R]. A quarter
// of the multiply-adds of PolyphaseUp; the filter then runs as its own pass (fir_finish_nhwc).
// Empty for other kernel sizes or a cropping transposed convolution (pt > 0).
std::optional<at::Tensor> transposed_phases(const at::Tensor& weight, std::int64_t pt);

// The end of a modulated layer, in the official order, for every pixel and channel:
//   v = y * d + noise + bias; leaky ReLU 0.2 (if `activation`); times `gain`; clamp to +-clamp
//   (clamp < 0: none). d [N, C] or undefined; noise [1 or N, 1, H, W] or undefined; bias [C].
struct LayerFinish {
  at::Tensor d, noise, bias;
  bool activation = true;
  double gain = 1.0, clamp = -1.0;
};

// In place on y [N, C, H, W] held channels-last (float, CPU).
void finish_nhwc_(at::Tensor& y, const LayerFinish& f);

// z [N, 4C, H, W] channels-last from a PolyphaseUp convolution: interleaves the phases into
// [N, C, 2H, 2W] channels-last and finishes it, in one pass (noise at the output resolution).
at::Tensor shuffle_finish_nhwc(const at::Tensor& z, const LayerFinish& f);

// z [N, 4C, R + 1, R + 1] channels-last from a transposed_phases convolution (the transposed
// convolution's output u, 2R + 1 square, by phase): out = upfirdn2d(u, taps, up 1, padding pad0
// before), cropped to [N, C, out_h, out_w], then finished; channels-last. `taps` as upfirdn2d takes them.
at::Tensor fir_finish_nhwc(const at::Tensor& z, const std::vector<double>& taps, std::int64_t pad0,
                           std::int64_t out_h, std::int64_t out_w, const LayerFinish& f);

}  // namespace actmap
