// Compute devices by name: "cpu", "cuda", "cuda:N".
#pragma once

#include <cstddef>
#include <string>

namespace actmap {

// Throws actmap::Error with the reason when the device cannot be used: an unknown name, a
// LibTorch built without CUDA, or no GPU present.
void check_device(const std::string& device);

// What this LibTorch offers, for --help and error text, e.g. "cpu" or "cpu, cuda (1 GPU)".
std::string available_devices();

// The BLAS library LibTorch's CPU kernels call (resolved from the loaded sgemm_ symbol),
// e.g. "OpenBLAS (pthread): /usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3".
std::string blas_in_use();

// Intra-op threads LibTorch uses on the CPU; set_cpu_threads(0) uses every core.
int cpu_threads();
void set_cpu_threads(int threads);

// --fp16: StyleGAN2 generators loaded after this call on a CUDA device run the blocks their card's
// num_fp16_res names in float16, as the original does on NVIDIA GPUs (as if every card said
// "cuda_fp16": true). On the CPU they stay float32. Off by default.
void set_cuda_fp16(bool on);
bool cuda_fp16_requested();

// Keeps freed activation-sized buffers in the process instead of handing them back to the kernel
// and faulting them in again on the next render: buffers up to 32 MB in glibc's heap (its defaults
// made small edit ops up to 3x slower), larger ones in actmap's CPU buffer cache (below), sized
// by ACTMAP_CPU_CACHE_MB (default 768; 0: off). Front ends call it once at start-up.
void tune_memory_allocator();

// LibTorch's CPU allocations of 1 MB and more come back from a cache of freed buffers of exactly
// that size, holding at most `capacity_bytes` of them. Installed once per process (later calls
// do nothing).
void install_cpu_buffer_cache(std::size_t capacity_bytes);
std::size_t cpu_buffer_cache_capacity_from_env();  // throws actmap::Error for a bad value

struct BufferCacheStats {
  std::size_t hits = 0, misses = 0;  // allocations served from the cache / by malloc
  std::size_t cached_bytes = 0;      // freed buffers held now
};
BufferCacheStats cpu_buffer_cache_stats();  // zeros before install

}  // namespace actmap
