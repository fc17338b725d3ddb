// Safe import of PyTorch checkpoints (.pt/.pth, zip and legacy formats) and NVIDIA network pickles
// (.pkl) into safetensors, written in C++ without Python. Unpickling is restricted to an
// allow-list (tensor rebuild, storages, OrderedDict and plain containers); a file that names any
// other global is refused with that name. Nothing from a model file is ever executed.
// No LibTorch types here.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "actmap/io/safetensors.h"

namespace actmap {

struct ImportOptions {
  std::string prefix;             // take the state dict under this dotted key ("g_ema"); "" = auto
  std::string key_map = "auto";   // "none" | "rosinality" (to the official StyleGAN2 names) | "auto"
                                  // (TensorFlow pickles are always mapped unless "none")
};

struct ImportResult {
  std::string format;                          // "zip", "legacy", "pickle", "nvidia-pkl" or "tf-pkl"
  std::string prefix;                          // the prefix actually used ("" for the root)
  std::string key_map;                         // the key map actually applied ("none", "rosinality", "tf")
  std::vector<std::string> networks;           // the networks (state dicts, modules) the file holds by
                                               // name, e.g. G, D, G_ema, augment_pipe; [] for a bare state dict
  std::string source_repository;               // nvidia-pkl: the NVIDIA repository whose module source the
                                               // pickle embeds, "stylegan2-ada-pytorch" or "stylegan3"
  bool has_latent_avg = false;                 // rosinality: the checkpoint stores latent_avg
  std::map<std::string, FloatTensor> tensors;  // float32, keys after the key map
  std::vector<std::string> skipped;            // entries dropped (non-float tensors, num_batches_tracked)
  nlohmann::json config;                       // StyleGAN2 or StyleGAN3 constructor config when known, else null
  std::vector<std::string> notes;              // what the import assumed or added, for the user
};

// Reads and converts a checkpoint; errors name the file and what is wrong (the refused global,
// the missing storage, the bad key). Never executes code from the file.
ImportResult import_checkpoint(const std::string& path, const ImportOptions& options = {});

// Same from bytes already in memory (fuzzing, downloads); `name` labels errors.
ImportResult import_checkpoint_bytes(const std::vector<std::uint8_t>& bytes, const std::string& name,
                                     const ImportOptions& options = {});

// Only reads the file as data, as torch.load(weights_only=True) does, without converting it: a
// one-line description of what it holds, or actmap::Error where the unpickler or the format
// refuses it. Every tensor's view is checked against its storage; integer tensors are data here.
std::string read_checkpoint_data(const std::vector<std::uint8_t>& bytes, const std::string& name);

// True when `tensors` use the official StyleGAN2 generator names (stylegan2-ada-pytorch
// training/networks.py: mapping.fc0.weight, synthesis.b4.const, ...).
bool is_stylegan2_state_dict(const std::map<std::string, FloatTensor>& tensors);

// The official constructor config ({"z_dim", "c_dim", "w_dim", "img_resolution", "img_channels",
// "mapping_kwargs", "synthesis_kwargs"}) read off the tensor shapes. What shapes cannot tell
// (lr_multiplier, conv_clamp, num_fp16_res) is set to the usual value and said in `notes`.
nlohmann::json infer_stylegan2_config(const std::map<std::string, FloatTensor>& tensors,
                                      std::vector<std::string>* notes);

// True when `tensors` use the official StyleGAN3 generator names (stylegan3's
// training/networks_stylegan3.py: mapping.fc0.weight, synthesis.input.freqs, synthesis.L0_36_512...).
bool is_stylegan3_state_dict(const std::map<std::string, FloatTensor>& tensors);

// A stylegan3 card's config ({"z_dim", "c_dim", "w_dim", "img_resolution", "img_channels",
// "mapping_kwargs", "synthesis_kwargs"}) from the Generator's constructor kwargs as its pickle
// records them (the synthesis arguments flat beside z_dim). Values are not checked here: the card
// parser does that, naming the key.
nlohmann::json stylegan3_config_from_kwargs(const nlohmann::json& kwargs);

// NVIDIA's TensorFlow StyleGAN2 variables ("mapping/Dense0/weight", "synthesis/4x4/Conv/weight",
// "dlatent_avg", ... as dnnlib.tflib collects them with their component prefixes) -> the official
// names, layouts and constructor config, as stylegan2-ada-pytorch's legacy.py converts them
// (kernels transposed, up-sampling kernels flipped, modulation biases + 1). `static_kwargs` is the
// network's (the JSON of its pickled dict). Errors name the variable or kwarg at fault.
std::map<std::string, FloatTensor> map_tf_stylegan2(const std::map<std::string, FloatTensor>& variables,
                                                    const nlohmann::json& static_kwargs, nlohmann::json* config,
                                                    std::vector<std::string>* notes);

// What a state dict holds when it is recognisably not a generator ("a StyleGAN2 discriminator
// (b4.fc, b4.out)", "an augmentation pipeline (augment_pipe)", ...), or "".
std::string recognise_non_generator(const std::map<std::string, FloatTensor>& tensors);

// rosinality/stylegan2-pytorch generator names and shapes -> the official ones. `latent_avg`
// (checkpoint level in rosinality's files) becomes mapping.w_avg when given. Errors name any key
// without an official counterpart and any shape that does not fit.
std::map<std::string, FloatTensor> map_rosinality_keys(const std::map<std::string, FloatTensor>& tensors,
                                                       const FloatTensor* latent_avg,
                                                       std::vector<std::string>* notes);

}  // namespace actmap
