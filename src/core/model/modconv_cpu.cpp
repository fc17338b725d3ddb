#include "model/modconv_cpu.h"

#include <algorithm>
#include <limits>
#include <vector>

#include <ATen/Parallel.h>

#include "actmap/io/error.h"
#include "model/torch_util.h"

namespace actmap {

std::optional<at::Tensor> transposed_phases(const at::Tensor& weight, std::int64_t pt) {
  // u[2q + ph] = sum_a x[q - a] w[2a + ph] (a >= 0): per phase, taps at input offsets -1 and 0,
  // i.e. a 2-tap correlation with one pixel of padding; tap kb holds w[2 (1 - kb) + ph] (zero
  // past the kernel's end).
  if (weight.size(2) != 3 || weight.size(3) != 3 || pt != 0) return std::nullopt;
  const std::int64_t o = weight.size(0), i = weight.size(1);
  at::Tensor out = at::zeros({2, 2, o, i, 2, 2}, weight.options());
  for (std::int64_t py = 0; py < 2; ++py) {
    for (std::int64_t px = 0; px < 2; ++px) {
      for (std::int64_t ky = 0; ky < 2; ++ky) {
        for (std::int64_t kx = 0; kx < 2; ++kx) {
          const std::int64_t sy = 2 * (1 - ky) + py, sx = 2 * (1 - kx) + px;
          if (sy > 2 || sx > 2) continue;
          out.select(0, py).select(0, px).select(2, ky).select(2, kx).copy_(weight.select(2, sy).select(2, sx));
        }
      }
    }
  }
  return out.reshape({4 * o, i, 2, 2}).contiguous();
}

namespace {

// The per-channel numbers of LayerFinish, ready for a branch-free inner loop.
struct FinishConsts {
  std::vector<float> ones;  // d when there is none
  at::Tensor d, noise, bias;
  const float* dp = nullptr;
  const float* np = nullptr;
  const float* bp = nullptr;
  std::int64_t n = 0, c = 0;
  bool noise_per_sample = false;
  float slope = 1.0f, gain = 1.0f, lo = 0.0f, hi = 0.0f;

  FinishConsts(const LayerFinish& f, std::int64_t batch, std::int64_t channels) : n(batch), c(channels) {
    if (f.d.defined()) {
      d = f.d.to(at::kFloat).contiguous();
      dp = d.data_ptr<float>();
    } else {
      ones.assign(static_cast<std::size_t>(batch * channels), 1.0f);
      dp = ones.data();
    }
    if (f.noise.defined()) {
      noise = f.noise.to(at::kFloat).contiguous();
      np = noise.data_ptr<float>();
      noise_per_sample = noise.size(0) == batch && batch > 1;
    }
    bias = f.bias.to(at::kFloat).contiguous();
    bp = bias.data_ptr<float>();
    slope = f.activation ? 0.2f : 1.0f;
    gain = static_cast<float>(f.gain);
    hi = f.clamp >= 0 ? static_cast<float>(f.clamp) : std::numeric_limits<float>::infinity();
    lo = -hi;
  }

  // One pixel's channels: ((src * d + noise) + bias), leaky ReLU as max(v, slope v), gain, clamp.
  void pixel(const float* src, float* dst, std::int64_t sample, std::int64_t noise_at) const {
    const float* ds = dp + sample * c;
    const float nz = np ? np[(noise_per_sample ? sample : 0) * noise_plane + noise_at] : 0.0f;
    for (std::int64_t ch = 0; ch < c; ++ch) {
      float v = src[ch] * ds[ch];
      v += nz;
      v += bp[ch];
      v = std::max(v, v * slope);
      v *= gain;
      dst[ch] = std::min(std::max(v, lo), hi);
    }
  }
  std::int64_t noise_plane = 0;  // H * W of the noise map
};

void check_channels_last(const at::Tensor& t, const char* what) {
  if (!t.device().is_cpu() || t.scalar_type() != at::kFloat || t.dim() != 4 ||
      !t.is_contiguous(at::MemoryFormat::ChannelsLast)) {
    throw Error(std::string("internal: ") + what + " needs a channels-last float CPU tensor");
  }
}

}  // namespace

void finish_nhwc_(at::Tensor& y, const LayerFinish& f) {
  check_channels_last(y, "finish_nhwc_");
  const std::int64_t n = y.size(0), c = y.size(1), hw = y.size(2) * y.size(3);
  FinishConsts k(f, n, c);
  k.noise_plane = hw;
  float* data = y.data_ptr<float>();
  at::parallel_for(0, n * hw, 2048, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t p = begin; p < end; ++p) {
      float* v = data + p * c;
      k.pixel(v, v, p / hw, p % hw);
    }
  });
}

