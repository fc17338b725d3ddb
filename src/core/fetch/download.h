// One HTTP(S) download into a partial file, with resume (libcurl, kept out of public headers).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>

namespace actmap {

struct DownloadRequest {
  std::string url;
  std::string part;  // the partial file: continued with a Range request when it already has bytes
  std::uint64_t expected_size = 0;
  long connect_timeout_ms = 5000;
  std::function<void(std::uint64_t bytes, double bytes_per_second)> progress;  // bytes: in `part` so far
  const std::atomic<int>* cancel = nullptr;
};

struct DownloadOutcome {
  bool cancelled = false;          // stopped by `cancel`; `part` keeps what came
  std::uint64_t resumed_from = 0;  // bytes of an earlier partial file the server continued
  bool restarted = false;          // the server ignored the Range request: `part` was started over
};

// Fills `part` until it has expected_size bytes. Throws actmap::Error naming the address: offline
// (no DNS, refused, no route, connect timeout) at once; an HTTP error status; a dropped connection
// (the partial file is kept, the message says so); more bytes than expected (the file is deleted).
// The caller verifies the content.
DownloadOutcome download_to_part(const DownloadRequest& request);

}  // namespace actmap
