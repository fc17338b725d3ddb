// Any bytes: the safetensors reader either returns tensors or throws actmap::Error.
#include <cstdint>

#include "actmap/io/error.h"
#include "actmap/io/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const auto tensors = actmap::parse_safetensors(data, size, "fuzz.safetensors");
    for (const auto& [key, t] : tensors) {
      std::int64_t n = 1;
      for (auto d : t.shape) n *= d;
      if (static_cast<std::size_t>(n) != t.data.size()) __builtin_trap();  // shape and data must agree
    }
  } catch (const actmap::Error&) {
  }
  return 0;
}
