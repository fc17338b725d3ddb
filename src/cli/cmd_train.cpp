// actmap-cli train: train a DCGAN-family generator on a folder of images (src/core/train/train.cpp).
#include <csignal>
#include <cstdio>
#include <iostream>

#include <CLI/CLI.hpp>

#include "actmap/io/error.h"
#include "actmap/model/device.h"
#include "actmap/train/train.h"
#include "cli_common.h"

namespace actmap::cli {
namespace {

std::string shell_quote(const std::string& s) {
  const bool plain = !s.empty() && s.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                                       "0123456789_-./=:,+@%") == std::string::npos;
  if (plain) return s;
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

std::string join_command(const std::vector<std::string>& args) {
  std::string out;
  for (const auto& a : args) out += (out.empty() ? "" : " ") + shell_quote(a);
  return out;
}

// The same command with --resume CKPT instead of any --resume it had.
std::string resume_command(std::vector<std::string> args, const std::string& checkpoint) {
  for (std::size_t i = 1; i < args.size();) {
    if (args[i] == "--resume") args.erase(args.begin() + static_cast<std::ptrdiff_t>(i), args.begin() + static_cast<std::ptrdiff_t>(std::min(i + 2, args.size())));
    else if (args[i].rfind("--resume=", 0) == 0) args.erase(args.begin() + static_cast<std::ptrdiff_t>(i));
    else ++i;
  }
  args.push_back("--resume");
  args.push_back(checkpoint);
  return join_command(args);
}

// One line per epoch on stderr (see ProgressLine).
class ProgressPrinter {
 public:
  void operator()(const TrainProgress& p) {
    const bool last = p.epoch_done || p.step == p.end_step;
    if (!line_.due(last)) return;
    char text[256];
    std::snprintf(text, sizeof text, "epoch %d/%d %s %lld/%lld  %.1f img/s  D %.3f  G %.3f  ETA %s", p.epoch,
                  p.epochs, progress_bar(double(p.epoch_step) / double(p.steps_per_epoch)).c_str(),
                  static_cast<long long>(p.epoch_step), static_cast<long long>(p.steps_per_epoch),
                  p.images_per_second, p.d_loss, p.g_loss, clock_text(p.eta_seconds).c_str());
    line_.show(text, last);
  }
  void finish() { line_.finish(); }

 private:
  ProgressLine line_;
};

void report_unreadable(const TrainSummary& s) {
  if (s.unreadable.empty()) return;
  std::cout << "skipped " << s.unreadable.size() << " unreadable image" << (s.unreadable.size() > 1 ? "s" : "") << ":\n";
  for (std::size_t i = 0; i < s.unreadable.size() && i < 5; ++i) std::cout << "  " << s.unreadable[i].reason << "\n";
  if (s.unreadable.size() > 5) std::cout << "  ... (" << s.unreadable.size() - 5 << " more)\n";
}

}  // namespace

void register_train(CLI::App& app, const std::vector<std::string>& argv) {
  auto opts = std::make_shared<TrainOptions>();
  CLI::App* cmd = app.add_subcommand(
      "train",
      "Train a DCGAN-family generator (a dcgan or sequential card) and a DCGAN discriminator on a folder\n"
      "of JPEG/PNG images. Writes OUT.json (a model card), OUT.safetensors, OUT-checkpoint.safetensors\n"
      "and a sample grid per epoch in OUT-samples/. The same seed, data and --threads give the same\n"
      "weights; Ctrl+C saves a checkpoint to continue from with --resume.\n"
      "  actmap-cli train --card assets/training/faces64-dcgan.json --data faces/ --epochs 5 -o runs/faces.json");
  cmd->add_option("--card", opts->card, "Model card of the generator to train (its weights are not used)")->required();
  cmd->add_option("--data", opts->data, "Folder of .jpg/.jpeg/.png images, searched recursively")->required();
  cmd->add_option("-o,--out", opts->out, "Model card to write; weights, checkpoint and samples go beside it")->required();
  cmd->add_option("--size", opts->size, "Image size; must equal the card's output size (default: that size)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--epochs", opts->epochs, "Passes over the data")->check(CLI::PositiveNumber)->capture_default_str();
  cmd->add_option("--batch", opts->batch, "Images per step")->check(CLI::Range(2, 65536))->capture_default_str();
  cmd->add_option("--seed", opts->seed, "Seed of the initial weights, data order, latents and sample grid")->capture_default_str();
  cmd->add_option("--device", opts->device, "cpu, cuda or cuda:N (available: " + available_devices() + ")")->capture_default_str();
  cmd->add_option("--threads", opts->threads, "CPU threads of LibTorch (0: every core, or OMP_NUM_THREADS when set); resume with the same number")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--loader-threads", opts->loader_threads, "Threads decoding images ahead of training")
      ->check(CLI::Range(1, 64))->capture_default_str();
  cmd->add_option("--resume", opts->resume, "Continue from this checkpoint (same card, data, batch, seed)");
  cmd->add_option("--checkpoint-every", opts->checkpoint_every, "Also write the checkpoint every N steps (it is written after every epoch)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--max-steps", opts->max_steps, "Stop when N steps (counted from the start of training) are done")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--samples-dir", opts->samples_dir, "Where the per-epoch sample grids go (default: OUT-samples)");
  cmd->add_option("--samples", opts->sample_count, "Images in each sample grid (seeds SEED, SEED+1, ...)")
      ->check(CLI::Range(1, 1024))->capture_default_str();
  cmd->callback([opts, argv] {
    opts->command_line = join_command(argv);
    opts->stop = &install_stop_handlers();
    ProgressPrinter printer;
    TrainSummary s;
    try {
      s = train_gan(*opts, std::ref(printer));
    } catch (...) {
      printer.finish();
      throw;
    }
    printer.finish();
    report_unreadable(s);
    if (s.interrupted_by) {
      std::cerr << "actmap-cli: " << (s.interrupted_by == SIGINT ? "interrupted (SIGINT)" : "stopped (SIGTERM)")
                << " after step " << s.steps << "; checkpoint saved to " << s.checkpoint << "\n"
                << "resume with: " << resume_command(argv, s.checkpoint) << "\n";
      throw CLI::RuntimeError(128 + s.interrupted_by);
    }
    std::cout << "trained " << s.steps << " steps on " << s.images << " images in " << clock_text(s.seconds) << " ("
              << s.images_per_second << " images/s); last losses D " << s.d_loss << ", G " << s.g_loss << "\n"
              << "wrote " << s.card << " and " << s.weights << "\n"
              << "checkpoint " << s.checkpoint << (s.samples.empty() ? "" : ", samples " + s.samples.back()) << "\n";
  });
}

}  // namespace actmap::cli
