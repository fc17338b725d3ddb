#include "model_download.h"

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

void ModelDownload::start(const Registry& registry, const std::string& name) {
  if (running()) return;
  join();  // the previous, finished thread
  cancel_ = 0;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    state_ = State{};
    state_.phase = Phase::Running;
    state_.name = name;
  }
  thread_ = std::thread([this, registry, name] {
    FetchOptions o;
    o.cancel = &cancel_;
    o.progress = [this](const FetchProgress& p) {
      std::lock_guard<std::mutex> lock(mutex_);
      state_.progress = p;
    };
    State end;
    end.name = name;
    try {
      const FetchResult r = fetch_model(registry, name, o);
      end.phase = r.cancelled ? Phase::Cancelled : Phase::Done;
      end.card = r.card;
      end.part = r.part;
    } catch (const std::exception& e) {
      end.phase = Phase::Failed;
      end.error = e.what();
    }
    std::lock_guard<std::mutex> lock(mutex_);
    end.progress = state_.progress;
    state_ = std::move(end);
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
