// An exclusive lock on a file, held while the object lives: one per converted checkpoint (its
// source hash) and one per fetched model, so two processes never write the same target at once.
// flock: the kernel releases it when the process ends, so a crashed writer never blocks the next.
#pragma once

#include <functional>
#include <string>

namespace actmap {

class FileLock {
 public:
  // Blocks until the lock on `path` (created if missing) is held. `waiting` is called once when
  // another process holds it; `cancelled` is polled every 50 ms while waiting and, when it returns
  // true, the constructor throws actmap::Cancelled. Errors name `path` and `what`.
  FileLock(const std::string& path, const std::string& what, const std::function<void()>& waiting = {},
           const std::function<bool()>& cancelled = {});
  ~FileLock();
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace actmap
