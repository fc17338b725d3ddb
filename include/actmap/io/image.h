// 8-bit images and PNG files (no LibTorch types here: the GUI and tools include this freely).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace actmap {

struct Image {
  int width = 0, height = 0, channels = 0;  // channels: 1 (grey), 3 (RGB) or 4 (RGBA)
  std::vector<std::uint8_t> pixels;         // row-major, interleaved
};

// Pixel value of a generator output value v in [low, high]: round((v - low) / (high - low) * 255),
// clamped to [0, 255]. One definition, so the GUI and the CLI give the same pixels.
std::uint8_t to_pixel(float v, double low, double high);

// Images side by side in a near-square grid with `gap` pixels of `background` between them.
Image tile_images(const std::vector<Image>& images, int gap = 2, std::uint8_t background = 0);

// Text in stb_easy_font's 1-pixel bitmap font (about 7 x 12 pixels per line at scale 1), drawn
// in `rgb` with its top left at (x, y), clipped to the image; '\n' starts a new line. Works on
// 1, 3 and 4 channel images (grey uses the mean of rgb; alpha becomes 255 where drawn).
void draw_text(Image& image, int x, int y, const std::string& text, std::array<std::uint8_t, 3> rgb, int scale = 1);
int text_width(const std::string& text, int scale = 1);   // of the longest line
int text_height(const std::string& text, int scale = 1);
// A filled rectangle [x, x + w) x [y, y + h), clipped, with the same colour rules.
void fill_rect(Image& image, int x, int y, int w, int h, std::array<std::uint8_t, 3> rgb);

std::string encode_png(const Image& image);
void write_png(const std::string& path, const Image& image);  // atomic
Image read_image(const std::string& path);                     // PNG, JPEG, ... via stb_image

}  // namespace actmap
