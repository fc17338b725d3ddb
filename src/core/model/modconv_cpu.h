// CPU pieces of StyleGAN2's modulated convolutions in channels-last (NHWC) memory, where oneDNN's
// convolutions run 1.5-3x faster than in NCHW at the 32-256 channels of the high-resolution
// blocks (internal).
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include <ATen/ATen.h>

namespace actmap {

// The transposed convolution alone (stride 2, no cropping) as one stride-1 convolution with four
// output phases of 2x2 taps, for 3x3 kernels: u(2q + py, 2r + px), channel o, is channel
// (2 py + px) * O + o of conv2d(x, weight, padding = 1) at (q, r), for q, r in [0, R]. The
// filter then runs in the finishing pass (fir_finish_nhwc).
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

// z [N, 4C, R + 1, R + 1] channels-last from a transposed_phases convolution (the transposed
// convolution's output u, 2R + 1 square, by phase): out = upfirdn2d(u, taps, up 1, padding pad0
// before), cropped to [N, C, out_h, out_w], then finished; channels-last. `taps` as upfirdn2d takes them.
at::Tensor fir_finish_nhwc(const at::Tensor& z, const std::vector<double>& taps, std::int64_t pad0,
                           std::int64_t out_h, std::int64_t out_w, const LayerFinish& f);

}  // namespace actmap
