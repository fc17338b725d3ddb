#include "model/winograd.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <vector>

#include <ATen/Parallel.h>
#include <c10/core/InferenceMode.h>

#include "actmap/io/error.h"
#include "model/conv_kernels.h"

namespace actmap {
namespace {

// The transforms of F(4x4, 3x3) by the Toom-Cook construction: with V the 6x6 Vandermonde matrix
// of the points (and a last row for the point at infinity), B^T = V^-T, G the 6x3 Vandermonde
// rows, A^T the transposed 6x4 ones; then y = A^T [(G g G^T) * (B^T d B)] A.
struct Transforms {
  float bt[6][6], g[6][3], at[4][6];
};

Transforms make_transforms() {
  const double points[5] = {0.0, 1.0, -1.0, 2.0, -0.5};
  double v[6][12] = {};  // [V | I], reduced to [I | V^-1]
  for (int i = 0; i < 6; ++i) {
    for (int j = 0; j < 6; ++j) v[i][j] = i < 5 ? std::pow(points[i], j) : (j == 5 ? 1.0 : 0.0);
    v[i][6 + i] = 1.0;
  }
  for (int c = 0; c < 6; ++c) {  // Gauss-Jordan with partial pivoting
    int pivot = c;
    for (int r = c + 1; r < 6; ++r) {
      if (std::abs(v[r][c]) > std::abs(v[pivot][c])) pivot = r;
    }
    std::swap(v[c], v[pivot]);
    const double d = v[c][c];
    for (double& x : v[c]) x /= d;
    for (int r = 0; r < 6; ++r) {
      if (r == c) continue;
      const double f = v[r][c];
      for (int k = 0; k < 12; ++k) v[r][k] -= f * v[c][k];
    }
  }
  Transforms t{};
  for (int i = 0; i < 6; ++i) {
    for (int j = 0; j < 6; ++j) t.bt[i][j] = static_cast<float>(v[j][6 + i]);  // (V^-1)^T
    for (int j = 0; j < 3; ++j) t.g[i][j] = static_cast<float>(i < 5 ? std::pow(points[i], j) : (j == 2 ? 1.0 : 0.0));
    for (int j = 0; j < 4; ++j) t.at[j][i] = static_cast<float>(i < 5 ? std::pow(points[i], j) : (j == 3 ? 1.0 : 0.0));
  }
  return t;
}

const Transforms& transforms() {
  static const Transforms t = make_transforms();
  return t;
}

inline void axpy(float* __restrict y, float a, const float* __restrict x, std::int64_t n) {
#pragma omp simd
  for (std::int64_t i = 0; i < n; ++i) y[i] += a * x[i];
}

}  // namespace

at::Tensor parallel_matmul(const at::Tensor& a, const at::Tensor& b) {
  use_single_threaded_blas();
  const at::Tensor ac = a.contiguous(), bc = b.contiguous();
  const std::int64_t m = ac.size(0);
  at::Tensor out = at::empty({m, bc.size(1)}, ac.options());
  const std::int64_t parts = std::max<std::int64_t>(1, std::min<std::int64_t>(at::get_num_threads(), m));
  at::parallel_for(0, parts, 1, [&](std::int64_t p0, std::int64_t p1) {
    c10::InferenceMode guard;  // thread-local: worker threads need their own
    for (std::int64_t p = p0; p < p1; ++p) {
      const std::int64_t r0 = m * p / parts, r1 = m * (p + 1) / parts;
      if (r1 == r0) continue;
      at::Tensor slice = out.narrow(0, r0, r1 - r0);
      at::mm_out(slice, ac.narrow(0, r0, r1 - r0), bc);
    }
  });
  return out;
}

at::Tensor conv3x3_winograd(const at::Tensor& x, const at::Tensor& w, std::int64_t pad) {
  if (x.dim() != 4 || x.size(0) != 1 || w.dim() != 4 || w.size(2) != 3 || w.size(3) != 3 || w.size(1) != x.size(1) ||
      !x.device().is_cpu() || x.scalar_type() != at::kFloat || w.scalar_type() != at::kFloat) {
    throw Error("internal: conv3x3_winograd needs float CPU x [1, I, H, W] and w [O, I, 3, 3]");
  }
  use_single_threaded_blas();
  const Transforms& tr = transforms();
  const at::Tensor xc = x.contiguous(), wc = w.contiguous();
  const std::int64_t ci = xc.size(1), h = xc.size(2), wd = xc.size(3), co = wc.size(0);
  const std::int64_t oh = h + 2 * pad - 2, ow = wd + 2 * pad - 2;
  if (oh < 1 || ow < 1) throw Error("internal: conv3x3_winograd: empty output");
  const std::int64_t tiles_w = (ow + 3) / 4, tiles = ((oh + 3) / 4) * tiles_w;

  // U[xi nu][o][i] = (G g G^T)[xi][nu] for every kernel g = w[o][i].
  at::Tensor u = at::empty({36, co, ci}, xc.options());
  {
    const float* wp = wc.data_ptr<float>();
    float* up = u.data_ptr<float>();
    at::parallel_for(0, co * ci, 256, [&](std::int64_t begin, std::int64_t end) {
      for (std::int64_t p = begin; p < end; ++p) {
        const float* g = wp + p * 9;
        float t[6][3];
        for (int a = 0; a < 6; ++a) {
          for (int c = 0; c < 3; ++c) t[a][c] = tr.g[a][0] * g[c] + tr.g[a][1] * g[3 + c] + tr.g[a][2] * g[6 + c];
        }
        for (int a = 0; a < 6; ++a) {
          for (int b = 0; b < 6; ++b) {
            up[(a * 6 + b) * co * ci + p] = t[a][0] * tr.g[b][0] + t[a][1] * tr.g[b][1] + t[a][2] * tr.g[b][2];
          }
        }
      }
    });
  }

  at::Tensor out = at::empty({1, co, oh, ow}, xc.options());
  const float* xp = xc.data_ptr<float>();
  float* op = out.data_ptr<float>();
  // Tiles in blocks whose transformed inputs stay around 24 MB.
  const std::int64_t block = std::max<std::int64_t>(64, std::min<std::int64_t>(tiles, (24 << 20) / (36 * 4 * std::max(ci, co))));
  for (std::int64_t t0 = 0; t0 < tiles; t0 += block) {
    const std::int64_t nt = std::min(block, tiles - t0);
    at::Tensor v = at::empty({36, ci, nt}, xc.options());
    at::Tensor m = at::empty({36, co, nt}, xc.options());
    float* vp = v.data_ptr<float>();
    // V[xi nu][i][t] = (B^T d B)[xi][nu] for the 6x6 input block d of tile t, channel i.
    at::parallel_for(0, ci, 1, [&](std::int64_t begin, std::int64_t end) {
      std::vector<float> patch(static_cast<std::size_t>(36 * nt)), half(static_cast<std::size_t>(36 * nt));
      for (std::int64_t i = begin; i < end; ++i) {
        const float* xi = xp + i * h * wd;
        for (std::int64_t t = 0; t < nt; ++t) {
          const std::int64_t tile = t0 + t, r0 = (tile / tiles_w) * 4 - pad, c0 = (tile % tiles_w) * 4 - pad;
          float* pt = &patch[static_cast<std::size_t>(t)];
          if (r0 >= 0 && r0 + 6 <= h && c0 >= 0 && c0 + 6 <= wd) {  // inside: no bounds to check
            for (std::int64_t a = 0; a < 6; ++a) {
              const float* row = xi + (r0 + a) * wd + c0;
              for (std::int64_t b = 0; b < 6; ++b) pt[(a * 6 + b) * nt] = row[b];
            }
            continue;
          }
          for (std::int64_t a = 0; a < 6; ++a) {
            const std::int64_t r = r0 + a;
            for (std::int64_t b = 0; b < 6; ++b) {
              const std::int64_t c = c0 + b;
              pt[(a * 6 + b) * nt] = r >= 0 && r < h && c >= 0 && c < wd ? xi[r * wd + c] : 0.0f;
            }
          }
        }
        std::fill(half.begin(), half.end(), 0.0f);
        for (int xi_ = 0; xi_ < 6; ++xi_) {
          for (int b = 0; b < 6; ++b) {
            for (int a = 0; a < 6; ++a) {
              if (tr.bt[xi_][a] != 0.0f) axpy(&half[static_cast<std::size_t>((xi_ * 6 + b) * nt)], tr.bt[xi_][a], &patch[static_cast<std::size_t>((a * 6 + b) * nt)], nt);
            }
          }
        }
        for (int xi_ = 0; xi_ < 6; ++xi_) {
          for (int nu = 0; nu < 6; ++nu) {
            float* dst = vp + ((xi_ * 6 + nu) * ci + i) * nt;
            std::fill(dst, dst + nt, 0.0f);
            for (int b = 0; b < 6; ++b) {
              if (tr.bt[nu][b] != 0.0f) axpy(dst, tr.bt[nu][b], &half[static_cast<std::size_t>((xi_ * 6 + b) * nt)], nt);
            }
          }
        }
      }
    });
    // M[k] = U[k] V[k]: 36 products, split over the threads.
    at::parallel_for(0, 36, 1, [&](std::int64_t begin, std::int64_t end) {
      c10::InferenceMode guard;
      for (std::int64_t k = begin; k < end; ++k) {
        at::Tensor mk = m.select(0, k);
        at::mm_out(mk, u.select(0, k), v.select(0, k));
      }
    });
    // y = A^T M A per output channel and tile, into the output.
    const float* mp = m.data_ptr<float>();
    at::parallel_for(0, co, 1, [&](std::int64_t begin, std::int64_t end) {
      std::vector<float> half(static_cast<std::size_t>(24 * nt)), y(static_cast<std::size_t>(16 * nt));
      for (std::int64_t o = begin; o < end; ++o) {
        std::fill(half.begin(), half.end(), 0.0f);
        for (int xi_ = 0; xi_ < 6; ++xi_) {
          for (int j = 0; j < 4; ++j) {
            for (int nu = 0; nu < 6; ++nu) {
              if (tr.at[j][nu] != 0.0f) axpy(&half[static_cast<std::size_t>((xi_ * 4 + j) * nt)], tr.at[j][nu], mp + ((xi_ * 6 + nu) * co + o) * nt, nt);
            }
          }
        }
        std::fill(y.begin(), y.end(), 0.0f);
        for (int i = 0; i < 4; ++i) {
          for (int j = 0; j < 4; ++j) {
            for (int xi_ = 0; xi_ < 6; ++xi_) {
              if (tr.at[i][xi_] != 0.0f) axpy(&y[static_cast<std::size_t>((i * 4 + j) * nt)], tr.at[i][xi_], &half[static_cast<std::size_t>((xi_ * 4 + j) * nt)], nt);
            }
          }
        }
        float* yo = op + o * oh * ow;
        for (std::int64_t t = 0; t < nt; ++t) {
          const std::int64_t tile = t0 + t, r0 = (tile / tiles_w) * 4, c0 = (tile % tiles_w) * 4;
          for (std::int64_t i = 0; i < 4 && r0 + i < oh; ++i) {
            for (std::int64_t j = 0; j < 4 && c0 + j < ow; ++j) yo[(r0 + i) * ow + c0 + j] = y[static_cast<std::size_t>((i * 4 + j) * nt + t)];
          }
        }
      }
    });
  }
  return out;
}

}  // namespace actmap
