// Internal helpers shared by the LibTorch-based parts of the core.
#pragma once

#include <string>
#include <vector>

#include <ATen/ATen.h>

#include "io/shape_text.h"

namespace actmap {

// "cpu", "cuda", "cuda:1" -> c10::Device, with actmap::Error for bad names or missing devices.
c10::Device parse_device(const std::string& device);

std::string shape_string(at::IntArrayRef shape);

// LibTorch's messages carry C++ backtraces; users get the first line.
std::string torch_error_text(const c10::Error& e);

// x.contiguous(), with a tiled transpose for float CPU tensors held channels-last (LibTorch 1.13's
// own copy takes 116 ms for [1, 32, 1024, 1024]; this one a few). Defined in modconv_cpu.cpp.
at::Tensor contiguous_nchw(const at::Tensor& x);

}  // namespace actmap
