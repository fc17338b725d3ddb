// Opening checkpoint files people already have (.pkl, .pt, .pth, .ckpt, .safetensors: NVIDIA's
// stylegan2-ada-pytorch and TensorFlow pickles, rosinality's checkpoints, state dicts) as models.
// A file is converted once, with the safe importer (io/checkpoint_import.h), into the cache of
// fetched models under its sha256 (model/checkpoint_cache.h); opening it again finds it there.
// StyleGAN2 and StyleGAN3 generators only; anything else is refused in one line that says what it is.
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "actmap/io/checkpoint_import.h"

namespace actmap {

struct ModelFileProgress {
  enum class Stage { Hash, Wait, Read, Estimate, Check, Write } stage = Stage::Hash;
  double fraction = -1;  // of this stage, 0 to 1; -1 while unknown
  std::string text;      // what is happening, in words
};

struct ModelFileOptions {
  // Called from the converting thread with each stage (and the fraction done where known).
  std::function<void(const ModelFileProgress&)> progress;
  // Nonzero: stop at the next check (between stages, and while hashing, waiting for another
  // process and estimating); nothing is left in the cache.
  const std::atomic<int>* cancel = nullptr;
};

struct OpenedModelFile {
  std::string card;           // the converted model's card in the cache ("" when cancelled)
  std::string source_sha256;  // of the checkpoint file
  bool from_cache = false;    // converted before (by this or another process): nothing converted now
  bool cancelled = false;
  // What the conversion found, in words: the file and its networks, the one used (G_ema, not G),
  // family, resolution, conditional or not, what was estimated or assumed.
  std::vector<std::string> report;
};

// Converts `path` into the cache once (or finds it there) and returns the card to load. Safe to
// call from a background thread; two processes opening the same file wait for one conversion (a
// lock per source hash) and the entry appears complete or not at all (written under a temporary
// name, then renamed). Errors name the file and say what to do next.
OpenedModelFile open_model_file(const std::string& path, const ModelFileOptions& options = {});

// actmap-cli import: converts `path` to `weights_out` (and a card at `card_out` unless "") as
// open_model_file would, with the importer's prefix and key map, `w_avg_file` (a .npy) as the
// average W instead of the file's or an estimate, and the card's name and license. Other state
// dicts are written as they are (and get no card).
struct CheckpointConversion {
  ImportOptions import;
  std::string w_avg_file;
  std::string name;  // "" = the weights file's stem
  std::string license = "unknown: state the checkpoint's license";
};
struct CheckpointConversionResult {
  std::string format, prefix, key_map;  // as in ImportResult
  std::size_t tensors = 0;
  std::int64_t parameters = 0;
  std::vector<std::string> skipped;     // entries left out (non-float tensors, ...)
  std::vector<std::string> report;      // in words, as OpenedModelFile::report, notes included
  std::uint64_t weights_bytes = 0;
  nlohmann::json config;                // the StyleGAN2 or StyleGAN3 config; null for other networks
  std::string family;                   // "stylegan2", "stylegan3" or "" (other networks)
};
CheckpointConversionResult convert_checkpoint(const std::string& path, const std::string& weights_out,
                                              const std::string& card_out, const CheckpointConversion& conversion,
                                              const ModelFileOptions& options = {});

}  // namespace actmap
