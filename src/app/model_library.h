// The models the editor can open: cards with their weights at hand (models/, ACTMAP_MODEL_PATH,
// the download cache, cards opened this run), and the registry's models that can be downloaded,
// with the download's window (progress, Cancel, errors). Shared by the Model menu and the model
// panel's list; choosing one asks the Editor for a new session on it.
#pragma once

#include <string>
#include <vector>

#include "actmap/model/registry.h"
#include "editor_context.h"
#include "model_download.h"

namespace actmap::app {

class ModelLibrary {
 public:
  static constexpr const char* kOpenCardTitle = "Open model card";

  // Re-reads the cards and the registry (when a menu with the list opens).
  void refresh();
  // The list as menu items (inside a menu or combo).
  void draw_items(EditorContext& ctx);
  // The download's window while one runs or has just ended.
  void draw_download_window(EditorContext& ctx);
  bool busy() const { return download_.running() || download_window_; }

  // A card opened or dropped this run: offered in the list from now on.
  void remember(const std::string& card);
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
};

}  // namespace actmap::app
