#include "actmap/render/render_worker.h"

#include <chrono>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>

#if defined(__linux__)
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include "actmap/io/error.h"
#include "actmap/model/generator.h"
#include "actmap/render/renderer.h"

namespace actmap {

bool TapViewRequest::operator==(const TapViewRequest& o) const {
  return tap == o.tap && focus_channel == o.focus_channel && options == o.options;
}

namespace {

using Clock = std::chrono::steady_clock;

double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

// The loaded model and its two renderers (edited, and with no edits for the comparison view).
// Lives on the worker thread only.
struct Model {
  std::string card_path, device;
  std::shared_ptr<const Generator> generator;
  std::unique_ptr<Renderer> edited, original;
};

ViewOptions overview_options() {
  ViewOptions o;
  o.colormap = Colormap::Viridis;
  o.normalize = Normalize::PerChannel;
  o.max_cell = 32;
  o.histogram_bins = 1;
  return o;
}

void render_into(Model& model, const RenderRequest& req, RenderReply& reply) {
  const Generator& gen = *model.generator;
  reply.taps = gen.taps();

  auto t0 = Clock::now();
  const RenderResult edited = render_session(*model.edited, req.session);
  reply.first_stage = edited.timings.first_stage;
  reply.output = output_to_images(edited.output, gen.card()).at(0);
  if (req.original) {
    Session plain = req.session;
    plain.edits.clear();
    reply.original = output_to_images(render_session(*model.original, plain).output, gen.card()).at(0);
  }
  reply.latent = tensor_to_floats(session_latent(req.session, gen));
  auto t1 = Clock::now();
  reply.render_ms = ms_between(t0, t1);

  c10::InferenceMode guard;  // thread-local: this thread needs its own
  for (const TapViewRequest& v : req.views) {
    if (v.tap >= reply.taps.size()) continue;  // the UI asked before it knew this model's taps
    TapView view;
    view.request = v;
    const at::Tensor& act = model.edited->activation(v.tap);
    view.grid = channel_grid(act, v.options);
    if (v.focus_channel >= 0 && v.focus_channel < view.grid.channels) {
      const auto c = static_cast<std::size_t>(v.focus_channel);
      view.focus = channel_image(act, v.focus_channel, v.options, view.grid.lo[c], view.grid.hi[c]);
      view.focus_stats = view.grid.stats[c];
    }
    reply.views.push_back(std::move(view));
  }
  if (req.overview) {
    const ViewOptions o = overview_options();
    for (std::size_t i = 0; i < reply.taps.size(); ++i) {
      const at::Tensor& act = model.edited->activation(i);
      const at::Tensor mean = (act.dim() == 4 ? act[0] : act).mean(0, /*keepdim=*/true);
      reply.overview.push_back(channel_grid(mean, o).atlas);
    }
  }
  reply.view_ms = ms_between(t1, Clock::now());
}

}  // namespace

struct RenderWorker::State {
  mutable std::mutex mutex;
  mutable std::condition_variable wake;       // the worker: a request or stop
  mutable std::condition_variable idle;       // waiters of wait_idle
  std::optional<std::pair<std::uint64_t, RenderRequest>> pending;
  std::optional<RenderReply> ready;
  std::uint64_t next_stamp = 1, taken_stamp = 0, dropped = 0;
  bool running = false, stop = false;
  std::function<void()> on_reply;
  Model model;  // worker thread only
  std::thread thread;

  void loop() {
#if defined(__linux__)
    // A little below the interface thread: when cores are short, frames come first and the
    // model takes what is left (on Linux, nice values apply per thread).
    setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), 4);
#endif
    std::unique_lock<std::mutex> lock(mutex);
    for (;;) {
      wake.wait(lock, [&] { return stop || pending; });
      if (stop) return;
      auto [stamp, request] = std::move(*pending);
      pending.reset();
      running = true;
      lock.unlock();

      RenderReply reply = process(request);
      reply.stamp = stamp;

      lock.lock();
      running = false;
      if (stamp > taken_stamp && (!ready || ready->stamp < stamp)) ready = std::move(reply);
      if (!pending) idle.notify_all();
      if (on_reply) {
        lock.unlock();
        on_reply();
        lock.lock();
      }
    }
  }

  RenderReply process(const RenderRequest& req) {
    RenderReply reply;
    reply.card_path = req.session.card_path;
    reply.device = req.device;
    const auto t0 = Clock::now();
    try {
      if (!model.generator || model.card_path != req.session.card_path || model.device != req.device) {
        model = Model{};  // free the old model before loading the next
        model.generator = load_generator(load_model_card(req.session.card_path), req.device);
        model.edited = std::make_unique<Renderer>(model.generator);
        model.original = std::make_unique<Renderer>(model.generator);
        model.card_path = req.session.card_path;
        model.device = req.device;
        reply.load_ms = ms_between(t0, Clock::now());
      }
      render_into(model, req, reply);
    } catch (const std::exception& e) {
      reply.error = e.what();
    } catch (...) {
      reply.error = "unknown error while rendering";
    }
    reply.total_ms = ms_between(t0, Clock::now());
    return reply;
  }
};

RenderWorker::RenderWorker(std::function<void()> on_reply) : state_(std::make_unique<State>()) {
  state_->on_reply = std::move(on_reply);
  state_->thread = std::thread([s = state_.get()] { s->loop(); });
}

RenderWorker::~RenderWorker() {
  {
    std::lock_guard<std::mutex> lock(state_->mutex);
    state_->stop = true;
    state_->pending.reset();
  }
  state_->wake.notify_all();
  state_->thread.join();
}

std::uint64_t RenderWorker::submit(RenderRequest request) {
  std::uint64_t stamp;
  {
    std::lock_guard<std::mutex> lock(state_->mutex);
    stamp = state_->next_stamp++;
    if (state_->pending) ++state_->dropped;
    state_->pending.emplace(stamp, std::move(request));
  }
  state_->wake.notify_one();
  return stamp;
}

std::optional<RenderReply> RenderWorker::take() {
  std::lock_guard<std::mutex> lock(state_->mutex);
  if (!state_->ready) return std::nullopt;
  std::optional<RenderReply> out = std::move(state_->ready);
  state_->ready.reset();
  state_->taken_stamp = out->stamp;
  return out;
}

bool RenderWorker::busy() const {
  std::lock_guard<std::mutex> lock(state_->mutex);
  return state_->running || state_->pending.has_value();
}

bool RenderWorker::wait_idle(double timeout_s) const {
  std::unique_lock<std::mutex> lock(state_->mutex);
  return state_->idle.wait_for(lock, std::chrono::duration<double>(timeout_s),
                               [&] { return !state_->running && !state_->pending; });
}

std::uint64_t RenderWorker::dropped() const {
  std::lock_guard<std::mutex> lock(state_->mutex);
  return state_->dropped;
}

}  // namespace actmap
