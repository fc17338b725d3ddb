#include "model/upfirdn.h"

#include <cmath>
#include <numeric>

#include <ATen/Parallel.h>

#include "actmap/io/error.h"
#include "model/torch_util.h"

namespace actmap {

std::vector<double> fir_taps(const std::vector<double>& filter, double gain) {
  const double sum = std::accumulate(filter.begin(), filter.end(), 0.0);
  if (filter.empty() || sum == 0.0) throw Error("a resampling filter needs taps with a non-zero sum");
  std::vector<double> taps;
  for (double v : filter) taps.push_back(v / sum * std::sqrt(gain));
  return taps;
}

namespace {

std::int64_t output_length(std::int64_t n, int up, int pad0, int pad1, std::size_t taps) {
  return n * up + pad0 + pad1 - static_cast<std::int64_t>(taps) + 1;
}

void check_args(const at::Tensor& x, const std::vector<double>& taps, int up, int pad0, int pad1) {
  if (x.dim() != 4) throw Error("upfirdn2d needs [N, C, H, W]");
  if (taps.empty() || up < 1) throw Error("upfirdn2d needs taps and up >= 1");
  if (output_length(x.size(2), up, pad0, pad1, taps.size()) < 1 ||
      output_length(x.size(3), up, pad0, pad1, taps.size()) < 1) {
    throw Error("upfirdn2d: padding and filter leave an empty output");
  }
}

}  // namespace

at::Tensor upfirdn2d_filter(const std::vector<double>& taps, const at::TensorOptions& options) {
  const auto fw = static_cast<std::int64_t>(taps.size());
  const at::Tensor f1 = at::tensor(taps, at::kDouble).flip({0});  // a convolution: flipped taps
  return at::outer(f1, f1).to(options).view({1, 1, fw, fw});
}

at::Tensor upfirdn2d_aten(const at::Tensor& x, const at::Tensor& filter, int up, int pad0, int pad1) {
  const std::int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3), fw = filter.size(3);
  at::Tensor u = x;
  if (up > 1) {
    u = at::zeros({n, c, h * up, w * up}, x.options());
    u.slice(2, 0, h * up, up).slice(3, 0, w * up, up).copy_(x);
  }
  std::int64_t conv_pad = 0;
  if (pad0 == pad1 && pad0 >= 0) {
    conv_pad = pad0;  // the convolution pads (no padded copy)
  } else {
    u = at::constant_pad_nd(u, {pad0, pad1, pad0, pad1}, 0.0);
  }
  return at::conv2d(u, filter.expand({c, 1, fw, fw}), at::Tensor(), at::IntArrayRef{1, 1},
                    at::IntArrayRef{conv_pad, conv_pad}, at::IntArrayRef{1, 1}, c);
}

at::Tensor upfirdn2d_aten(const at::Tensor& x, const std::vector<double>& taps, int up, int pad0, int pad1) {
  check_args(x, taps, up, pad0, pad1);
  return upfirdn2d_aten(x, upfirdn2d_filter(taps, x.options()), up, pad0, pad1);
}

at::Tensor upfirdn2d(const at::Tensor& x, const std::vector<double>& taps, int up, int pad0, int pad1) {
  check_args(x, taps, up, pad0, pad1);
  if (!x.device().is_cpu() || x.scalar_type() != at::kFloat) return upfirdn2d_aten(x, taps, up, pad0, pad1);
  const at::Tensor in = contiguous_nchw(x);
  const std::int64_t planes = in.size(0) * in.size(1), h = in.size(2), w = in.size(3);
  const std::int64_t fw = static_cast<std::int64_t>(taps.size());
  const std::int64_t oh = output_length(h, up, pad0, pad1, taps.size());
  const std::int64_t ow = output_length(w, up, pad0, pad1, taps.size());
  at::Tensor out = at::empty({in.size(0), in.size(1), oh, ow}, in.options());
  std::vector<float> t(taps.size());
  for (std::size_t k = 0; k < taps.size(); ++k) t[k] = static_cast<float>(taps[taps.size() - 1 - k]);  // flipped
  const float* src = in.data_ptr<float>();
  float* dst = out.data_ptr<float>();
  const std::int64_t row_len = w * up + pad0 + pad1;  // one up-sampled, padded row
  at::parallel_for(0, planes, 1, [&](std::int64_t begin, std::int64_t end) {
    std::vector<float> row(static_cast<std::size_t>(row_len));
    std::vector<float> rows(static_cast<std::size_t>(h * ow));  // horizontally filtered input rows
    for (std::int64_t p = begin; p < end; ++p) {
      const float* plane = src + p * h * w;
      for (std::int64_t i = 0; i < h; ++i) {
        // Row i up-sampled and padded: sample j of the input lands at j * up + pad0.
        std::fill(row.begin(), row.end(), 0.0f);
        for (std::int64_t j = 0; j < w; ++j) {
          const std::int64_t at = j * up + pad0;
          if (at >= 0 && at < row_len) row[static_cast<std::size_t>(at)] = plane[i * w + j];
        }
        float* o = rows.data() + i * ow;
        std::fill(o, o + ow, 0.0f);
        for (std::int64_t k = 0; k < fw; ++k) {
          const float tk = t[static_cast<std::size_t>(k)];
          const float* r = row.data() + k;
          for (std::int64_t m = 0; m < ow; ++m) o[m] += tk * r[m];
        }
      }
      // Vertically: output row m sums padded rows m + k, which are input rows (m + k - pad0) / up.
      float* oplane = dst + p * oh * ow;
      for (std::int64_t m = 0; m < oh; ++m) {
        float* o = oplane + m * ow;
        std::fill(o, o + ow, 0.0f);
        for (std::int64_t k = 0; k < fw; ++k) {
          const std::int64_t r = m + k - pad0;
          if (r < 0 || r % up != 0 || r / up >= h) continue;
          const float tk = t[static_cast<std::size_t>(k)];
          const float* s = rows.data() + (r / up) * ow;
          for (std::int64_t q = 0; q < ow; ++q) o[q] += tk * s[q];
        }
      }
    }
  });
  return out;
}

}  // namespace actmap
