// "[2, 64, 4, 4]": how every error message writes a tensor shape (internal).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace actmap {

inline std::string shape_string(const std::vector<std::int64_t>& shape) {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

}  // namespace actmap
