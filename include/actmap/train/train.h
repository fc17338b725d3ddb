// Training DCGAN-family generators (the `dcgan` family and layer-list `sequential` cards) against a
// DCGAN discriminator, deterministically and resumably. LibTorch's nn and optim types stay in the
// .cpp files; this header uses only ATen's Tensor, like generator.h.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>
#include <nlohmann/json.hpp>

#include "actmap/io/safetensors.h"
#include "actmap/model/model_card.h"
#include "actmap/train/train_data.h"

namespace actmap {

// The training image format a card implies: its output size (square, 4·2^k with k >= 1, so the
// discriminator halves it down to 4x4), channels (1 or 3) and range. `size` (0: the card's) must
// equal the output size. Errors name the card.
TrainingImageFormat training_format(const ModelCard& card, int size = 0);

// Channel widths of the discriminator's convolutions, input side first, one per halving from the
// image size down to 4x4: at each resolution the widest activation the generator has there (its
// mirror image; for the dcgan family exactly ndf = ngf), else twice the previous width (64 first).
std::vector<std::int64_t> discriminator_widths(const ModelCard& card);

// A generator (built from the card's layers, with parameter names equal to the card's weight keys)
// and its discriminator, each with Adam (lr 2e-4, betas 0.5 and 0.999), initialised as in the DCGAN
// paper: convolution and linear weights N(0, 0.02), batch-norm gamma N(1, 0.02), biases 0.
class GanTrainer {
 public:
  GanTrainer(const ModelCard& card, std::uint64_t seed, const std::string& device = "cpu");
  ~GanTrainer();
  GanTrainer(const GanTrainer&) = delete;
  GanTrainer& operator=(const GanTrainer&) = delete;

  struct Losses {
    double d = 0, g = 0;  // D: BCE on real (1) plus on G(z) (0); G: BCE of D(G(z)) against 1
  };
  // One optimisation step as in the DCGAN paper (non-saturating loss), batch norm in train mode:
  // a D step on `real` and G(z), then a G step. Tensors may live on any device.
  Losses step(const at::Tensor& real, const at::Tensor& z);

  // D alone, for tests and diagnostics: its loss on real (1) and fake (0) images in train mode,
  // and one Adam step of it on the same images (returning the loss before the step).
  double discriminator_loss(const at::Tensor& real, const at::Tensor& fake);
  double discriminator_step(const at::Tensor& real, const at::Tensor& fake);

  // The latents of optimisation step `step`: a LibTorch CPU generator seeded from (seed, step), so
  // a resumed run draws the same latents without carrying RNG state.
  at::Tensor latents(std::int64_t step, std::int64_t count) const;
  // G in eval mode (running statistics), without gradients: what load_generator would give.
  at::Tensor generate(const at::Tensor& z);

  // G's state dict as the card's loader expects it: parameters and batch-norm running statistics
  // (num_batches_tracked dropped), on the CPU.
  std::map<std::string, FloatTensor> generator_weights() const;

  // A checkpoint is one safetensors file: G and D tensors ("G.<key>", "D.<key>"), both Adam states
  // ("G.adam.<key>.exp_avg", ".exp_avg_sq", step counts in the metadata), and `position` (the
  // caller's JSON: step, data order, ...) as metadata "actmap_train". Loading checks every key
  // and shape and returns `position`.
  void save_checkpoint(const std::string& path, const nlohmann::json& position) const;
  nlohmann::json load_checkpoint(const std::string& path);

  const std::vector<std::int64_t>& discriminator_widths() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

struct TrainOptions {
  std::string card, data, out;  // out: the model card to write (weights beside it, same stem)
  int size = 0;                 // 0: the card's output size
  int epochs = 25, batch = 64;
  std::uint64_t seed = 0;
  std::string device = "cpu";
  int threads = 0;         // LibTorch CPU threads (0: every core); part of what makes a run repeatable
  int loader_threads = 2;  // image decoding; does not change the result
  std::string resume;      // a checkpoint to continue from
  std::int64_t checkpoint_every = 0;  // steps; checkpoints are also written after each epoch and at the end
  std::int64_t max_steps = 0;         // stop when the step count (counted from the start of training) reaches it
  std::string samples_dir;            // "": OUT-samples beside OUT
  int sample_count = 64;
  std::string command_line;           // recorded in the card
  const std::atomic<int>* stop = nullptr;  // a signal number here stops at the next step boundary
};

struct TrainProgress {
  std::int64_t step = 0, end_step = 0;  // steps done (from the start of training) and where this run stops
  int epoch = 0, epochs = 0;            // 1-based epoch the last step belonged to
  std::int64_t epoch_step = 0, steps_per_epoch = 0;
  double d_loss = 0, g_loss = 0;        // of the last step
  double images_per_second = 0;         // this run so far
  double eta_seconds = 0;
  bool epoch_done = false;
};

struct TrainSummary {
  std::int64_t steps = 0;          // total, from the start of training
  int interrupted_by = 0;          // the signal that stopped the run early, else 0
  std::string card, weights, checkpoint;  // files written (card and weights only when not interrupted)
  std::vector<std::string> samples;
  std::size_t images = 0, ignored_files = 0;
  std::vector<UnreadableImage> unreadable;
  double d_loss = 0, g_loss = 0;  // mean over the last (up to) 100 steps of this run
  double images_per_second = 0, seconds = 0;
};

// The whole run: data, training loop with prefetching, progress, samples after each epoch,
// checkpoints, and finally the weights (safetensors F32) and a model card beside `out`.
TrainSummary train_gan(const TrainOptions& options,
                       const std::function<void(const TrainProgress&)>& progress = {});

}  // namespace actmap
