#include "actmap/io/image.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include <stb_image.h>
#include <stb_image_write.h>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wsign-conversion"
#pragma GCC diagnostic ignored "-Wconversion"
#pragma GCC diagnostic ignored "-Wold-style-cast"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#include <stb_easy_font.h>
#pragma GCC diagnostic pop

#include "actmap/io/error.h"
#include "actmap/io/files.h"

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

void fill_rect(Image& image, int x, int y, int w, int h, std::array<std::uint8_t, 3> rgb) {
  const int x0 = std::max(0, x), y0 = std::max(0, y);
  const int x1 = std::min(image.width, x + w), y1 = std::min(image.height, y + h);
  const int c = image.channels;
  for (int yy = y0; yy < y1; ++yy) {
    for (int xx = x0; xx < x1; ++xx) {
      std::uint8_t* p = &image.pixels[(static_cast<std::size_t>(yy) * image.width + xx) * c];
      if (c == 1) {
        p[0] = static_cast<std::uint8_t>((rgb[0] + rgb[1] + rgb[2]) / 3);
      } else {
        p[0] = rgb[0], p[1] = rgb[1], p[2] = rgb[2];
        if (c == 4) p[3] = 255;
      }
    }
  }
}

void draw_text(Image& image, int x, int y, const std::string& text, std::array<std::uint8_t, 3> rgb, int scale) {
  // stb_easy_font emits axis-aligned quads (4 vertices of 16 bytes: x, y, z floats and a colour).
  std::vector<char> buffer(text.size() * 270 + 64);
  std::string copy = text;
  const int quads = stb_easy_font_print(0.0f, 0.0f, copy.data(), nullptr, buffer.data(), static_cast<int>(buffer.size()));
  for (int q = 0; q < quads; ++q) {
    float v[4][4];
    std::memcpy(v, buffer.data() + static_cast<std::size_t>(q) * 64, sizeof v);
    const float qx0 = std::min(v[0][0], v[2][0]), qy0 = std::min(v[0][1], v[2][1]);
    const float qx1 = std::max(v[0][0], v[2][0]), qy1 = std::max(v[0][1], v[2][1]);
    const int px = x + static_cast<int>(std::lround(qx0 * scale)), py = y + static_cast<int>(std::lround(qy0 * scale));
    fill_rect(image, px, py, static_cast<int>(std::lround((qx1 - qx0) * scale)),
              static_cast<int>(std::lround((qy1 - qy0) * scale)), rgb);
  }
}

int text_width(const std::string& text, int scale) {
  std::string copy = text;
  return stb_easy_font_width(copy.data()) * scale;
}

int text_height(const std::string& text, int scale) {
  std::string copy = text;
  return stb_easy_font_height(copy.data()) * scale;
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
