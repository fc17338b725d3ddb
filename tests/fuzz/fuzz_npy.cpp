// Any bytes: the .npy reader returns an array whose shape matches its data, or throws actmap::Error.
#include <cstdint>

#include "actmap/io/error.h"
#include "actmap/io/npy.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const auto a = actmap::parse_npy(data, size, "fuzz.npy");
    if (static_cast<std::size_t>(a.numel()) != a.data.size()) __builtin_trap();
  } catch (const actmap::Error&) {
  }
  return 0;
}
