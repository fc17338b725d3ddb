// StyleGAN3 state dicts and constructor arguments as NVIDIA's stylegan3 pickles hold them
// (training/networks_stylegan3.py): the card's config from the Generator's kwargs.
#include <array>
#include <string>

#include "actmap/io/checkpoint_import.h"

namespace actmap {

bool is_stylegan3_state_dict(const std::map<std::string, FloatTensor>& tensors) {
  return tensors.count("mapping.fc0.weight") && tensors.count("synthesis.input.freqs") &&
         tensors.count("synthesis.input.weight");
}

nlohmann::json stylegan3_config_from_kwargs(const nlohmann::json& kwargs) {
  // Generator(z_dim, c_dim, w_dim, img_resolution, img_channels, mapping_kwargs={}, **synthesis_kwargs):
  // everything but the first six is an argument of SynthesisNetwork or SynthesisLayer.
  static const std::array<const char*, 5> top = {"z_dim", "c_dim", "w_dim", "img_resolution", "img_channels"};
  nlohmann::json config = nlohmann::json::object(), synthesis = nlohmann::json::object();
  if (kwargs.is_object()) {
    for (const auto& [key, v] : kwargs.items()) {
      bool is_top = key == "mapping_kwargs";
      for (const char* t : top) is_top = is_top || key == t;
      if (is_top) {
        config[key] = v;
      } else if (key == "synthesis_kwargs" && v.is_object()) {
        synthesis.update(v);
      } else {
        synthesis[key] = v;
      }
    }
  }
  if (!config.contains("mapping_kwargs")) config["mapping_kwargs"] = nlohmann::json::object();
  config["synthesis_kwargs"] = synthesis;
  return config;
}

}  // namespace actmap
