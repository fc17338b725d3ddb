// actmap-cli import: a PyTorch checkpoint or NVIDIA network pickle -> safetensors (and a card).
#include <cstdio>
#include <filesystem>
#include <iostream>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

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
  return "plain pickle";
}

}  // namespace

void register_import(CLI::App& app) {
  struct Options {
    std::string in, out, card, name;
    std::string license = "unknown: state the checkpoint's license";
    ImportOptions import;
  };
  auto opts = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand(
      "import",
      "Convert a PyTorch checkpoint (.pt/.pth, zip or legacy format) or an NVIDIA network pickle (.pkl) to\n"
      "safetensors, without Python. Only tensors and plain containers are read: a file naming any other\n"
      "Python global is refused, and nothing in it is ever run. See docs/import.md.");
  cmd->add_option("input", opts->in, "Checkpoint to read (.pt, .pth, .ckpt, .pkl)")->required()->check(CLI::ExistingFile);
  cmd->add_option("-o,--output", opts->out, "safetensors file to write")->required();
  cmd->add_option("--card", opts->card,
                  "Also write a model card (JSON) for a StyleGAN2 or StyleGAN3 generator; other networks need a\n"
                  "hand-written layer list (see models/celeba32-fletcher.json)");
  cmd->add_option("--prefix", opts->import.prefix,
                  "Dotted key of the state dict inside the checkpoint (g_ema, state_dict, G_ema, ...);\n"
                  "default: the root if it is a state dict, else g_ema, G_ema, state_dict, generator, model");
  cmd->add_option("--key-map", opts->import.key_map,
                  "Rename keys: rosinality (rosinality/stylegan2-pytorch -> official StyleGAN2 names), none,\n"
                  "or auto (rosinality when its keys are present)")
      ->check(CLI::IsMember({"auto", "none", "rosinality"}))
      ->capture_default_str();
  cmd->add_option("--name", opts->name, "Model name in the card (default: the output file's stem)");
  cmd->add_option("--license", opts->license, "License to record in the card")->capture_default_str();
  cmd->callback([opts] {
    const ImportResult r = import_checkpoint(opts->in, opts->import);
    std::int64_t parameters = 0;
    for (const auto& [k, t] : r.tensors) parameters += static_cast<std::int64_t>(t.data.size());
    std::printf("format:     %s\n", format_text(r.format));
    std::printf("prefix:     %s\n", r.prefix.empty() ? "(the root)" : r.prefix.c_str());
    std::printf("key map:    %s\n", r.key_map.c_str());
    std::printf("tensors:    %zu (%lld parameters, float32)\n", r.tensors.size(), static_cast<long long>(parameters));
    if (!r.skipped.empty()) {
      std::printf("skipped:    %zu\n", r.skipped.size());
      for (std::size_t i = 0; i < r.skipped.size() && i < 10; ++i) std::printf("  %s\n", r.skipped[i].c_str());
      if (r.skipped.size() > 10) std::printf("  ... and %zu more\n", r.skipped.size() - 10);
    }
    for (const auto& n : r.notes) std::printf("note: %s\n", n.c_str());

    nlohmann::json config = r.config;
    const bool stylegan3 = is_stylegan3_state_dict(r.tensors);
    if (!opts->card.empty()) {
      if (!is_stylegan2_state_dict(r.tensors) && !stylegan3) {
        throw Error("--card: " + opts->in + " is not a StyleGAN2 or StyleGAN3 generator (no mapping.fc0.weight with "
                    "synthesis.b4.const or synthesis.input.freqs after the key map), so its architecture cannot be read off "
                    "the weights; write the card's layer list by hand (models/celeba32-fletcher.json is an example) and "
                    "point it at " + opts->out);
      }
      if (config.is_null()) {
        std::vector<std::string> notes;
        config = stylegan3 ? infer_stylegan3_config(r.tensors, &notes) : infer_stylegan2_config(r.tensors, &notes);
        for (const auto& n : notes) std::printf("note: %s\n", n.c_str());
      }
    }

    std::map<std::string, std::string> metadata = {{"source", fs::path(opts->in).filename().string()},
                                                   {"source_format", r.format},
                                                   {"prefix", r.prefix},
                                                   {"key_map", r.key_map}};
    const std::string bytes = encode_safetensors(r.tensors, metadata);
    write_file_atomic(opts->out, bytes);
    const double kb = static_cast<double>(bytes.size()) / 1e3;
    std::printf("wrote %s (%.1f %s)\n", opts->out.c_str(), kb < 1000 ? kb : kb / 1e3, kb < 1000 ? "kB" : "MB");
    if (opts->card.empty()) return;

    const fs::path card_dir = fs::absolute(opts->card).parent_path();
    const std::string name = opts->name.empty() ? fs::path(opts->out).stem().string() : opts->name;
    std::string description = "Imported by actmap-cli import from " + fs::path(opts->in).filename().string() + " (" +
                              format_text(r.format) + (r.prefix.empty() ? "" : ", state dict '" + r.prefix + "'") +
                              (r.key_map == "none" ? "" : ", " + r.key_map + " key names mapped to the official ones") + ").";
    const nlohmann::json card = {
        {"actmap_model_card", 1},
        {"name", name},
        {"family", stylegan3 ? "stylegan3" : "stylegan2"},
        {"description", description},
        {"license", opts->license},
        {"config", config},
        {"weights", {{"path", fs::absolute(opts->out).lexically_relative(card_dir).string()},
                     {"sha256", sha256_hex(bytes.data(), bytes.size())}}}};
    write_file_atomic(opts->card, card.dump(2) + "\n");
    std::printf("wrote %s (family %s, %lldx%lld, z_dim %lld)\n", opts->card.c_str(), stylegan3 ? "stylegan3" : "stylegan2",
                config.value("img_resolution", 0LL), config.value("img_resolution", 0LL), config.value("z_dim", 0LL));
  });
}

}  // namespace actmap::cli
