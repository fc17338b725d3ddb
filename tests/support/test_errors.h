// expect_error, for suites with or without LibTorch.
#pragma once

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "actmap/io/error.h"

namespace actmap::test {

// Expects `fn` to throw actmap::Error whose message contains every one of `parts`.
template <class Fn>
void expect_error(Fn&& fn, const std::vector<std::string>& parts) {
  try {
    fn();
    ADD_FAILURE() << "expected an actmap::Error";
  } catch (const Error& e) {
    const std::string msg = e.what();
    for (const auto& p : parts) EXPECT_NE(msg.find(p), std::string::npos) << "message lacks '" << p << "': " << msg;
  }
}

}  // namespace actmap::test
