// Any bytes: checkpoint import returns float tensors whose shapes match their data, or throws
// actmap::Error. Nothing else may escape (no crash, no other exception, no runaway allocation).
#include <cstdint>
#include <vector>

#include "actmap/io/checkpoint_import.h"
#include "actmap/io/error.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::vector<std::uint8_t> bytes(data, data + size);
  try {
    const actmap::ImportResult r = actmap::import_checkpoint_bytes(bytes, "fuzz.pt");
    for (const auto& [key, t] : r.tensors) {
      std::uint64_t n = 1;
      for (auto d : t.shape) n *= static_cast<std::uint64_t>(d);
      if (n != t.data.size()) __builtin_trap();
    }
  } catch (const actmap::Error&) {
  }
  return 0;
}
