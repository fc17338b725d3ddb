// Channel grids and channel images against pixels worked out by hand. A value x in [lo, hi] lands
// on colour index floor((x - lo) / (hi - lo) * 255 + 0.5); the Grey map's colour i is (i, i, i).
// The ranges below are powers of two wide, so the expected indices are exact.
#include <cmath>
#include <limits>

#include "actmap/render/channel_view.h"
#include "test_util.h"

namespace actmap {
namespace {

using Rows = std::vector<std::vector<float>>;
using Rgba = std::array<std::uint8_t, 4>;

const float kNan = std::numeric_limits<float>::quiet_NaN();
const float kInf = std::numeric_limits<float>::infinity();

// A [C, H, W] activation from each channel's rows.
at::Tensor maps_of(const std::vector<Rows>& channels) {
  std::vector<float> flat;
  for (const auto& ch : channels) {
    for (const auto& r : ch) flat.insert(flat.end(), r.begin(), r.end());
  }
  const auto c = static_cast<std::int64_t>(channels.size()), h = static_cast<std::int64_t>(channels[0].size());
  return at::tensor(flat, at::kFloat).view({c, h, static_cast<std::int64_t>(channels[0][0].size())});
}

Rgba pixel(const Image& im, int x, int y) {
  const auto* p = &im.pixels[(static_cast<std::size_t>(y) * im.width + x) * 4];
  return {p[0], p[1], p[2], p[3]};
}

Rgba grey(int g) { return {std::uint8_t(g), std::uint8_t(g), std::uint8_t(g), 255}; }

// An opaque grey RGBA image from its rows of levels.
std::vector<std::uint8_t> grey_pixels(const std::vector<std::vector<int>>& rows) {
  std::vector<std::uint8_t> out;
  for (const auto& r : rows) {
    for (int g : r) {
      const Rgba p = grey(g);
      out.insert(out.end(), p.begin(), p.end());
    }
  }
  return out;
}

ViewOptions options(Colormap map, Normalize norm, float lo = -1.0f, float hi = 1.0f) {
  ViewOptions o;
  o.colormap = map;
  o.normalize = norm;
  o.fixed_lo = lo;
  o.fixed_hi = hi;
  return o;
}

// Channel 0 spans [0, 4], channel 1 [-2, 6]; the layer [-2, 6].
const std::vector<Rows> kTwoChannels = {{{0, 1}, {3, 4}}, {{-2, -1}, {1, 6}}};

TEST(ChannelView, GreyPerChannelAtlasBytes) {
  const ChannelGrid g = channel_grid(maps_of(kTwoChannels), options(Colormap::Grey, Normalize::PerChannel));
  EXPECT_EQ(g.channels, 2);
  EXPECT_EQ(g.columns, 2);  // ceil(sqrt(2))
  EXPECT_EQ(g.rows, 1);
  EXPECT_EQ(g.cell_w, 2);
  EXPECT_EQ(g.cell_h, 2);
  ASSERT_EQ(g.atlas.width, 4);
  ASSERT_EQ(g.atlas.height, 2);
  ASSERT_EQ(g.atlas.channels, 4);
  // Channel 0, 255 / 4 per unit: 0, 63.75 -> 64, 191.25 -> 191, 255.
  // Channel 1, 255 / 8 per unit from -2: 0, 31.875 -> 32, 95.625 -> 96, 255.
  EXPECT_EQ(g.atlas.pixels, grey_pixels({{0, 64, 0, 32}, {191, 255, 96, 255}}));
  EXPECT_EQ(g.lo, (std::vector<float>{0, -2}));
  EXPECT_EQ(g.hi, (std::vector<float>{4, 6}));
}

TEST(ChannelView, GreyPerLayerAtlasBytes) {
  const ChannelGrid g = channel_grid(maps_of(kTwoChannels), options(Colormap::Grey, Normalize::PerLayer));
  // Both over [-2, 6], 31.875 per unit: channel 0's 0, 1, 3, 4 are 2, 3, 5, 6 units up:
  // 63.75 -> 64, 95.625 -> 96, 159.375 -> 159, 191.25 -> 191.
  EXPECT_EQ(g.atlas.pixels, grey_pixels({{64, 96, 0, 32}, {159, 191, 96, 255}}));
  EXPECT_EQ(g.lo, (std::vector<float>{-2, -2}));
  EXPECT_EQ(g.hi, (std::vector<float>{6, 6}));
}

TEST(ChannelView, BatchOfOneIsTheSameAsThreeDimensions) {
  const at::Tensor x = maps_of(kTwoChannels);
  const ViewOptions o = options(Colormap::Viridis, Normalize::PerChannel);
  EXPECT_EQ(channel_grid(x.unsqueeze(0), o).atlas.pixels, channel_grid(x, o).atlas.pixels);
  // Layouts other than contiguous give the same pixels too.
  const at::Tensor t = x.transpose(1, 2).contiguous().transpose(1, 2);
  EXPECT_EQ(channel_grid(t, o).atlas.pixels, channel_grid(x, o).atlas.pixels);
}

TEST(ChannelView, DivergingIsSymmetricAndWhiteAtZero) {
  // One channel over [-2, 2] once made symmetric: -2 is the blue end, 2 the red end, 0 index 128.
  const at::Tensor x = maps_of({{{-2, 2}, {0, 1}}});
  const ChannelGrid g = channel_grid(x, options(Colormap::Diverging, Normalize::PerChannel));
  EXPECT_EQ(g.lo, std::vector<float>{-2});
  EXPECT_EQ(g.hi, std::vector<float>{2});
  const Rgba blue = pixel(g.atlas, 0, 0), red = pixel(g.atlas, 1, 0), mid = pixel(g.atlas, 0, 1);
  EXPECT_EQ(blue, (Rgba{33, 102, 172, 255}));  // the map's anchors at t = 0 and t = 1
  EXPECT_EQ(red, (Rgba{178, 24, 43, 255}));
  EXPECT_GT(blue[2], blue[0] + 100);
  EXPECT_GT(red[0], red[2] + 100);
  for (int k = 0; k < 3; ++k) EXPECT_GE(mid[k], 250) << "channel " << k << " of the colour of 0";
  EXPECT_EQ(mid[3], 255);
  const auto legend_mid = colormap_rgb(Colormap::Diverging, 0.5f);
  EXPECT_EQ((Rgba{legend_mid[0], legend_mid[1], legend_mid[2], 255}), mid);

  // Not symmetric data: [-1, 3] becomes [-3, 3] per layer, so 0 is still white.
  const at::Tensor y = maps_of({{{-1, 0}}, {{3, 0}}});
  const ChannelGrid gl = channel_grid(y, options(Colormap::Diverging, Normalize::PerLayer));
  EXPECT_EQ(gl.lo, (std::vector<float>{-3, -3}));
  EXPECT_EQ(gl.hi, (std::vector<float>{3, 3}));
  EXPECT_EQ(pixel(gl.atlas, 1, 0), mid);
  EXPECT_EQ(pixel(gl.atlas, 3, 0), mid);
  EXPECT_EQ(pixel(gl.atlas, 2, 0), red);
  // Per channel: channel 0 becomes [-1, 1], so its -1 is the blue end.
  const ChannelGrid gc = channel_grid(y, options(Colormap::Diverging, Normalize::PerChannel));
  EXPECT_EQ(gc.lo, (std::vector<float>{-1, -3}));
  EXPECT_EQ(pixel(gc.atlas, 0, 0), blue);
  // A fixed range is used as given.
  const ChannelGrid gf = channel_grid(y, options(Colormap::Diverging, Normalize::Fixed, -1, 4));
  EXPECT_EQ(gf.lo, (std::vector<float>{-1, -1}));
  EXPECT_EQ(gf.hi, (std::vector<float>{4, 4}));
}

TEST(ChannelView, FixedRangeClamps) {
  const at::Tensor x = maps_of({{{-5, 0.25f}, {0.75f, 7}}});
  const ChannelGrid g = channel_grid(x, options(Colormap::Grey, Normalize::Fixed, 0, 1));
  // -5 clamps to 0; 63.75 -> 64; 191.25 -> 191; 7 clamps to 255.
  EXPECT_EQ(g.atlas.pixels, grey_pixels({{0, 64}, {191, 255}}));
  EXPECT_EQ(g.lo, std::vector<float>{0});
  EXPECT_EQ(g.hi, std::vector<float>{1});
  // The stats are of the values, not of the clamped ones.
  EXPECT_FLOAT_EQ(g.stats[0].min, -5);
  EXPECT_FLOAT_EQ(g.stats[0].max, 7);
}

TEST(ChannelView, ConstantChannelMapsToTheMiddle) {
  const at::Tensor x = maps_of({{{3, 3}, {3, 3}}, {{0, 1}, {2, 4}}});
  const ChannelGrid g = channel_grid(x, options(Colormap::Grey, Normalize::PerChannel));
  EXPECT_EQ(g.lo[0], 3);
  EXPECT_EQ(g.hi[0], 3);
  // Channel 0 is flat: index 128; channel 1 over [0, 4]: 0, 63.75 -> 64, 127.5 -> 128, 255.
  EXPECT_EQ(g.atlas.pixels, grey_pixels({{128, 128, 0, 64}, {128, 128, 128, 255}}));
  EXPECT_FLOAT_EQ(g.stats[0].min, 3);
  EXPECT_FLOAT_EQ(g.stats[0].max, 3);
  EXPECT_FLOAT_EQ(g.stats[0].mean, 3);

  // An all-zero map under Diverging is white; a one-valued layer puts every count in the middle
  // bin of [v - 0.5, v + 0.5].
  const at::Tensor zeros = at::zeros({1, 2, 2});
  const ChannelGrid z = channel_grid(zeros, options(Colormap::Diverging, Normalize::PerLayer));
  const auto white = colormap_rgb(Colormap::Diverging, 0.5f);
  EXPECT_EQ(pixel(z.atlas, 1, 1), (Rgba{white[0], white[1], white[2], 255}));
  ViewOptions o = options(Colormap::Grey, Normalize::PerLayer);
  o.histogram_bins = 4;
  const ChannelGrid five = channel_grid(at::full({1, 2, 2}, 5.0f), o);
  EXPECT_FLOAT_EQ(five.hist_lo, 4.5f);
  EXPECT_FLOAT_EQ(five.hist_hi, 5.5f);
  EXPECT_EQ(five.histogram, (std::vector<std::uint32_t>{0, 0, 4, 0}));
  EXPECT_EQ(five.atlas.pixels, grey_pixels({{128, 128}, {128, 128}}));
}

TEST(ChannelView, NanAndInfinityDoNotSpoilTheRange) {
  const at::Tensor x = maps_of({{{kNan, 0, 2, kInf}}, {{kNan, kNan, -kInf, kNan}}});
  ViewOptions o = options(Colormap::Viridis, Normalize::PerChannel);
  o.histogram_bins = 2;
  const ChannelGrid g = channel_grid(x, o);
  ASSERT_EQ(g.atlas.width, 8);  // two cells of 4 x 1 side by side
  // Channel 0 ranges over its finite values [0, 2]: NaN is black, +Inf the top of the map.
  EXPECT_EQ(g.lo[0], 0);
  EXPECT_EQ(g.hi[0], 2);
  EXPECT_EQ(pixel(g.atlas, 0, 0), (Rgba{0, 0, 0, 255}));
  EXPECT_EQ(pixel(g.atlas, 1, 0), (Rgba{68, 1, 84, 255}));     // viridis at 0, #440154
  EXPECT_EQ(pixel(g.atlas, 2, 0), (Rgba{253, 231, 37, 255}));  // viridis at 1, #fde725
  EXPECT_EQ(pixel(g.atlas, 3, 0), (Rgba{253, 231, 37, 255}));
  EXPECT_FLOAT_EQ(g.stats[0].min, 0);
  EXPECT_FLOAT_EQ(g.stats[0].max, 2);
  EXPECT_FLOAT_EQ(g.stats[0].mean, 1);
  // Channel 1 has no finite value: NaN stats, the range [0, 0], no crash.
  EXPECT_TRUE(std::isnan(g.stats[1].min));
  EXPECT_TRUE(std::isnan(g.stats[1].max));
  EXPECT_TRUE(std::isnan(g.stats[1].mean));
  EXPECT_EQ(g.lo[1], 0);
  EXPECT_EQ(g.hi[1], 0);
  EXPECT_EQ(pixel(g.atlas, 4, 0), (Rgba{0, 0, 0, 255}));
  EXPECT_EQ(pixel(g.atlas, 6, 0)[3], 255);
  // Only the two finite values count: 0 in [0, 1), 2 at the top edge of [1, 2].
  EXPECT_FLOAT_EQ(g.hist_lo, 0);
  EXPECT_FLOAT_EQ(g.hist_hi, 2);
  EXPECT_EQ(g.histogram, (std::vector<std::uint32_t>{1, 1}));

  // A tap with no finite value at all still gives a picture, per layer too.
  const ChannelGrid none = channel_grid(at::full({2, 3, 3}, kNan), options(Colormap::Grey, Normalize::PerLayer));
  EXPECT_EQ(none.histogram, std::vector<std::uint32_t>(64, 0));
  EXPECT_EQ(pixel(none.atlas, 5, 2), (Rgba{0, 0, 0, 255}));
}

TEST(ChannelView, StatsAndHistogram) {
  const at::Tensor x = maps_of({{{0, 0.5f, 1, 3}}, {{4, 7, 7.5f, 8}}});
  ViewOptions o = options(Colormap::Viridis, Normalize::PerLayer);
  o.histogram_bins = 4;
  const ChannelGrid g = channel_grid(x, o);
  ASSERT_EQ(g.stats.size(), 2u);
  EXPECT_FLOAT_EQ(g.stats[0].min, 0);
  EXPECT_FLOAT_EQ(g.stats[0].max, 3);
  EXPECT_FLOAT_EQ(g.stats[0].mean, 1.125f);  // 4.5 / 4
  EXPECT_FLOAT_EQ(g.stats[1].min, 4);
  EXPECT_FLOAT_EQ(g.stats[1].max, 8);
  EXPECT_FLOAT_EQ(g.stats[1].mean, 6.625f);  // 26.5 / 4
  // Bins of width 2 over [0, 8]: {0, 0.5, 1}, {3}, {4}, {7, 7.5, 8 (the top edge)}.
  EXPECT_FLOAT_EQ(g.hist_lo, 0);
  EXPECT_FLOAT_EQ(g.hist_hi, 8);
  EXPECT_EQ(g.histogram, (std::vector<std::uint32_t>{3, 1, 1, 3}));
}

// Five 2 x 2 channels whose values are their pixel levels under Fixed [0, 255]: 10 c + 2 r + col.
at::Tensor five_channels() {
  std::vector<Rows> chans;
  for (int c = 0; c < 5; ++c) {
    const auto v = static_cast<float>(10 * c);
    chans.push_back({{v, v + 1}, {v + 2, v + 3}});
  }
  return maps_of(chans);
}

TEST(ChannelView, LayoutOfFiveChannels) {
  const ViewOptions o = options(Colormap::Grey, Normalize::Fixed, 0, 255);
  const ChannelGrid g = channel_grid(five_channels(), o);
  EXPECT_EQ(g.columns, 3);
  EXPECT_EQ(g.rows, 2);
  ASSERT_EQ(g.atlas.width, 6);
  ASSERT_EQ(g.atlas.height, 4);
  for (int y = 0; y < 4; ++y) {
    for (int x = 0; x < 6; ++x) {
      const int c = (y / 2) * 3 + x / 2;
      const Rgba expected = c < 5 ? grey(10 * c + 2 * (y % 2) + x % 2) : Rgba{0, 0, 0, 0};
      EXPECT_EQ(pixel(g.atlas, x, y), expected) << "x " << x << ", y " << y;
    }
  }
  // Asked-for columns: 2 per row, 3 rows, the sixth cell empty.
  const ChannelGrid two = channel_grid(five_channels(), o, 2);
  EXPECT_EQ(two.columns, 2);
  EXPECT_EQ(two.rows, 3);
  EXPECT_EQ(pixel(two.atlas, 3, 3), grey(33));  // channel 3, bottom right
  EXPECT_EQ(pixel(two.atlas, 2, 4)[3], 0);
  EXPECT_EQ(channel_grid(five_channels(), o, 1).rows, 5);
}

TEST(ChannelView, DownsamplingAveragesBlocksBeforeColouring) {
  // x[r][c] = 2 (4 r + c); the 2 x 2 blocks average 5, 9, 21 and 25.
  const at::Tensor x = (at::arange(16, at::kFloat) * 2).view({1, 4, 4});
  ViewOptions o = options(Colormap::Grey, Normalize::Fixed, 0, 255);
  o.max_cell = 2;
  const ChannelGrid g = channel_grid(x, o);
  EXPECT_EQ(g.cell_w, 2);
  EXPECT_EQ(g.cell_h, 2);
  EXPECT_EQ(g.atlas.pixels, grey_pixels({{5, 9}, {21, 25}}));
  // Stats and histogram are of the full-resolution values.
  EXPECT_FLOAT_EQ(g.stats[0].min, 0);
  EXPECT_FLOAT_EQ(g.stats[0].max, 30);
  EXPECT_FLOAT_EQ(g.stats[0].mean, 15);
  EXPECT_FLOAT_EQ(g.hist_lo, 0);
  EXPECT_FLOAT_EQ(g.hist_hi, 30);
  std::uint32_t total = 0;
  for (auto n : g.histogram) total += n;
  EXPECT_EQ(total, 16u);
}

TEST(ChannelView, DownsamplingKeepsTheAspect) {
  ViewOptions o;
  const ChannelGrid square = channel_grid(at::zeros({2, 256, 256}), o);
  EXPECT_EQ(square.cell_w, 64);
  EXPECT_EQ(square.cell_h, 64);
  EXPECT_EQ(square.atlas.width, 128);
  EXPECT_EQ(square.atlas.height, 64);
  const ChannelGrid tall = channel_grid(at::zeros({1, 256, 128}), o);
  EXPECT_EQ(tall.cell_w, 32);
  EXPECT_EQ(tall.cell_h, 64);
  o.max_cell = 4;
  const ChannelGrid thin = channel_grid(at::zeros({1, 100, 3}), o);  // 3 * 4 / 100 rounds to 0: at least 1
  EXPECT_EQ(thin.cell_w, 1);
  EXPECT_EQ(thin.cell_h, 4);
  // 8 x 4 with max_cell 2: 2 x 1 cells, each the mean of a 4 x 4 block.
  o = options(Colormap::Grey, Normalize::Fixed, 0, 255);
  o.max_cell = 2;
  const at::Tensor x = at::cat({at::full({1, 4, 4}, 10.0f), at::full({1, 4, 4}, 30.0f)}, 1);
  const ChannelGrid g = channel_grid(x, o);
  EXPECT_EQ(g.cell_w, 1);
  EXPECT_EQ(g.cell_h, 2);
  EXPECT_EQ(g.atlas.pixels, grey_pixels({{10}, {30}}));
}

TEST(ChannelView, ChannelImageIsFullResolution) {
  // Channel 1 of [1, 2, 4, 4]: x[r][c] = 4 r + c over [0, 16]: 255 / 16 per unit.
  const at::Tensor x = at::stack({at::zeros({4, 4}), at::arange(16, at::kFloat).view({4, 4})}).unsqueeze(0);
  ViewOptions o = options(Colormap::Grey, Normalize::PerLayer);
  o.max_cell = 2;  // no effect here
  const Image im = channel_image(x, 1, o, 0, 16);
  ASSERT_EQ(im.width, 4);
  ASSERT_EQ(im.height, 4);
  ASSERT_EQ(im.channels, 4);
  // 15.9375 v + 0.5, floored: 0, 16, 32, 48 / 64, 80, 96, 112 / 128, 143, 159, 175 / 191, 207, 223, 239.
  EXPECT_EQ(im.pixels, grey_pixels({{0, 16, 32, 48}, {64, 80, 96, 112}, {128, 143, 159, 175}, {191, 207, 223, 239}}));
  // Viridis, a flat range: every pixel the middle colour, #21918c.
  const Image flat = channel_image(x, 0, options(Colormap::Viridis, Normalize::PerLayer), 0, 0);
  EXPECT_EQ(pixel(flat, 3, 3), (Rgba{33, 145, 140, 255}));
}

TEST(ChannelView, ColormapEnds) {
  EXPECT_EQ(colormap_rgb(Colormap::Grey, 0.5f), (std::array<std::uint8_t, 3>{128, 128, 128}));  // 127.5 rounds up
  EXPECT_EQ(colormap_rgb(Colormap::Grey, -3.0f), (std::array<std::uint8_t, 3>{0, 0, 0}));
  EXPECT_EQ(colormap_rgb(Colormap::Grey, 9.0f), (std::array<std::uint8_t, 3>{255, 255, 255}));
  EXPECT_EQ(colormap_rgb(Colormap::Viridis, 0.0f), (std::array<std::uint8_t, 3>{68, 1, 84}));
  EXPECT_EQ(colormap_rgb(Colormap::Viridis, 1.0f), (std::array<std::uint8_t, 3>{253, 231, 37}));
  EXPECT_EQ(colormap_rgb(Colormap::Viridis, kNan), (std::array<std::uint8_t, 3>{0, 0, 0}));
  // Viridis gets brighter all the way (its design goal): the sum of the channels rises.
  int last = 0;
  for (int i = 0; i <= 16; ++i) {
    const auto c = colormap_rgb(Colormap::Viridis, static_cast<float>(i) / 16.0f);
    const int sum = c[0] + c[1] + c[2];
    EXPECT_GT(sum, last) << "t = " << i << " / 16";
    last = sum;
  }
}

TEST(ChannelView, GridExportSpacesAndEnlargesCells) {
  ChannelGrid g = channel_grid(five_channels(), options(Colormap::Grey, Normalize::Fixed, 0, 255));
  const Image d = grid_export(g);  // scale 4, gap 2
  EXPECT_EQ(d.width, 3 * 2 * 4 + 2 * 2);
  EXPECT_EQ(d.height, 2 * 2 * 4 + 1 * 2);
  const Image im = grid_export(g, 3, 1);
  ASSERT_EQ(im.width, 3 * 2 * 3 + 2 * 1);   // 20
  ASSERT_EQ(im.height, 2 * 2 * 3 + 1 * 1);  // 13
  EXPECT_EQ(pixel(im, 0, 0), grey(0));
  EXPECT_EQ(pixel(im, 2, 2), grey(0));   // still the top-left source pixel
  EXPECT_EQ(pixel(im, 3, 0), grey(1));
  EXPECT_EQ(pixel(im, 5, 5), grey(3));
  EXPECT_EQ(pixel(im, 6, 0), (Rgba{0, 0, 0, 0}));  // the gap after the first cell
  EXPECT_EQ(pixel(im, 7, 0), grey(10));             // channel 1
  EXPECT_EQ(pixel(im, 0, 6), (Rgba{0, 0, 0, 0}));  // the gap between the rows
  EXPECT_EQ(pixel(im, 7, 7), grey(40));             // channel 4
  EXPECT_EQ(pixel(im, 19, 12), (Rgba{0, 0, 0, 0}));  // the empty sixth cell
  const Image same = grid_export(g, 1, 0);
  EXPECT_EQ(same.pixels, g.atlas.pixels);
  test::expect_error([&] { grid_export(g, 0, 2); }, {"scale", "0"});
  g.atlas.width = 5;
  test::expect_error([&] { grid_export(g); }, {"does not match"});
}

TEST(ChannelView, ErrorsNameWhatIsWrong) {
  const ViewOptions o;
  test::expect_error([&] { channel_grid(at::zeros({4, 4}), o); }, {"channel_grid", "[C, H, W]", "[4, 4]"});
  test::expect_error([&] { channel_grid(at::zeros({1, 1, 2, 4, 4}), o); }, {"5 dimensions"});
  test::expect_error([&] { channel_grid(at::zeros({2, 3, 4, 4}), o); }, {"batch of 1", "2 samples", "[2, 3, 4, 4]"});
  test::expect_error([&] { channel_grid(at::zeros({3, 4, 4}, at::kLong), o); }, {"floating-point", "Long"});
  test::expect_error([&] { channel_grid(at::zeros({0, 4, 4}), o); }, {"empty", "[0, 4, 4]"});
  test::expect_error([&] { channel_grid(at::Tensor(), o); }, {"undefined"});
  ViewOptions bad = o;
  bad.max_cell = 0;
  test::expect_error([&] { channel_grid(at::zeros({3, 4, 4}), bad); }, {"max_cell", "0"});
  bad = o;
  bad.histogram_bins = -1;
  test::expect_error([&] { channel_grid(at::zeros({3, 4, 4}), bad); }, {"histogram_bins", "-1"});
  bad = options(Colormap::Grey, Normalize::Fixed, 2, 1);
  test::expect_error([&] { channel_grid(at::zeros({3, 4, 4}), bad); }, {"fixed_lo <= fixed_hi"});
  bad.fixed_lo = kNan;
  test::expect_error([&] { channel_grid(at::zeros({3, 4, 4}), bad); }, {"finite"});

  const at::Tensor x = at::zeros({1, 3, 4, 4});
  test::expect_error([&] { channel_image(x, 3, o, 0, 1); }, {"channel 3", "out of range", "3 channels"});
  test::expect_error([&] { channel_image(x, -1, o, 0, 1); }, {"channel -1", "out of range"});
  test::expect_error([&] { channel_image(x, 0, o, 1, 0); }, {"lo <= hi"});
  test::expect_error([&] { channel_image(at::zeros({2, 3, 4, 4}), 0, o, 0, 1); }, {"channel_image", "batch of 1"});
}

int largest_difference(const Image& a, const Image& b) {
  EXPECT_EQ(a.pixels.size(), b.pixels.size());
  int worst = 0;
  for (std::size_t i = 0; i < std::min(a.pixels.size(), b.pixels.size()); ++i) {
    worst = std::max(worst, std::abs(int(a.pixels[i]) - int(b.pixels[i])));
  }
  return worst;
}

// A sample of a channels-last activation (how the high-resolution StyleGAN2 taps are held on the
// CPU) is a strided [C, H, W] view: the same grid, statistics and channel image as a contiguous one.
TEST(ChannelViewLayouts, ChannelsLastSamplesGiveTheSamePixels) {
  at::manual_seed(8);
  const at::Tensor batch = at::randn({2, 6, 40, 24});
  const at::Tensor strided = batch.contiguous(at::MemoryFormat::ChannelsLast)[1];
  const at::Tensor plain = batch[1].contiguous();
  ASSERT_FALSE(strided.is_contiguous());
  ViewOptions o = options(Colormap::Viridis, Normalize::PerChannel, -1.5f, 2.0f);
  o.max_cell = 16;
  const ChannelGrid a = channel_grid(strided, o), b = channel_grid(plain, o);
  EXPECT_EQ(a.atlas.pixels, b.atlas.pixels);
  EXPECT_EQ(a.histogram, b.histogram);
  for (std::size_t c = 0; c < a.stats.size(); ++c) EXPECT_EQ(a.stats[c].max, b.stats[c].max);
  EXPECT_EQ(channel_image(strided, 2, o, a.lo[2], a.hi[2]).pixels, channel_image(plain, 2, o, b.lo[2], b.hi[2]).pixels);
}

TEST(ChannelViewDevices, CpuAndCudaAgree) {
  if (!at::hasCUDA()) GTEST_SKIP() << "this LibTorch has no CUDA (or no GPU is present): nothing to compare";
  at::manual_seed(7);
  at::Tensor x = at::randn({6, 40, 24});
  x[2][3][4].fill_(kNan);
  x[3][0][0].fill_(kInf);
  for (Colormap map : {Colormap::Grey, Colormap::Viridis, Colormap::Diverging}) {
    for (Normalize norm : {Normalize::PerChannel, Normalize::PerLayer, Normalize::Fixed}) {
      ViewOptions o = options(map, norm, -1.5f, 2.0f);
      o.max_cell = 16;  // 40 x 24 -> 16 x 10, so averaging runs on both
      const ChannelGrid cpu = channel_grid(x, o), cuda = channel_grid(x.to(at::kCUDA), o);
      const std::string what = "colormap " + std::to_string(int(map)) + ", normalize " + std::to_string(int(norm));
      EXPECT_LE(largest_difference(cpu.atlas, cuda.atlas), 3) << what;  // an index may move by one at a rounding edge
      for (std::size_t c = 0; c < cpu.stats.size(); ++c) {
        EXPECT_NEAR(cuda.stats[c].min, cpu.stats[c].min, 1e-6) << what;
        EXPECT_NEAR(cuda.stats[c].max, cpu.stats[c].max, 1e-6) << what;
        EXPECT_NEAR(cuda.stats[c].mean, cpu.stats[c].mean, 1e-5) << what;
        EXPECT_EQ(cuda.lo[c], cpu.lo[c]) << what;
        EXPECT_EQ(cuda.hi[c], cpu.hi[c]) << what;
      }
      EXPECT_EQ(cuda.histogram, cpu.histogram) << what;
      const Image a = channel_image(x, 2, o, cpu.lo[2], cpu.hi[2]);
      const Image b = channel_image(x.to(at::kCUDA), 2, o, cpu.lo[2], cpu.hi[2]);
      EXPECT_LE(largest_difference(a, b), 3) << what;
    }
  }
}

}  // namespace
}  // namespace actmap
