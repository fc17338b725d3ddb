// NumPy .npy files (format versions 1-3): float arrays in, float32 arrays out.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace actmap {

struct FloatArray {
  std::vector<std::int64_t> shape;
  std::vector<float> data;  // C order
  std::int64_t numel() const;
};

// Parses .npy bytes holding little-endian float32, float64 or float16 in C or Fortran order
// (returned in C order). `name` labels errors (usually the file path).
FloatArray parse_npy(const std::uint8_t* bytes, std::size_t size, const std::string& name);
FloatArray read_npy(const std::string& path);

// Encodes float32 data as a version 1.0 .npy file.
std::string encode_npy(const std::vector<std::int64_t>& shape, const float* data);
void write_npy(const std::string& path, const std::vector<std::int64_t>& shape, const float* data);

}  // namespace actmap
