// Compute devices by name: "cpu", "cuda", "cuda:N".
#pragma once

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

// Keeps freed activation-sized buffers (up to 32 MB) in the heap instead of handing them back to
// the kernel and faulting them in again on the next render: glibc's defaults made small edit ops
// up to 3x slower. Front ends call it once at start-up.
void tune_memory_allocator();

}  // namespace actmap
