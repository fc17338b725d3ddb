// Model cards: the JSON files under models/ that say what a generator is and where its weights are.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "actmap/model/stylegan3_config.h"

namespace actmap {

enum class LayerType {
  Linear, Conv2d, ConvTranspose2d, BatchNorm2d, Reshape, ReLU, LeakyReLU, SiLU, Tanh, Sigmoid
};
const char* layer_type_name(LayerType type);
std::optional<LayerType> layer_type_from_name(const std::string& name);
bool is_activation(LayerType type);

// One layer of a `sequential` card (the `dcgan` family expands to the same list).
struct LayerSpec {
  LayerType type = LayerType::ReLU;
  std::string name;     // module path, e.g. "main.5"; names taps placed after this layer
  std::string weights;  // weight-key prefix, e.g. "main.3" -> "main.3.weight"
  std::int64_t in = 0, out = 0, kernel = 0, stride = 1, padding = 0, output_padding = 0;
  bool bias = false;
  double eps = 1e-5;    // batch_norm2d
  double slope = 0.01;  // leaky_relu
  std::vector<std::int64_t> shape;  // reshape target (without the batch dimension)
  std::optional<bool> tap;          // force (true) or suppress (false) a tap after this layer
};

enum class LatentDistribution { Normal, Uniform };  // Uniform is U(-1, 1)
const char* latent_distribution_name(LatentDistribution d);

struct LatentSpec {
  std::int64_t size = 0;
  LatentDistribution distribution = LatentDistribution::Normal;
};

// A named point in the forward pass whose activation can be seen and edited.
struct TapInfo {
  std::string name;
  std::int64_t channels = 0, height = 0, width = 0;
  int depth = 0;  // position in the forward pass, 0 nearest the latent
};

// The constructor configuration of a `stylegan2` card, with the meaning and defaults of NVIDIA's
// stylegan2-ada-pytorch Generator (training/networks.py). The card's "config" holds it either in
// the official init-kwargs layout ({"z_dim", ..., "mapping_kwargs": {...}, "synthesis_kwargs":
// {...}}) or with the same keys flat.
struct StyleGAN2Config {
  std::int64_t z_dim = 512, w_dim = 512, c_dim = 0;
  std::int64_t img_resolution = 1024, img_channels = 3;
  std::int64_t mapping_layers = 8;
  double mapping_lr_multiplier = 0.01;
  std::int64_t channel_base = 32768, channel_max = 512;
  std::optional<double> conv_clamp;       // none: no clamping
  std::string architecture = "skip";      // "orig", "skip" or "resnet"
  std::vector<double> resample_filter = {1, 3, 3, 1};
  bool use_noise = true;
  // The card's "w_avg": a float32 .npy ([w_dim] or [1, w_dim]) used as the average W instead of
  // the weights' mapping.w_avg (a path as written, relative to the card); "" = the weights'.
  std::string w_avg_file;
  // The official num_fp16_res: the N highest-resolution blocks run in float16 on NVIDIA GPUs. actmap
  // follows that only where asked (cuda_fp16: the card's "cuda_fp16": true, or --fp16) and only on
  // CUDA; otherwise every block computes in float32, as the original does on the CPU.
  std::int64_t num_fp16_res = 0;
  bool cuda_fp16 = false;
  // The float16 path's form at batch sizes above 1 (synthesis "fused_modconv_default"): none
  // (stylegan2-ada-pytorch) fuses at batch 1 only; true or "inference_only" (the stylegan3
  // repository) fuses at every batch size; false never fuses.
  std::optional<bool> fused_modconv;

