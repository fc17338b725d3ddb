#include "actmap/render/renderer.h"

#include <chrono>

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>
#include <torch/cuda.h>

#include "actmap/edit/weight_edits.h"
#include "actmap/io/error.h"
#include "actmap/io/progress.h"
#include "model/torch_util.h"

namespace actmap {
namespace {

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

// Waits for queued GPU work so timings mean something (without copying the tensor back); a
// no-op on the CPU.
void sync_device(const at::Tensor& t) {
  if (t.defined() && t.is_cuda()) torch::cuda::synchronize(t.device().index());
}

}  // namespace

Renderer::Renderer(std::shared_ptr<const Generator> generator) : generator_(std::move(generator)) {
  if (!generator_) throw Error("Renderer needs a generator");
}

void Renderer::set_clusters(std::map<std::string, std::vector<int>> clusters) {
  if (clusters == clusters_) return;
  clusters_ = std::move(clusters);
  invalidate();
}

void Renderer::invalidate() {
  z_ = at::Tensor();
  signature_.clear();
  weight_signature_.clear();
  edited_.clear();
  unedited_.clear();
}

struct Renderer::EditPlan {
  std::vector<std::vector<const Edit*>> per_tap, weight_edits;  // per tap: value edits, weight edits
  std::vector<std::string> signature, weight_signature;          // per tap, as canonical JSON
};

Renderer::EditPlan Renderer::plan_edits(const std::vector<Edit>& edits) const {
  // Group enabled edits by tap (checking every tap name first, so a bad edit changes nothing);
  // weight edits go to the stage itself.
  const std::size_t n = generator_->taps().size();
  EditPlan plan;
  plan.per_tap.resize(n);
  plan.weight_edits.resize(n);
  plan.signature.resize(n);
  plan.weight_signature.resize(n);
  for (const Edit& e : edits) {
    if (!e.enabled) continue;
    std::size_t i;
    try {
      i = generator_->tap_index(e.tap);
    } catch (const Error& err) {
      throw Error("edit '" + e.id + "': " + err.what());
    }
    (is_weight_op(e.op) ? plan.weight_edits : plan.per_tap)[i].push_back(&e);
    nlohmann::json j = e.to_json();
    j.erase("id");  // ids do not change pixels
    plan.signature[i] += j.dump();
    if (is_weight_op(e.op)) plan.weight_signature[i] += j.dump();
  }
  return plan;
}

RenderResult Renderer::render(const at::Tensor& z, const std::vector<Edit>& edits, const SynthesisOptions& options) {
  const auto t_start = std::chrono::steady_clock::now();
  c10::InferenceMode guard;
  const std::size_t n = generator_->taps().size();
  const EditPlan plan = plan_edits(edits);

  std::size_t first = 0;
  const bool same_latent = z_.defined() && edited_.size() == n && z_.sizes() == z.sizes() &&
                           z_.device() == z.device() && options_ == options && at::equal(z_, z);
  if (same_latent) {
    first = n;
    for (std::size_t i = 0; i < n; ++i) {
      if (plan.signature[i] != signature_[i]) {
        first = i;
        break;
      }
    }
  } else {
    invalidate();
    z_ = z.clone();
    options_ = options;
    input_ = generator_->prepare(z_, options_);
    edited_.resize(n);
    unedited_.resize(n);
    signature_.assign(n, std::string("\x01"));  // matches no real signature
    weight_signature_.assign(n, std::string("\x01"));
  }
  // The first stage to redo keeps its cached output when only the edits applied to that output
  // changed (not its weights): a stroke at a tap re-runs only the layers after it.
  const bool reuse_first = first < n && plan.weight_signature[first] == weight_signature_[first] &&
                           unedited_[first].defined() && edited_[first].x.defined();

  RenderResult result;
  result.timings.first_stage = first;  // n when everything came from the cache
  run_stages(first, reuse_first, plan, result);
  result.timings.total_ms = ms_since(t_start);
  return result;
}

RenderResult Renderer::render_from(std::size_t tap, const at::Tensor& activation, const std::vector<Edit>& edits) {
  const auto t_start = std::chrono::steady_clock::now();
  c10::InferenceMode guard;
  const auto& taps = generator_->taps();
  const std::size_t n = taps.size();
  if (tap >= n) throw Error("render_from: tap " + std::to_string(tap) + " out of range (" + std::to_string(n) + " taps)");
  if (edited_.size() != n || !edited_[tap].x.defined() || signature_[tap] == "\x01") {
    throw Error("render_from: render first; the activation of tap '" + taps[tap].name + "' replaces the last render's");
  }
  const at::Tensor& old = edited_[tap].x;
  if (activation.sizes() != old.sizes()) {
    std::string want, got;
    for (auto d : old.sizes()) want += (want.empty() ? "" : ", ") + std::to_string(d);
    for (auto d : activation.sizes()) got += (got.empty() ? "" : ", ") + std::to_string(d);
    throw Error("tap '" + taps[tap].name + "': the activation must have shape [" + want + "], got [" + got + "]");
  }
  const EditPlan plan = plan_edits(edits);
  edited_[tap].x = activation.to(old.device(), old.scalar_type()).contiguous();
  // Matches no render's edits, so the next render() applies this tap's edits to its cached output again.
  signature_[tap] = "\x02";
  RenderResult result;
  result.timings.first_stage = tap + 1;
  run_stages(tap + 1, false, plan, result);
  result.timings.total_ms = ms_since(t_start);
  return result;
}

void Renderer::run_stages(std::size_t first, bool reuse_first, const EditPlan& plan, RenderResult& result) {
  const auto& taps = generator_->taps();
  const std::size_t n = taps.size();
  result.timings.stage_ms.assign(n, 0.0);
  result.timings.edit_ms.assign(n, 0.0);
  const LatentContext latent{generator_.get(), z_, options_};
  for (std::size_t i = first; i < n; ++i) {
    try {
      if (interrupt_ && interrupt_()) throw Cancelled();
      const auto t0 = std::chrono::steady_clock::now();
      const auto labels = clusters_.find(taps[i].name);
      const TapState& in = i == 0 ? input_ : edited_[i - 1];
      TapState s;
      if (i == first && reuse_first) {
        s = edited_[i];  // its carried state; edits change only x
        s.x = unedited_[i];
      } else {
        s = plan.weight_edits[i].empty()
                ? generator_->run_stage(i, in)
                : run_stage_with_weight_edits(*generator_, i, in, plan.weight_edits[i],
                                              labels == clusters_.end() ? std::vector<int>{} : labels->second);
        if (sync_stages_) sync_device(s.x);
        result.timings.stage_ms[i] = ms_since(t0);
      }
      unedited_[i] = s.x;
      const auto t1 = std::chrono::steady_clock::now();
      s.x = apply_edits(s.x, plan.per_tap[i], taps[i], labels == clusters_.end() ? std::vector<int>{} : labels->second, &latent);
      if (sync_stages_) sync_device(s.x);
      result.timings.edit_ms[i] = ms_since(t1);
      edited_[i] = std::move(s);
      signature_[i] = plan.signature[i];
      weight_signature_[i] = plan.weight_signature[i];
    } catch (...) {
      // The cache from this tap on no longer matches its signature.
      for (std::size_t k = i; k < n; ++k) signature_[k] = weight_signature_[k] = std::string("\x01");
      try {
        throw;
      } catch (const c10::Error& e) {
        throw Error("stage " + std::to_string(i) + " ('" + taps[i].name + "'): " + torch_error_text(e));
      }
    }
  }
  result.output = edited_[n - 1].x;
  sync_device(result.output);
}

at::Tensor Renderer::unedited_output() const {
  const std::size_t n = edited_.size();
  if (n == 0 || !edited_[n - 1].x.defined()) throw Error("nothing rendered yet");
  std::size_t first = n;  // the first tap with an enabled edit
  for (std::size_t i = 0; i < n; ++i) {
    if (signature_[i] == "\x01") throw Error("the last render failed; nothing to compare with");
    if (!signature_[i].empty() && first == n) first = i;
  }
  if (first == n) return edited_[n - 1].x;
  c10::InferenceMode guard;
  TapState s;
  if (!weight_signature_[first].empty()) {
    s = generator_->run_stage(first, first == 0 ? input_ : edited_[first - 1]);  // the layer's own weights
  } else {
    s = edited_[first];  // the carried state (edits change only x)
    s.x = unedited_[first];
  }
  for (std::size_t i = first + 1; i < n; ++i) s = generator_->run_stage(i, s);
  sync_device(s.x);
  return s.x;
}

const at::Tensor& Renderer::activation(std::size_t tap) const {
  if (tap >= edited_.size() || !edited_[tap].x.defined()) throw Error("no activation cached for tap " + std::to_string(tap));
  return edited_[tap].x;
}

const at::Tensor& Renderer::unedited_activation(std::size_t tap) const {
  if (tap >= unedited_.size() || !unedited_[tap].defined()) throw Error("no activation cached for tap " + std::to_string(tap));
  return unedited_[tap];
}

}  // namespace actmap

