// Any text: an edit list parses (and survives a JSON round trip unchanged), or throws actmap::Error.
#include <cstdint>
#include <string>

#include "actmap/edit/edit.h"
#include "actmap/io/error.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  nlohmann::json j = nlohmann::json::parse(reinterpret_cast<const char*>(data), reinterpret_cast<const char*>(data) + size,
                                           nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return 0;
  try {
    const auto edits = actmap::edits_from_json(j, "fuzz.json");
    const auto again = actmap::edits_from_json(actmap::edits_to_json(edits), "round-trip");
    if (actmap::edits_to_json(again) != actmap::edits_to_json(edits)) __builtin_trap();
    for (const auto& e : edits) {
      try {
        (void)e.channels.resolve(64, e.tap, std::vector<int>(64, 1));
      } catch (const actmap::Error&) {
      }
    }
  } catch (const actmap::Error&) {
  }
  return 0;
}
