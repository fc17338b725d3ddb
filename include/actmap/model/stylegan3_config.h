// The constructor configuration of a `stylegan3` card and the layer geometry it implies, with the
// meaning and defaults of NVIDIA's stylegan3 Generator (training/networks_stylegan3.py:
// Generator, MappingNetwork, SynthesisNetwork, SynthesisInput, SynthesisLayer). No LibTorch types.
#pragma once

#include <cmath>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "actmap/io/safetensors.h"

namespace actmap {

// One SynthesisLayer as SynthesisNetwork builds it: L0 ... L{num_layers}, the last one ToRGB.
struct StyleGAN3Layer {
  std::string name;  // the official module name: "L{index}_{out_size}_{out_channels}"
  bool torgb = false, critically_sampled = false;
  bool radial = false;  // the down filter is 2-D (use_radial_filters, not critically sampled)
  std::int64_t in_channels = 0, out_channels = 0, in_size = 0, out_size = 0, kernel = 3;
  double in_rate = 0, out_rate = 0, tmp_rate = 0;  // sampling rates; tmp: where the leaky ReLU runs
  double in_cutoff = 0, out_cutoff = 0, in_half_width = 0, out_half_width = 0;
  std::int64_t up = 1, down = 1;            // factors of the filtered leaky ReLU
  std::int64_t up_taps = 1, down_taps = 1;  // filter lengths; 1: no filter (none stored)
  std::int64_t pad0 = 0, pad1 = 0;          // its padding before/after, both axes (negative crops)
};

// SynthesisInput: Fourier features of `channels` frequencies on a size x size grid.
struct StyleGAN3Input {
  std::int64_t channels = 0, size = 0;
  double sampling_rate = 0, bandwidth = 0;
};

struct StyleGAN3Config {
  std::int64_t z_dim = 512, w_dim = 512, c_dim = 0;
  std::int64_t img_resolution = 1024, img_channels = 3;
  // MappingNetwork
  std::int64_t mapping_layers = 2;
  double mapping_lr_multiplier = 0.01;
  // SynthesisNetwork
  std::int64_t channel_base = 32768, channel_max = 512;
  std::int64_t num_layers = 14, num_critical = 2;
  double first_cutoff = 2.0, first_stopband = std::pow(2.0, 2.1), last_stopband_rel = std::pow(2.0, 0.3);
  std::int64_t margin_size = 10;
  double output_scale = 0.25;
  std::int64_t num_fp16_res = 4;  // read and kept; actmap computes in float32 everywhere
  // SynthesisLayer
  std::int64_t conv_kernel = 3, filter_size = 6;
  double lrelu_upsampling = 2.0;
  bool use_radial_filters = false;
  std::optional<double> conv_clamp = 256.0;  // none: no clamping

  std::int64_t num_ws() const { return num_layers + 2; }  // the input and every layer read one row
  StyleGAN3Input input() const;
  // L0 ... L{num_layers}; throws actmap::Error when the hyper-parameters give a geometry the
  // official code would reject (non-integer resampling factors, empty layers).
  std::vector<StyleGAN3Layer> layers() const;
};

// Each key is looked up flat, then in "mapping_kwargs" / "synthesis_kwargs" (the official pickle
// holds the synthesis arguments flat beside z_dim; cards may nest them). Errors start with `where`
// and name the key.
StyleGAN3Config parse_stylegan3_config(const nlohmann::json& config, const std::string& where);

// A config read off the tensors of an official state dict without its constructor kwargs (a .pt
// state dict rather than a pickle): the dimensions, layer count, kernel size and radial filters
// from the shapes, channel_base, channel_max and margin_size by searching the values whose layers
// carry exactly the stored names (L0_36_512, ...). The other hyper-parameters keep their defaults,
// said in `notes`; throws actmap::Error when no such config exists.
nlohmann::json infer_stylegan3_config(const std::map<std::string, FloatTensor>& tensors, std::vector<std::string>* notes);

// The user transform of SynthesisInput for gen_images.py's --translate X,Y and --rotate DEG:
// the inverse of make_transform (rotation by DEG, then translation), row-major 3x3.
std::vector<double> stylegan3_input_transform(double rotate_degrees, double translate_x, double translate_y);

}  // namespace actmap
