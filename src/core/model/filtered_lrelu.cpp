#include "model/filtered_lrelu.h"

#include <algorithm>
#include <limits>

#include <ATen/Parallel.h>

#include "actmap/io/error.h"
#include "model/torch_util.h"

namespace actmap {

FirFilter FirFilter::from_tensor(const at::Tensor& t) {
  FirFilter f;
  if (!t.defined()) return f;
  if (t.dim() != 1 && !(t.dim() == 2 && t.size(0) == t.size(1))) {
    throw Error("a FIR filter must be [n] or [n, n], got " + shape_string(t.sizes()));
  }
  const at::Tensor c = t.detach().to(at::kCPU, at::kFloat).contiguous();
  f.taps.assign(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
  f.size = t.size(0);
  f.two_d = t.dim() == 2;
  f.tensor = t;
  return f;
}

std::int64_t FilteredLRelu::output_size(std::int64_t n) const {
  return (n * up + pad0 + pad1 - (up_filter.size - 1) - (down_filter.size - 1) + down - 1) / down;
}

namespace {

// The filter as a true convolution: flipped; `gain` folded in per axis (the 2-D gain is its square).
std::vector<float> flipped(const FirFilter& f, double gain) {
  if (f.identity()) return {static_cast<float>(gain)};
  std::vector<float> out(f.taps.rbegin(), f.taps.rend());  // also flips both axes of a 2-D filter
  for (float& v : out) v = static_cast<float>(v * gain);
  return out;
}

std::int64_t floor_mod(std::int64_t a, std::int64_t b) { return ((a % b) + b) % b; }

// y += a x over n floats. The pragma asks for SIMD code at any optimisation level (GCC's -O2
// otherwise leaves loops that need an alias check scalar); y and x never overlap here.
inline void axpy(float* __restrict y, float a, const float* __restrict x, std::int64_t n) {
#pragma omp simd
  for (std::int64_t i = 0; i < n; ++i) y[i] += a * x[i];
}

// The up-sampling convolution along one axis of length n (inserting zeros, padding pad0 before)
// seen from the output: output t reads inputs q + a + offset[r] with taps[r][a], t = up q + r.
struct UpPhases {
  std::int64_t up = 1, out_len = 0;
  std::vector<std::vector<float>> taps;  // per phase r
  std::vector<std::int64_t> offset;      // per phase r
  std::int64_t min_offset = 0, max_reach = 0;

  UpPhases(const std::vector<float>& ff, std::int64_t up_, std::int64_t pad0, std::int64_t len) : up(up_), out_len(len) {
    const auto lu = static_cast<std::int64_t>(ff.size());
    taps.resize(static_cast<std::size_t>(up));
    offset.resize(static_cast<std::size_t>(up));
    for (std::int64_t r = 0; r < up; ++r) {
      // Output t = up q + r reads the zero-stuffed signal at t + k - pad0, nonzero when it is a
      // multiple of up: k = k0 + up a, input sample q + a + (r + k0 - pad0) / up.
      const std::int64_t k0 = floor_mod(pad0 - r, up);
      for (std::int64_t k = k0; k < lu; k += up) taps[static_cast<std::size_t>(r)].push_back(ff[static_cast<std::size_t>(k)]);
      offset[static_cast<std::size_t>(r)] = (r + k0 - pad0) / up;  // exact
    }
    min_offset = *std::min_element(offset.begin(), offset.end());
    for (std::int64_t r = 0; r < up; ++r) {
      const std::int64_t q_count = count(r);
      if (q_count == 0) continue;
      max_reach = std::max<std::int64_t>(max_reach, q_count - 1 + static_cast<std::int64_t>(taps[static_cast<std::size_t>(r)].size()) - 1 +
                                                         offset[static_cast<std::size_t>(r)]);
    }
  }
  std::int64_t count(std::int64_t r) const { return r < out_len ? (out_len - r + up - 1) / up : 0; }
};

struct Geometry {
  std::int64_t h, w, th, tw, oh, ow;  // input, after the up filter, output
};

// One channel plane at a time; every buffer belongs to the calling thread.
class PlaneKernel {
 public:
  PlaneKernel(const FilteredLRelu& p, const Geometry& g)
      : p_(p), g_(g), fu_(flipped(p.up_filter, static_cast<double>(p.up))),
        fd_(flipped(p.down_filter, 1.0)), rows_(fu_, p.up, p.pad0, g.th), cols_(fu_, p.up, p.pad0, g.tw) {
    const std::int64_t ld = p.down_filter.size, d = p.down;
    // Tmp rows the output needs: [0, (oh - 1) d + ld); columns likewise.
    used_rows_ = (g.oh - 1) * d + ld;
    used_cols_ = (g.ow - 1) * d + ld;
    phase_len_ = (used_cols_ + d - 1) / d + 1;
    left_ = std::max<std::int64_t>(0, -cols_.min_offset);
    padded_.assign(static_cast<std::size_t>(left_ + std::max(cols_.max_reach + 1, g.w) + 1), 0.0f);
    vrow_.assign(static_cast<std::size_t>(g.w), 0.0f);
    phase_out_.assign(static_cast<std::size_t>((g.tw + p.up - 1) / p.up + 1), 0.0f);
    // Ring of the last ld tmp rows: split into d column phases (2-D down filter) or already
    // filtered along x (separable).
    const std::int64_t ring_row = p.down_filter.two_d ? d * phase_len_ : g.ow;
    ring_.assign(static_cast<std::size_t>(ld * ring_row), 0.0f);
    ring_row_ = ring_row;
    tphase_.assign(static_cast<std::size_t>(d * phase_len_), 0.0f);
    // The vertical up-sampling: which input rows (and taps) make tmp row m.
    for (std::int64_t m = 0; m < used_rows_; ++m) {
      const std::int64_t r = m % p.up, q = m / p.up;
      const auto& taps = rows_.taps[static_cast<std::size_t>(r)];
      std::vector<std::pair<std::int64_t, float>> list;
      for (std::size_t a = 0; a < taps.size(); ++a) {
        const std::int64_t src = q + static_cast<std::int64_t>(a) + rows_.offset[static_cast<std::size_t>(r)];
        if (src >= 0 && src < g.h) list.emplace_back(src, taps[a]);
      }
      vtaps_.push_back(std::move(list));
    }
  }

  void run(const float* x, float bias, float* out) {
    const std::int64_t ld = p_.down_filter.size, d = p_.down;
    for (std::int64_t m = 0; m < used_rows_; ++m) {
      float* slot = ring_.data() + (m % ld) * ring_row_;
      tmp_row(x, bias, m, slot);
      // Output row i is complete once tmp row i d + ld - 1 is in.
      const std::int64_t end = m + 1 - ld;
      if (end >= 0 && end % d == 0) down_rows(end / d, out + (end / d) * g_.ow);
    }
  }

 private:
  // Tmp row m: the vertical up-sampling of (x + bias), the horizontal one, the activation; then
  // split by column phase (2-D down filter) or filtered and decimated along x into `slot`.
  void tmp_row(const float* x, float bias, std::int64_t m, float* slot) {
    const std::int64_t w = g_.w;
    float* v = vrow_.data();
    std::fill(v, v + w, 0.0f);
    float coef_sum = 0.0f;
    for (const auto& [src, c] : vtaps_[static_cast<std::size_t>(m)]) {
      const float* in = x + src * w;
      axpy(v, c, in, w);
      coef_sum += c;
    }
    const float b = coef_sum * bias;
    float* padded = padded_.data() + left_;
    for (std::int64_t j = 0; j < w; ++j) padded[j] = v[j] + b;  // zeros stay around it
    const std::int64_t d = p_.down;
    const float slope = static_cast<float>(p_.slope), gain = static_cast<float>(p_.gain);
    const float hi = p_.clamp >= 0 ? static_cast<float>(p_.clamp) : std::numeric_limits<float>::infinity();
    float* tp = tphase_.data();
    for (std::int64_t r = 0; r < p_.up; ++r) {
      const std::int64_t qn = std::min(cols_.count(r), (used_cols_ - r + p_.up - 1) / p_.up);
      if (qn <= 0) continue;
      const auto& taps = cols_.taps[static_cast<std::size_t>(r)];
      const float* src = padded + cols_.offset[static_cast<std::size_t>(r)];
      float* o = phase_out_.data();
      std::fill(o, o + qn, 0.0f);
      for (std::size_t a = 0; a < taps.size(); ++a) {
        const float t = taps[a];
        const float* s = src + a;
        axpy(o, t, s, qn);
      }
#pragma omp simd
      for (std::int64_t q = 0; q < qn; ++q) {
        float val = o[q];
        val = val < 0.0f ? val * slope : val;
        val *= gain;
        o[q] = std::min(std::max(val, -hi), hi);
      }
      // Column n = up q + r goes to phase n % d, position n / d.
      if (p_.up % d == 0) {  // every layer the official code builds: rates never fall
        const std::int64_t stride = p_.up / d;
        float* dst = tp + (r % d) * phase_len_ + r / d;
        for (std::int64_t q = 0; q < qn; ++q) dst[q * stride] = o[q];
      } else {
        for (std::int64_t q = 0; q < qn; ++q) {
          const std::int64_t n = p_.up * q + r;
          tp[(n % d) * phase_len_ + n / d] = o[q];
        }
      }
    }
    if (p_.down_filter.two_d) {
      std::copy(tp, tp + d * phase_len_, slot);
      return;
    }
    // Along x: slot[j] = sum_k fd[k] tmp[j d + k] = sum_k fd[k] phase[k % d][j + k / d].
    const std::int64_t ow = g_.ow;
    std::fill(slot, slot + ow, 0.0f);
    for (std::size_t k = 0; k < fd_.size(); ++k) {
      const float t = fd_[k];
      const float* s = tp + (static_cast<std::int64_t>(k) % d) * phase_len_ + static_cast<std::int64_t>(k) / d;
      axpy(slot, t, s, ow);
    }
  }

  // Output row i from ring rows i d ... i d + ld - 1.
  void down_rows(std::int64_t i, float* out) {
    const std::int64_t ld = p_.down_filter.size, d = p_.down, ow = g_.ow;
    std::fill(out, out + ow, 0.0f);
    for (std::int64_t ky = 0; ky < ld; ++ky) {
      const float* row = ring_.data() + ((i * d + ky) % ld) * ring_row_;
      if (!p_.down_filter.two_d) {
        const float t = fd_[static_cast<std::size_t>(ky)];
        axpy(out, t, row, ow);
        continue;
      }
      for (std::int64_t kx = 0; kx < ld; ++kx) {
        const float t = fd_[static_cast<std::size_t>(ky * ld + kx)];
        const float* s = row + (kx % d) * phase_len_ + kx / d;
        axpy(out, t, s, ow);
      }
    }
  }

  const FilteredLRelu& p_;
  Geometry g_;
  std::vector<float> fu_, fd_;
  UpPhases rows_, cols_;
  std::int64_t used_rows_ = 0, used_cols_ = 0, phase_len_ = 0, left_ = 0, ring_row_ = 0;
  std::vector<float> padded_, vrow_, phase_out_, ring_, tphase_;
  std::vector<std::vector<std::pair<std::int64_t, float>>> vtaps_;
};

void check(const at::Tensor& x, const at::Tensor& bias, const FilteredLRelu& p) {
  if (x.dim() != 4) throw Error("filtered_lrelu needs [N, C, H, W], got " + shape_string(x.sizes()));
  if (!bias.defined() || bias.dim() != 1 || bias.size(0) != x.size(1)) {
    throw Error("filtered_lrelu: the bias must be [" + std::to_string(x.size(1)) + "]");
  }
  if (p.up < 1 || p.down < 1) throw Error("filtered_lrelu: up and down must be at least 1");
  if (p.up_filter.two_d) throw Error("filtered_lrelu: the up filter must be separable");
  for (std::int64_t n : {x.size(2), x.size(3)}) {
    const std::int64_t padded = n * p.up + p.pad0 + p.pad1;
    if (padded < p.up_filter.size || padded - p.up_filter.size + 1 < p.down_filter.size) {
      throw Error("filtered_lrelu: a " + std::to_string(n) + "-pixel input is too small for its filters and padding");
    }
  }
}

}  // namespace

at::Tensor filtered_lrelu(const at::Tensor& x, const at::Tensor& bias, const FilteredLRelu& p) {
  if (!x.device().is_cpu() || x.scalar_type() != at::kFloat) return filtered_lrelu_aten(x, bias, p);
  check(x, bias, p);
  const at::Tensor in = contiguous_nchw(x);
  const at::Tensor b = bias.to(at::kFloat).contiguous();
  Geometry g;
  g.h = in.size(2);
  g.w = in.size(3);
  g.th = g.h * p.up + p.pad0 + p.pad1 - p.up_filter.size + 1;
  g.tw = g.w * p.up + p.pad0 + p.pad1 - p.up_filter.size + 1;
  g.oh = p.output_size(g.h);
  g.ow = p.output_size(g.w);
  const std::int64_t n = in.size(0), c = in.size(1);
  at::Tensor out = at::empty({n, c, g.oh, g.ow}, in.options());
  const float* src = in.data_ptr<float>();
  const float* bp = b.data_ptr<float>();
  float* dst = out.data_ptr<float>();
  at::parallel_for(0, n * c, 1, [&](std::int64_t begin, std::int64_t end) {
    PlaneKernel kernel(p, g);
    for (std::int64_t plane = begin; plane < end; ++plane) {
      kernel.run(src + plane * g.h * g.w, bp[plane % c], dst + plane * g.oh * g.ow);
    }
  });
  return out;
}

at::Tensor filtered_lrelu_aten(const at::Tensor& x, const at::Tensor& bias, const FilteredLRelu& p) {
  check(x, bias, p);
  const std::int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  at::Tensor y = x + bias.to(x.scalar_type()).view({1, -1, 1, 1});
  if (p.up > 1) {
    at::Tensor u = at::zeros({n, c, h * p.up, w * p.up}, y.options());
    u.slice(2, 0, h * p.up, p.up).slice(3, 0, w * p.up, p.up).copy_(y);
    y = u;
  }
  y = at::constant_pad_nd(y, {p.pad0, p.pad1, p.pad0, p.pad1}, 0.0);
  // A depthwise convolution with a filter given as flipped taps [kh, kw] (stride along each axis).
  auto depthwise = [&](const at::Tensor& v, const std::vector<float>& taps, std::int64_t kh, std::int64_t kw,
                       std::int64_t sh, std::int64_t sw) {
    const at::Tensor f = at::tensor(taps, at::kFloat).to(v.options()).view({1, 1, kh, kw}).expand({c, 1, kh, kw}).contiguous();
    return at::conv2d(v, f, {}, at::IntArrayRef{sh, sw}, at::IntArrayRef{0, 0}, at::IntArrayRef{1, 1}, c);
  };
  const auto up_gain = static_cast<double>(p.up);
  const std::vector<float> fu = flipped(p.up_filter, up_gain);
  const std::int64_t lu = p.up_filter.size;
  y = depthwise(depthwise(y, fu, 1, lu, 1, 1), fu, lu, 1, 1, 1);
  y = at::where(y >= 0, y, y * p.slope) * p.gain;
  if (p.clamp >= 0) y = y.clamp(-p.clamp, p.clamp);
  const std::vector<float> fd = flipped(p.down_filter, 1.0);
  const std::int64_t ld = p.down_filter.size, d = p.down;
  if (p.down_filter.two_d) return depthwise(y, fd, ld, ld, d, d);
  return depthwise(depthwise(y, fd, 1, ld, 1, d), fd, ld, 1, d, 1);
}

}  // namespace actmap
