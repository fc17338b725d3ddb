#include "actmap/model/device.h"

#include <atomic>

#include <malloc.h>

#include <dlfcn.h>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <thread>

#include <ATen/Context.h>
#include <ATen/Parallel.h>

#include "actmap/io/error.h"
#include "model/torch_util.h"

namespace actmap {

namespace {

bool env_is_1(const char* name) {
  const char* v = std::getenv(name);
  return v && std::strcmp(v, "1") == 0;
}

// Full float32 on the GPU unless asked otherwise: cuDNN's default of TF32 convolutions (10-bit
// mantissas) moves StyleGAN2 pixels by ~1e-3 and breaks agreement with the CPU.
void configure_cuda_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    const bool tf32 = env_is_1("ACTMAP_TF32");
    at::globalContext().setAllowTF32CuDNN(tf32);
    at::globalContext().setAllowTF32CuBLAS(tf32);
    if (env_is_1("ACTMAP_CUDNN_BENCHMARK")) at::globalContext().setBenchmarkCuDNN(true);
  });
}

}  // namespace

c10::Device parse_device(const std::string& device) {
  c10::Device d(c10::kCPU);
  try {
    d = c10::Device(device);
  } catch (const std::exception&) {
    throw Error("unknown device '" + device + "' (use cpu, cuda or cuda:N; available here: " +
                available_devices() + ")");
  }
  if (d.is_cuda()) {
    if (!at::hasCUDA()) {
      throw Error("device '" + device + "' requested, but this build of LibTorch has no CUDA support or no GPU is visible "
                  "(available here: " + available_devices() + "); build with -DCMAKE_PREFIX_PATH=<a CUDA LibTorch>");
    }
    const int count = static_cast<int>(at::getNumGPUs());
    if (d.has_index() && d.index() >= count) {
      throw Error("device '" + device + "' requested, but only " + std::to_string(count) + " GPU(s) are visible");
    }
    configure_cuda_once();
  } else if (!d.is_cpu()) {
    throw Error("device '" + device + "' is not supported (use cpu or cuda)");
  }
  return d;
}

void check_device(const std::string& device) { parse_device(device); }

std::string available_devices() {
  std::string s = "cpu";
  if (at::hasCUDA()) s += ", cuda (" + std::to_string(at::getNumGPUs()) + " GPU)";
  return s;
}

std::string blas_in_use() {
  void* sym = dlsym(RTLD_DEFAULT, "sgemm_");
  Dl_info info{};
  if (!sym || !dladdr(sym, &info) || !info.dli_fname) return "unknown (no sgemm_ symbol loaded)";
  char resolved[PATH_MAX];
  const std::string path = realpath(info.dli_fname, resolved) ? resolved : info.dli_fname;
  std::string kind = "reference BLAS or other";
  if (path.find("openblas-pthread") != std::string::npos) kind = "OpenBLAS (pthread)";
  else if (path.find("openblas-openmp") != std::string::npos) kind = "OpenBLAS (OpenMP)";
  else if (path.find("openblas") != std::string::npos) kind = "OpenBLAS";
  else if (path.find("blis") != std::string::npos) kind = "BLIS";
  else if (path.find("mkl") != std::string::npos) kind = "MKL";
  else if (path.find("/blas/") != std::string::npos) kind = "reference BLAS (slow: install libopenblas0-pthread)";
  return kind + ": " + path;
}

int cpu_threads() { return at::get_num_threads(); }

void set_cpu_threads(int threads) {
  // LibTorch's own default is sometimes a single thread; 0 means every core, or OMP_NUM_THREADS
  // when it is set (a job scheduler's share of the machine; the tsan preset's single thread).
  if (threads <= 0) {
    const char* omp = std::getenv("OMP_NUM_THREADS");
    const int from_env = omp ? std::atoi(omp) : 0;
    threads = from_env > 0 ? from_env : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  }
  at::set_num_threads(threads);
}

namespace {
std::atomic<bool> g_cuda_fp16{false};
}  // namespace

void set_cuda_fp16(bool on) { g_cuda_fp16.store(on); }
bool cuda_fp16_requested() { return g_cuda_fp16.load(); }

void tune_memory_allocator() {
#if defined(__GLIBC__)
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
#endif
  std::size_t capacity = 0;
  try {
    capacity = cpu_buffer_cache_capacity_from_env();
  } catch (const Error& e) {
    std::fprintf(stderr, "actmap: %s; the CPU buffer cache stays off\n", e.what());
  }
  if (capacity > 0) install_cpu_buffer_cache(capacity);
}

}  // namespace actmap
