#include "model/conv_kernels.h"

#include <dlfcn.h>

#include <cstdlib>
#include <mutex>
#include <string>

#include <ATen/Parallel.h>
#include <c10/core/InferenceMode.h>

namespace actmap {

PackedConvTranspose pack_conv_transpose(const at::Tensor& weight, const at::Tensor& bias, std::int64_t stride,
                                        std::int64_t padding, std::int64_t output_padding) {
  PackedConvTranspose p;
  p.cin = weight.size(0);
  p.cout = weight.size(1);
  p.kernel = weight.size(2);
  p.stride = stride;
  p.padding = padding;
  p.output_padding = output_padding;
  p.wt = weight.permute({1, 2, 3, 0}).reshape({p.cout * p.kernel * p.kernel, p.cin}).contiguous();
  p.bias = bias.defined() ? bias.contiguous() : at::zeros({p.cout}, weight.options());
  return p;
}

void apply_activation_(at::Tensor& x, const FusedActivation& act) {
  switch (act.type) {
    case LayerType::ReLU: at::relu_(x); break;
    case LayerType::LeakyReLU: at::leaky_relu_(x, act.slope); break;
    case LayerType::SiLU: at::silu_(x); break;
    case LayerType::Tanh: at::tanh_(x); break;
    case LayerType::Sigmoid: at::sigmoid_(x); break;
    default: break;
  }
}

namespace {
std::int64_t floor_div(std::int64_t a, std::int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }
}  // namespace

at::Tensor conv_transpose2d_fused(const at::Tensor& x, const PackedConvTranspose& p, const FusedActivation& act) {
  const std::int64_t n = x.size(0), h = x.size(2), w = x.size(3), k = p.kernel, s = p.stride;
  const std::int64_t oh = (h - 1) * s - 2 * p.padding + k + p.output_padding;
  const std::int64_t ow = (w - 1) * s - 2 * p.padding + k + p.output_padding;
  const std::int64_t hw = h * w;
  at::Tensor out = at::empty({n, p.cout, oh, ow}, x.options());
  float* out_data = out.data_ptr<float>();
  const float* bias = p.bias.data_ptr<float>();
  const at::Tensor x3 = x.reshape({n, p.cin, hw});

  // Output rows [oy0, oy1) of channels [o0, o1) for every sample: GEMM of the input rows they
  // need, then scatter each kernel position's plane, then bias and activation, all in cache.
  auto run_block = [&](std::int64_t o0, std::int64_t o1, std::int64_t oy0, std::int64_t oy1) {
    // Input row iy reaches output rows iy*s - pad + [0, k).
    const std::int64_t iy_lo = std::max<std::int64_t>(0, -floor_div(-(oy0 + p.padding - k + 1), s));
    const std::int64_t iy_hi = std::min<std::int64_t>(h, floor_div(oy1 - 1 + p.padding, s) + 1);
    const at::Tensor wt = p.wt.narrow(0, o0 * k * k, (o1 - o0) * k * k);
    const std::int64_t rows = iy_hi - iy_lo, cols_n = rows * w;
    for (std::int64_t b = 0; b < n; ++b) {
      at::Tensor cols;  // [(o,ky,kx), rows*W]; no input rows reach these output rows when empty
      if (rows > 0) cols = at::mm(wt, x3[b].narrow(1, iy_lo * w, cols_n));
      const float* c = rows > 0 ? cols.data_ptr<float>() : nullptr;
      for (std::int64_t o = o0; o < o1; ++o) {
        float* y = out_data + (b * p.cout + o) * oh * ow;
        std::fill(y + oy0 * ow, y + oy1 * ow, bias[o]);
        for (std::int64_t ky = 0; ky < k; ++ky) {
          for (std::int64_t kx = 0; kx < k; ++kx) {
            const float* plane = c + (((o - o0) * k + ky) * k + kx) * cols_n;
            // Input pixel (iy, ix) lands on output (iy*s - pad + ky, ix*s - pad + kx).
            const std::int64_t ix_lo = std::max<std::int64_t>(0, -floor_div(kx - p.padding, s));
            const std::int64_t ix_hi = std::min<std::int64_t>(w, floor_div(ow - 1 + p.padding - kx, s) + 1);
            for (std::int64_t iy = iy_lo; iy < iy_hi; ++iy) {  // empty when rows == 0
              const std::int64_t oy = iy * s - p.padding + ky;
              if (oy < oy0 || oy >= oy1) continue;
              float* yrow = y + oy * ow - p.padding + kx;
              const float* prow = plane + (iy - iy_lo) * w;
              for (std::int64_t ix = ix_lo; ix < ix_hi; ++ix) yrow[ix * s] += prow[ix];
            }
          }
        }
      }
    }
    at::Tensor block = out.narrow(1, o0, o1 - o0).narrow(2, oy0, oy1 - oy0);
    apply_activation_(block, act);
  };

  // Many output channels: split them (no duplicated work). Few (e.g. RGB): split output rows,
  // at the cost of recomputing the input rows both halves need.
  const std::int64_t threads = std::max<std::int64_t>(1, at::get_num_threads());
  const bool by_channel = p.cout >= 8 * threads || oh < 2 * threads;
  const std::int64_t parts = by_channel ? std::min(threads, p.cout) : threads;
  at::parallel_for(0, parts, 1, [&](std::int64_t t0, std::int64_t t1) {
    c10::InferenceMode guard;  // thread-local: worker threads need their own
    for (std::int64_t t = t0; t < t1; ++t) {
      if (by_channel) {
        run_block(p.cout * t / parts, p.cout * (t + 1) / parts, 0, oh);
      } else {
        run_block(0, p.cout, oh * t / parts, oh * (t + 1) / parts);
      }
    }
  });
  return out;
}

bool use_actmap_cpu_kernels() {
  const char* v = std::getenv("ACTMAP_CPU_KERNELS");
  return !(v && std::string(v) == "aten");
}

void use_single_threaded_blas() {
  static std::once_flag once;
  std::call_once(once, [] {
    using SetThreads = void (*)(int);
    if (auto fn = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) fn(1);
  });
}

}  // namespace actmap
