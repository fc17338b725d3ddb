// Any text: a model registry parses (and its entries answer find and card_path), or throws actmap::Error.
#include <cstdint>
#include <string>

#include "actmap/io/error.h"
#include "actmap/model/registry.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const auto registry = actmap::parse_registry(std::string(reinterpret_cast<const char*>(data), size), "fuzz/registry.json");
    for (const auto& e : registry.models) {
      if (&registry.find(e.name) != &e) __builtin_trap();  // names are unique
      if (registry.card_path(e).empty() || e.sha256.size() != 64 || e.size == 0) __builtin_trap();
    }
  } catch (const actmap::Error&) {
  }
  return 0;
}
