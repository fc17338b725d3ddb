// The CPU buffer cache: freed large buffers come back for the next allocation of that size.
#include <cstdlib>
#include <thread>
#include <vector>

#include <ATen/ATen.h>
#include <c10/core/CPUAllocator.h>

#include "actmap/model/device.h"
#include "test_util.h"

namespace actmap {
namespace {

TEST(BufferCache, FreedLargeBuffersComeBackBoundedByTheCapacity) {
  install_cpu_buffer_cache(std::size_t{64} << 20);
  const std::int64_t mb4 = 1 << 20;  // floats: 4 MB
  const BufferCacheStats start = cpu_buffer_cache_stats();
  void* first = nullptr;
  {
    const at::Tensor a = at::full({mb4}, 3.0f);
    first = a.data_ptr();
  }
  EXPECT_EQ(cpu_buffer_cache_stats().cached_bytes, start.cached_bytes + (std::size_t{4} << 20));
  at::Tensor b = at::empty({mb4}, at::kFloat);
  EXPECT_EQ(b.data_ptr(), first);  // the same buffer, not a fresh mapping
  EXPECT_EQ(cpu_buffer_cache_stats().hits, start.hits + 1);
  b.fill_(2.0f);
  EXPECT_EQ((b + b).sum().item<double>(), 4.0 * static_cast<double>(mb4));  // reused memory works as new

  // Another size is a miss; small allocations bypass the cache.
  const std::size_t misses = cpu_buffer_cache_stats().misses;
  const at::Tensor c = at::empty({mb4 + 1}, at::kFloat);
  EXPECT_EQ(cpu_buffer_cache_stats().misses, misses + 1);
  const BufferCacheStats before_small = cpu_buffer_cache_stats();
  const at::Tensor small = at::ones({1000});
  EXPECT_EQ(cpu_buffer_cache_stats().hits, before_small.hits);
  EXPECT_EQ(cpu_buffer_cache_stats().misses, before_small.misses);

  // Twenty freed 4 MB buffers: only 64 MB of them are kept.
  {
    std::vector<at::Tensor> many;
    for (int i = 0; i < 20; ++i) many.push_back(at::empty({mb4}, at::kFloat));
  }
  EXPECT_EQ(cpu_buffer_cache_stats().cached_bytes, std::size_t{64} << 20);

  // LibTorch's raw interface (used inside some kernels) works for large and small blocks alike.
  c10::Allocator* alloc = c10::GetCPUAllocator();
  void* big = alloc->raw_allocate(std::size_t{8} << 20);
  void* little = alloc->raw_allocate(64);
  static_cast<char*>(big)[(std::size_t{8} << 20) - 1] = 1;
  static_cast<char*>(little)[63] = 1;
  alloc->raw_deallocate(big);
  alloc->raw_deallocate(little);
  const at::Tensor sorted = std::get<0>(at::randn({mb4 * 2}).sort());  // a kernel with scratch buffers
  EXPECT_TRUE(at::all(sorted.slice(0, 1) >= sorted.slice(0, 0, -1)).item<bool>());
}

// Renders run on a worker thread while the UI thread allocates too (run under the tsan preset).
TEST(BufferCache, ThreadsAllocateAndFreeConcurrently) {
  install_cpu_buffer_cache(std::size_t{64} << 20);
  std::vector<std::thread> threads;
  for (int t = 1; t <= 3; ++t) {
    threads.emplace_back([t] {
      for (int i = 0; i < 40; ++i) {
        const std::int64_t n = (std::int64_t{1} << 18) * (1 + i % 3);  // 1, 2 or 3 MB
        const at::Tensor a = at::full({n}, static_cast<float>(t));
        EXPECT_EQ(a.sum().item<double>(), static_cast<double>(t) * static_cast<double>(n));
      }
    });
  }
  for (std::thread& th : threads) th.join();
  EXPECT_LE(cpu_buffer_cache_stats().cached_bytes, std::size_t{64} << 20);
  EXPECT_GT(cpu_buffer_cache_stats().hits, 0u);
}

TEST(BufferCache, CapacityFromTheEnvironmentNamesABadValue) {
  ::setenv("ACTMAP_CPU_CACHE_MB", "12", 1);
  EXPECT_EQ(cpu_buffer_cache_capacity_from_env(), std::size_t{12} << 20);
  ::setenv("ACTMAP_CPU_CACHE_MB", "lots", 1);
  test::expect_error([] { cpu_buffer_cache_capacity_from_env(); }, {"ACTMAP_CPU_CACHE_MB", "'lots'"});
  ::unsetenv("ACTMAP_CPU_CACHE_MB");
  EXPECT_EQ(cpu_buffer_cache_capacity_from_env(), std::size_t{768} << 20);
}

}  // namespace
}  // namespace actmap
