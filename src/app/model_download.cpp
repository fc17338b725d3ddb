#include "model_download.h"

#include <chrono>
#include <csignal>
#include <exception>

namespace actmap::app {

ModelDownload::~ModelDownload() {
  cancel();
  join();
}

void ModelDownload::join() {
  if (thread_.joinable()) thread_.join();
}

void ModelDownload::launch(Kind kind, const std::string& name, std::function<void(State&)> work) {
  if (running()) return;
  join();  // the previous, finished thread
  cancel_ = 0;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    state_ = State{};
    state_.phase = Phase::Running;
    state_.kind = kind;
    state_.name = name;
  }
  thread_ = std::thread([this, kind, name, work = std::move(work)] {
    const auto t0 = std::chrono::steady_clock::now();
    State end;
    end.kind = kind;
    end.name = name;
    try {
      work(end);
    } catch (const std::exception& e) {
      end.phase = Phase::Failed;
      end.error = e.what();
    }
    end.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::lock_guard<std::mutex> lock(mutex_);
    end.progress = state_.progress;
    end.file = state_.file;
    state_ = std::move(end);
  });
}

void ModelDownload::start(const Registry& registry, const std::string& name) {
  launch(Kind::Download, name, [this, registry, name](State& end) {
    FetchOptions o;
    o.cancel = &cancel_;
    o.progress = [this](const FetchProgress& p) {
      std::lock_guard<std::mutex> lock(mutex_);
      state_.progress = p;
    };
    const FetchResult r = fetch_model(registry, name, o);
    end.phase = r.cancelled ? Phase::Cancelled : Phase::Done;
    end.card = r.card;
    end.part = r.part;
  });
}

void ModelDownload::start_file(const std::string& path, int delay_ms) {
  launch(Kind::CheckpointFile, path, [this, path, delay_ms](State& end) {
    ModelFileOptions o;
    o.cancel = &cancel_;
    o.progress = [this, delay_ms](const ModelFileProgress& p) {
      {
        std::lock_guard<std::mutex> lock(mutex_);
        state_.file = p;
      }
      if (delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    };
    const OpenedModelFile r = open_model_file(path, o);
    end.phase = r.cancelled ? Phase::Cancelled : Phase::Done;
    end.card = r.card;
    end.from_cache = r.from_cache;
    end.report = r.report;
  });
}

void ModelDownload::cancel() { cancel_ = SIGINT; }

bool ModelDownload::running() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return state_.phase == Phase::Running;
}

ModelDownload::State ModelDownload::state() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return state_;
}

void ModelDownload::dismiss() {
  if (running()) return;
  join();
  std::lock_guard<std::mutex> lock(mutex_);
  state_ = State{};
}

}  // namespace actmap::app
