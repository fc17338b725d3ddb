// actmap-cli import: a PyTorch checkpoint or NVIDIA network pickle -> safetensors (and a card).
#include <cstdio>
#include <filesystem>
#include <iostream>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "actmap/fetch/model_file.h"
#include "actmap/io/checkpoint_import.h"
#include "actmap/io/error.h"
#include "actmap/io/files.h"
#include "actmap/model/stylegan3_config.h"
#include "cli_common.h"

namespace actmap::cli {
namespace {

namespace fs = std::filesystem;

const char* format_text(const std::string& format) {
  if (format == "zip") return "zip (torch.save since PyTorch 1.6)";
  if (format == "legacy") return "legacy torch.save (before PyTorch 1.6)";
  if (format == "nvidia-pkl") return "NVIDIA network pickle";
  if (format == "tf-pkl") return "NVIDIA TensorFlow network pickle";
  if (format == "safetensors") return "safetensors";
  return "plain pickle";
}

}  // namespace

void register_import(CLI::App& app) {
  struct Options {
    std::string in, out, card;
    CheckpointConversion conversion;
  };
  auto opts = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand(
      "import",
      "Convert a PyTorch checkpoint (.pt/.pth, zip or legacy format), an NVIDIA network pickle (.pkl,\n"
      "PyTorch or TensorFlow) or a rosinality checkpoint to safetensors, without Python. Only tensors,\n"
      "arrays and plain containers are read: a file naming any other Python global is refused, and\n"
      "nothing in it is ever run. StyleGAN2 generators without an average W get one estimated.\n"
      "(--model FILE converts into the cache by itself; this writes where you say.) See docs/import.md.");
  cmd->add_option("input", opts->in, "Checkpoint to read (.pt, .pth, .ckpt, .pkl, .safetensors)")->required()->check(CLI::ExistingFile);
  cmd->add_option("-o,--output", opts->out, "safetensors file to write")->required();
  cmd->add_option("--card", opts->card,
                  "Also write a model card (JSON) for a StyleGAN2 or StyleGAN3 generator; other networks need a\n"
                  "hand-written layer list (see models/celeba32-fletcher.json)");
  cmd->add_option("--prefix", opts->conversion.import.prefix,
                  "Dotted key of the state dict inside the checkpoint (g_ema, state_dict, G_ema, ...; G, D or Gs\n"
                  "in a TensorFlow pickle); default: the root if it is a state dict, else g_ema, G_ema (Gs),\n"
                  "state_dict, generator, model");
  cmd->add_option("--key-map", opts->conversion.import.key_map,
                  "Rename keys: rosinality (rosinality/stylegan2-pytorch -> official StyleGAN2 names), none,\n"
                  "or auto (rosinality when its keys are present; TensorFlow pickles are always mapped)")
      ->check(CLI::IsMember({"auto", "none", "rosinality"}))
      ->capture_default_str();
  cmd->add_option("--w-avg", opts->conversion.w_avg_file,
                  "StyleGAN2: the average W to write (.npy [w_dim]) instead of the file's own or an estimate")
      ->check(CLI::ExistingFile);
  cmd->add_option("--name", opts->conversion.name, "Model name in the card (default: the output file's stem)");
  cmd->add_option("--license", opts->conversion.license, "License to record in the card")->capture_default_str();
  cmd->callback([opts] {
    const CheckpointConversionResult r = convert_checkpoint(opts->in, opts->out, opts->card, opts->conversion);
    std::printf("format:     %s\n", format_text(r.format));
    std::printf("prefix:     %s\n", r.prefix.empty() ? "(the root)" : r.prefix.c_str());
    std::printf("key map:    %s\n", r.key_map.c_str());
    std::printf("tensors:    %zu (%lld parameters, float32)\n", r.tensors, static_cast<long long>(r.parameters));
    if (!r.skipped.empty()) {
      std::printf("skipped:    %zu\n", r.skipped.size());
      for (std::size_t i = 0; i < r.skipped.size() && i < 10; ++i) std::printf("  %s\n", r.skipped[i].c_str());
      if (r.skipped.size() > 10) std::printf("  ... and %zu more\n", r.skipped.size() - 10);
    }
    for (const auto& line : r.report) std::printf("%s\n", line.c_str());
    const double kb = static_cast<double>(r.weights_bytes) / 1e3;
    std::printf("wrote %s (%.1f %s)\n", opts->out.c_str(), kb < 1000 ? kb : kb / 1e3, kb < 1000 ? "kB" : "MB");
    if (opts->card.empty()) return;
    std::printf("wrote %s (family %s, %lldx%lld, z_dim %lld)\n", opts->card.c_str(), r.family.c_str(),
                r.config.value("img_resolution", 0LL), r.config.value("img_resolution", 0LL), r.config.value("z_dim", 0LL));
  });
}

}  // namespace actmap::cli
