// Small file helpers shared by every loader and writer.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "actmap/io/progress.h"

namespace actmap {

// Reads a whole file; throws actmap::Error naming the path when it cannot.
std::vector<std::uint8_t> read_file_bytes(const std::string& path);
std::string read_file_text(const std::string& path);

// Writes to a temporary file beside `path` (PATH.tmp-PID), flushes it, then renames it over `path`,
// so a crash never leaves a half-written file behind. Removes first the PATH.tmp-PID files of
// writers that were killed mid-write.
void write_file_atomic(const std::string& path, const void* data, std::size_t size);
inline void write_file_atomic(const std::string& path, const std::string& text) {
  write_file_atomic(path, text.data(), text.size());
}

// SHA-256 of a byte range and of a file, as lowercase hex.
std::string sha256_hex(const void* data, std::size_t size);
std::string sha256_file(const std::string& path);
// The same, reporting bytes read to `progress` (returning false stops with Cancelled).
std::string sha256_file(const std::string& path, const ProgressFn& progress);

// Removes the files and folders in `dir` that processes killed mid-write left behind: names that
// start with `prefix` and end in `marker` and the process id of a process that no longer exists.
void remove_dead_writers_leftovers(const std::string& dir, const std::string& prefix, const std::string& marker);

}  // namespace actmap
