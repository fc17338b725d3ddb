// A registry model downloading on a background thread (the Model menu's Download entries).
// GUI-free: the editor draws its state each frame and never waits for it.
#pragma once

#include <atomic>
#include <mutex>
#include <string>
#include <thread>

#include "actmap/fetch/fetch.h"
#include "actmap/model/registry.h"

namespace actmap::app {

class ModelDownload {
 public:
  enum class Phase { Idle, Running, Done, Failed, Cancelled };
  struct State {
    Phase phase = Phase::Idle;
    std::string name;
    FetchProgress progress;
    std::string error;  // Failed: why
    std::string card;   // Done: the fetched model's card in the cache
    std::string part;   // Cancelled: the partial file a later download resumes
  };

  ModelDownload() = default;
  ModelDownload(const ModelDownload&) = delete;
  ModelDownload& operator=(const ModelDownload&) = delete;
  ~ModelDownload();  // cancels a running download and waits for its thread

  // Starts downloading `name` (only when no download is running).
  void start(const Registry& registry, const std::string& name);
  void cancel();
  bool running() const;
  State state() const;
  // Back to Idle once a finished download's result has been seen.
  void dismiss();

 private:
  void join();

  mutable std::mutex mutex_;
  State state_;
  std::atomic<int> cancel_{0};
  std::thread thread_;
};

}  // namespace actmap::app
