// The renderer runs latent -> image, caches every tap's activation and, when only edits changed,
// re-runs from the first tap whose edits changed, reusing everything cached before it.
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "actmap/edit/apply_edits.h"
#include "actmap/edit/edit.h"
#include "actmap/model/generator.h"
#include "actmap/session/session.h"

namespace actmap {

struct RenderTimings {
  std::size_t first_stage = 0;    // the stage the run started from (0: a full forward pass)
  std::vector<double> stage_ms;   // per stage, 0 for stages taken from the cache (or whose cached
                                  // output was reused because only the edits on it changed)
  std::vector<double> edit_ms;    // per stage, time spent applying its edits
  double total_ms = 0.0;          // to the output being ready, on the GPU too
  // On a GPU, stage_ms and edit_ms time only the queueing of work unless set_sync_stages(true).
};

struct RenderResult {
  at::Tensor output;  // the generator output [N, C, H, W], edits applied
  RenderTimings timings;
};

class Renderer {
 public:
  explicit Renderer(std::shared_ptr<const Generator> generator);

  // Renders latents z [N, latent_size] (or W+ for StyleGAN2) with the edits (disabled ones
  // skipped, applied in order) and the synthesis options. Throws actmap::Error for edits that name
  // unknown taps or channels; the cache stays valid.
  RenderResult render(const at::Tensor& z, const std::vector<Edit>& edits, const SynthesisOptions& options = {});

  // Replaces the activation at tap `tap` (after that tap's edits) of the last render by
  // `activation` (the same shape) and runs the stages after it again with `edits` (those of later
  // taps apply; pass the last render's). For experiments that set a tap's state directly. The
  // next render() re-runs from that tap, so the replacement does not stay. Throws actmap::Error
  // before a render or for another shape.
  RenderResult render_from(std::size_t tap, const at::Tensor& activation, const std::vector<Edit>& edits);

  // The output with no edits for the latents and options of the last render, from the cache: the
  // stages before the first edited tap are shared with the edited pass, so only the rest runs
  // again, and nothing does when no edit is enabled. Throws actmap::Error before a render.
  at::Tensor unedited_output() const;

  // Activations of the last render: after the edits at that tap, and before them.
  const at::Tensor& activation(std::size_t tap) const;
  const at::Tensor& unedited_activation(std::size_t tap) const;

  // Cluster labels per tap name, used by {"cluster": k} selectors. Changing them forgets the cache.
  void set_clusters(std::map<std::string, std::vector<int>> clusters);
  const std::map<std::string, std::vector<int>>& clusters() const { return clusters_; }

  void invalidate();  // forget the cache (e.g. after the weights changed)

  // On a GPU, wait for every stage to finish so that per-stage timings are true (slower: the GPU
  // idles while the next stage is queued). No effect on the CPU.
  void set_sync_stages(bool sync) { sync_stages_ = sync; }
  // Asked before every stage: when it returns true the render stops with actmap::Cancelled (the
  // cache stays valid up to there). For background renders that must give way to others.
  void set_interrupt(std::function<bool()> interrupt) { interrupt_ = std::move(interrupt); }
  const Generator& generator() const { return *generator_; }

 private:
  std::shared_ptr<const Generator> generator_;
  std::map<std::string, std::vector<int>> clusters_;
  at::Tensor z_;                       // the latents the cache belongs to
  SynthesisOptions options_;           // and their options
  bool sync_stages_ = false;
  std::function<bool()> interrupt_;
  struct EditPlan;                     // the enabled edits grouped by tap, with their signatures
  EditPlan plan_edits(const std::vector<Edit>& edits) const;
  void run_stages(std::size_t first, bool reuse_first, const EditPlan& plan, RenderResult& result);
  std::vector<std::string> signature_; // per tap: the edits applied there, as canonical JSON
  std::vector<std::string> weight_signature_;  // per tap: its weight edits alone
  TapState input_;                     // prepare(z)
  std::vector<TapState> edited_;       // per tap, after edits
  std::vector<at::Tensor> unedited_;   // per tap, before edits
};

// Renders a session (its latent, edits and clusters) with batch 1, so the GUI and actmap-cli give
// the same pixels. `seed` replaces the session's latent by a seeded one (edits carry over).
RenderResult render_session(Renderer& renderer, const Session& session, std::optional<std::uint64_t> seed = {});

// The session's latent as a [1, latent_size] tensor (or W+ [1, num_ws, w_dim]) on the generator's device.
at::Tensor session_latent(const Session& session, const Generator& generator);

}  // namespace actmap
