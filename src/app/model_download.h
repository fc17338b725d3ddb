// A model arriving on a background thread: a registry download (the Model menu's Download
// entries) or a checkpoint file converted into the cache (File > Open model on a .pkl, .pt, ...).
// GUI-free: the editor draws its state each frame and never waits for it.
#pragma once

#include <atomic>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "actmap/fetch/fetch.h"
#include "actmap/fetch/model_file.h"
#include "actmap/model/registry.h"

namespace actmap::app {

class ModelDownload {
 public:
  enum class Phase { Idle, Running, Done, Failed, Cancelled };
  enum class Kind { Download, CheckpointFile };
  struct State {
    Phase phase = Phase::Idle;
    Kind kind = Kind::Download;
    std::string name;  // the registry model, or the checkpoint file's path
    FetchProgress progress;       // Download
    ModelFileProgress file;       // CheckpointFile: the stage, its fraction and text
    std::string error;  // Failed: why
    std::string card;   // Done: the model's card in the cache
    std::string part;   // Download, Cancelled: the partial file a later download resumes
    bool from_cache = false;          // CheckpointFile, Done: converted before, nothing converted now
    std::vector<std::string> report;  // CheckpointFile, Done: what the conversion found, in words
    double seconds = 0;               // Done: how long it took
  };

  ModelDownload() = default;
  ModelDownload(const ModelDownload&) = delete;
  ModelDownload& operator=(const ModelDownload&) = delete;
  ~ModelDownload();  // cancels a running job and waits for its thread

  // Starts downloading `name` (only when nothing is running).
  void start(const Registry& registry, const std::string& name);
  // Starts converting the checkpoint file `path` into the cache, or finding it there (only when
  // nothing is running). `delay_ms` (GUI tests) sleeps at each progress report, so that a small
  // file's stages can be watched and cancelled.
  void start_file(const std::string& path, int delay_ms = 0);
  void cancel();
  bool running() const;
  State state() const;
  // Back to Idle once a finished job's result has been seen.
  void dismiss();

 private:
  // Runs `work` on the thread; it fills in the end state (phase, card, ...) or throws.
  void launch(Kind kind, const std::string& name, std::function<void(State&)> work);
  void join();

  mutable std::mutex mutex_;
  State state_;
  std::atomic<int> cancel_{0};
  std::thread thread_;
};

}  // namespace actmap::app
