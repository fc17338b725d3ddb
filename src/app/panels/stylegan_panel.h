// The StyleGAN2 tab: the class of a conditional generator, truncation and noise (session
// settings), and W+ edits at the tap "mapping":
// style mixing from a second seed with per-row checkboxes, swap, interpolate, negate, noise.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "editor_context.h"

namespace actmap::app {

class StyleGanPanel {
 public:
  void draw(EditorContext& ctx);

 private:
  void draw_class_picker(EditorContext& ctx);  // conditional generators (c_dim > 0)
  void add_w_edit(EditorContext& ctx, const std::string& op, nlohmann::json params);  // at the ticked rows

  std::vector<bool> rows_;  // ticked W+ rows
  std::uint64_t other_seed_ = 1;  // of style mixing, swaps and interpolation
  float interp_position_ = 0.5f, w_noise_strength_ = 0.5f;
};

}  // namespace actmap::app
