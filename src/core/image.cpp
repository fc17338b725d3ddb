#include "actmap/image.h"

#include <algorithm>
#include <cmath>

#include <stb_image.h>
#include <stb_image_write.h>

#include "actmap/error.h"
#include "actmap/files.h"

namespace actmap {

std::uint8_t to_pixel(float v, double low, double high) {
  const double x = std::floor((static_cast<double>(v) - low) / (high - low) * 255.0 + 0.5);
  if (!(x >= 0.0)) return 0;  // also NaN
  return static_cast<std::uint8_t>(std::min(x, 255.0));
}

Image tile_images(const std::vector<Image>& images, int gap, std::uint8_t background) {
  if (images.empty()) throw Error("tile_images: no images");
  if (images.size() == 1) return images.front();
  const Image& first = images.front();
  const int n = static_cast<int>(images.size());
  const int cols = static_cast<int>(std::ceil(std::sqrt(static_cast<double>(n))));
  const int rows = (n + cols - 1) / cols;
  Image out;
  out.channels = first.channels;
  out.width = cols * first.width + (cols - 1) * gap;
  out.height = rows * first.height + (rows - 1) * gap;
  out.pixels.assign(static_cast<std::size_t>(out.width) * out.height * out.channels, background);
  for (int i = 0; i < n; ++i) {
    const Image& im = images[i];
    if (im.width != first.width || im.height != first.height || im.channels != first.channels) {
      throw Error("tile_images: images differ in size");
    }
    const int x0 = (i % cols) * (first.width + gap), y0 = (i / cols) * (first.height + gap);
    for (int y = 0; y < im.height; ++y) {
      std::copy_n(im.pixels.begin() + static_cast<std::ptrdiff_t>(y) * im.width * im.channels,
                  im.width * im.channels,
                  out.pixels.begin() + (static_cast<std::ptrdiff_t>(y0 + y) * out.width + x0) * out.channels);
    }
  }
  return out;
}

std::string encode_png(const Image& image) {
  std::string out;
  auto sink = [](void* ctx, void* data, int size) {
    static_cast<std::string*>(ctx)->append(static_cast<const char*>(data), static_cast<std::size_t>(size));
  };
  if (!stbi_write_png_to_func(sink, &out, image.width, image.height, image.channels, image.pixels.data(),
                              image.width * image.channels)) {
    throw Error("PNG encoding failed");
  }
  return out;
}

void write_png(const std::string& path, const Image& image) { write_file_atomic(path, encode_png(image)); }

Image read_image(const std::string& path) {
  const auto bytes = read_file_bytes(path);
  int w = 0, h = 0, c = 0;
  stbi_uc* data = stbi_load_from_memory(bytes.data(), static_cast<int>(bytes.size()), &w, &h, &c, 0);
  if (!data) throw Error(path + ": cannot decode image: " + stbi_failure_reason());
  Image im;
  im.width = w;
  im.height = h;
  im.channels = c;
  im.pixels.assign(data, data + static_cast<std::size_t>(w) * h * c);
  stbi_image_free(data);
  return im;
}

}  // namespace actmap
