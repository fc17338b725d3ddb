// Any text: a model card parses and plans its stages, or throws actmap::Error.
#include <cstdint>
#include <string>

#include "actmap/io/error.h"
#include "actmap/model/model_card.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  actmap::set_warning_sink([](const std::string&) {});
  try {
    const auto card = actmap::parse_model_card(std::string(reinterpret_cast<const char*>(data), size), "fuzz.json");
    const auto stages = actmap::plan_stages(card);
    if (stages.empty()) __builtin_trap();  // a valid card has at least its output tap
  } catch (const actmap::Error&) {
  }
  return 0;
}
