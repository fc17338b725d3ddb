// Colour-mapped views of one tap's activation [C, H, W]: a grid of channel thumbnails, one channel
// at full resolution, per-channel statistics and a histogram. Normalising and colour mapping run
// as ATen ops on the activation's device (CPU or CUDA); only 8-bit pixels and a few numbers come
// back to the host.
//
// Value -> colour: x is clamped to the channel's range [lo, hi], then
//   index = floor((x - lo) / (hi - lo) * 255 + 0.5)   (round half up, as to_pixel in image.h)
// picks one of 256 colours of the map. A flat range (lo == hi) picks index 128, the map's middle.
// NaN is opaque black; +Inf and -Inf take the ends of the map. Empty cells of an atlas are
// transparent black (alpha 0).
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "actmap/io/image.h"

// Declared, not included: the editor's UI code includes this header and stays free of ATen.
namespace at {
class Tensor;
}

namespace actmap {

enum class Colormap {
  Grey,       // index i -> (i, i, i)
  Viridis,    // matplotlib's viridis: dark violet - teal - yellow
  Diverging,  // blue (negative) - white (0) - red (positive), RdBu-like
};

// How a channel's range [lo, hi] is chosen. With the Diverging map the ranges of PerChannel and
// PerLayer are made symmetric about 0 ([-m, m], m the largest |x|) so that white means 0; Fixed
// is used as given.
enum class Normalize {
  PerChannel,  // [min, max] of the channel
  PerLayer,    // [min, max] of the whole tap
  Fixed,       // [fixed_lo, fixed_hi]
};

struct ViewOptions {
  Colormap colormap = Colormap::Viridis;
  Normalize normalize = Normalize::PerLayer;
  float fixed_lo = -1.0f, fixed_hi = 1.0f;  // Fixed: finite, fixed_lo <= fixed_hi
  int max_cell = 64;        // >= 1; larger maps are area-averaged down (keeping aspect) to fit
  int histogram_bins = 64;  // >= 1

  bool operator==(const ViewOptions& o) const {
    return colormap == o.colormap && normalize == o.normalize && fixed_lo == o.fixed_lo && fixed_hi == o.fixed_hi &&
           max_cell == o.max_cell && histogram_bins == o.histogram_bins;
  }
};

// Of the finite values of a channel at full resolution; NaN when the channel has none.
struct ChannelStats {
  float min = 0, max = 0, mean = 0;
};

struct ChannelGrid {
  Image atlas;  // RGBA, cells packed row-major without gaps: `columns` per row, `rows` rows
  int columns = 0, rows = 0, cell_w = 0, cell_h = 0, channels = 0;
  std::vector<ChannelStats> stats;       // per channel, of the full-resolution activation
  // Counts of the finite values of the whole tap (full resolution) in `histogram_bins` equal bins
  // over [hist_lo, hist_hi], the tap's finite [min, max]; the last bin includes hist_hi. A tap of
  // one value v gets [v - d, v + d] with d = max(0.5, |v| / 1000), so v counts in the middle bin.
  std::vector<std::uint32_t> histogram;
  float hist_lo = 0, hist_hi = 0;
  std::vector<float> lo, hi;  // per channel: the range mapped to the colormap's ends
};

// act: [C, H, W] or [1, C, H, W], floating point, on any device. `columns` <= 0 chooses
// ceil(sqrt(C)); rows = ceil(C / columns). Cells are H x W, or when H or W exceeds max_cell the
// map area-averaged to fit max_cell x max_cell with its aspect kept (each side at least 1):
// 256 x 256 -> 64 x 64, 256 x 128 -> 64 x 32. Averaging happens before colour mapping; stats,
// ranges and histogram use the full-resolution values. Ranges over no finite values are [0, 0].
// Throws actmap::Error for other shapes or dtypes, batch > 1, empty maps and bad options.
ChannelGrid channel_grid(const at::Tensor& act, const ViewOptions& opts, int columns = 0);

// One channel at full resolution (no downsampling) as RGBA, mapped with [lo, hi] as given (e.g. a
// grid's lo[c], hi[c]); opts.colormap is used, opts.normalize is not. lo <= hi, both finite.
Image channel_image(const at::Tensor& act, int channel, const ViewOptions& opts, float lo, float hi);

// Colour of t in [0, 1] (clamped; NaN is black) for legends: the same 256 entries the maps use.
std::array<std::uint8_t, 3> colormap_rgb(Colormap map, float t);

// The atlas laid out for export as a PNG: each cell enlarged `scale` times (nearest neighbour),
// `gap` transparent pixels between cells: width columns * cell_w * scale + (columns - 1) * gap,
// height likewise with rows and cell_h. scale >= 1, gap >= 0.
Image grid_export(const ChannelGrid& grid, int scale = 4, int gap = 2);

}  // namespace actmap
