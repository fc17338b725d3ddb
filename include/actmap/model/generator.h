// Generators: immutable weights plus the taps of their forward pass, split into stages so a
// forward pass can start at any tap. Includes ATen's Tensor (not <torch/torch.h>).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "actmap/io/image.h"
#include "actmap/model/model_card.h"
#include "actmap/model/synthesis.h"

namespace actmap {

// Everything the rest of the forward pass needs after a tap: the tapped (editable) activation
// and, for families that carry more than one tensor between layers, the rest.
struct TapState {
  at::Tensor x;
  std::vector<at::Tensor> carry;
  SynthesisOptions options;
};

class Generator {
 public:
  virtual ~Generator() = default;

  virtual const ModelCard& card() const = 0;
  virtual const std::vector<TapInfo>& taps() const = 0;
  virtual const std::string& device() const = 0;
  // How it computes, in words: "float32", or which blocks run in float16 (StyleGAN2 with --fp16 on
  // CUDA).
  virtual std::string precision() const { return "float32"; }

  // The input of stage 0 for latents z [N, latent_size] (already on this generator's device).
  // Families with a mapping network also take W+ itself, [N, num_ws, w_dim], which skips it.
  virtual TapState prepare(const at::Tensor& z, const SynthesisOptions& options = {}) const = 0;
  // Stage `index` maps the state after tap index-1 (or prepare's) to the state after tap `index`.
  virtual TapState run_stage(std::size_t index, const TapState& in) const = 0;

  // The same stage with a rewritten copy of the kernels of the layer that produces tap `index`
  // (weight edits use this): the loaded weights never change, so the next plain run restores the
  // exact output. `rewrite` gets the kernel and the dimension that indexes its output channels (0
  // for conv2d and linear weights, 1 for conv_transpose2d). Only for taps where
  // has_rewritable_kernel(index); throws actmap::Error elsewhere.
  using KernelRewrite = std::function<at::Tensor(const at::Tensor& kernel, int out_dim)>;
  virtual bool has_rewritable_kernel(std::size_t index) const;
  virtual TapState run_stage_rewritten(std::size_t index, const TapState& in, const KernelRewrite& rewrite) const;

  // Index of a tap by name; throws an Error listing the taps when there is none.
  std::size_t tap_index(const std::string& name) const;
  // Full forward pass with no edits (the output tap's activation).
  at::Tensor forward(const at::Tensor& z, const SynthesisOptions& options = {}) const;

  // Families with a mapping network (StyleGAN2, StyleGAN3): W+ [N, num_ws, w_dim] for latents z [N, z_dim]
  // with the options' truncation, and the average W [w_dim]. Others throw actmap::Error.
  virtual at::Tensor map_latents(const at::Tensor& z, const SynthesisOptions& options) const;
  virtual at::Tensor w_average() const;
  bool has_mapping() const { return card().w_plus().has_value(); }
};

// Builds a generator from its card: resolves and reads the weights, checks every key and shape
// (errors name the file, the key, the expected and the actual shape), folds eval-mode batch norm
// into the preceding convolution where no tap lies between them, and moves it to `device`.
std::shared_ptr<const Generator> load_generator(const ModelCard& card, const std::string& device = "cpu");

// Latents [N, latent_size] on `device`: from consecutive seeds (seed, seed+1, ...) or from an
// array of shape [N, size] or [N, size, 1, 1] (errors name `source` and the shapes).
at::Tensor latents_from_seeds(const LatentSpec& spec, std::uint64_t first_seed, int count,
                              const std::string& device = "cpu");
at::Tensor latents_from_array(const LatentSpec& spec, const std::vector<std::int64_t>& shape,
                              const std::vector<float>& data, const std::string& source,
                              const std::string& device = "cpu");

// Output tensor [N, C, H, W] to 8-bit images using the card's output range (see to_pixel).
std::vector<Image> output_to_images(const at::Tensor& output, const ModelCard& card);

// Tensor to/from plain float arrays (for .npy files), any device.
std::vector<float> tensor_to_floats(const at::Tensor& t);
std::vector<std::int64_t> tensor_shape(const at::Tensor& t);

}  // namespace actmap