at::Tensor contiguous_nchw(const at::Tensor& x) {
  if (x.is_contiguous() || x.dim() != 4 || !x.device().is_cpu() || x.scalar_type() != at::kFloat ||
      !x.is_contiguous(at::MemoryFormat::ChannelsLast)) {
    return x.contiguous();
  }
  const std::int64_t n = x.size(0), c = x.size(1), hw = x.size(2) * x.size(3);
  at::Tensor out = at::empty(x.sizes(), x.options().memory_format(at::MemoryFormat::Contiguous));
  const float* src = x.data_ptr<float>();
  float* dst = out.data_ptr<float>();
  constexpr std::int64_t kTile = 32;
  const std::int64_t pixel_tiles = (hw + kTile - 1) / kTile;
  at::parallel_for(0, n * pixel_tiles, 16, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t t = begin; t < end; ++t) {
      const std::int64_t s = t / pixel_tiles, p0 = (t % pixel_tiles) * kTile, p1 = std::min(hw, p0 + kTile);
      const float* in = src + s * hw * c;
      float* o = dst + s * hw * c;
      for (std::int64_t c0 = 0; c0 < c; c0 += kTile) {
        const std::int64_t c1 = std::min(c, c0 + kTile);
        for (std::int64_t ch = c0; ch < c1; ++ch) {
          for (std::int64_t p = p0; p < p1; ++p) o[ch * hw + p] = in[p * c + ch];
        }
      }
    }
  });
  return out;
}

at::Tensor fir_finish_nhwc(const at::Tensor& z, const std::vector<double>& taps, std::int64_t pad0,
                           std::int64_t out_h, std::int64_t out_w, const LayerFinish& f) {
  check_channels_last(z, "fir_finish_nhwc");
  const std::int64_t n = z.size(0), c4 = z.size(1), zh = z.size(2), zw = z.size(3), c = c4 / 4;
  if (c4 % 4 != 0) throw Error("internal: fir_finish_nhwc needs 4 phases of channels");
  const std::int64_t uh = 2 * zh - 1, uw = 2 * zw - 1;  // u's extent: 2R + 1
  const auto fw = static_cast<std::int64_t>(taps.size());
  std::vector<float> g(taps.size());  // correlation taps: upfirdn2d convolves (flipped)
  for (std::size_t k = 0; k < taps.size(); ++k) g[k] = static_cast<float>(taps[taps.size() - 1 - k]);
  at::Tensor out = at::empty({n, c, out_h, out_w}, z.options().memory_format(at::MemoryFormat::ChannelsLast));
  FinishConsts k(f, n, c);
  k.noise_plane = out_h * out_w;
  const float* src = z.data_ptr<float>();
  float* dst = out.data_ptr<float>();
  at::parallel_for(0, n * out_h, 4, [&](std::int64_t begin, std::int64_t end) {
    std::vector<float> acc(static_cast<std::size_t>(c));
    for (std::int64_t row = begin; row < end; ++row) {
      const std::int64_t s = row / out_h, oy = row % out_h;
      const float* zs = src + s * zh * zw * c4;
      for (std::int64_t ox = 0; ox < out_w; ++ox) {
        std::fill(acc.begin(), acc.end(), 0.0f);
        // out(oy, ox) = sum g[ky] g[kx] u(oy + ky - pad0, ox + kx - pad0), u zero outside.
        for (std::int64_t ky = 0; ky < fw; ++ky) {
          const std::int64_t my = oy + ky - pad0;
          if (my < 0 || my >= uh) continue;
          for (std::int64_t kx = 0; kx < fw; ++kx) {
            const std::int64_t mx = ox + kx - pad0;
            if (mx < 0 || mx >= uw) continue;
            const float t = g[static_cast<std::size_t>(ky)] * g[static_cast<std::size_t>(kx)];
            const float* u = zs + ((my / 2) * zw + mx / 2) * c4 + ((my % 2) * 2 + mx % 2) * c;
            float* a = acc.data();
            for (std::int64_t ch = 0; ch < c; ++ch) a[ch] += t * u[ch];
          }
        }
        k.pixel(acc.data(), dst + ((s * out_h + oy) * out_w + ox) * c, s, oy * out_w + ox);
      }
    }
  });
  return out;
}

}  // namespace actmap
