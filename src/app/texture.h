// An OpenGL texture holding one actmap::Image, sampled nearest-neighbour so zoomed activations
// and outputs show their real pixels.
#pragma once

#include <cstdint>

#include "actmap/io/image.h"

namespace actmap::app {

class Texture {
 public:
  Texture() = default;
  ~Texture();
  Texture(const Texture&) = delete;
  Texture& operator=(const Texture&) = delete;
  Texture(Texture&& o) noexcept;
  Texture& operator=(Texture&& o) noexcept;

  void upload(const Image& image);  // grey, RGB or RGBA; re-allocates only when the size changes
  bool valid() const { return id_ != 0 && width_ > 0; }
  int width() const { return width_; }
  int height() const { return height_; }
  // For ImGui::Image.
  void* handle() const { return reinterpret_cast<void*>(static_cast<std::uintptr_t>(id_)); }

 private:
  unsigned id_ = 0;
  int width_ = 0, height_ = 0;
};

}  // namespace actmap::app
