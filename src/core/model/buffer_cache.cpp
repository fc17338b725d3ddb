// A CPU allocator that keeps freed large buffers for reuse. glibc hands every allocation above
// 32 MB (its largest mmap threshold) back to the kernel on free, so each render of a 1024x1024
// StyleGAN2 faulted in about a gigabyte of fresh zeroed pages again: 10-20% of its time.
#include <cstdlib>
#include <cstring>
#include <deque>
#include <iterator>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include <c10/core/CPUAllocator.h>
#include <torch/version.h>

#include "actmap/io/error.h"
#include "actmap/model/device.h"

// LibTorch 2.3 made Allocator::allocate non-const and added the pure virtual copy_data.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 3)
#define ACTMAP_ALLOCATOR_CONST
#define ACTMAP_ALLOCATOR_HAS_COPY_DATA 1
#else
#define ACTMAP_ALLOCATOR_CONST const
#define ACTMAP_ALLOCATOR_HAS_COPY_DATA 0
#endif

namespace actmap {
namespace {

constexpr std::size_t kMinCachedBytes = std::size_t{1} << 20;  // smaller ones stay with malloc

class CachingCpuAllocator;
CachingCpuAllocator* installed = nullptr;  // leaked on purpose: tensors may outlive main()

// Every pointer it hands out is its own context (as raw_allocate requires), so one deleter can
// tell large blocks (in `live_`) from small ones (the inner allocator's, freed by its deleter).
class CachingCpuAllocator final : public c10::Allocator {
 public:
  CachingCpuAllocator(c10::Allocator* inner, std::size_t capacity)
      : inner_(inner), inner_deleter_(inner->raw_deleter()), capacity_(capacity) {}

  c10::DataPtr allocate(std::size_t n) ACTMAP_ALLOCATOR_CONST override {
    if (n < kMinCachedBytes) return inner_->allocate(n);
    c10::DataPtr block = take(n);
    if (!block) block = inner_->allocate(n);
    void* data = block.get();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      live_.emplace(data, Live{std::move(block), n});
    }
    return {data, data, &release, c10::Device(c10::kCPU)};
  }

  c10::DeleterFnPtr raw_deleter() const override { return &release; }

#if ACTMAP_ALLOCATOR_HAS_COPY_DATA
  void copy_data(void* dest, const void* src, std::size_t count) const override { std::memcpy(dest, src, count); }
#endif

  BufferCacheStats stats() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return stats_;
  }

 private:
  struct Live {
    c10::DataPtr block;
    std::size_t size;
  };

  // The most recently freed block of exactly n bytes.
  c10::DataPtr take(std::size_t n) const {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto it = free_.rbegin(); it != free_.rend(); ++it) {
      if (it->size != n) continue;
      c10::DataPtr block = std::move(it->block);
      free_.erase(std::next(it).base());
      stats_.cached_bytes -= n;
      ++stats_.hits;
      return block;
    }
    ++stats_.misses;
    return {};
  }

  // Keeps the freed block, evicting the longest-unused ones beyond the capacity: the sizes a
  // render needs recur, so recently freed blocks are the likely next ones.
  static void release(void* data) {
    CachingCpuAllocator* self = installed;
    std::vector<c10::DataPtr> dropped;  // freed after the lock is released
    {
      std::lock_guard<std::mutex> lock(self->mutex_);
      const auto it = self->live_.find(data);
      if (it == self->live_.end()) {
        self->inner_deleter_(data);  // a small block from the inner allocator
        return;
      }
      Live live = std::move(it->second);
      self->live_.erase(it);
      if (live.size > self->capacity_) {
        dropped.push_back(std::move(live.block));
      } else {
        while (self->stats_.cached_bytes + live.size > self->capacity_) {
          self->stats_.cached_bytes -= self->free_.front().size;
          dropped.push_back(std::move(self->free_.front().block));
          self->free_.pop_front();
        }
        self->stats_.cached_bytes += live.size;
        self->free_.push_back(Live{std::move(live.block), live.size});
      }
    }
  }

  c10::Allocator* inner_;
  c10::DeleterFnPtr inner_deleter_;
  std::size_t capacity_;
  mutable std::mutex mutex_;
  mutable std::unordered_map<void*, Live> live_;
  mutable std::deque<Live> free_;  // oldest first
  mutable BufferCacheStats stats_;
};

}  // namespace

void install_cpu_buffer_cache(std::size_t capacity_bytes) {
  static std::once_flag once;
  std::call_once(once, [capacity_bytes] {
    c10::Allocator* inner = c10::GetCPUAllocator();
    if (!inner->raw_deleter()) return;  // not the allocator this wraps: leave it alone
    installed = new CachingCpuAllocator(inner, capacity_bytes);
    c10::SetCPUAllocator(installed, /*priority=*/100);
  });
}

std::size_t cpu_buffer_cache_capacity_from_env() {
  const char* v = std::getenv("ACTMAP_CPU_CACHE_MB");
  if (!v) return std::size_t{768} << 20;
  char* end = nullptr;
  const long long mb = std::strtoll(v, &end, 10);
  if (end == v || *end != '\0' || mb < 0) {
    throw Error(std::string("ACTMAP_CPU_CACHE_MB must be a whole number of megabytes (0: off), got '") + v + "'");
  }
  return static_cast<std::size_t>(mb) << 20;
}

BufferCacheStats cpu_buffer_cache_stats() { return installed ? installed->stats() : BufferCacheStats{}; }

}  // namespace actmap
