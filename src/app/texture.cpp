#include "texture.h"

#include <utility>
#include <vector>

#include <epoxy/gl.h>

namespace actmap::app {

Texture::~Texture() {
  if (id_) glDeleteTextures(1, &id_);
}

Texture::Texture(Texture&& o) noexcept
    : id_(std::exchange(o.id_, 0)), width_(std::exchange(o.width_, 0)), height_(std::exchange(o.height_, 0)) {}

Texture& Texture::operator=(Texture&& o) noexcept {
  if (this != &o) {
    if (id_) glDeleteTextures(1, &id_);
    id_ = std::exchange(o.id_, 0);
    width_ = std::exchange(o.width_, 0);
    height_ = std::exchange(o.height_, 0);
  }
  return *this;
}

void Texture::upload(const Image& image) {
  if (image.width <= 0 || image.height <= 0) return;
  // Grey images become RGBA here: GL_LUMINANCE is gone from core profiles.
  const std::uint8_t* data = image.pixels.data();
  std::vector<std::uint8_t> rgba;
  GLenum format = image.channels == 4 ? GL_RGBA : GL_RGB;
  if (image.channels == 1) {
    rgba.resize(image.pixels.size() * 4);
    for (std::size_t i = 0; i < image.pixels.size(); ++i) {
      rgba[4 * i] = rgba[4 * i + 1] = rgba[4 * i + 2] = image.pixels[i];
      rgba[4 * i + 3] = 255;
    }
    data = rgba.data();
    format = GL_RGBA;
  }
  if (!id_) {
    glGenTextures(1, &id_);
    glBindTexture(GL_TEXTURE_2D, id_);
    glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MIN_FILTER, GL_NEAREST);
    glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MAG_FILTER, GL_NEAREST);
    glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_WRAP_S, GL_CLAMP_TO_EDGE);
    glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_WRAP_T, GL_CLAMP_TO_EDGE);
  } else {
    glBindTexture(GL_TEXTURE_2D, id_);
  }
  glPixelStorei(GL_UNPACK_ALIGNMENT, 1);
  if (image.width == width_ && image.height == height_) {
    glTexSubImage2D(GL_TEXTURE_2D, 0, 0, 0, image.width, image.height, format, GL_UNSIGNED_BYTE, data);
  } else {
    glTexImage2D(GL_TEXTURE_2D, 0, GL_RGBA8, image.width, image.height, 0, format, GL_UNSIGNED_BYTE, data);
    width_ = image.width;
    height_ = image.height;
  }
}

}  // namespace actmap::app
