// One kernel per op of the registry, on the selected channels [N, k, H, W]. ATen operations only,
// so the same code runs on CPU and CUDA. Coordinate and weight grids are small ([H, W] or one
// axis), built in double on the activation's device and converted to its dtype once per edit.
//
// Speed notes (a [1, 512, 16, 16] map on a 2-core CPU, where a 10-edit chain should take under
// 2 ms): max_pool2d, avg_pool2d, std_mean and grid_sampler_2d each cost 0.4-3 ms there, so
// windows are reduced by doubling over shifted slices, separable filters are sums of shifted
// slices or one band-matrix product, and bilinear sampling gathers the four neighbours itself
// (the same arithmetic as grid_sampler_2d with align_corners=false and zero padding).
#include "edit/op_kernels.h"

#include <algorithm>
#include <array>
#include <climits>
#include <cmath>
#include <map>
#include <numeric>

#include <ATen/ATen.h>

#include "actmap/io/error.h"
#include "actmap/model/latent.h"

using nlohmann::json;

namespace actmap {
namespace {

constexpr double kPi = 3.14159265358979323846;

double num(const json& p, const char* key) { return p.at(key).get<double>(); }
std::int64_t whole(const json& p, const char* key) { return static_cast<std::int64_t>(p.at(key).get<double>()); }
std::string text(const json& p, const char* key) { return p.at(key).get<std::string>(); }

at::TensorOptions grid_options(const at::Tensor& like) { return like.options().dtype(at::kDouble); }

// Pixel-centre coordinates as doubles: x = c shaped [1, W] and y = r shaped [H, 1].
at::Tensor columns(const at::Tensor& like) { return at::arange(like.size(3), grid_options(like)).view({1, -1}); }
at::Tensor rows(const at::Tensor& like) { return at::arange(like.size(2), grid_options(like)).view({-1, 1}); }

// ---- Shared building blocks -----------------------------------------------------------------

// Repeats the edge `before` and `after` times along dim (concatenating expanded edges is several
// times faster than an index_select along W).
at::Tensor pad_replicate(const at::Tensor& x, std::int64_t dim, std::int64_t before, std::int64_t after) {
  const std::int64_t n = x.size(dim);
  std::vector<std::int64_t> lo = x.sizes().vec(), hi = lo;
  lo[static_cast<std::size_t>(dim)] = before;
  hi[static_cast<std::size_t>(dim)] = after;
  return at::cat({x.narrow(dim, 0, 1).expand(lo), x, x.narrow(dim, n - 1, 1).expand(hi)}, dim);
}

at::Tensor pad_zeros(const at::Tensor& x, std::int64_t dim, std::int64_t before, std::int64_t after) {
  if (dim == 3) return at::constant_pad_nd(x, {before, after}, 0);
  return at::constant_pad_nd(x, {0, 0, before, after}, 0);
}

enum class Reduce { Min, Max, Sum };

at::Tensor combine(Reduce kind, const at::Tensor& a, const at::Tensor& b) {
  switch (kind) {
    case Reduce::Min: return at::minimum(a, b);
    case Reduce::Max: return at::maximum(a, b);
    case Reduce::Sum: break;
  }
  return at::add(a, b);
}

// out[i] = reduce(x[i - r], ..., x[i + r]) along dim, over the pixels inside the map only (min and
// max pad by repeating the edge, which changes nothing; sums pad with zeros). Windows of 2^j
// pixels are built by doubling, and the window of 2r + 1 is the combination of those its binary
// digits name: O(log r) tensor operations.
at::Tensor window_reduce(const at::Tensor& x, std::int64_t dim, std::int64_t r, Reduce kind) {
  const std::int64_t n = x.size(dim);
  r = std::min(r, n - 1);  // a wider window already covers the whole map
  if (r <= 0) return x;
  at::Tensor blocks = kind == Reduce::Sum ? pad_zeros(x, dim, r, r) : pad_replicate(x, dim, r, r);
  std::int64_t length = n + 2 * r, size = 1, offset = 0;  // blocks[i] reduces padded[i, i + size)
  at::Tensor out;
  for (std::int64_t bits = 2 * r + 1;;) {
    if (bits & 1) {
      const at::Tensor part = blocks.narrow(dim, offset, n);
      out = out.defined() ? combine(kind, out, part) : part;
      offset += size;
    }
    bits >>= 1;
    if (bits == 0) break;
    blocks = combine(kind, blocks.narrow(dim, 0, length - size), blocks.narrow(dim, size, length - size));
    length -= size;
    size *= 2;
  }
  return out;  // 2r + 1 >= 3 has two set bits, so this is a fresh tensor
}

// How many pixels of the map a window of radius r centred on each position covers, as 1/count,
// shaped to broadcast along dim.
at::Tensor inverse_counts(const at::Tensor& like, std::int64_t dim, std::int64_t r) {
  const std::int64_t n = like.size(dim);
  const at::Tensor i = at::arange(n, grid_options(like));
  const at::Tensor count = at::clamp_max(i + r, static_cast<double>(n - 1)) - at::clamp_min(i - r, 0.0) + 1.0;
  const at::Tensor inv = count.reciprocal().to(like.scalar_type());
  return dim == 3 ? inv.view({1, n}) : inv.view({n, 1});
}

// Correlation along dim with repeated edges: y[i] = sum_k taps[k] * x[clamp(i + k - R)], R the
// taps' half width. Along H, and for a few taps along W, a sum of shifted slices; otherwise one
// matrix product with a band matrix into which the edge repetition is folded (a single GEMM beats
// many short strided slices along W).
at::Tensor correlate(const at::Tensor& x, std::int64_t dim, const std::vector<double>& taps) {
  const std::int64_t n = x.size(dim), half = static_cast<std::int64_t>(taps.size() / 2);
  const auto nonzero = std::count_if(taps.begin(), taps.end(), [](double t) { return t != 0.0; });
  if ((dim == 2 && taps.size() <= 15) || nonzero <= 3) {
    const at::Tensor padded = pad_replicate(x, dim, half, half);
    at::Tensor y;
    for (std::size_t k = 0; k < taps.size(); ++k) {
      if (taps[k] == 0.0) continue;
      const at::Tensor part = padded.narrow(dim, static_cast<std::int64_t>(k), n);
      if (y.defined()) {
        y.add_(part, taps[k]);
      } else {
        y = part * taps[k];
      }
    }
    return y;
  }
  const auto opts = x.options().dtype(at::kLong);
  const auto width = static_cast<std::int64_t>(taps.size());
  const at::Tensor source =
      (at::arange(n, opts).view({n, 1}) + at::arange(-half, half + 1, opts).view({1, width})).clamp_(0, n - 1);
  const at::Tensor weights = at::tensor(taps, at::kDouble).to(x.device()).view({1, width}).expand({n, width});
  const at::Tensor band = at::zeros({n, n}, grid_options(x)).scatter_add_(1, source, weights).to(x.scalar_type());
  if (dim == 3) return at::matmul(x, band.t());
  return at::matmul(x.transpose(2, 3), band.t()).transpose(2, 3).contiguous();
}

// Bilinear sampling with zeros outside: output pixel (r, c) reads the source at pixel
// coordinates (sx[r, c], sy[r, c]) (double grids broadcastable to [H, W]). This is what
// grid_sampler_2d does with align_corners=false and zero padding, but one gather of the four
// neighbours on the flattened maps is about twice as fast on the CPU.
at::Tensor bilinear_sample(const at::Tensor& x, const at::Tensor& sx, const at::Tensor& sy) {
  const std::int64_t h = x.size(2), w = x.size(3);
  // The four neighbours stacked: [4, H, W] for (dx, dy) = (0, 0), (1, 0), (0, 1), (1, 1).
  const at::Tensor dx = at::tensor({0.0, 1.0, 0.0, 1.0}, at::kDouble).to(x.device()).view({4, 1, 1});
  const at::Tensor dy = at::tensor({0.0, 0.0, 1.0, 1.0}, at::kDouble).to(x.device()).view({4, 1, 1});
  const at::Tensor x0 = sx.floor(), y0 = sy.floor();
  const at::Tensor xi = x0 + dx, yi = y0 + dy;
  // Weight 1 - |s - neighbour| on each axis; 0 for neighbours outside the map.
  const at::Tensor weight = (1.0 - (sx - xi).abs()) * (1.0 - (sy - yi).abs()) *
                            ((xi >= 0) & (xi <= w - 1) & (yi >= 0) & (yi <= h - 1));
  const at::Tensor index = (yi.clamp(0, h - 1) * w + xi.clamp(0, w - 1)).to(at::kLong).expand({4, h, w}).flatten();
  const at::Tensor wt = weight.expand({4, h, w}).reshape({4, h * w}).to(x.scalar_type());
  const at::Tensor gathered = x.reshape({-1, h * w}).index_select(1, index).view({-1, 4, h * w});
  at::Tensor out = gathered.select(1, 0) * wt[0];
  for (int k = 1; k < 4; ++k) out.addcmul_(gathered.select(1, k), wt[k]);
  return out.view(x.sizes());
}

// Weights of a brush stroke [H, W] in the activation's dtype: the points form a polyline (one
// point is a dot); d is the distance from each pixel centre to it. Undefined when there are no points.
at::Tensor stroke_weights(const json& p, const at::Tensor& like) {
  const json& points = p.at("points");
  if (points.empty()) return {};
  std::vector<double> xy;
  xy.reserve(points.size() * 2);
  for (const auto& pt : points) {
    xy.push_back(pt[0].get<double>());
    xy.push_back(pt[1].get<double>());
  }
  const auto opts = grid_options(like);
  const at::Tensor pts = at::tensor(xy, at::kDouble).to(like.device()).view({-1, 2});
  const std::int64_t n = pts.size(0), segments = std::max<std::int64_t>(1, n - 1);
  const at::Tensor a = pts.narrow(0, 0, segments), b = n > 1 ? pts.narrow(0, 1, segments) : a;
  const std::int64_t h = like.size(2), w = like.size(3);
  const at::Tensor col = at::arange(w, opts).view({1, 1, w}), row = at::arange(h, opts).view({1, h, 1});
  // [S, H, W] distances, a bounded number of segments at a time.
  const std::int64_t chunk = std::max<std::int64_t>(1, (std::int64_t(1) << 22) / (h * w));
  at::Tensor nearest;
  for (std::int64_t s0 = 0; s0 < segments; s0 += chunk) {
    const std::int64_t len = std::min(chunk, segments - s0);
    const at::Tensor as = a.narrow(0, s0, len), bs = b.narrow(0, s0, len);
    const at::Tensor ax = as.select(1, 0).view({-1, 1, 1}), ay = as.select(1, 1).view({-1, 1, 1});
    const at::Tensor ex = bs.select(1, 0).view({-1, 1, 1}) - ax, ey = bs.select(1, 1).view({-1, 1, 1}) - ay;
    const at::Tensor px = col - ax, py = row - ay;  // [S, 1, W], [S, H, 1]
    // The closest point of each segment is a + t (b - a), t in [0, 1]; a dot has t = 0.
    const at::Tensor len2 = (ex * ex + ey * ey).clamp_min(1e-300);
    const at::Tensor t = ((px * ex + py * ey) / len2).clamp_(0.0, 1.0);
    const at::Tensor ddx = px - t * ex, ddy = py - t * ey;
    const at::Tensor d2 = (ddx * ddx + ddy * ddy).amin(0);
    nearest = nearest.defined() ? at::minimum(nearest, d2) : d2;
  }
  const at::Tensor d = nearest.sqrt();
  const double radius = num(p, "radius");
  const at::Tensor weight = text(p, "edge") == "hard" ? (d <= radius).to(at::kDouble) : (1.0 - d / radius).clamp_min(0.0);
  return weight.to(like.scalar_type());
}

at::Tensor as_index(const std::vector<std::int64_t>& v, const at::Tensor& like) {
  return at::tensor(v, at::kLong).to(like.device());
}

// ---- Network Bending's OpenCV transforms and the report's TensorFlow ones ------------------

// cv::warpAffine with INTER_LINEAR and BORDER_CONSTANT 0 (OpenCV 4.6 imgproc/src/imgwarp.cpp:
// cv::warpAffine, hal::warpAffine, WarpAffineInvoker, remapBilinear), for the forward matrix `m`
// as a caller passes it: the matrix is inverted in double; each output pixel's source is
// computed in fixed point with 10 fractional bits per step (AB_BITS) and rounded to 1/32 pixel
// (INTER_BITS = 5); the four neighbours are weighted by products of (32 - f)/32 and f/32, exact in
// float, and summed in float in OpenCV's order; neighbours outside the map are 0.
// a * b rounded to a double before anything is added to it: what OpenCV's code computes on a
// machine without fused multiply-adds, whatever this compiler's contraction settings.
double product(double a, double b) {
  volatile double p = a * b;
  return p;
}

at::Tensor opencv_warp_affine(const at::Tensor& x, std::array<double, 6> m) {
  {
    double d = product(m[0], m[4]) - product(m[1], m[3]);
    d = d != 0 ? 1. / d : 0;
    const double a11 = m[4] * d, a22 = m[0] * d;
    m[0] = a11;
    m[1] *= -d;
    m[3] *= -d;
    m[4] = a22;
    const double b1 = -product(m[0], m[2]) - product(m[1], m[5]);
    const double b2 = -product(m[3], m[2]) - product(m[4], m[5]);
    m[2] = b1;
    m[5] = b2;
  }
  constexpr int kAbBits = 10, kInterBits = 5, kTab = 1 << kInterBits;
  constexpr double kAbScale = 1 << kAbBits;
  constexpr std::int64_t kRoundDelta = (1 << kAbBits) / kTab / 2;
  // saturate_cast<int>(double): cvRound (round half to even) and saturation.
  auto round_int = [](double v) -> std::int64_t {
    const double r = std::nearbyint(v);
    return static_cast<std::int64_t>(std::clamp(r, double(INT_MIN), double(INT_MAX)));
  };
  auto to_short = [](std::int64_t v) { return std::clamp<std::int64_t>(v, -32768, 32767); };
  const std::int64_t h = x.size(2), w = x.size(3), n = h * w;
  std::vector<std::int64_t> adelta(static_cast<std::size_t>(w)), bdelta(static_cast<std::size_t>(w));
  for (std::int64_t c = 0; c < w; ++c) {
    adelta[static_cast<std::size_t>(c)] = round_int(m[0] * static_cast<double>(c) * kAbScale);
    bdelta[static_cast<std::size_t>(c)] = round_int(m[3] * static_cast<double>(c) * kAbScale);
  }
  // Per neighbour k (dx, dy) = (0, 0), (1, 0), (0, 1), (1, 1): the source index (n = outside:
  // a zero column) and the weight.
  std::vector<std::int64_t> index(static_cast<std::size_t>(4 * n));
  std::vector<float> weight(static_cast<std::size_t>(4 * n));
  for (std::int64_t r = 0; r < h; ++r) {
    const std::int64_t x0 = round_int((product(m[1], static_cast<double>(r)) + m[2]) * kAbScale) + kRoundDelta;
    const std::int64_t y0 = round_int((product(m[4], static_cast<double>(r)) + m[5]) * kAbScale) + kRoundDelta;
    for (std::int64_t c = 0; c < w; ++c) {
      const std::int64_t xs = (x0 + adelta[static_cast<std::size_t>(c)]) >> (kAbBits - kInterBits);
      const std::int64_t ys = (y0 + bdelta[static_cast<std::size_t>(c)]) >> (kAbBits - kInterBits);
      const std::int64_t sx = to_short(xs >> kInterBits), sy = to_short(ys >> kInterBits);
      const std::int64_t fx = xs & (kTab - 1), fy = ys & (kTab - 1);
      const float wx[2] = {1.f - static_cast<float>(fx) * (1.f / kTab), static_cast<float>(fx) * (1.f / kTab)};
      const float wy[2] = {1.f - static_cast<float>(fy) * (1.f / kTab), static_cast<float>(fy) * (1.f / kTab)};
      const std::size_t p = static_cast<std::size_t>(r * w + c);
      for (int k = 0; k < 4; ++k) {
        const std::int64_t xx = sx + (k & 1), yy = sy + (k >> 1);
        const bool inside = xx >= 0 && xx < w && yy >= 0 && yy < h;
        index[static_cast<std::size_t>(k * n) + p] = inside ? yy * w + xx : n;
        weight[static_cast<std::size_t>(k * n) + p] = wy[k >> 1] * wx[k & 1];
      }
    }
  }
  const at::ScalarType compute = x.scalar_type() == at::kDouble ? at::kDouble : at::kFloat;
  const at::Tensor flat = at::constant_pad_nd(x.reshape({-1, n}).to(compute), {0, 1}, 0);  // column n is 0
  const at::Tensor idx = at::tensor(index, at::kLong).to(x.device()).view({4, n});
  const at::Tensor wts = at::tensor(weight, at::kFloat).to(x.device(), compute).view({4, n});
  // ((v0 w0 + v1 w1) + v2 w2) + v3 w3, each product and sum rounded as OpenCV's float code does.
  at::Tensor out = at::mul(flat.index_select(1, idx[0]), wts[0]);
  for (int k = 1; k < 4; ++k) out = at::add(out, at::mul(flat.index_select(1, idx[k]), wts[k]));
  return out.view(x.sizes()).to(x.scalar_type());
}

// cv::getRotationMatrix2D (imgwarp.cpp, getRotationMatrix2D_): the forward matrix of a turn by
// `degrees` (counter-clockwise on screen) and a zoom by `scale` about (cx, cy).
std::array<double, 6> opencv_rotation_matrix(float cx, float cy, double degrees, double scale) {
  const double angle = degrees * (kPi / 180);
  const double alpha = std::cos(angle) * scale, beta = std::sin(angle) * scale;
  const double x = cx, y = cy;
  return {alpha, beta, product(1 - alpha, x) - product(beta, y), -beta, alpha, product(beta, x) + product(1 - alpha, y)};
}

// Network Bending's centre (transforms/rotate/op.cpp, scale/op.cpp): Point2f(size(0) / 2.0,
// size(1) / 2.0) of the [H, W] map, i.e. x = H / 2 and y = W / 2 (the same point on square maps).
std::array<double, 6> nb_rotation(const at::Tensor& x, double degrees, double scale) {
  return opencv_rotation_matrix(static_cast<float>(static_cast<double>(static_cast<float>(x.size(2))) / 2.0),
                                static_cast<float>(static_cast<double>(static_cast<float>(x.size(3))) / 2.0), degrees,
                                scale);
}

// TensorFlow Addons' image transform as the bending report calls it (tfa.image.rotate and
// tfa.image.translate: ImageProjectiveTransformV3 with NEAREST interpolation and REFLECT fill):
// output pixel (c, r) reads the input at (a0 c + a1 r + a2, b0 c + b1 r + b2), computed in float,
// reflected into the map ([dcba|abcd|dcba], TensorFlow's MapCoordinate<FILL_REFLECT>), clamped and
// rounded half away from zero.
at::Tensor tensorflow_transform_nearest_reflect(const at::Tensor& x, const std::array<float, 6>& t) {
  const std::int64_t h = x.size(2), w = x.size(3), n = h * w;
  auto reflect = [](float in, std::int64_t len) {
    if (in < 0) {
      if (len <= 1) {
        in = 0;
      } else {
        const std::int64_t sz2 = 2 * len;
        if (in < static_cast<float>(sz2)) in = static_cast<float>(sz2 * static_cast<std::int64_t>(-in / static_cast<float>(sz2))) + in;
        in = in < static_cast<float>(-len) ? in + static_cast<float>(sz2) : -in - 1;
      }
    } else if (in > static_cast<float>(len - 1)) {
      if (len <= 1) {
        in = 0;
      } else {
        const std::int64_t sz2 = 2 * len;
        in -= static_cast<float>(sz2 * static_cast<std::int64_t>(in / static_cast<float>(sz2)));
        if (in >= static_cast<float>(len)) in = static_cast<float>(sz2) - in - 1;
      }
    }
    return std::clamp(in, 0.0f, static_cast<float>(len - 1));
  };
  std::vector<std::int64_t> index(static_cast<std::size_t>(n));
  for (std::int64_t r = 0; r < h; ++r) {
    for (std::int64_t c = 0; c < w; ++c) {
      const float fc = static_cast<float>(c), fr = static_cast<float>(r);
      const float sx = reflect(t[0] * fc + t[1] * fr + t[2], w), sy = reflect(t[3] * fc + t[4] * fr + t[5], h);
      index[static_cast<std::size_t>(r * w + c)] = static_cast<std::int64_t>(std::round(sy)) * w + static_cast<std::int64_t>(std::round(sx));
    }
  }
  return x.reshape({-1, n}).index_select(1, at::tensor(index, at::kLong).to(x.device())).view(x.sizes());
}

// Half widths of OpenCV's elliptical structuring element of size (2r + 1) x (2r + 1)
// (cv::getStructuringElement(MORPH_ELLIPSE, ...), imgproc/src/morph.dispatch.cpp): row dy = -r..r
// covers columns -dx..dx with dx = cvRound(r sqrt((r^2 - dy^2) / r^2)). r = 1 is a cross.
std::vector<std::int64_t> ellipse_half_widths(std::int64_t r) {
  std::vector<std::int64_t> out;
  const double inv_r2 = r ? 1. / (static_cast<double>(r) * static_cast<double>(r)) : 0;
  for (std::int64_t dy = -r; dy <= r; ++dy) {
    const double v = static_cast<double>(r) * std::sqrt(static_cast<double>(r * r - dy * dy) * inv_r2);
    out.push_back(std::min(r, static_cast<std::int64_t>(std::nearbyint(v))));
  }
  return out;
}

// Row y of the result takes row clamp(y + dy) of x (repeating the edge rows).
at::Tensor shift_rows_clamped(const at::Tensor& x, std::int64_t dy) {
  const std::int64_t h = x.size(2);
  if (dy == 0) return x;
  if (dy > 0) return pad_replicate(x.narrow(2, dy, h - dy), 2, 0, dy);
  return pad_replicate(x.narrow(2, 0, h + dy), 2, -dy, 0);
}

// Grey-scale erosion (Min) or dilation (Max) over the elliptical element, counting only pixels
// inside the map (OpenCV's default border for erode and dilate). Each row of the element is a
// horizontal window; rows beyond the map may repeat the edge row because the element's rows get
// no wider away from its centre (the edge row with a wider window is in the set already).
at::Tensor morph_ellipse(const at::Tensor& x, std::int64_t r, Reduce kind) {
  if (r <= 0) return x;
  const auto widths = ellipse_half_widths(r);
  const std::int64_t reach = std::min(r, x.size(2) - 1);
  std::map<std::int64_t, at::Tensor> rows;  // half width -> the horizontal reduction
  at::Tensor out;
  for (std::int64_t dy = -reach; dy <= reach; ++dy) {
    const std::int64_t dx = widths[static_cast<std::size_t>(dy + r)];
    auto it = rows.find(dx);
    if (it == rows.end()) it = rows.emplace(dx, window_reduce(x, 3, dx, kind)).first;
    const at::Tensor part = shift_rows_clamped(it->second, dy);
    out = out.defined() ? combine(kind, out, part) : part;
  }
  return out;
}

// ---- Kernels --------------------------------------------------------------------------------

at::Tensor brush(const OpArgs& a) {
  const at::Tensor w = stroke_weights(a.params, a.sel);
  if (!w.defined()) return a.sel;
  const double strength = num(a.params, "strength");
  const std::string mode = text(a.params, "mode");
  if (mode == "add") return a.sel + w * strength;
  if (mode == "subtract") return a.sel - w * strength;
  return at::addcmul(w * strength, a.sel, 1.0 - w);  // x (1 - w) + strength w: exact where w is 0 or 1
}

at::Tensor erase(const OpArgs& a) {
  const at::Tensor w = stroke_weights(a.params, a.sel);
  if (!w.defined()) return a.sel;
  const at::Tensor original = a.index.defined() ? a.unedited.index_select(1, a.index) : a.unedited;
  at::Tensor y = a.sel * (1.0 - w);
  return y.addcmul_(original, w);
}

at::Tensor fill(const OpArgs& a) { return at::full_like(a.sel, num(a.params, "value")); }

at::Tensor rect(const OpArgs& a) {
  const at::Tensor c = columns(a.sel), r = rows(a.sel);
  const at::Tensor inside = ((c >= num(a.params, "x0")) & (c <= num(a.params, "x1")) & (r >= num(a.params, "y0")) &
                             (r <= num(a.params, "y1"))).to(a.sel.scalar_type());
  return at::addcmul(inside * num(a.params, "value"), a.sel, 1.0 - inside);  // x * 1 + 0 outside, x * 0 + v inside
}

// The rotate, scale and translate ops' `convention` (docs/research.md, "Conventions"):
//  actmap           about ((W - 1) / 2, (H - 1) / 2), the centre of the pixel grid, exact bilinear
//                   sampling, quarter turns exact, translate by fractions of W and H;
//  network_bending  Network Bending's OpenCV ops (transforms/{rotate,scale,translate}/op.cpp);
//  tensorflow       TensorFlow Addons' rotate and translate as the bending report calls them
//                   (NetworkOperations.py): nearest neighbour, reflected borders.
std::string convention(const OpArgs& a) { return a.params.contains("convention") ? text(a.params, "convention") : "actmap"; }

at::Tensor rotate(const OpArgs& a) {
  const std::string conv = convention(a);
  if (conv == "network_bending") return opencv_warp_affine(a.sel, nb_rotation(a.sel, num(a.params, "degrees"), 1.0));
  const std::int64_t h = a.sel.size(2), w = a.sel.size(3);
  if (conv == "tensorflow") {
    // tfa.image.rotate: angles_to_projective_transforms, in float.
    const float t = static_cast<float>(num(a.params, "degrees") * (kPi / 180.0));
    const float cs = std::cos(t), sn = std::sin(t), fw = static_cast<float>(w) - 1.0f, fh = static_cast<float>(h) - 1.0f;
    const float x_offset = (fw - (cs * fw - sn * fh)) / 2.0f, y_offset = (fh - (sn * fw + cs * fh)) / 2.0f;
    return tensorflow_transform_nearest_reflect(a.sel, {cs, -sn, x_offset, sn, cs, y_offset});
  }
  double degrees = std::fmod(num(a.params, "degrees"), 360.0);
  if (degrees < 0) degrees += 360.0;
  if (degrees == 0.0) return a.sel;
  if (degrees == 180.0) return at::flip(a.sel, {2, 3});
  // at::rot90 turns from the row axis towards the column axis: k = 1 is counter-clockwise on screen.
  if ((degrees == 90.0 || degrees == 270.0) && h == w) return at::rot90(a.sel, degrees == 90.0 ? 1 : -1, {2, 3}).contiguous();
  // Output pixel p reads the source at centre + R(-angle) (p - centre); with y pointing down a
  // counter-clockwise turn on screen maps (dx, dy) to (dx cos + dy sin, -dx sin + dy cos).
  const double t = degrees * kPi / 180.0, cs = std::cos(t), sn = std::sin(t);
  const double cx = 0.5 * static_cast<double>(w - 1), cy = 0.5 * static_cast<double>(h - 1);
  const at::Tensor dx = columns(a.sel) - cx, dy = rows(a.sel) - cy;
  return bilinear_sample(a.sel, cx + dx * cs - dy * sn, cy + dx * sn + dy * cs);
}

at::Tensor scale(const OpArgs& a) {
  const double f = num(a.params, "factor");
  if (convention(a) == "network_bending") return opencv_warp_affine(a.sel, nb_rotation(a.sel, 0.0, f));
  if (f == 1.0) return a.sel;
  const double cx = 0.5 * static_cast<double>(a.sel.size(3) - 1), cy = 0.5 * static_cast<double>(a.sel.size(2) - 1);
  return bilinear_sample(a.sel, cx + (columns(a.sel) - cx) / f, cy + (rows(a.sel) - cy) / f);
}

// x shifted right by dx and down by dy whole pixels, zeros moving in (exact).
at::Tensor shifted(const at::Tensor& x, std::int64_t dx, std::int64_t dy) {
  if (std::abs(dx) >= x.size(3) || std::abs(dy) >= x.size(2)) return at::zeros_like(x);
  return at::constant_pad_nd(x, {dx, -dx, dy, -dy}, 0);
}

at::Tensor translate(const OpArgs& a) {
  const std::string conv = convention(a);
  if (conv == "network_bending") {
    // transforms/translate/op.cpp: Matx23f(1, 0, tx * (float)size(0), 0, 1, ty * (float)size(1)),
    // the products in double, stored as float: x moves by dx H, y by dy W (the same on square maps).
    const double tx = static_cast<float>(num(a.params, "dx") * static_cast<double>(static_cast<float>(a.sel.size(2))));
    const double ty = static_cast<float>(num(a.params, "dy") * static_cast<double>(static_cast<float>(a.sel.size(3))));
    return opencv_warp_affine(a.sel, {1.0, 0.0, tx, 0.0, 1.0, ty});
  }
  if (conv == "tensorflow") {
    // tfa.image.translate: translations_to_projective_transforms, [1, 0, -dx, 0, 1, -dy] in pixels.
    const float tx = static_cast<float>(num(a.params, "dx") * static_cast<double>(a.sel.size(3)));
    const float ty = static_cast<float>(num(a.params, "dy") * static_cast<double>(a.sel.size(2)));
    return tensorflow_transform_nearest_reflect(a.sel, {1.0f, 0.0f, -tx, 0.0f, 1.0f, -ty});
  }
  const double sx = num(a.params, "dx") * static_cast<double>(a.sel.size(3));
  const double sy = num(a.params, "dy") * static_cast<double>(a.sel.size(2));
  if (sx == 0.0 && sy == 0.0) return a.sel;
  // Bilinear between the (up to) four whole-pixel shifts around (sx, sy): exact when both are
  // whole numbers, and cheaper than sampling since every pixel has the same weights.
  const double fx = std::floor(sx), fy = std::floor(sy), tx = sx - fx, ty = sy - fy;
  at::Tensor out;
  for (int j = 0; j < 2; ++j) {
    for (int i = 0; i < 2; ++i) {
      const double weight = (i ? tx : 1.0 - tx) * (j ? ty : 1.0 - ty);
      if (weight == 0.0) continue;
      const at::Tensor part = shifted(a.sel, static_cast<std::int64_t>(fx) + i, static_cast<std::int64_t>(fy) + j);
      if (!out.defined()) {
        out = weight == 1.0 ? part : part * weight;
      } else {
        out.add_(part, weight);
      }
    }
  }
  return out;
}

at::Tensor flip(const OpArgs& a) { return at::flip(a.sel, {text(a.params, "axis") == "horizontal" ? 3 : 2}); }

at::Tensor mirror(const OpArgs& a) {
  // out[i] = x[min(i, n - 1 - i)]: the second half reflects the first; an odd middle stays.
  const std::int64_t dim = text(a.params, "axis") == "x" ? 3 : 2, n = a.sel.size(dim);
  if (n == 1) return a.sel;
  return at::cat({a.sel.narrow(dim, 0, (n + 1) / 2), a.sel.narrow(dim, 0, n / 2).flip(dim)}, dim);
}

at::Tensor multiply(const OpArgs& a) { return a.sel * num(a.params, "factor"); }
at::Tensor add(const OpArgs& a) { return a.sel + num(a.params, "value"); }
at::Tensor negate(const OpArgs& a) { return at::neg(a.sel); }
at::Tensor invert(const OpArgs& a) { return at::rsub(a.sel, 1.0); }

at::Tensor threshold(const OpArgs& a) {
  at::Tensor out = at::empty_like(a.sel);
  return at::gt_out(out, a.sel, num(a.params, "t"));  // written as 1 and 0 in the activation's dtype
}

at::Tensor clamp(const OpArgs& a) { return at::clamp(a.sel, num(a.params, "lo"), num(a.params, "hi")); }
at::Tensor ablate(const OpArgs& a) { return at::zeros_like(a.sel); }

// `shape`: square (2r+1)^2, separable; or ellipse, OpenCV's MORPH_ELLIPSE of size 2r+1 as Network
// Bending's transforms/erode/op.cpp and dilate/op.cpp build it.
bool ellipse_shape(const OpArgs& a) { return a.params.contains("shape") && text(a.params, "shape") == "ellipse"; }

at::Tensor erode(const OpArgs& a) {
  const std::int64_t r = whole(a.params, "radius");
  if (ellipse_shape(a)) return morph_ellipse(a.sel, r, Reduce::Min);
  return window_reduce(window_reduce(a.sel, 3, r, Reduce::Min), 2, r, Reduce::Min);
}

at::Tensor dilate(const OpArgs& a) {
  const std::int64_t r = whole(a.params, "radius");
  if (ellipse_shape(a)) return morph_ellipse(a.sel, r, Reduce::Max);
  return window_reduce(window_reduce(a.sel, 3, r, Reduce::Max), 2, r, Reduce::Max);
}

// Indices 0..n-1 extended by r on each side by reflection without repeating the edge
// ([c b | a b c d | c b], TensorFlow's REFLECT padding), repeated for windows wider than the map.
at::Tensor reflected_indices(std::int64_t n, std::int64_t r, const at::Tensor& like) {
  std::vector<std::int64_t> idx;
  const std::int64_t period = 2 * (n - 1);
  for (std::int64_t i = -r; i < n + r; ++i) {
    std::int64_t j = period > 0 ? ((i % period) + period) % period : 0;
    if (j >= n) j = period - j;
    idx.push_back(j);
  }
  return at::tensor(idx, at::kLong).to(like.device());
}

// Mean over a size x size window of the map padded by reflection (tfa.image.mean_filter2d's
// default, as the bending report calls it): the window sums along each axis, then / size^2.
at::Tensor mean_filter_reflect(const at::Tensor& x, std::int64_t size) {
  const std::int64_t r = size / 2;
  at::Tensor y = x;
  for (const std::int64_t dim : {std::int64_t(2), std::int64_t(3)}) {
    const std::int64_t n = y.size(dim);
    const at::Tensor padded = y.index_select(dim, reflected_indices(n, r, y));
    at::Tensor sum = padded.narrow(dim, 0, n).clone();
    for (std::int64_t k = 1; k < size; ++k) sum.add_(padded.narrow(dim, k, n));
    y = sum;
  }
  return y.div_(static_cast<double>(size * size));
}

at::Tensor mean_filter(const OpArgs& a) {
  const std::int64_t r = whole(a.params, "size") / 2;
  if (a.params.contains("border") && text(a.params, "border") == "reflect") {
    return r == 0 ? a.sel : mean_filter_reflect(a.sel, whole(a.params, "size"));
  }
  if (r == 0 || (a.sel.size(2) == 1 && a.sel.size(3) == 1)) return a.sel;
  // Only pixels inside the map count, so the square's mean is the product of the two axes' means.
  at::Tensor y = window_reduce(a.sel, 3, r, Reduce::Sum);
  if (a.sel.size(3) > 1) y.mul_(inverse_counts(a.sel, 3, r));
  if (a.sel.size(2) > 1) y = window_reduce(y, 2, r, Reduce::Sum).mul_(inverse_counts(a.sel, 2, r));
  return y;
}

at::Tensor gaussian_blur(const OpArgs& a) {
  const double sigma = num(a.params, "sigma");
  const auto half = static_cast<std::int64_t>(std::ceil(3.0 * sigma));
  std::vector<double> taps(static_cast<std::size_t>(2 * half + 1));
  for (std::int64_t k = -half; k <= half; ++k) {
    taps[static_cast<std::size_t>(k + half)] = std::exp(-static_cast<double>(k * k) / (2.0 * sigma * sigma));
  }
  const double sum = std::accumulate(taps.begin(), taps.end(), 0.0);
  for (auto& t : taps) t /= sum;
  return correlate(correlate(a.sel, 3, taps), 2, taps);
}

at::Tensor sharpen(const OpArgs& a) {
  const double amount = num(a.params, "amount");
  if (amount == 0.0) return a.sel;
  at::Tensor y = correlate(a.sel, 2, {1.0, 0.0, 1.0});
  y.add_(correlate(a.sel, 3, {1.0, 0.0, 1.0}));  // the four neighbours
  return y.mul_(-amount).add_(a.sel, 1.0 + 4.0 * amount);
}

at::Tensor sobel(const OpArgs& a) {
  // [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]] is [1, 2, 1] down the rows times [-1, 0, 1] across.
  at::Tensor gx = correlate(correlate(a.sel, 2, {1.0, 2.0, 1.0}), 3, {-1.0, 0.0, 1.0});
  const at::Tensor gy = correlate(correlate(a.sel, 3, {1.0, 2.0, 1.0}), 2, {-1.0, 0.0, 1.0});
  return gx.mul_(gx).addcmul_(gy, gy).sqrt_();
}

at::Tensor shuffle(const OpArgs& a) {
  const auto k = static_cast<std::int64_t>(a.channels.size());
  std::vector<std::int64_t> perm(static_cast<std::size_t>(k));
  std::iota(perm.begin(), perm.end(), 0);
  SplitMix64 rng(a.params.at("seed").get<std::uint64_t>());
  for (std::int64_t i = k - 1; i > 0; --i) {
    const auto j = static_cast<std::int64_t>(rng.next() % static_cast<std::uint64_t>(i + 1));
    std::swap(perm[static_cast<std::size_t>(i)], perm[static_cast<std::size_t>(j)]);
  }
  bool identity = true;
  for (std::int64_t i = 0; i < k; ++i) identity = identity && perm[static_cast<std::size_t>(i)] == i;
  if (identity) return a.sel;
  return a.sel.index_select(1, as_index(perm, a.sel));  // selected channel i takes the old perm[i]
}

at::Tensor vanish(const OpArgs& a) {
  std::vector<std::int64_t> others;
  std::size_t next = 0;
  for (std::int64_t c = 0; c < a.current.size(1); ++c) {
    if (next < a.channels.size() && a.channels[next] == c) {
      ++next;
    } else {
      others.push_back(c);
    }
  }
  if (others.empty()) throw Error("vanish needs at least one channel outside the selection");
  std::vector<std::int64_t> source(a.channels.size());
  if (a.params.contains("pick") && text(a.params, "pick") == "repeat") {
    // The bending report's vanish (NetworkOperations.py, Block): the U unselected channels, each
    // repeated C // U times in order, then the first C % U of them once more, make a list of C
    // channels; selected channel c takes entry c of that list.
    const auto channel_count = static_cast<std::size_t>(a.current.size(1));
    std::vector<std::int64_t> full;
    for (const auto o : others) full.insert(full.end(), channel_count / others.size(), o);
    for (std::size_t i = 0; full.size() < channel_count; ++i) full.push_back(others[i]);
    for (std::size_t i = 0; i < source.size(); ++i) source[i] = full[static_cast<std::size_t>(a.channels[i])];
  } else {
    SplitMix64 rng(a.params.at("seed").get<std::uint64_t>());
    for (auto& s : source) s = others[rng.next() % others.size()];
  }
  return a.current.index_select(1, as_index(source, a.sel));
}

at::Tensor sin_disrupt(const OpArgs& a) {
  const double w = static_cast<double>(a.sel.size(3)), h = static_cast<double>(a.sel.size(2));
  const at::Tensor wave = at::sin(2.0 * kPi * (num(a.params, "fx") / w * columns(a.sel) + num(a.params, "fy") / h * rows(a.sel)) +
                                  num(a.params, "phase"));
  return a.sel * wave.to(a.sel.scalar_type());
}

at::Tensor sin_field(const OpArgs& a) {
  // amplitude (sin(2 pi fy (r - y0) / H) + sin(2 pi fx (c - x0) / W)): the map is replaced.
  const double w = static_cast<double>(a.sel.size(3)), h = static_cast<double>(a.sel.size(2));
  const at::Tensor field = num(a.params, "amplitude") *
                           (at::sin(2.0 * kPi * num(a.params, "fy") * (rows(a.sel) - num(a.params, "y0")) / h) +
                            at::sin(2.0 * kPi * num(a.params, "fx") * (columns(a.sel) - num(a.params, "x0")) / w));
  return field.to(a.sel.scalar_type()).expand(a.sel.sizes()).contiguous();
}

}  // namespace

OpKernel find_op_kernel(const std::string& op) {
  static const std::map<std::string, OpKernel> kernels = {
      {"brush", brush},         {"fill", fill},
      {"rect", rect},           {"erase", erase},
      {"rotate", rotate},       {"scale", scale},
      {"translate", translate}, {"flip", flip},
      {"mirror", mirror},       {"multiply", multiply},
      {"add", add},             {"negate", negate},
      {"invert", invert},       {"threshold", threshold},
      {"clamp", clamp},         {"ablate", ablate},
      {"erode", erode},         {"dilate", dilate},
      {"mean_filter", mean_filter}, {"gaussian_blur", gaussian_blur},
      {"sharpen", sharpen},     {"sobel", sobel},
      {"shuffle", shuffle},     {"vanish", vanish},
      {"sin_disrupt", sin_disrupt}, {"sin_field", sin_field},
  };
  const auto it = kernels.find(op);
  return it == kernels.end() ? find_latent_op_kernel(op) : it->second;
}

}  // namespace actmap
