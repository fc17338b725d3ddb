// Any text: a session parses (and survives save -> parse unchanged), or throws actmap::Error.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "actmap/io/error.h"
#include "actmap/session/session.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  ::setenv("ACTMAP_MODEL_PATH", ACTMAP_FUZZ_MODEL_DIR, 1);
  actmap::set_warning_sink([](const std::string&) {});
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const actmap::Session s = actmap::parse_session(text, "fuzz.json");
    const nlohmann::json saved = actmap::session_to_json(s, "");
    const actmap::Session again = actmap::parse_session(saved.dump(), "fuzz.json");
    if (actmap::session_to_json(again, "") != saved) __builtin_trap();
  } catch (const actmap::Error&) {
  }
  return 0;
}