namespace actmap {

at::Tensor session_latent(const Session& session, const Generator& generator) {
  const LatentSpec& spec = generator.card().latent;
  if (session.latent.is_ws()) {
    const auto shape = generator.card().w_plus();
    if (!shape) throw Error("the session's latent is W+, but model " + generator.card().name + " has no mapping network");
    const std::int64_t rows = shape->rows, w = shape->w_dim;
    if (static_cast<std::int64_t>(session.latent.z.size()) != rows * w) {
      throw Error("the session's W+ has " + std::to_string(session.latent.z.size()) + " values; model " +
                  generator.card().name + " needs " + std::to_string(rows) + " x " + std::to_string(w));
    }
    return at::from_blob(const_cast<float*>(session.latent.z.data()), {1, rows, w}, at::kFloat)
        .clone()
        .to(parse_device(generator.device()));
  }
  const std::vector<float> z = session.latent.values(spec);
  return latents_from_array(spec, {1, spec.size}, z, "the session's latent", generator.device());
}

RenderResult render_session(Renderer& renderer, const Session& session, std::optional<std::uint64_t> seed) {
  renderer.set_clusters(session.clusters);
  const Generator& gen = renderer.generator();
  const at::Tensor z = seed ? latents_from_seeds(gen.card().latent, *seed, 1, gen.device()) : session_latent(session, gen);
  return renderer.render(z, session.edits, session.synthesis);
}

}  // namespace actmap
