// The tensor side of every edit op, against expectations worked out by hand on small maps.
// Coordinates: the centre of the pixel in row r, column c is (x = c, y = r); y points down.
#include <algorithm>
#include <cmath>
#include <set>

#include "actmap/edit/edit.h"
#include "actmap/edit/ops.h"
#include "actmap/io/files.h"
#include "actmap/io/image.h"
#include "actmap/render/renderer.h"
#include "test_util.h"

namespace actmap {
namespace {

using nlohmann::json;
using Rows = std::vector<std::vector<float>>;

const double kSqrt2 = std::sqrt(2.0);

// A [1, 1, H, W] map from its rows.
at::Tensor map_of(const Rows& rows) {
  std::vector<float> flat;
  for (const auto& r : rows) flat.insert(flat.end(), r.begin(), r.end());
  return at::tensor(flat, at::kFloat).view({1, 1, static_cast<std::int64_t>(rows.size()), static_cast<std::int64_t>(rows[0].size())});
}

// x[r][c] = w * r + c.
at::Tensor ramp(std::int64_t h, std::int64_t w) { return at::arange(h * w, at::kFloat).view({1, 1, h, w}); }

// Runs edits (JSON objects; tap "t" and ids e1, e2, ... filled in) on x.
at::Tensor run(const at::Tensor& x, const std::vector<json>& edits, const std::string& base_dir = "") {
  std::vector<Edit> list;
  for (std::size_t i = 0; i < edits.size(); ++i) {
    json e = edits[i];
    if (!e.contains("tap")) e["tap"] = "t";
    if (!e.contains("id")) e["id"] = "e" + std::to_string(i + 1);
    list.push_back(Edit::from_json(e, "/edits/" + std::to_string(i), base_dir));
  }
  std::vector<const Edit*> pointers;
  for (const auto& e : list) pointers.push_back(&e);
  const TapInfo tap{"t", x.size(1), x.size(2), x.size(3), 0};
  return apply_edits(x, pointers, tap);
}

at::Tensor run1(const at::Tensor& x, const std::string& op, const json& params = json::object(), const json& extra = json::object()) {
  json e = extra;
  e["op"] = op;
  e["params"] = params;
  return run(x, {e});
}

void expect_near(const at::Tensor& actual, const at::Tensor& expected, double tol = 1e-5) {
  ASSERT_EQ(actual.sizes().vec(), expected.sizes().vec());
  EXPECT_LE(test::closeness(actual, expected, tol, tol), 1.0) << "actual:\n" << actual << "\nexpected:\n" << expected;
}

void expect_equal(const at::Tensor& actual, const at::Tensor& expected) {
  ASSERT_EQ(actual.sizes().vec(), expected.sizes().vec());
  EXPECT_TRUE(at::equal(actual, expected)) << "actual:\n" << actual << "\nexpected:\n" << expected;
}

// ---- Geometry ---------------------------------------------------------------------------------

TEST(OpsGeometry, RotateRampByQuarterTurns) {
  const at::Tensor x = ramp(4, 4);  // 0 1 2 3 / 4 5 6 7 / 8 9 10 11 / 12 13 14 15
  // +90 is counter-clockwise on screen (y down): the right edge turns to the top. The top row
  // 0 1 2 3 becomes the left column read upwards, so the top-right 3 lands at the top-left and
  // the top-left 0 at the bottom-left: out[r][c] = x[c][3 - r].
  const at::Tensor ccw = map_of({{3, 7, 11, 15}, {2, 6, 10, 14}, {1, 5, 9, 13}, {0, 4, 8, 12}});
  expect_equal(run1(x, "rotate", {{"degrees", 90}}), ccw);
  expect_equal(run1(x, "rotate", {{"degrees", 450}}), ccw);
  expect_equal(run1(x, "rotate", {{"degrees", -270}}), ccw);
  // 180: out[r][c] = x[3 - r][3 - c].
  expect_equal(run1(x, "rotate", {{"degrees", 180}}),
               map_of({{15, 14, 13, 12}, {11, 10, 9, 8}, {7, 6, 5, 4}, {3, 2, 1, 0}}));
  // -90, clockwise: the left column 0 4 8 12 becomes the top row read backwards: out[r][c] = x[3 - c][r].
  expect_equal(run1(x, "rotate", {{"degrees", -90}}),
               map_of({{12, 8, 4, 0}, {13, 9, 5, 1}, {14, 10, 6, 2}, {15, 11, 7, 3}}));
  expect_equal(run1(x, "rotate", {{"degrees", 360}}), x);
  // The bilinear path turns the same way: a hair short of 90 degrees lands next to the exact result.
  expect_near(run1(x, "rotate", {{"degrees", 89.9999}}), ccw, 1e-3);
}

TEST(OpsGeometry, RotateNonSquareQuarterTurnSamplesAboutTheCentre) {
  // 2 x 4 map x[r][c] = 4r + c, centre (1.5, 0.5). Output (c, r) reads the source at
  // (1.5 - (r - 0.5), 0.5 + (c - 1.5)) = (2 - r, c - 1): columns 1 and 2 only, the rest is outside.
  // (r=0,c=1) <- x[0][2] = 2, (r=0,c=2) <- x[1][2] = 6, (r=1,c=1) <- x[0][1] = 1, (r=1,c=2) <- x[1][1] = 5.
  expect_near(run1(ramp(2, 4), "rotate", {{"degrees", 90}}), map_of({{0, 2, 6, 0}, {0, 1, 5, 0}}));
}

TEST(OpsGeometry, Rotate45) {
  // An impulse at the centre of a 3 x 3 map. The centre reads itself. The right neighbour (dx = 1,
  // dy = 0) reads (1 + cos 45, 1 + sin 45) = (1.707, 1.707), whose bilinear weight on the centre
  // pixel is (1 - 0.707)^2; by symmetry all four edge neighbours get that. A corner, e.g.
  // (dx, dy) = (1, 1), reads (1 + cos - sin, 1 + sin + cos) = (1, 2.414): row 2 or beyond, all 0.
  const double a = (1.0 - kSqrt2 / 2) * (1.0 - kSqrt2 / 2);
  const at::Tensor x = map_of({{0, 0, 0}, {0, 1, 0}, {0, 0, 0}});
  const auto af = static_cast<float>(a);
  expect_near(run1(x, "rotate", {{"degrees", 45}}), map_of({{0, af, 0}, {af, 1, af}, {0, af, 0}}));
  // A constant 5 x 5 map: the centre and the pixels whose four neighbours are all inside stay 1.
  const at::Tensor ones = at::ones({1, 1, 5, 5});
  const at::Tensor y = run1(ones, "rotate", {{"degrees", 45}});
  EXPECT_NEAR(y[0][0][2][2].item<float>(), 1.0f, 1e-6);
  EXPECT_NEAR(y[0][0][2][1].item<float>(), 1.0f, 1e-6);  // reads (1.293, 1.293)
  EXPECT_NEAR(y[0][0][1][2].item<float>(), 1.0f, 1e-6);
}

TEST(OpsGeometry, RotateAgreesWithGridSampler) {
  // The same sampling written independently: source pixel (sx, sy) of output (c, r) for a
  // counter-clockwise turn t about the centre, normalised for align_corners=false.
  const std::int64_t h = 5, w = 7;
  const at::Tensor x = at::randn({2, 3, h, w}, at::TensorOptions().dtype(at::kFloat));
  const double t = 30.0 * M_PI / 180.0, cx = (w - 1) / 2.0, cy = (h - 1) / 2.0;
  at::Tensor grid = at::empty({2, h, w, 2}, at::kFloat);
  auto g = grid.accessor<float, 4>();
  for (int n = 0; n < 2; ++n) {
    for (int r = 0; r < h; ++r) {
      for (int c = 0; c < w; ++c) {
        const double dx = c - cx, dy = r - cy;
        const double sx = cx + dx * std::cos(t) - dy * std::sin(t), sy = cy + dx * std::sin(t) + dy * std::cos(t);
        g[n][r][c][0] = static_cast<float>((2 * sx + 1) / w - 1);
        g[n][r][c][1] = static_cast<float>((2 * sy + 1) / h - 1);
      }
    }
  }
  expect_near(run1(x, "rotate", {{"degrees", 30}}), at::grid_sampler_2d(x, grid, 0, 0, false), 1e-5);
}

TEST(OpsGeometry, Scale) {
  // Factor 2 on 4 x 4: output p reads 1.5 + (p - 1.5) / 2 = 0.75, 1.25, 1.75, 2.25 on each axis,
  // all inside; the ramp 4r + c is linear, so out = 4 sy + sx.
  expect_near(run1(ramp(4, 4), "scale", {{"factor", 2}}), map_of({{3.75, 4.25, 4.75, 5.25},
                                                                 {5.75, 6.25, 6.75, 7.25},
                                                                 {7.75, 8.25, 8.75, 9.25},
                                                                 {9.75, 10.25, 10.75, 11.25}}));
  // Factor 0.5: p reads 1.5 + 2 (p - 1.5) = -1.5, 0.5, 2.5, 4.5: the outer ring reads only outside
  // pixels (0), the inner 2 x 2 reads between two inside pixels (1).
  expect_near(run1(at::ones({1, 1, 4, 4}), "scale", {{"factor", 0.5}}),
              map_of({{0, 0, 0, 0}, {0, 1, 1, 0}, {0, 1, 1, 0}, {0, 0, 0, 0}}));
}

TEST(OpsGeometry, Translate) {
  const at::Tensor x = ramp(4, 4);
  // dx = 0.25 of 4 columns: one pixel right, zeros move in on the left (exact).
  expect_equal(run1(x, "translate", {{"dx", 0.25}}), map_of({{0, 0, 1, 2}, {0, 4, 5, 6}, {0, 8, 9, 10}, {0, 12, 13, 14}}));
  // dy = -0.5 of 4 rows: two rows up.
  expect_equal(run1(x, "translate", {{"dy", -0.5}}), map_of({{8, 9, 10, 11}, {12, 13, 14, 15}, {0, 0, 0, 0}, {0, 0, 0, 0}}));
  expect_equal(run1(x, "translate", {{"dx", 0.25}, {"dy", 0.25}}),
               map_of({{0, 0, 0, 0}, {0, 0, 1, 2}, {0, 4, 5, 6}, {0, 8, 9, 10}}));
  expect_equal(run1(x, "translate", {{"dx", 1.0}}), at::zeros_like(x));
  // Half a pixel right: out[c] = (x[c - 1] + x[c]) / 2, with x[-1] = 0.
  const at::Tensor row = map_of({{1, 2, 3, 4}});
  expect_near(run1(row, "translate", {{"dx", 0.125}}), map_of({{0.5, 1.5, 2.5, 3.5}}));
  // Half a pixel left: out[c] = (x[c] + x[c + 1]) / 2, with x[4] = 0.
  expect_near(run1(row, "translate", {{"dx", -0.125}}), map_of({{1.5, 2.5, 3.5, 2}}));
}

TEST(OpsGeometry, FlipAndMirror) {
  const at::Tensor x = map_of({{1, 2, 3}, {4, 5, 6}});
  expect_equal(run1(x, "flip", {{"axis", "horizontal"}}), map_of({{3, 2, 1}, {6, 5, 4}}));
  expect_equal(run1(x, "flip", {{"axis", "vertical"}}), map_of({{4, 5, 6}, {1, 2, 3}}));
  // mirror x: the right half is the reflected left half; an odd width keeps its middle column.
  expect_equal(run1(map_of({{1, 2, 3, 4, 5}}), "mirror", {{"axis", "x"}}), map_of({{1, 2, 3, 2, 1}}));
  expect_equal(run1(map_of({{1, 2, 3, 4}}), "mirror", {{"axis", "x"}}), map_of({{1, 2, 2, 1}}));
  expect_equal(run1(map_of({{1, 9}, {2, 8}, {3, 7}}), "mirror", {{"axis", "y"}}), map_of({{1, 9}, {2, 8}, {1, 9}}));
  expect_equal(run1(map_of({{1}, {2}, {3}, {4}}), "mirror", {{"axis", "y"}}), map_of({{1}, {2}, {2}, {1}}));
}

// ---- Values -------------------------------------------------------------------------------------

TEST(OpsValues, PointwiseOps) {
  const at::Tensor x = map_of({{-3, -0.5, 0.5, 3}});
  expect_equal(run1(x, "threshold", {{"t", 0.5}}), map_of({{0, 0, 0, 1}}));  // 0.5 is not > 0.5
  expect_equal(run1(x, "threshold", {{"t", -1}}), map_of({{0, 1, 1, 1}}));
  expect_equal(run1(x, "clamp", {{"lo", -1}, {"hi", 1}}), map_of({{-1, -0.5, 0.5, 1}}));
  expect_equal(run1(x, "negate"), map_of({{3, 0.5, -0.5, -3}}));
  expect_equal(run1(x, "invert"), map_of({{4, 1.5, 0.5, -2}}));  // 1 - x
  expect_equal(run1(x, "multiply", {{"factor", 2}}), map_of({{-6, -1, 1, 6}}));
  expect_equal(run1(x, "add", {{"value", 2}}), map_of({{-1, 1.5, 2.5, 5}}));
  expect_equal(run1(x, "fill", {{"value", 7}}), map_of({{7, 7, 7, 7}}));
  expect_equal(run1(x, "ablate"), map_of({{0, 0, 0, 0}}));
}

TEST(OpsValues, RectBoundsAreInclusive) {
  // Columns 1..2 and rows 0..1 of a 3 x 4 map.
  expect_equal(run1(at::zeros({1, 1, 3, 4}), "rect", {{"x0", 1}, {"y0", 0}, {"x1", 2}, {"y1", 1}, {"value", 5}}),
               map_of({{0, 5, 5, 0}, {0, 5, 5, 0}, {0, 0, 0, 0}}));
  // [0.5, 1.5] x [1.5, 2] holds one pixel centre: (1, 2).
  expect_equal(run1(at::zeros({1, 1, 3, 4}), "rect", {{"x0", 0.5}, {"y0", 1.5}, {"x1", 1.5}, {"y1", 2}, {"value", 5}}),
               map_of({{0, 0, 0, 0}, {0, 0, 0, 0}, {0, 5, 0, 0}}));
}

// ---- Filters ------------------------------------------------------------------------------------

TEST(OpsFilters, ErodeAndDilate) {
  // x = 1 + 4r + c grows right and down, so the 3 x 3 maximum is the bottom-right pixel of the
  // window inside the map and the minimum the top-left one: borders see only inside pixels
  // (zero padding would put 0 into every border minimum).
  const at::Tensor x = ramp(4, 4) + 1;
  expect_equal(run1(x, "dilate", {{"radius", 1}}), map_of({{6, 7, 8, 8}, {10, 11, 12, 12}, {14, 15, 16, 16}, {14, 15, 16, 16}}));
  expect_equal(run1(x, "erode", {{"radius", 1}}), map_of({{1, 1, 2, 3}, {1, 1, 2, 3}, {5, 5, 6, 7}, {9, 9, 10, 11}}));
  // A window wider than the map covers all of it.
  expect_equal(run1(x, "dilate", {{"radius", 64}}), at::full_like(x, 16));
  expect_equal(run1(x, "erode", {{"radius", 64}}), at::full_like(x, 1));
  // An impulse in the corner dilates to a 2 x 2 block; a hole in the corner erodes to 2 x 2 zeros.
  at::Tensor impulse = at::zeros({1, 1, 5, 5});
  impulse[0][0][0][0] = 1;
  expect_equal(run1(impulse, "dilate", {{"radius", 1}}),
               map_of({{1, 1, 0, 0, 0}, {1, 1, 0, 0, 0}, {0, 0, 0, 0, 0}, {0, 0, 0, 0, 0}, {0, 0, 0, 0, 0}}));
  expect_equal(run1(1 - impulse, "erode", {{"radius", 1}}),
               map_of({{0, 0, 1, 1, 1}, {0, 0, 1, 1, 1}, {1, 1, 1, 1, 1}, {1, 1, 1, 1, 1}, {1, 1, 1, 1, 1}}));
  // Radius 2 (a 5 x 5 square) from an impulse at (2, 1): columns 0..4, rows 0..3.
  at::Tensor dot = at::zeros({1, 1, 5, 5});
  dot[0][0][1][2] = 1;
  expect_equal(run1(dot, "dilate", {{"radius", 2}}),
               map_of({{1, 1, 1, 1, 1}, {1, 1, 1, 1, 1}, {1, 1, 1, 1, 1}, {1, 1, 1, 1, 1}, {0, 0, 0, 0, 0}}));
}

TEST(OpsFilters, MeanFilterCountsOnlyInsidePixels) {
  const at::Tensor x = map_of({{1, 2, 3}, {4, 5, 6}, {7, 8, 9}});
  // Corner (0, 0): (1 + 2 + 4 + 5) / 4 = 3; edge (0, 1): (1 + 2 + 3 + 4 + 5 + 6) / 6 = 3.5;
  // (1, 0): (1 + 2 + 4 + 5 + 7 + 8) / 6 = 4.5; centre 45 / 9 = 5; and so on by symmetry.
  expect_near(run1(x, "mean_filter", {{"size", 3}}), map_of({{3, 3.5, 4}, {4.5, 5, 5.5}, {6, 6.5, 7}}));
  expect_equal(run1(x, "mean_filter", {{"size", 1}}), x);
  expect_near(run1(x, "mean_filter", {{"size", 5}}), at::full_like(x, 5));    // every window is the whole map
  expect_near(run1(x, "mean_filter", {{"size", 129}}), at::full_like(x, 5));
}

// An impulse blurred by a normalised Gaussian: exp(-(dr^2 + dc^2) / (2 sigma^2)) / Z^2 with
// Z = sum over k = -R..R of exp(-k^2 / (2 sigma^2)), R = ceil(3 sigma), while the kernel stays inside.
void check_blurred_impulse(double sigma, std::int64_t height, std::int64_t width) {
  const std::int64_t mid = height / 2, centre = width / 2;
  at::Tensor x = at::zeros({1, 1, height, width});
  x[0][0][mid][centre] = 1;
  const at::Tensor y = run1(x, "gaussian_blur", {{"sigma", sigma}});
  const auto half = static_cast<int>(std::ceil(3 * sigma));
  double z = 0;
  for (int k = -half; k <= half; ++k) z += std::exp(-k * k / (2 * sigma * sigma));
  EXPECT_NEAR(y.sum().item<double>(), 1.0, 1e-5);
  for (auto [dr, dc] : std::vector<std::pair<int, int>>{{0, 0}, {0, 1}, {1, 1}, {0, 3}, {2, -3}, {-half, half}}) {
    const double expected = std::exp(-(dr * dr + dc * dc) / (2 * sigma * sigma)) / (z * z);
    EXPECT_NEAR(y[0][0][mid + dr][centre + dc].item<double>(), expected, 1e-6) << "sigma " << sigma << " at " << dr << ", " << dc;
  }
  EXPECT_EQ(y[0][0][mid][centre + half + 1].item<float>(), 0.0f);  // beyond the kernel's radius
  EXPECT_EQ(y[0][0][mid + half + 1][centre].item<float>(), 0.0f);
}

TEST(OpsFilters, GaussianBlurIsNormalised) {
  expect_near(run1(at::full({1, 2, 6, 7}, 2.5), "gaussian_blur", {{"sigma", 1.3}}), at::full({1, 2, 6, 7}, 2.5));
  expect_near(run1(at::full({1, 1, 5, 5}, -1.0), "gaussian_blur", {{"sigma", 4}}), at::full({1, 1, 5, 5}, -1.0));
  check_blurred_impulse(1.0, 15, 15);  // R = 3: sums of shifted slices (and a band matrix along W)
  check_blurred_impulse(1.0, 9, 21);
  check_blurred_impulse(3.0, 41, 41);  // R = 9, 19 taps: band matrices along both axes
  check_blurred_impulse(3.0, 23, 45);
  expect_near(run1(at::full({1, 1, 9, 30}, 1.5), "gaussian_blur", {{"sigma", 3}}), at::full({1, 1, 9, 30}, 1.5));
  // Edges repeat: a map that is 1 on its left column only keeps 1 there after blurring along the rows.
  const at::Tensor y = run1(map_of({{1, 0, 0, 0, 0, 0, 0, 0}}), "gaussian_blur", {{"sigma", 0.5}});
  // R = 2, taps exp(-k^2 / 0.5) / Z: column 0 sees x[-2] = x[-1] = x[0] = 1, so taps k = -2..0.
  double z = 0, left = 0;
  for (int k = -2; k <= 2; ++k) z += std::exp(-k * k / 0.5);
  for (int k = -2; k <= 0; ++k) left += std::exp(-k * k / 0.5);
  EXPECT_NEAR(y[0][0][0][0].item<double>(), left / z, 1e-6);
}

TEST(OpsFilters, SharpenImpulse) {
  // x + a (4x - up - down - left - right): the impulse becomes 1 + 4a, its four neighbours -a.
  at::Tensor x = at::zeros({1, 1, 5, 5});
  x[0][0][2][2] = 1;
  expect_near(run1(x, "sharpen", {{"amount", 1}}),
              map_of({{0, 0, 0, 0, 0}, {0, 0, -1, 0, 0}, {0, -1, 5, -1, 0}, {0, 0, -1, 0, 0}, {0, 0, 0, 0, 0}}));
  expect_near(run1(x, "sharpen", {{"amount", 0.5}}),
              map_of({{0, 0, 0, 0, 0}, {0, 0, -0.5, 0, 0}, {0, -0.5, 3, -0.5, 0}, {0, 0, -0.5, 0, 0}, {0, 0, 0, 0, 0}}));
  // In a corner the outside neighbours repeat the impulse: 1 + (4 - 1 (up) - 1 (left)) = 3.
  expect_near(run1(map_of({{1, 0, 0}, {0, 0, 0}, {0, 0, 0}}), "sharpen", {{"amount", 1}}),
              map_of({{3, -1, 0}, {-1, 0, 0}, {0, 0, 0}}));
}

TEST(OpsFilters, SobelOnRamps) {
  // x = c: gx = (1 + 2 + 1) (x[c + 1] - x[c - 1]) = 8 inside, 4 at the left and right edges (the
  // edge repeats, so the difference spans one step); gy = 0.
  expect_near(run1(ramp(1, 5).expand({1, 1, 4, 5}).contiguous(), "sobel"),
              map_of({{4, 8, 8, 8, 4}, {4, 8, 8, 8, 4}, {4, 8, 8, 8, 4}, {4, 8, 8, 8, 4}}));
  // x = 2r + c on 4 x 4: gx = 8 in columns 1-2 and 4 in columns 0, 3; gy = 4 * 4 = 16 in rows 1-2
  // and 4 * 2 = 8 in rows 0, 3; out = sqrt(gx^2 + gy^2).
  const at::Tensor x = (at::arange(4, at::kFloat).view({4, 1}) * 2 + at::arange(4, at::kFloat).view({1, 4})).view({1, 1, 4, 4});
  const auto s = [](double gx, double gy) { return static_cast<float>(std::sqrt(gx * gx + gy * gy)); };
  expect_near(run1(x, "sobel"), map_of({{s(4, 8), s(8, 8), s(8, 8), s(4, 8)},
                                        {s(4, 16), s(8, 16), s(8, 16), s(4, 16)},
                                        {s(4, 16), s(8, 16), s(8, 16), s(4, 16)},
                                        {s(4, 8), s(8, 8), s(8, 8), s(4, 8)}}));
}

// ---- Channels -----------------------------------------------------------------------------------

// SplitMix64 written out again from its published constants, independently of actmap's.
struct ReferenceSplitMix {
  std::uint64_t state;
  std::uint64_t next() {
    std::uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
};

// [1, C, 2, 2] with channel c holding the value c.
at::Tensor channel_ids(std::int64_t channels) {
  return at::arange(channels, at::kFloat).view({1, channels, 1, 1}).expand({1, channels, 2, 2}).contiguous();
}

std::vector<float> channel_values(const at::Tensor& y) {
  const at::Tensor v = y.select(0, 0).select(1, 0).select(1, 0).contiguous();
  return std::vector<float>(v.data_ptr<float>(), v.data_ptr<float>() + v.numel());
}

TEST(OpsChannels, ShuffleIsASeededFisherYates) {
  ReferenceSplitMix check{0};
  EXPECT_EQ(check.next(), 0xE220A8397B1DCDAFULL);  // the published first output for seed 0
  // Channels 1, 2, 4, 5 of 6: perm from i = 3 down to 1, j = next % (i + 1); selected channel
  // sel[i] receives the old sel[perm[i]]; channels 0 and 3 keep their values.
  const std::vector<int> sel = {1, 2, 4, 5};
  std::vector<int> perm = {0, 1, 2, 3};
  ReferenceSplitMix rng{12345};
  for (int i = 3; i > 0; --i) std::swap(perm[i], perm[rng.next() % static_cast<std::uint64_t>(i + 1)]);
  std::vector<float> expected = {0, 1, 2, 3, 4, 5};
  for (int i = 0; i < 4; ++i) expected[sel[i]] = static_cast<float>(sel[perm[i]]);
  const at::Tensor y = run1(channel_ids(6), "shuffle", {{"seed", 12345}}, {{"channels", json::array({1, 2, 4, 5})}});
  EXPECT_EQ(channel_values(y), expected);
  // Every channel, another seed: still a permutation, and the same one every time.
  const at::Tensor all = run1(channel_ids(6), "shuffle", {{"seed", 3}});
  std::vector<float> sorted = channel_values(all);
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(sorted, (std::vector<float>{0, 1, 2, 3, 4, 5}));
  EXPECT_TRUE(at::equal(all, run1(channel_ids(6), "shuffle", {{"seed", 3}})));
}

TEST(OpsChannels, VanishCopiesUnselectedChannels) {
  // Channels 1 and 3 of 5 are replaced by unselected ones: others = {0, 2, 4}, the i-th selected
  // channel takes others[next % 3] from one stream seeded 9.
  ReferenceSplitMix rng{9};
  std::vector<float> expected = {0, 1, 2, 3, 4};
  const std::vector<float> others = {0, 2, 4};
  expected[1] = others[rng.next() % 3];
  expected[3] = others[rng.next() % 3];
  EXPECT_EQ(channel_values(run1(channel_ids(5), "vanish", {{"seed", 9}}, {{"channels", json::array({1, 3})}})), expected);
}

TEST(OpsChannels, VanishNeedsAChannelOutsideTheSelection) {
  test::expect_error([] { run(channel_ids(3), {{{"id", "v"}, {"op", "vanish"}}}); },
                     {"edit 'v': vanish needs at least one channel outside the selection"});
  test::expect_error([] { run(channel_ids(3), {{{"id", "w"}, {"op", "vanish"}, {"channels", {{"range", {0, 2}}}}}}); },
                     {"edit 'w': vanish needs at least one channel outside the selection"});
}

TEST(OpsChannels, SinDisrupt) {
  const at::Tensor x = at::full({1, 1, 4, 4}, 2.0);
  // 2 sin(2 pi c / 4) = 2 sin(0, pi/2, pi, 3pi/2) = 0, 2, 0, -2 in every row.
  expect_near(run1(x, "sin_disrupt", {{"fx", 1}, {"fy", 0}, {"phase", 0}}),
              map_of({{0, 2, 0, -2}, {0, 2, 0, -2}, {0, 2, 0, -2}, {0, 2, 0, -2}}));
  // 2 sin(2 pi r / 4 + pi/2) = 2 cos(pi r / 2) = 2, 0, -2, 0 down the rows.
  expect_near(run1(x, "sin_disrupt", {{"fx", 0}, {"fy", 1}, {"phase", M_PI / 2}}),
              map_of({{2, 2, 2, 2}, {0, 0, 0, 0}, {-2, -2, -2, -2}, {0, 0, 0, 0}}));
  // fx = fy = 1: (r=1, c=0) sin(pi/2) = 1; (1, 1) sin(pi) = 0; (1, 2) sin(3pi/2) = -1; (3, 3) sin(3pi) = 0.
  const at::Tensor y = run1(x, "sin_disrupt", {{"fx", 1}, {"fy", 1}, {"phase", 0}});
  EXPECT_NEAR(y[0][0][1][0].item<float>(), 2.0f, 1e-5);
  EXPECT_NEAR(y[0][0][1][1].item<float>(), 0.0f, 1e-5);
  EXPECT_NEAR(y[0][0][1][2].item<float>(), -2.0f, 1e-5);
  EXPECT_NEAR(y[0][0][3][3].item<float>(), 0.0f, 1e-5);
}

TEST(OpsChannels, VanishInTheReportsOrder) {
  // Unselected {0, 2, 4} of 5: each once (5 // 3), then the first 5 % 3 = 2 once more: 0 2 4 0 2;
  // selected channels 1 and 3 take entries 1 and 3: channels 2 and 0.
  EXPECT_EQ(channel_values(run1(channel_ids(5), "vanish", {{"pick", "repeat"}}, {{"channels", json::array({1, 3})}})),
            (std::vector<float>{0, 2, 2, 0, 4}));
  // 8 channels, unselected {1, 6}: each 4 times: 1 1 1 1 6 6 6 6; channel 0 takes 1, channel 5 takes 6.
  EXPECT_EQ(channel_values(run1(channel_ids(8), "vanish", {{"pick", "repeat"}}, {{"channels", json::array({0, 2, 3, 4, 5, 7})}})),
            (std::vector<float>{1, 1, 1, 1, 6, 6, 6, 6}));
}

TEST(OpsChannels, SinFieldReplacesTheMap) {
  // 3 (sin(2 pi (r - 1) / 4) + sin(2 pi 2 (c - 0.5) / 4)), whatever the map held.
  const at::Tensor y = run1(at::randn({1, 2, 4, 4}), "sin_field", {{"amplitude", 3}, {"fy", 1}, {"y0", 1}, {"fx", 2}, {"x0", 0.5}});
  for (int r = 0; r < 4; ++r) {
    for (int c = 0; c < 4; ++c) {
      const double v = 3 * (std::sin(2 * M_PI * (r - 1) / 4.0) + std::sin(2 * M_PI * 2 * (c - 0.5) / 4.0));
      EXPECT_NEAR(y[0][1][r][c].item<float>(), v, 1e-5) << r << "," << c;
    }
  }
}

// ---- Network Bending's conventions --------------------------------------------------------------

// OpenCV's own results (tests/reference/make_bending_fixtures.py, Debian's python3-opencv) for
// Network Bending's rotate, scale, translate, erode and dilate on activations actmap dumped.
TEST(OpsConventions, NetworkBendingMatchesOpenCV) {
  const json index = json::parse(read_file_text(test::fixture("bending/opencv/index.json")));
  const json& cases = index.at("cases");
  int compared = 0, exact = 0;
  for (const json& input : index.at("inputs")) {
    const std::string name = input.at("name");
    const at::Tensor maps = test::load_tensor(test::fixture("bending/opencv/" + name + ".npy")).unsqueeze(0);
    const at::Tensor expected = test::load_tensor(test::fixture("bending/opencv/" + name + ".expected.npy"));
    ASSERT_EQ(expected.size(0), static_cast<std::int64_t>(cases.size()));
    for (std::size_t i = 0; i < cases.size(); ++i) {
      SCOPED_TRACE(name + ": " + cases[i].dump());
      const at::Tensor got = run1(maps, cases[i].at("op"), cases[i].at("params"))[0];
      const at::Tensor want = expected[static_cast<std::int64_t>(i)];
      const double scale = std::max(1.0, want.abs().max().item<double>());
      EXPECT_LE((got - want).abs().max().item<double>(), 1e-6 * scale);
      exact += at::equal(got, want);
      ++compared;
    }
  }
  EXPECT_GE(compared, 150);
  // The same arithmetic in the same order: they agree to the bit.
  EXPECT_EQ(exact, compared) << exact << " of " << compared << " bit for bit";
}

TEST(OpsConventions, OpenCVCentreAndSampling) {
  // A quarter turn about (W/2, H/2) = (2, 2) of a 4x4 map: out[r][c] = x[c][4 - r], so the top
  // row reads outside the map (zeros) and the rest is actmap's quarter turn moved down one row.
  const at::Tensor x = ramp(4, 4) + 1;
  const at::Tensor y = run1(x, "rotate", {{"degrees", 90}, {"convention", "network_bending"}});
  expect_near(y, map_of({{0, 0, 0, 0}, {4, 8, 12, 16}, {3, 7, 11, 15}, {2, 6, 10, 14}}), 1e-6);
  // Translate by 0.3 of a 4x4 map, 1.2 pixels (Network Bending scales dx by the rows, the same
  // here): OpenCV rounds the source to 1/32 pixel, -1.2 -> -38/32 = -1.1875, so column c reads
  // 0.1875 (c - 2) + 0.8125 (c - 1) with zeros outside: each row 1 2 3 4 becomes 0 0.8125 1.8125 2.8125.
  const at::Tensor rows4 = at::arange(1, 5, at::kFloat).repeat({4, 1}).view({1, 1, 4, 4});
  expect_equal(run1(rows4, "translate", {{"dx", 0.3}, {"dy", 0}, {"convention", "network_bending"}}),
               at::tensor({0.0f, 0.8125f, 1.8125f, 2.8125f}).repeat({4, 1}).view({1, 1, 4, 4}));
  // The actmap convention stays as it was: about ((W-1)/2, (H-1)/2), exact quarter turns.
  expect_equal(run1(x, "rotate", {{"degrees", 90}}), run1(x, "rotate", {{"degrees", 90}, {"convention", "actmap"}}));
  test::expect_error([&] { run1(x, "scale", {{"factor", 0.001}}); }, {"factor", "actmap convention needs |factor| >= 0.01"});
  // Scale -1 with OpenCV: a point reflection about (2, 2): out[r][c] = x[4 - r][4 - c], zeros at row and column 0.
  expect_near(run1(x, "scale", {{"factor", -1}, {"convention", "network_bending"}}),
              map_of({{0, 0, 0, 0}, {0, 16, 15, 14}, {0, 12, 11, 10}, {0, 8, 7, 6}}), 1e-6);
}

TEST(OpsConventions, EllipticalElement) {
  // r = 1 is a cross: an impulse dilates to a plus sign. r = 2: OpenCV's rows reach
  // dx = round(2 sqrt(1 - dy^2 / 4)) = 0, 2, 2, 2, 0 columns either side.
  at::Tensor impulse = at::zeros({1, 1, 7, 7});
  impulse[0][0][3][3] = 1;
  expect_equal(run1(impulse, "dilate", {{"radius", 1}, {"shape", "ellipse"}}),
               map_of({{0, 0, 0, 0, 0, 0, 0}, {0, 0, 0, 0, 0, 0, 0}, {0, 0, 0, 1, 0, 0, 0}, {0, 0, 1, 1, 1, 0, 0},
                       {0, 0, 0, 1, 0, 0, 0}, {0, 0, 0, 0, 0, 0, 0}, {0, 0, 0, 0, 0, 0, 0}}));
  expect_equal(run1(impulse, "dilate", {{"radius", 2}, {"shape", "ellipse"}}),
               map_of({{0, 0, 0, 0, 0, 0, 0}, {0, 0, 0, 1, 0, 0, 0}, {0, 1, 1, 1, 1, 1, 0}, {0, 1, 1, 1, 1, 1, 0},
                       {0, 1, 1, 1, 1, 1, 0}, {0, 0, 0, 1, 0, 0, 0}, {0, 0, 0, 0, 0, 0, 0}}));
  expect_equal(run1(1 - impulse, "erode", {{"radius", 1}, {"shape", "ellipse"}}),
               1 - run1(impulse, "dilate", {{"radius", 1}, {"shape", "ellipse"}}));
  // At the border only pixels inside count (an impulse in the corner), and radius 0 changes nothing.
  at::Tensor corner = at::zeros({1, 1, 4, 4});
  corner[0][0][0][0] = 1;
  expect_equal(run1(corner, "dilate", {{"radius", 1}, {"shape", "ellipse"}}),
               map_of({{1, 1, 0, 0}, {1, 0, 0, 0}, {0, 0, 0, 0}, {0, 0, 0, 0}}));
  expect_equal(run1(corner, "dilate", {{"radius", 0}, {"shape", "ellipse"}}), corner);
  expect_equal(run1(corner, "erode", {{"radius", 0}}), corner);
  // The square stays the default.
  expect_equal(run1(corner, "dilate", {{"radius", 1}}), map_of({{1, 1, 0, 0}, {1, 1, 0, 0}, {0, 0, 0, 0}, {0, 0, 0, 0}}));
}

TEST(OpsConventions, TensorFlowNearestWithReflectedBorders) {
  // tfa.image.translate by 1 pixel right on a row 1 2 3 4: column c reads c - 1, and column 0
  // reads -1, reflected to 0 ([dcba|abcd]): 1 1 2 3.
  expect_equal(run1(ramp(1, 4) + 1, "translate", {{"dx", 0.25}, {"dy", 0}, {"convention", "tensorflow"}}), map_of({{1, 1, 2, 3}}));
  // 2.5 pixels left (-0.625 of 4): column c reads c + 2.5: 2.5 rounds (half away from zero) to 3;
  // 3.5 is clamped to 3; 4.5 and 5.5 reflect to 2.5 and 1.5 (8 - x - 1), rounded to 3 and 2.
  expect_equal(run1(ramp(1, 4) + 1, "translate", {{"dx", -0.625}, {"dy", 0}, {"convention", "tensorflow"}}), map_of({{4, 4, 4, 3}}));
  // A quarter turn of a square map is exact.
  const at::Tensor x = ramp(4, 4);
  expect_equal(run1(x, "rotate", {{"degrees", 90}, {"convention", "tensorflow"}}), run1(x, "rotate", {{"degrees", 90}}));
  expect_equal(run1(x, "rotate", {{"degrees", 180}, {"convention", "tensorflow"}}), at::flip(x, {2, 3}));
}

TEST(OpsFilters, MeanFilterWithReflectedBorders) {
  // A row 1 2 3 4 reflected by one: 2 | 1 2 3 4 | 3; 3-wide means 5/3, 2, 3, 10/3; one row of
  // height 1 reflects onto itself, so the 3x3 mean is the row's mean.
  expect_near(run1(ramp(1, 4) + 1, "mean_filter", {{"size", 3}, {"border", "reflect"}}), map_of({{5.f / 3, 2, 3, 10.f / 3}}));
  // 5 wide on 1 2 3: 3 2 | 1 2 3 | 2 1.
  expect_near(run1(map_of({{1, 2, 3}}), "mean_filter", {{"size", 5}, {"border", "reflect"}}), map_of({{11.f / 5, 2, 9.f / 5}}));
}

// ---- Painting -----------------------------------------------------------------------------------

TEST(OpsPaint, BrushDot) {
  const at::Tensor zeros = at::zeros({1, 1, 5, 5});
  const json dot = json::array({json::array({2, 2})});
  // Hard, radius 1: the centre and its four neighbours (distance 1); diagonals are sqrt 2 away.
  expect_equal(run1(zeros, "brush", {{"points", dot}, {"radius", 1}, {"strength", 3}, {"edge", "hard"}, {"mode", "add"}}),
               map_of({{0, 0, 0, 0, 0}, {0, 0, 3, 0, 0}, {0, 3, 3, 3, 0}, {0, 0, 3, 0, 0}, {0, 0, 0, 0, 0}}));
  expect_equal(run1(zeros, "brush", {{"points", dot}, {"radius", 1}, {"strength", 3}, {"edge", "hard"}, {"mode", "subtract"}}),
               map_of({{0, 0, 0, 0, 0}, {0, 0, -3, 0, 0}, {0, -3, -3, -3, 0}, {0, 0, -3, 0, 0}, {0, 0, 0, 0, 0}}));
  // Soft, radius 2: w = 1 - d / 2: centre 1, neighbours 0.5, diagonals 1 - sqrt(2)/2; distance 2 and beyond 0.
  const auto d = static_cast<float>(3 * (1 - kSqrt2 / 2));
  expect_near(run1(zeros, "brush", {{"points", dot}, {"radius", 2}, {"strength", 3}, {"edge", "soft"}, {"mode", "add"}}),
              map_of({{0, 0, 0, 0, 0}, {0, d, 1.5, d, 0}, {0, 1.5, 3, 1.5, 0}, {0, d, 1.5, d, 0}, {0, 0, 0, 0, 0}}));
  // set from 1 towards 5: 1 + (5 - 1) w.
  const auto s = static_cast<float>(1 + 4 * (1 - kSqrt2 / 2));
  expect_near(run1(at::ones({1, 1, 5, 5}), "brush", {{"points", dot}, {"radius", 2}, {"strength", 5}, {"mode", "set"}}),
              map_of({{1, 1, 1, 1, 1}, {1, s, 3, s, 1}, {1, 3, 5, 3, 1}, {1, s, 3, s, 1}, {1, 1, 1, 1, 1}}));
  // No points: nothing changes.
  expect_equal(run1(zeros + 2, "brush", {{"points", json::array()}, {"strength", 3}}), zeros + 2);
}

TEST(OpsPaint, BrushPolyline) {
  const at::Tensor zeros = at::zeros({1, 1, 5, 5});
  // Along the top row and down the right column, radius 0.5, hard: exactly the pixels on the line.
  expect_equal(run1(zeros, "brush", {{"points", {{0, 0}, {4, 0}, {4, 4}}}, {"radius", 0.5}, {"strength", 1}, {"edge", "hard"}}),
               map_of({{1, 1, 1, 1, 1}, {0, 0, 0, 0, 1}, {0, 0, 0, 0, 1}, {0, 0, 0, 0, 1}, {0, 0, 0, 0, 1}}));
  // A diagonal segment (0, 0) - (2, 2), soft radius 2:
  const at::Tensor y = run1(zeros, "brush", {{"points", {{0, 0}, {2, 2}}}, {"radius", 2}, {"strength", 1}});
  const auto w = [&](int x, int yy) { return y[0][0][yy][x].item<double>(); };
  EXPECT_NEAR(w(1, 1), 1.0, 1e-6);                   // on the segment
  EXPECT_NEAR(w(2, 0), 1 - kSqrt2 / 2, 1e-6);        // projects onto (1, 1): d = sqrt 2
  EXPECT_NEAR(w(1, 0), 1 - std::sqrt(0.5) / 2, 1e-6);  // projects onto (0.5, 0.5): d = sqrt 0.5
  EXPECT_NEAR(w(3, 3), 1 - kSqrt2 / 2, 1e-6);        // past the end: nearest is (2, 2)
  EXPECT_EQ(w(4, 4), 0.0);                           // d = sqrt 8 > 2
  EXPECT_EQ(w(0, 3), 0.0);                           // projects onto (1.5, 1.5): d = sqrt 4.5
}

TEST(OpsPaint, EraseRestoresTheUneditedActivation) {
  const at::Tensor x = ramp(4, 4);
  const json fill = {{"op", "fill"}, {"params", {{"value", 7}}}};
  // After the fill, a hard dot of radius 1 at (1, 1) brings back 4r + c at (1, 1) and its four neighbours.
  const json erase_hard = {{"op", "erase"}, {"params", {{"points", {{1, 1}}}, {"radius", 1}, {"edge", "hard"}}}};
  expect_equal(run(x, {fill, erase_hard}), map_of({{7, 1, 7, 7}, {4, 5, 6, 7}, {7, 9, 7, 7}, {7, 7, 7, 7}}));
  // Soft, radius 2 at (0, 0): 7 (1 - w) + x w with w = 1, 0.5, 1 - sqrt(2)/2 at (0, 0), (1, 0), (1, 1).
  const json erase_soft = {{"op", "erase"}, {"params", {{"points", {{0, 0}}}, {"radius", 2}}}};
  const at::Tensor y = run(x, {fill, erase_soft});
  const double w = 1 - kSqrt2 / 2;
  EXPECT_NEAR(y[0][0][0][0].item<double>(), 0.0, 1e-6);
  EXPECT_NEAR(y[0][0][0][1].item<double>(), 7 * 0.5 + 1 * 0.5, 1e-6);
  EXPECT_NEAR(y[0][0][1][1].item<double>(), 7 * (1 - w) + 5 * w, 1e-5);
  EXPECT_EQ(y[0][0][3][3].item<float>(), 7.0f);
  // On a channel selection, only those channels come back.
  const at::Tensor two = at::cat({ramp(4, 4), ramp(4, 4) + 100}, 1);
  const at::Tensor z = run(two, {fill, {{"op", "erase"}, {"channels", 1}, {"params", {{"points", {{0, 0}}}, {"radius", 0.5}, {"edge", "hard"}}}}});
  EXPECT_EQ(z[0][0][0][0].item<float>(), 7.0f);
  EXPECT_EQ(z[0][1][0][0].item<float>(), 100.0f);
  EXPECT_EQ(z[0][1][0][1].item<float>(), 7.0f);
}

// ---- Renormalisation ----------------------------------------------------------------------------

TEST(OpsRenormalize, KeepsEachMapsMeanAndStd) {
  const at::Tensor x = at::randn({2, 3, 5, 5}, at::TensorOptions().dtype(at::kDouble)).to(at::kFloat) * 2 + 1;
  const at::Tensor mean = x.mean({2, 3}, true);
  const at::Tensor std_dev = x.std({2, 3}, /*unbiased=*/false, true);
  // multiply by -2: y = -2x has mean -2m and std 2s, so (y - mean y) / std y * s + m = 2m - x.
  const at::Tensor y = run1(x, "multiply", {{"factor", -2}, {"renormalize", true}});
  expect_near(y, 2 * mean - x, 1e-5);
  expect_near(y.mean({2, 3}, true), mean, 1e-5);
  expect_near(y.std({2, 3}, false, true), std_dev, 1e-5);
  // A map made constant (ablate, fill) becomes its old mean.
  expect_near(run1(x, "ablate", {{"renormalize", true}}), mean.expand_as(x), 1e-6);
  expect_near(run1(x, "fill", {{"value", 0.1}, {"renormalize", true}}), mean.expand_as(x), 1e-6);
  // A constant map stays the constant it was.
  expect_near(run1(at::full({1, 1, 3, 3}, 3.0), "add", {{"value", 1}, {"renormalize", true}}), at::full({1, 1, 3, 3}, 3.0));
  // Only the selected channels are touched, and each keeps its own statistics.
  const at::Tensor z = run1(x, "multiply", {{"factor", 5}, {"renormalize", true}}, {{"channels", 1}});
  expect_near(z, x, 1e-5);
}

// ---- Spatial masks ------------------------------------------------------------------------------

TEST(OpsMasks, RectAndEllipse) {
  const at::Tensor x = ramp(4, 4);
  // Pixels with centres in [1, 2] x [1, 2] get 9; everything else is exactly x.
  expect_equal(run1(x, "fill", {{"value", 9}}, {{"mask", {{"rect", {1, 1, 2, 2}}}}}),
               map_of({{0, 1, 2, 3}, {4, 9, 9, 7}, {8, 9, 9, 11}, {12, 13, 14, 15}}));
  // ((c - 2) / 2)^2 + (r - 2)^2 <= 1: row 2 entirely (c = 0 gives exactly 1), rows 1 and 3 only at c = 2.
  const at::Tensor zeros = at::zeros({1, 1, 5, 5});
  const at::Tensor ellipse = map_of({{0, 0, 0, 0, 0}, {0, 0, 1, 0, 0}, {1, 1, 1, 1, 1}, {0, 0, 1, 0, 0}, {0, 0, 0, 0, 0}});
  expect_equal(run1(zeros, "fill", {{"value", 1}}, {{"mask", {{"ellipse", {2, 2, 2, 1}}}}}), ellipse);
  expect_equal(run1(zeros, "fill", {{"value", 1}}, {{"mask", {{"ellipse", {2, 2, 2, 1}}, {"invert", true}}}}), 1 - ellipse);
}

TEST(OpsMasks, ValuesAreResampledToTheTap) {
  // 2 -> 4 bilinear (align_corners=false, edges repeat): target i reads 0.5 i - 0.25 =
  // -0.25 (clamped to 0), 0.25, 0.75, 1.25 (beyond the last: 1), so [0, 1] becomes [0, 0.25, 0.75, 1].
  const at::Tensor zeros = at::zeros({1, 1, 4, 4});
  const Rows across = {{0, 1, 3, 4}, {0, 1, 3, 4}, {0, 1, 3, 4}, {0, 1, 3, 4}};
  expect_near(run1(zeros, "fill", {{"value", 4}}, {{"mask", {{"values", {{0, 1}, {0, 1}}}}}}), map_of(across));
  expect_near(run1(zeros, "fill", {{"value", 4}}, {{"mask", {{"values", {{0, 0}, {1, 1}}}}}}),
              map_of(across).transpose(2, 3));
  // 4 -> 2: the average of each 2 x 2 block: 1, 0, 0 and (0 + 0 + 0.5 + 0.5) / 4 = 0.25.
  expect_near(run1(at::zeros({1, 1, 2, 2}), "fill", {{"value", 8}},
                   {{"mask", {{"values", {{1, 1, 0, 0}, {1, 1, 0, 0}, {0, 0, 0, 0}, {0, 0, 0.5, 0.5}}}}}}),
              map_of({{8, 0}, {0, 2}}));
  // 2 x 4 onto a 4 x 2 tap: columns averaged in pairs ([[0.5, 0.5], [1, 1]]), then rows enlarged
  // bilinearly: 0.5, 0.75 * 0.5 + 0.25 = 0.625, 0.25 * 0.5 + 0.75 = 0.875, 1.
  expect_near(run1(at::zeros({1, 1, 4, 2}), "fill", {{"value", 8}}, {{"mask", {{"values", {{0, 1, 1, 0}, {1, 1, 1, 1}}}}}}),
              map_of({{4, 4}, {5, 5}, {7, 7}, {8, 8}}));
  // Same size: weights blend; invert uses 1 - w.
  expect_near(run1(at::zeros({1, 1, 1, 2}), "fill", {{"value", 2}}, {{"mask", {{"values", {{0.5, 1}}}}}}), map_of({{1, 2}}));
  expect_near(run1(at::zeros({1, 1, 1, 2}), "fill", {{"value", 4}}, {{"mask", {{"values", {{0.25, 1}}}, {"invert", true}}}}),
              map_of({{3, 0}}));
}

TEST(OpsMasks, FileMask) {
  const std::string dir = test::temp_dir("ops_mask");
  Image img;
  img.width = 2;
  img.height = 2;
  img.channels = 1;
  img.pixels = {0, 255, 0, 255};  // white on the right: weights [[0, 1], [0, 1]]
  write_png(dir + "/mask.png", img);
  expect_near(run(at::zeros({1, 1, 4, 4}), {{{"op", "fill"}, {"params", {{"value", 4}}}, {"mask", {{"file", "mask.png"}}}}}, dir),
              map_of({{0, 1, 3, 4}, {0, 1, 3, 4}, {0, 1, 3, 4}, {0, 1, 3, 4}}));
}

TEST(OpsMasks, CombineWithChannelsAndRenormalize) {
  // Channel 1 of 3 multiplied by 3 in the top-left 2 x 2; channels 0 and 2 untouched.
  const at::Tensor ones = at::ones({1, 3, 4, 4});
  const at::Tensor y = run1(ones, "multiply", {{"factor", 3}}, {{"channels", 1}, {"mask", {{"rect", {0, 0, 1, 1}}}}});
  expect_equal(y.select(1, 0), ones.select(1, 0));
  expect_equal(y.select(1, 2), ones.select(1, 2));
  expect_equal(y.narrow(1, 1, 1), map_of({{3, 3, 1, 1}, {3, 3, 1, 1}, {1, 1, 1, 1}, {1, 1, 1, 1}}));
  // Renormalisation comes before the mask: inside the left half 2m - x (as in KeepsEachMapsMeanAndStd), outside x.
  const at::Tensor x = at::randn({1, 2, 4, 4});
  const at::Tensor z = run1(x, "multiply", {{"factor", -2}, {"renormalize", true}},
                            {{"channels", 0}, {"mask", {{"rect", {0, 0, 1, 3}}}}});
  const at::Tensor flipped = 2 * x.select(1, 0).mean() - x.select(1, 0);
  expect_near(z.select(1, 0).narrow(2, 0, 2), flipped.narrow(2, 0, 2), 1e-5);
  expect_equal(z.select(1, 0).narrow(2, 2, 2), x.select(1, 0).narrow(2, 2, 2));
  expect_equal(z.select(1, 1), x.select(1, 1));
}

// ---- Batches, chains, the registry, devices -----------------------------------------------------

TEST(OpsBatch, EachSampleOnItsOwn) {
  // Two samples with different statistics: renormalisation uses each sample's own mean.
  const at::Tensor x = at::cat({ramp(4, 4), ramp(4, 4) * 10 + 5}, 0);  // means 7.5 and 80
  const at::Tensor y = run1(x, "multiply", {{"factor", -1}, {"renormalize", true}});
  expect_near(y.select(0, 0), 15 - x.select(0, 0), 1e-5);
  expect_near(y.select(0, 1), 160 - x.select(0, 1), 1e-4);
  // Spatial ops act on every sample alike.
  const at::Tensor r = run1(x, "rotate", {{"degrees", 90}});
  expect_equal(r.select(0, 1), run1(x.narrow(0, 1, 1), "rotate", {{"degrees", 90}}).select(0, 0));
  const at::Tensor b = run1(at::zeros({2, 1, 3, 3}), "brush", {{"points", {{1, 1}}}, {"radius", 0.5}, {"edge", "hard"}});
  EXPECT_EQ(b.sum().item<float>(), 2.0f);
  const at::Tensor ids = at::cat({channel_ids(4), channel_ids(4) + 10}, 0);
  const at::Tensor shuffled = run1(ids, "shuffle", {{"seed", 5}});
  expect_equal(shuffled.select(0, 1), shuffled.select(0, 0) + 10);
}

TEST(OpsChain, EditsApplyInOrderAndNeverChangeTheInput) {
  const at::Tensor x = ramp(4, 4);
  const at::Tensor copy = x.clone();
  // translate one pixel right, then add 1: the zeros that moved in become 1.
  const at::Tensor y = run(x, {{{"op", "translate"}, {"params", {{"dx", 0.25}}}}, {{"op", "add"}, {"params", {{"value", 1}}}}});
  expect_equal(y, map_of({{1, 1, 2, 3}, {1, 5, 6, 7}, {1, 9, 10, 11}, {1, 13, 14, 15}}));
  expect_equal(x, copy);
  // An edit that changes nothing still returns a copy.
  const at::Tensor same = run1(x, "rotate", {{"degrees", 0}});
  expect_equal(same, x);
  EXPECT_NE(same.data_ptr(), x.data_ptr());
}

TEST(OpsChain, EditsBuiltInCodeGetDefaultParameters) {
  // No "renormalize" (nor anything else validation would fill in): the registry's defaults apply.
  Edit e;
  e.id = "m";
  e.tap = "t";
  e.op = "multiply";
  e.params = {{"factor", 2}};
  const at::Tensor x = ramp(2, 2);
  expect_equal(apply_edits(x, {&e}, TapInfo{"t", 1, 2, 2, 0}), x * 2);
  e.params = {{"factor", "two"}};
  test::expect_error([&] { apply_edits(x, {&e}, TapInfo{"t", 1, 2, 2, 0}); }, {"edit 'm': ", "factor", "expected a number"});
  e.op = "rotate";
  e.params = {{"degrees", "ninety"}, {"renormalize", false}};  // complete, so not validated
  test::expect_error([&] { apply_edits(x, {&e}, TapInfo{"t", 1, 2, 2, 0}); }, {"edit 'm': ", "ninety"});
  test::expect_error([&] { apply_edits(at::zeros({2, 2}), {&e}, TapInfo{"t", 1, 2, 2, 0}); }, {"edit 'm': ", "[N, C, H, W]"});
}

// Parameters that make each op do something on a [N, C, 5, 5] map.
std::vector<json> typical_edits() {
  return {
      {{"op", "brush"}, {"params", {{"points", {{1, 1}, {3.5, 2}}}, {"radius", 1.5}, {"strength", 2}}}},
      {{"op", "brush"}, {"params", {{"points", {{2, 2}}}, {"radius", 2}, {"strength", -1}, {"mode", "set"}, {"edge", "hard"}}}},
      {{"op", "fill"}, {"params", {{"value", 0.5}}}, {"channels", {0, 2}}},
      {{"op", "rect"}, {"params", {{"x0", 1}, {"y0", 0.5}, {"x1", 3}, {"y1", 3}, {"value", -2}}}},
      {{"op", "erase"}, {"params", {{"points", {{0, 0}, {4, 4}}}, {"radius", 1}}}},
      {{"op", "rotate"}, {"params", {{"degrees", 30}}}},
      {{"op", "rotate"}, {"params", {{"degrees", -90}}}},
      {{"op", "scale"}, {"params", {{"factor", 1.7}}}},
      {{"op", "scale"}, {"params", {{"factor", 0.6}}}, {"channels", 1}},
      {{"op", "translate"}, {"params", {{"dx", 0.13}, {"dy", -0.31}}}},
      {{"op", "translate"}, {"params", {{"dx", 0.2}, {"dy", 0.4}}}},
      {{"op", "flip"}, {"params", {{"axis", "vertical"}}}},
      {{"op", "mirror"}, {"params", {{"axis", "y"}}}},
      {{"op", "multiply"}, {"params", {{"factor", -1.5}}}},
      {{"op", "add"}, {"params", {{"value", 0.25}}}},
      {{"op", "negate"}},
      {{"op", "invert"}},
      {{"op", "threshold"}, {"params", {{"t", 0.1}}}},
      {{"op", "clamp"}, {"params", {{"lo", -0.5}, {"hi", 0.7}}}},
      {{"op", "ablate"}, {"channels", 1}},
      {{"op", "erode"}, {"params", {{"radius", 1}}}},
      {{"op", "dilate"}, {"params", {{"radius", 2}}}},
      {{"op", "mean_filter"}, {"params", {{"size", 3}}}},
      {{"op", "gaussian_blur"}, {"params", {{"sigma", 0.8}}}},
      {{"op", "gaussian_blur"}, {"params", {{"sigma", 3}}}},
      {{"op", "sharpen"}, {"params", {{"amount", 0.7}}}},
      {{"op", "sobel"}},
      {{"op", "shuffle"}, {"params", {{"seed", 4}}}},
      {{"op", "vanish"}, {"params", {{"seed", 4}}}, {"channels", {0, 1}}},
      {{"op", "sin_disrupt"}, {"params", {{"fx", 1.5}, {"fy", -2}, {"phase", 0.3}}}},
      {{"op", "rotate"}, {"params", {{"degrees", 30}, {"convention", "network_bending"}}}},
      {{"op", "rotate"}, {"params", {{"degrees", 30}, {"convention", "tensorflow"}}}},
      {{"op", "scale"}, {"params", {{"factor", 1.3}, {"convention", "network_bending"}}}},
      {{"op", "scale"}, {"params", {{"factor", -0.8}, {"convention", "network_bending"}}}, {"channels", 2}},
      {{"op", "translate"}, {"params", {{"dx", 0.13}, {"dy", -0.31}, {"convention", "network_bending"}}}},
      {{"op", "translate"}, {"params", {{"dx", 0.4}, {"dy", -0.2}, {"convention", "tensorflow"}}}},
      {{"op", "erode"}, {"params", {{"radius", 2}, {"shape", "ellipse"}}}},
      {{"op", "dilate"}, {"params", {{"radius", 1}, {"shape", "ellipse"}}}},
      {{"op", "mean_filter"}, {"params", {{"size", 3}, {"border", "reflect"}}}},
      {{"op", "vanish"}, {"params", {{"pick", "repeat"}}}, {"channels", {0, 2}}},
      {{"op", "sin_field"}, {"params", {{"amplitude", 2}, {"fx", 0.5}, {"fy", 1.5}, {"x0", 1}, {"y0", -2}}}},
      {{"op", "multiply"}, {"params", {{"factor", 2}, {"renormalize", true}}}},
      {{"op", "add"}, {"params", {{"value", 1}}}, {"mask", {{"ellipse", {2, 2, 2, 1.5}}}}},
      {{"op", "add"}, {"params", {{"value", 1}}}, {"mask", {{"values", {{0, 0.5}, {1, 0.25}}}, {"invert", true}}}},
  };
}

TEST(OpsRegistry, EveryOpHasAKernelAndRunsWithItsDefaults) {
  const at::Tensor x = at::randn({2, 3, 5, 5});
  for (const auto& op : op_registry()) {
    if (op.category == "latent" || op.category == "weight") {
      // W+ ops need a StyleGAN2 generator (test_stylegan2.cpp); weight ops a layer (test_weight_edits.cpp).
      EXPECT_THROW(run(x, {{{"op", op.name}}}), Error) << op.name;
      continue;
    }
    for (const bool renormalize : {false, true}) {
      SCOPED_TRACE(op.name + (renormalize ? " (renormalize)" : ""));
      json e = {{"op", op.name}, {"params", {{"renormalize", renormalize}}}};
      if (op.name == "vanish") e["channels"] = json::array({0});  // needs a channel outside the selection
      for (const auto& p : op.params) {
        if (p.required) e["params"][p.name] = json::array({{1, 1}, {3, 2}});  // a stroke: the only required kind
      }
      at::Tensor y;
      EXPECT_NO_THROW(y = run(x, {e}));
      if (y.defined()) {
        EXPECT_EQ(y.sizes().vec(), x.sizes().vec());
      }
    }
  }
  // And the typical parameters cover every op too.
  std::set<std::string> covered;
  for (const json& e : typical_edits()) {
    covered.insert(e.at("op").get<std::string>());
    EXPECT_NO_THROW(run(x, {e})) << e.dump();
  }
  std::size_t latent_ops = 0, weight_ops = 0;
  for (const auto& op : op_registry()) {
    latent_ops += op.category == "latent";
    weight_ops += op.category == "weight";
  }
  EXPECT_EQ(latent_ops, 5u);
  EXPECT_EQ(weight_ops, 6u);
  EXPECT_EQ(covered.size() + latent_ops + weight_ops, op_registry().size());
}

// The high-resolution StyleGAN2 taps are held channels-last on the CPU: every op gives the same
// result on such a tensor as on a contiguous copy.
TEST(OpsLayouts, ChannelsLastActivationsGiveTheSameResults) {
  const at::Tensor x = at::randn({2, 3, 5, 7});
  const at::Tensor square = at::randn({2, 3, 6, 6});
  for (const json& e : typical_edits()) {
    for (const at::Tensor& in : {x, square}) {
      const at::Tensor expected = run(in, {e});
      const at::Tensor got = run(in.contiguous(at::MemoryFormat::ChannelsLast), {e});
      EXPECT_LE(test::closeness(got, expected, 1e-6, 1e-6), 1.0) << e.dump();
    }
  }
}

TEST(OpsDevices, CpuAndCudaAgree) {
  if (!at::hasCUDA()) GTEST_SKIP() << "this LibTorch has no CUDA (or no GPU is present): nothing to compare";
  const at::Tensor x = at::randn({2, 3, 5, 7});
  const at::Tensor square = at::randn({2, 3, 6, 6});
  for (const json& e : typical_edits()) {
    for (const at::Tensor& in : {x, square}) {
      const at::Tensor cpu = run(in, {e});
      const at::Tensor cuda = run(in.to(at::kCUDA), {e});
      EXPECT_TRUE(cuda.is_cuda()) << e.dump();
      EXPECT_LE(test::closeness(cuda.cpu(), cpu, 1e-4, 1e-4), 1.0) << e.dump();
    }
  }
}

}  // namespace
}  // namespace actmap
