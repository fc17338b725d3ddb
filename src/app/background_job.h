// One long computation (clustering, dissection, recording) on its own thread, so the interface
// never waits: progress and cancel through ProgressFn, the result or the error taken once when
// it is done. Starting again cancels and joins the previous run.
#pragma once

#include <atomic>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>

#include "actmap/io/progress.h"

namespace actmap::app {

template <class T>
class BackgroundJob {
 public:
  explicit BackgroundJob(std::function<void()> on_done = {}) : on_done_(std::move(on_done)) {}
  ~BackgroundJob() { stop(); }
  BackgroundJob(const BackgroundJob&) = delete;
  BackgroundJob& operator=(const BackgroundJob&) = delete;

  void start(std::function<T(const ProgressFn&)> work) {
    stop();
    cancel_ = false;
    progress_ = 0.0f;
    running_ = true;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      result_.reset();
      error_.clear();
    }
    thread_ = std::thread([this, work = std::move(work)] {
      const ProgressFn progress = [this](std::int64_t done, std::int64_t total) {
        progress_ = total > 0 ? float(double(done) / double(total)) : 0.0f;
        return !cancel_.load();
      };
      std::optional<T> result;
      std::string error;
      try {
        result = work(progress);
      } catch (const std::exception& e) {
        error = e.what();
      }
      {
        std::lock_guard<std::mutex> lock(mutex_);
        result_ = std::move(result);
        error_ = std::move(error);
      }
      running_ = false;
      if (on_done_) on_done_();
    });
  }
  bool running() const { return running_; }
  float progress() const { return progress_; }
  void cancel() { cancel_ = true; }
  // The finished run's result (once); nullopt while running or when it failed (see take_error).
  std::optional<T> take() {
    std::lock_guard<std::mutex> lock(mutex_);
    return std::exchange(result_, std::nullopt);
  }
  std::string take_error() {
    std::lock_guard<std::mutex> lock(mutex_);
    return std::exchange(error_, std::string());
  }

 private:
  void stop() {
    cancel_ = true;
    if (thread_.joinable()) thread_.join();
  }
  std::function<void()> on_done_;
  std::thread thread_;
  std::atomic<bool> cancel_{false}, running_{false};
  std::atomic<float> progress_{0.0f};
  std::mutex mutex_;
  std::optional<T> result_;
  std::string error_;
};

}  // namespace actmap::app
