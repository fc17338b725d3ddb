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
#include "actmap/io/progress.h"
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

// The loaded model, its renderer, and what the last replies showed that may not have changed: the
// original (no edits) for a latent, and the layer previews. Lives on the worker thread only.
struct Model {
  std::string card_path, device;
  std::shared_ptr<const Generator> generator;
  std::unique_ptr<Renderer> edited;
  at::Tensor original_latent;     // the latent (z or W+) original_image was made for
  SynthesisOptions original_options;
  Image original_image;
  std::vector<Image> overview;    // per tap, valid for the activations cached in `edited`
};

ViewOptions overview_options() {
  ViewOptions o;
  o.colormap = Colormap::Viridis;
  o.normalize = Normalize::PerChannel;
  o.max_cell = 32;
  o.histogram_bins = 1;
  return o;
}

// `early` receives the reply with the output alone before the views are mapped (when they are
// asked for and req.output_first).
void render_into(Model& model, const RenderRequest& req, RenderReply& reply,
                 const std::function<void(RenderReply)>& early) {
  const Generator& gen = *model.generator;
  reply.taps = gen.taps();

  auto t0 = Clock::now();
  const RenderResult edited = render_session(*model.edited, req.session);
  reply.first_stage = edited.timings.first_stage;
  reply.output = output_to_images(edited.output, gen.card()).at(0);
  const at::Tensor latent = session_latent(req.session, gen);
  if (req.original) {
    // The original depends on the latent alone: kept while it stays, else resumed from the
    // edited pass's cache at the first edited tap (not a second full pass).
    const bool same = model.original_image.width > 0 && model.original_latent.defined() &&
                      model.original_latent.sizes() == latent.sizes() && model.original_options == req.session.synthesis &&
                      at::equal(model.original_latent, latent);
    if (!same) {
      model.original_image = output_to_images(model.edited->unedited_output(), gen.card()).at(0);
      model.original_latent = latent.clone();
      model.original_options = req.session.synthesis;
    }
    reply.original = model.original_image;
  }
  reply.latent = tensor_to_floats(latent);
  auto t1 = Clock::now();
  reply.render_ms = ms_between(t0, t1);
  if (req.output_first && (!req.views.empty() || req.overview) && early) {
    RenderReply first = reply;
    first.partial = true;
    early(std::move(first));
  }

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
    // Only the taps the render changed: those before its first stage kept their activations.
    const ViewOptions o = overview_options();
    const std::size_t n = reply.taps.size();
    const std::size_t from = model.overview.size() == n ? std::min(edited.timings.first_stage, n) : 0;
    model.overview.resize(n);
    for (std::size_t i = from; i < n; ++i) {
      const at::Tensor& act = model.edited->activation(i);
      const at::Tensor mean = (act.dim() == 4 ? act[0] : act).mean(0, /*keepdim=*/true);
      model.overview[i] = channel_grid(mean, o).atlas;
    }
    reply.overview = model.overview;
  } else {
    model.overview.clear();
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
  bool taken_partial = false;  // the reply taken last was a partial one
  bool running = false, stop = false;
  std::function<void()> on_reply;
  std::function<bool()> interrupt;  // under mutex; copied for each render
  int nice = 4;                     // set before the thread starts
  Model model;  // worker thread only
  std::thread thread;

  void loop() {
#if defined(__linux__)
    // A little below the interface thread: when cores are short, frames come first and the
    // model takes what is left (on Linux, nice values apply per thread).
    setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), nice);
#endif
    std::unique_lock<std::mutex> lock(mutex);
    for (;;) {
      wake.wait(lock, [&] { return stop || pending; });
      if (stop) return;
      auto [stamp, request] = std::move(*pending);
      pending.reset();
      running = true;
      std::function<bool()> stop_check = interrupt;
      lock.unlock();

      RenderReply reply = process(request, stop_check, [&](RenderReply first) {
        first.stamp = stamp;
        {
          std::lock_guard<std::mutex> guard(mutex);
          keep(std::move(first));
        }
        if (on_reply) on_reply();
      });
      reply.stamp = stamp;

      lock.lock();
      running = false;  // with the whole reply kept in the same step: never idle without it
      keep(std::move(reply));
      if (!pending) idle.notify_all();
      if (on_reply) {
        lock.unlock();
        on_reply();
        lock.lock();
      }
    }
  }

  // Under `mutex`: keeps `reply` for take() unless a newer one was taken or is waiting (the whole
  // reply of a stamp replaces its partial one).
  void keep(RenderReply reply) {
    const std::uint64_t stamp = reply.stamp;
    const bool newer = stamp > taken_stamp || (stamp == taken_stamp && taken_partial && !reply.partial);
    const bool over_ready = !ready || ready->stamp < stamp || (ready->stamp == stamp && ready->partial);
    if (newer && over_ready) ready = std::move(reply);
  }

  RenderReply process(const RenderRequest& req, const std::function<bool()>& stop_check,
                      const std::function<void(RenderReply)>& early) {
    RenderReply reply;
    reply.card_path = req.session.card_path;
    reply.device = req.device;
    const auto t0 = Clock::now();
    try {
      if (!model.generator || model.card_path != req.session.card_path || model.device != req.device) {
        model = Model{};  // free the old model before loading the next
        model.generator = load_generator(load_model_card(req.session.card_path), req.device);
        model.edited = std::make_unique<Renderer>(model.generator);
        model.card_path = req.session.card_path;
        model.device = req.device;
        reply.load_ms = ms_between(t0, Clock::now());
      }
      model.edited->set_interrupt(stop_check);
      render_into(model, req, reply, early);
    } catch (const Cancelled&) {
      reply.error = "interrupted";
      model.overview.clear();
    } catch (const std::exception& e) {
      reply.error = e.what();
      model.overview.clear();  // a failed render leaves the cache partly updated
    } catch (...) {
      reply.error = "unknown error while rendering";
      model.overview.clear();
    }
    reply.total_ms = ms_between(t0, Clock::now());
    return reply;
  }
};

RenderWorker::RenderWorker(std::function<void()> on_reply, int nice) : state_(std::make_unique<State>()) {
  state_->nice = nice;
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
  state_->taken_partial = out->partial;
  return out;
}

bool RenderWorker::busy() const {
  std::lock_guard<std::mutex> lock(state_->mutex);
  return state_->running || state_->pending.has_value();
}

bool RenderWorker::has_reply() const {
  std::lock_guard<std::mutex> lock(state_->mutex);
  return state_->ready.has_value();
}

bool RenderWorker::wait_idle(double timeout_s) const {
  std::unique_lock<std::mutex> lock(state_->mutex);
  return state_->idle.wait_for(lock, std::chrono::duration<double>(timeout_s),
                               [&] { return !state_->running && !state_->pending; });
}

void RenderWorker::set_interrupt(std::function<bool()> interrupt) {
  std::lock_guard<std::mutex> lock(state_->mutex);
  state_->interrupt = std::move(interrupt);
}

std::uint64_t RenderWorker::dropped() const {
  std::lock_guard<std::mutex> lock(state_->mutex);
  return state_->dropped;
}

}  // namespace actmap