  std::int64_t channels_at(std::int64_t resolution) const;  // min(channel_base / res, channel_max)
  std::vector<std::int64_t> block_resolutions() const;      // 4, 8, ..., img_resolution
  std::int64_t num_ws() const;                              // W+ rows the synthesis network reads
  // The lowest block resolution that is float16 in the original, max(2^(log2(img_resolution) + 1 -
  // num_fp16_res), 8); 0 when num_fp16_res is 0.
  std::int64_t fp16_resolution() const;
};

struct ModelCard {
  std::string path;  // the card file ("" when parsed from memory); relative paths resolve from it
  std::string name, family, description, license;
  LatentSpec latent;
  double output_low = -1.0, output_high = 1.0;  // generator output range mapped to [0, 1] pixels
  std::string weights_path;    // as written in the card
  std::string weights_sha256;  // optional; checked with a warning on mismatch
  // Every hash the card accepts ("sha256" may list several: the same tensors written by different
  // tools, e.g. the original conversion and actmap-cli fetch's import); weights_sha256 is the first.
  std::vector<std::string> weights_sha256_accepted;

  // Warns (actmap::warn) when the card lists hashes and `actual` is none of them.
  void check_weights_sha256(const std::string& actual, const std::string& file) const;
  std::vector<LayerSpec> layers;                 // dcgan and sequential families
  std::map<std::string, std::string> tap_names;  // default tap name -> display name
  std::optional<StyleGAN2Config> stylegan2;      // stylegan2 family
  std::optional<StyleGAN3Config> stylegan3;      // stylegan3 family

  // W+ of a family with a mapping network (stylegan2, stylegan3): rows (num_ws) and width (w_dim);
  // none for the others.
  struct WPlusShape {
    std::int64_t rows = 0, w_dim = 0;
  };
  std::optional<WPlusShape> w_plus() const;
  nlohmann::json document;                       // the whole card, for family-specific keys
};

// Parses and validates a card; errors name the card and the key at fault.
ModelCard parse_model_card(const std::string& json_text, const std::string& path);
ModelCard load_model_card(const std::string& path);

// The weights file: relative to the card first, then in each directory of ACTMAP_MODEL_PATH, then in
// the cache of fetched models (model_cache_dir() in registry.h).
std::string resolve_weights_path(const ModelCard& card);

// Where each stage of a generator ends and the tap it produces. Shapes are inferred from the
// layer hyper-parameters, so a card is checked without loading weights. StyleGAN2 cards have no
// layer list: their stages carry only the tap (see stylegan2_taps).
struct Stage {
  std::size_t first_layer = 0, end_layer = 0;  // [first, end)
  TapInfo tap;
};
std::vector<Stage> plan_stages(const ModelCard& card);

// The taps of a StyleGAN2 generator, in forward order: "mapping" (W+ as [num_ws, 1, w_dim]), then per
// block b{R}: conv0 (not in b4), conv1, and with the skip architecture torgb and the running image
// img (from b8 on); orig and resnet have torgb in the last block only. The last tap is the image.
std::vector<TapInfo> stylegan2_taps(const StyleGAN2Config& config);

// The taps of a StyleGAN3 generator, in forward order: "mapping" (W+ as [num_ws, 1, w_dim]), "input"
// (the Fourier features after their learned mapping), every synthesis layer by its official name
// (L0_36_512 ... L14_1024_3; the last one before the output scale), then "output" (the image).
std::vector<TapInfo> stylegan3_taps(const StyleGAN3Config& config);

// Colon-separated directories from ACTMAP_MODEL_PATH.
std::vector<std::string> model_search_path();

}  // namespace actmap

namespace actmap {

// True when `name_or_path` names a card file (it has a '/' or ends in .json), false for a model name.
bool is_card_path(const std::string& name_or_path);

// A checkpoint file (.pkl, .pt, ...) gives the card it was converted to, or throws
// CheckpointNotConverted (checkpoint_cache.h).
// A card given by path, or by name ("ffhq64-vae" -> ffhq64-vae.json) searched in the directories
// of ACTMAP_MODEL_PATH, then in actmap's own models/ directory, then in the cache of fetched models.
std::string find_model_card(const std::string& name_or_path);

// Directories searched for cards by name, in order.
std::vector<std::string> model_card_dirs();

}  // namespace actmap
