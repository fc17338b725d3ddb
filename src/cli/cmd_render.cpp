// actmap-cli render: latents (seeds or an .npy) through the model, with optional edits, to PNG/NPY.
#include <filesystem>
#include <iostream>

#include <CLI/CLI.hpp>
#include <ATen/ATen.h>

#include "actmap/error.h"
#include "actmap/image.h"
#include "actmap/npy.h"
#include "actmap/renderer.h"
#include "cli_common.h"

namespace fs = std::filesystem;

namespace actmap::cli {

void register_render(CLI::App& app) {
  struct Options {
    ModelOptions model;
    std::uint64_t seed = 0;
    int count = 1;
    std::string z_path, out_png, tensor_out, dump_taps, edits_path;
  };
  auto opts = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand("render", "Render latents to a PNG (a grid when there are several)");
  add_model_options(*cmd, opts->model);
  auto* seed = cmd->add_option("--seed", opts->seed, "First seed; sample i uses seed+i")->capture_default_str();
  cmd->add_option("--count", opts->count, "Number of samples from consecutive seeds")
      ->check(CLI::Range(1, 4096))->capture_default_str()->needs(seed);
  auto* z = cmd->add_option("--z", opts->z_path, "Latents from .npy, shape [N, nz] or [N, nz, 1, 1]")->excludes(seed);
  seed->excludes(z);
  cmd->add_option("-o,--out", opts->out_png, "Output PNG")->required();
  cmd->add_option("--tensor-out", opts->tensor_out, "Also write the raw output as float32 .npy [N, C, H, W]");
  cmd->add_option("--dump-taps", opts->dump_taps, "Write every tap's activation as DIR/<tap>.npy");
  cmd->add_option("--edits", opts->edits_path, "Apply the edits in this JSON file ({\"edits\": [...]} or a list)");
  cmd->callback([opts] {
    const auto gen = open_model(opts->model);
    const ModelCard& card = gen->card();
    at::Tensor latents;
    if (!opts->z_path.empty()) {
      const FloatArray a = read_npy(opts->z_path);
      latents = latents_from_array(card.latent, a.shape, a.data, opts->z_path, opts->model.device);
    } else {
      latents = latents_from_seeds(card.latent, opts->seed, opts->count, opts->model.device);
    }
    std::vector<Edit> edits;
    if (!opts->edits_path.empty()) edits = load_edits(opts->edits_path);

    Renderer renderer(gen);
    const RenderResult r = renderer.render(latents, edits);
    write_png(opts->out_png, tile_images(output_to_images(r.output, card)));
    std::cout << "wrote " << opts->out_png << " (" << latents.size(0) << " sample" << (latents.size(0) > 1 ? "s" : "")
              << ", " << card.name << ", " << r.timings.total_ms << " ms)\n";
    if (!opts->tensor_out.empty()) {
      write_npy(opts->tensor_out, tensor_shape(r.output), tensor_to_floats(r.output).data());
      std::cout << "wrote " << opts->tensor_out << "\n";
    }
    if (!opts->dump_taps.empty()) {
      std::error_code ec;
      fs::create_directories(opts->dump_taps, ec);
      if (ec) throw Error(opts->dump_taps + ": cannot create directory: " + ec.message());
      for (std::size_t i = 0; i < gen->taps().size(); ++i) {
        const at::Tensor& a = renderer.activation(i);
        const std::string path = (fs::path(opts->dump_taps) / (gen->taps()[i].name + ".npy")).string();
        write_npy(path, tensor_shape(a), tensor_to_floats(a).data());
      }
      std::cout << "wrote " << gen->taps().size() << " taps to " << opts->dump_taps << "/\n";
    }
  });
}

}  // namespace actmap::cli
