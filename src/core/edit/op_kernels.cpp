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

at::Tensor rotate(const OpArgs& a) {
  double degrees = std::fmod(num(a.params, "degrees"), 360.0);
  if (degrees < 0) degrees += 360.0;
  const std::int64_t h = a.sel.size(2), w = a.sel.size(3);
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

at::Tensor erode(const OpArgs& a) {
  const std::int64_t r = whole(a.params, "radius");
  return window_reduce(window_reduce(a.sel, 3, r, Reduce::Min), 2, r, Reduce::Min);
}

at::Tensor dilate(const OpArgs& a) {
  const std::int64_t r = whole(a.params, "radius");
  return window_reduce(window_reduce(a.sel, 3, r, Reduce::Max), 2, r, Reduce::Max);
}

at::Tensor mean_filter(const OpArgs& a) {
  const std::int64_t r = whole(a.params, "size") / 2;
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
  SplitMix64 rng(a.params.at("seed").get<std::uint64_t>());
  std::vector<std::int64_t> source(a.channels.size());
  for (auto& s : source) s = others[rng.next() % others.size()];
  return a.current.index_select(1, as_index(source, a.sel));
}

at::Tensor sin_disrupt(const OpArgs& a) {
  const double w = static_cast<double>(a.sel.size(3)), h = static_cast<double>(a.sel.size(2));
  const at::Tensor wave = at::sin(2.0 * kPi * (num(a.params, "fx") / w * columns(a.sel) + num(a.params, "fy") / h * rows(a.sel)) +
                                  num(a.params, "phase"));
  return a.sel * wave.to(a.sel.scalar_type());
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
      {"sin_disrupt", sin_disrupt},
  };
  const auto it = kernels.find(op);
  return it == kernels.end() ? find_latent_op_kernel(op) : it->second;
}

}  // namespace actmap
