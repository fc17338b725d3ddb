#include "actmap/io/image.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>

#include <stb_image.h>
#include <zlib.h>
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

namespace {

constexpr std::uint64_t kMaxImageBytes = 256u << 20;
constexpr std::int64_t kMaxImageSide = 32768;
constexpr std::int64_t kMaxImagePixels = std::int64_t(1) << 26;  // 8192 x 8192: 256 MB as RGBA

std::uint32_t be32(const std::uint8_t* p) {
  return (std::uint32_t(p[0]) << 24) | (std::uint32_t(p[1]) << 16) | (std::uint32_t(p[2]) << 8) | p[3];
}

bool is_png_or_jpeg(const std::vector<std::uint8_t>& b) {
  return (b.size() >= 8 && std::memcmp(b.data(), "\x89PNG\r\n\x1a\n", 8) == 0) || (b.size() >= 2 && b[0] == 0xff && b[1] == 0xd8);
}

// The size a PNG (IHDR) or JPEG (its frame header, SOFn) claims, read without stb: stb's own
// header check fails on sizes over its 1 GB limit with a reason that names no size.
bool claimed_size(const std::vector<std::uint8_t>& b, std::uint64_t& w, std::uint64_t& h) {
  if (b.size() >= 24 && std::memcmp(b.data(), "\x89PNG\r\n\x1a\n", 8) == 0 && std::memcmp(b.data() + 12, "IHDR", 4) == 0) {
    w = be32(b.data() + 16), h = be32(b.data() + 20);
    return true;
  }
  if (b.size() < 4 || b[0] != 0xff || b[1] != 0xd8) return false;
  for (std::size_t at = 2; at + 9 < b.size();) {
    if (b[at] != 0xff) return false;
    const std::uint8_t m = b[at + 1];
    if (m == 0xff) {  // fill byte
      ++at;
      continue;
    }
    if (m == 0x01 || (m >= 0xd0 && m <= 0xd9)) {  // markers without a length
      at += 2;
      continue;
    }
    const std::size_t len = (std::size_t(b[at + 2]) << 8) | b[at + 3];
    if (m >= 0xc0 && m <= 0xcf && m != 0xc4 && m != 0xc8 && m != 0xcc) {
      h = (std::uint64_t(b[at + 5]) << 8) | b[at + 6];
      w = (std::uint64_t(b[at + 7]) << 8) | b[at + 8];
      return true;
    }
    at += 2 + len;
  }
  return false;
}

void check_size(std::uint64_t w, std::uint64_t h, const std::string& path) {
  if (w > std::uint64_t(kMaxImageSide) || h > std::uint64_t(kMaxImageSide) || w * h > std::uint64_t(kMaxImagePixels)) {
    throw Error(path + ": an image of " + std::to_string(w) + "x" + std::to_string(h) + " pixels, larger than actmap reads (at most " +
                std::to_string(kMaxImageSide) + " on a side and " + std::to_string(kMaxImagePixels) + " pixels)");
  }
}

// stb_image inflates a PNG's pixel data into a buffer that grows as long as the data does, so a
// 1x1 PNG can hold a gigabyte of zeros in a megabyte (a zip bomb). The bytes its IHDR implies
// are counted here without keeping them (zlib, 64 kB at a time), and more is refused.
void check_png_data(const std::vector<std::uint8_t>& b, const std::string& path) {
  if (b.size() < 33 || std::memcmp(b.data(), "\x89PNG\r\n\x1a\n", 8) != 0 || std::memcmp(b.data() + 12, "IHDR", 4) != 0) return;
  const std::uint64_t w = be32(b.data() + 16), h = be32(b.data() + 20);
  const int depth = b[24], colour = b[25], interlace = b[28];
  const int channels = colour == 2 ? 3 : colour == 4 ? 2 : colour == 6 ? 4 : 1;
  auto row_bytes = [&](std::uint64_t cols) { return (cols * static_cast<std::uint64_t>(channels * depth) + 7) / 8 + 1; };
  std::uint64_t expected = 0;
  if (interlace == 1) {
    // Adam7: seven passes of (columns, rows) from (x0, y0) every (dx, dy).
    const int x0[7] = {0, 4, 0, 2, 0, 1, 0}, y0[7] = {0, 0, 4, 0, 2, 0, 1}, dx[7] = {8, 8, 4, 4, 2, 2, 1}, dy[7] = {8, 8, 8, 4, 4, 2, 2};
    for (int p = 0; p < 7; ++p) {
      const std::uint64_t cols = w > std::uint64_t(x0[p]) ? (w - x0[p] + dx[p] - 1) / dx[p] : 0;
      const std::uint64_t rows = h > std::uint64_t(y0[p]) ? (h - y0[p] + dy[p] - 1) / dy[p] : 0;
      if (cols && rows) expected += row_bytes(cols) * rows;
    }
  } else {
    expected = row_bytes(w) * h;
  }
  z_stream zs{};
  if (inflateInit(&zs) != Z_OK) return;
  std::vector<std::uint8_t> sink(1 << 16);
  std::uint64_t produced = 0;
  bool done = false;
  for (std::size_t at = 8; at + 12 <= b.size() && !done;) {
    const std::uint64_t len = be32(b.data() + at);
    if (len > b.size() - at - 12) break;  // cut short: stb reports it
    if (std::memcmp(b.data() + at + 4, "IDAT", 4) == 0) {
      zs.next_in = const_cast<Bytef*>(b.data() + at + 8);
      zs.avail_in = static_cast<uInt>(len);
      while (zs.avail_in > 0 && !done) {
        zs.next_out = sink.data();
        zs.avail_out = static_cast<uInt>(sink.size());
        const int ret = inflate(&zs, Z_NO_FLUSH);
        produced += sink.size() - zs.avail_out;
        if (produced > expected) {
          inflateEnd(&zs);
          throw Error(path + ": PNG pixel data inflates to more than the " + std::to_string(expected) + " bytes its " +
                      std::to_string(w) + "x" + std::to_string(h) + " header implies (a decompression bomb); refused");
        }
        done = ret != Z_OK;  // the end of the stream, or damage that stb reports
      }
    }
    at += 12 + len;
  }
  inflateEnd(&zs);
}

}  // namespace

Image read_image(const std::string& path) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (!ec && size > kMaxImageBytes) {
    throw Error(path + ": " + std::to_string(size) + " bytes, more than the " + std::to_string(kMaxImageBytes >> 20) +
                " MB actmap reads as an image");
  }
  const auto bytes = read_file_bytes(path);
  if (bytes.empty()) throw Error(path + ": cannot decode image: the file is empty");
  // The size first, from the header alone: a file claiming 100000 x 100000 pixels is refused
  // before anything is allocated for it.
  std::uint64_t cw = 0, ch = 0;
  const bool known = claimed_size(bytes, cw, ch);
  if (known) check_size(cw, ch, path);
  int w = 0, h = 0, c = 0;
  if (!stbi_info_from_memory(bytes.data(), static_cast<int>(bytes.size()), &w, &h, &c)) {
    // stb's info tries every format and keeps the last one's reason ("unknown image type"); a
    // PNG or JPEG whose size is small or not stated (no frame header: nothing to allocate) is
    // decoded for its own reason instead.
    if (known || is_png_or_jpeg(bytes)) stbi_image_free(stbi_load_from_memory(bytes.data(), static_cast<int>(bytes.size()), &w, &h, &c, 0));
    throw Error(path + ": cannot decode image: " + stbi_failure_reason());
  }
  check_size(static_cast<std::uint64_t>(w), static_cast<std::uint64_t>(h), path);
  check_png_data(bytes, path);
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
