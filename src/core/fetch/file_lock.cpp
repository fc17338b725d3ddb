#include "fetch/file_lock.h"

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include "actmap/io/error.h"
#include "actmap/io/progress.h"

namespace actmap {

FileLock::FileLock(const std::string& path, const std::string& what, const std::function<void()>& waiting,
                   const std::function<bool()>& cancelled) {
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) throw Error(path + ": cannot create the lock for " + what + ": " + std::strerror(errno));
  bool said = false;
  while (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK && errno != EINTR) {
      const std::string why = std::strerror(errno);
      ::close(fd_);
      throw Error(path + ": cannot lock for " + what + ": " + why);
    }
    if (!said && waiting) waiting();
    said = true;
    if (cancelled && cancelled()) {
      ::close(fd_);
      throw Cancelled();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

FileLock::~FileLock() {
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace actmap
