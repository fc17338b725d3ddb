// How a StyleGAN synthesis runs: truncation and noise (StyleGAN2), the input transform (StyleGAN3).
// Part of a session ("synthesis") and of every render; families without a mapping network, noise
// inputs or an input transform ignore those settings. No LibTorch types here.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace actmap {

// Noise inputs: the stored `noise_const` maps (the official default for generation), fresh
// noise from a seed (the same maps on every machine and device), or none.
enum class NoiseMode { Const, Random, None };
const char* noise_mode_name(NoiseMode mode);
std::optional<NoiseMode> noise_mode_from_name(const std::string& name);

// Truncation towards the average W, w_avg + psi (w - w_avg) (psi 1 = none), for the first
// `truncation_cutoff` rows of W+ (all when unset).
struct SynthesisOptions {
  double truncation_psi = 1.0;
  std::optional<std::int64_t> truncation_cutoff;
  NoiseMode noise_mode = NoiseMode::Const;
  std::uint64_t noise_seed = 0;
  // StyleGAN3's input transform, exactly as gen_images.py's --rotate and --translate take it: the
  // generator's `transform` buffer becomes the inverse of make_transform(translate, rotate), so the
  // image turns by `input_rotate` degrees and moves by `input_translate` (x, y in image widths: the
  // input's grid spans one unit across the image, margins aside). With both zero the stored buffer
  // is kept (the identity in every official checkpoint).
  double input_rotate = 0.0;
  std::array<double, 2> input_translate = {0.0, 0.0};
  // Conditional generators (c_dim > 0): the label c, as a class index (one-hot c) or an explicit
  // c vector of c_dim values; at most one of the two. Neither: class 0.
  std::optional<std::int64_t> class_index;
  std::vector<float> c;

  bool has_input_transform() const { return input_rotate != 0.0 || input_translate != std::array<double, 2>{0.0, 0.0}; }
  bool is_default() const { return *this == SynthesisOptions{}; }
  bool has_label() const { return class_index.has_value() || !c.empty(); }
  bool operator==(const SynthesisOptions& o) const {
    return truncation_psi == o.truncation_psi && truncation_cutoff == o.truncation_cutoff &&
           noise_mode == o.noise_mode && noise_seed == o.noise_seed && input_rotate == o.input_rotate &&
           input_translate == o.input_translate && class_index == o.class_index && c == o.c;
  }
  bool operator!=(const SynthesisOptions& o) const { return !(*this == o); }

  // {"truncation_psi": 0.7, "truncation_cutoff": 8, "noise_mode": "const", "noise_seed": 0,
  // "input_rotate": 30, "input_translate": [0.1, 0], "class": 3} (or "c": [c_dim numbers] instead of
  // "class"); every key optional (the input transform is written only when set). Errors start with
  // `where` (a JSON pointer) and name the key.
  static SynthesisOptions from_json(const nlohmann::json& j, const std::string& where);
  nlohmann::json to_json() const;
};

}  // namespace actmap
