// Progress reports of long core computations (clustering, dissection, animation). No LibTorch.
#pragma once

#include <cstdint>
#include <functional>

#include "actmap/io/error.h"

namespace actmap {

// Called with the work done so far and the total (same units, e.g. samples or frames). Returning
// false asks the computation to stop: it then throws Cancelled at its next check.
using ProgressFn = std::function<bool(std::int64_t done, std::int64_t total)>;

class Cancelled : public Error {
 public:
  Cancelled() : Error("cancelled") {}
};

// Calls `progress` (when set) and throws Cancelled when it returns false.
inline void report_progress(const ProgressFn& progress, std::int64_t done, std::int64_t total) {
  if (progress && !progress(done, total)) throw Cancelled();
}

}  // namespace actmap
