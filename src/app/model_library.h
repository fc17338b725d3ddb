// The models the editor can open: cards with their weights at hand (models/, ACTMAP_MODEL_PATH,
// the download cache, cards opened this run), the registry's models that can be downloaded, and
// checkpoint files (.pkl, .pt, ...) converted into the cache in the background, with the job's
// window (progress, Cancel, errors). Shared by the Model menu and the model panel's list; choosing
// one asks the Editor for a new session on it.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "actmap/model/registry.h"
#include "editor_context.h"
#include "model_download.h"

namespace actmap::app {

class ModelLibrary {
 public:
  static constexpr const char* kOpenModelTitle = "Open model";
  static constexpr const char* kOpenModelTip =
      "A model card (.json) or a checkpoint file: .pkl (stylegan2-ada-pytorch, StyleGAN3, TensorFlow), .pt/.pth/.ckpt "
      "(rosinality), .safetensors; a checkpoint is converted once into the cache, in the background";
  // What File > Open model and the Model menu's Open model offer: cards and checkpoint files.
  static const std::vector<std::string>& model_extensions();
  // Asks for a card or checkpoint file; the Editor opens the one chosen (requests.open_model).
  static void ask_open_model(EditorContext& ctx);

  // Re-reads the cards and the registry (when a menu with the list opens).
  void refresh();
  // The list as menu items (inside a menu or combo).
  void draw_items(EditorContext& ctx);
  // The download's or conversion's window while one runs or has just ended; a conversion that
  // ends well reports what it found and runs its `then`.
  void draw_download_window(EditorContext& ctx);
  bool busy() const { return download_.running() || download_window_; }

  // Converts a checkpoint file into the cache in the background (or finds it there) and then
  // calls `then` with the file's path on the UI thread; `failed` (when given) with the error when
  // it fails or is cancelled. False (reported) while another download or conversion runs.
  bool open_file(EditorContext& ctx, const std::string& checkpoint, std::function<void(const std::string&)> then,
                 std::function<void(const std::string&)> failed = {});
  bool converting() const;  // a checkpoint file is being converted now

  // A card or checkpoint file opened or dropped this run: offered in the list from now on.
  void remember(const std::string& card);
  // How the list names a model: a card by its file's stem, a checkpoint file by its file name.
  static std::string label(const std::string& path);
  // The card a new editor opens: the project's default model, else the first with its weights.
  std::string default_model();

 private:
  std::vector<std::string> extra_;   // cards opened or dropped this run
  std::vector<std::string> models_;  // read from disk when a model menu opens
  Registry registry_;                // models/registry.json (or ACTMAP_REGISTRY)
  std::vector<RegistryEntry> downloadable_;  // the registry's models whose weights are not at hand
  std::string registry_error_;
  ModelDownload download_;
  bool download_window_ = false;
  std::string announced_;  // the finished download already reported
  std::function<void(const std::string&)> after_file_, file_failed_;  // of the conversion running now
  int files_opened_ = 0;       // conversions ended well this run (for GUI tests)
  bool last_from_cache_ = false;
  double last_seconds_ = 0;

  void draw_file_job(EditorContext& ctx, const ModelDownload::State& s);
  void close_job_window();  // and forget the job that ended
};

}  // namespace actmap::app
