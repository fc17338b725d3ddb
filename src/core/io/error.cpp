#include "actmap/io/error.h"

#include <iostream>
#include <mutex>

namespace actmap {
namespace {
std::mutex sink_mutex;
WarningSink& current_sink() {
  static WarningSink sink;
  return sink;
}
}  // namespace

void set_warning_sink(WarningSink sink) {
  std::lock_guard<std::mutex> lock(sink_mutex);
  current_sink() = std::move(sink);
}

void warn(const std::string& message) {
  std::lock_guard<std::mutex> lock(sink_mutex);
  if (current_sink()) {
    current_sink()(message);
  } else {
    std::cerr << "actmap: warning: " << message << "\n";
  }
}

}  // namespace actmap
