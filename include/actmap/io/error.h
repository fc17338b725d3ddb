// Errors and warnings of the core library.
#pragma once

#include <functional>
#include <stdexcept>
#include <string>

namespace actmap {

// Every failure the core reports to a user: bad input files, bad parameters, missing devices.
// The message names the file, key or value at fault.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Warnings (non-fatal problems such as non-finite weights or a hash mismatch) go to one sink,
// stderr by default; front ends and tests may redirect them. Thread-safe.
using WarningSink = std::function<void(const std::string&)>;
void set_warning_sink(WarningSink sink);  // an empty sink restores the default
void warn(const std::string& message);

}  // namespace actmap
