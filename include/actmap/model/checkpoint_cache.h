// Checkpoint files opened as models (.pkl, .pt, .pth, .ckpt, .safetensors): each is converted once
// into the cache of fetched models, in a folder named by the file's sha256, and found there again
// by every front end and by sessions that name the file. The conversion itself is
// open_model_file (fetch/model_file.h); this is the lookup, which needs no LibTorch.
#pragma once

#include <string>

#include "actmap/io/error.h"
#include "actmap/io/progress.h"

namespace actmap {

// Bumped when a conversion would write different files, so older cache entries are not used.
constexpr int kConverterVersion = 1;

// Whether `path` names a checkpoint file by its extension (.pkl, .pt, .pth, .ckpt, .safetensors).
bool is_checkpoint_path(const std::string& path);

// model_cache_dir()/converted/v<kConverterVersion>: one folder per converted file, SHA/ with
// card.json and weights.safetensors, made complete under a temporary name and then renamed.
std::string converted_models_dir();
std::string converted_model_dir(const std::string& source_sha256);

// The sha256 of a checkpoint file, remembered in converted_models_dir()/index by the file's
// device, inode, size and modification time (not its name: a renamed file keeps its entry), so a
// file opened again is not read again. `progress` sees the bytes hashed when it is read.
std::string checkpoint_sha256(const std::string& path, const ProgressFn& progress = {});
// Records `sha256` as the hash of `path` as it is now (a file just written with a known hash).
void remember_sha256(const std::string& path, const std::string& sha256);
// Whether `path` lies in the cache of fetched models (model_cache_dir()); the weights there have
// their hashes remembered like checkpoint files, so loading them does not hash them every time.
bool in_model_cache(const std::string& path);

// The card of the converted file with this sha256, or "" when it has not been converted.
std::string find_converted_card(const std::string& source_sha256);

// The card a checkpoint file was converted to; throws CheckpointNotConverted when it has not been
// yet (a front end then converts it with open_model_file and tries again).
std::string converted_card_for(const std::string& checkpoint_path);

class CheckpointNotConverted : public Error {
 public:
  explicit CheckpointNotConverted(std::string checkpoint);
  const std::string& checkpoint() const { return checkpoint_; }

 private:
  std::string checkpoint_;
};

}  // namespace actmap
