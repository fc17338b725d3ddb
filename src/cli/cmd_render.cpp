// actmap-cli render: a session, or latents (seeds or an .npy) through a model with optional edits,
// to PNG/NPY.
#include <cstdio>
#include <filesystem>
#include <iostream>

#include <CLI/CLI.hpp>
#include <ATen/ATen.h>

#include "actmap/io/error.h"
#include "actmap/io/image.h"
#include "actmap/io/npy.h"
#include "actmap/render/renderer.h"
#include "actmap/session/session.h"
#include "cli_common.h"

namespace fs = std::filesystem;

namespace actmap::cli {
namespace {

constexpr std::size_t kSheetMax = 1024;  // images on a contact sheet

// W+ from .npy: [N, num_ws, w_dim] or [num_ws, w_dim], on the generator's device.
at::Tensor ws_from_npy(const std::string& path, const Generator& gen) {
  const auto cfg = gen.card().w_plus();
  if (!cfg) {
    throw Error("--ws: model " + gen.card().name + " (" + gen.card().family + ") has no W+; --ws needs a StyleGAN2 or StyleGAN3 model");
  }
  const FloatArray a = read_npy(path);
  const std::int64_t rows = cfg->rows, w = cfg->w_dim;
  std::vector<std::int64_t> shape = a.shape;
  if (shape.size() == 2) shape.insert(shape.begin(), 1);
  if (shape.size() != 3 || shape[0] < 1 || shape[1] != rows || shape[2] != w) {
    std::string got;
    for (auto d : a.shape) got += (got.empty() ? "" : ", ") + std::to_string(d);
    throw Error(path + ": W+ must have shape [N, " + std::to_string(rows) + ", " + std::to_string(w) + "] (num_ws, w_dim of " +
                gen.card().name + "), got [" + got + "]");
  }
  return at::from_blob(const_cast<float*>(a.data.data()), shape, at::kFloat).clone().to(at::Device(gen.device()));
}

// DIR/contact-sheet.png: the first kSheetMax images of the range, in seed order, from `images` or,
// when that is empty, from the seed-N.png files already in DIR (--sheet-only, after --shard runs).
void write_sheet(const std::string& dir, const SeedRange& range, std::vector<Image> images) {
  const std::uint64_t n = range.last - range.first + 1;
  if (images.empty()) {
    for (std::uint64_t i = 0; i < n && i < kSheetMax; ++i) {
      const fs::path p = fs::path(dir) / ("seed-" + std::to_string(range.first + i) + ".png");
      if (!fs::exists(p)) throw Error(p.string() + ": missing; render every shard of --seeds before --sheet-only");
      images.push_back(read_image(p.string()));
    }
  }
  const std::string sheet_path = (fs::path(dir) / "contact-sheet.png").string();
  write_png(sheet_path, tile_images(images));
  std::cout << "wrote " << sheet_path << " (" << (n > kSheetMax ? "the first " : "all ") << images.size()
            << " in a grid, seeds in reading order)\n";
}

void write_outputs(const at::Tensor& out, const ModelCard& card, const std::string& png, const std::string& npy) {
  write_png(png, tile_images(output_to_images(out, card)));
  if (!npy.empty()) write_npy(npy, tensor_shape(out), tensor_to_floats(out).data());
}

}  // namespace

void register_render(CLI::App& app) {
  struct Options {
    ModelOptions model;
    std::string session;
    std::uint64_t seed = 0;
    int count = 1;
    std::string seeds, z_path, out, tensor_out, dump_taps, edits_path, ws_path, ws_out, shard, dask;
    bool no_sheet = false, sheet_only = false;
    double truncation = 1.0;
    std::int64_t truncation_cutoff = 0;
    std::string noise = "const";
    std::uint64_t noise_seed = 0;
    double input_rotate = 0.0;
    std::vector<double> input_translate;
  };
  auto opts = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand(
      "render",
      "Render a session, or latents through a model, to a PNG (a grid when there are several).\n"
      "  actmap-cli render SESSION.json -o out.png              the session as saved\n"
      "  actmap-cli render SESSION.json --seed 7 -o out.png     its edits on another latent\n"
      "  actmap-cli render SESSION.json --seeds 0-99 -o DIR/    its edits on each seed: DIR/seed-N.png\n"
      "                                                          and DIR/contact-sheet.png with all of them\n"
      "  actmap-cli render SESSION.json --seeds 0-99 --shard 2/4 -o DIR/   the second quarter of them (a job array)\n"
      "  actmap-cli render -m MODEL --seed 0 --count 16 -o grid.png");
  cmd->add_option("session", opts->session, "A session file (model, latent and edits come from it)");
  add_model_options(*cmd, opts->model);
  auto* seed = cmd->add_option("--seed", opts->seed, "Seed of the latent (with --count: the first of consecutive seeds)");
  auto* count = cmd->add_option("--count", opts->count, "Number of samples from consecutive seeds, in one grid")
                    ->check(CLI::Range(1, 4096))->needs(seed);
  auto* seeds = cmd->add_option("--seeds", opts->seeds, "A-B: render each seed from A to B to its own file; -o is then a directory")
                    ->excludes(seed);
  auto* z = cmd->add_option("--z", opts->z_path, "Latents from .npy, shape [N, nz] or [N, nz, 1, 1]")->excludes(seed)->excludes(seeds);
  cmd->add_option("-o,--out", opts->out, "Output PNG (a directory with --seeds)")->required();
  auto* no_sheet = cmd->add_flag("--no-sheet", opts->no_sheet, "With --seeds: no contact-sheet.png")->needs(seeds);
  auto* shard = cmd->add_option("--shard", opts->shard,
                                "K/N with --seeds: render only the K-th of N equal runs of the seeds (no contact sheet), e.g.\n"
                                "one task of a Slurm job array; the union of all N is what one process writes")
                    ->needs(seeds);
  cmd->add_option("--dask", opts->dask,
                  "SCHEDULER_ADDRESS with a session and --seeds: render on a Dask cluster (actmap.distributed; the\n"
                  "workers write DIR/, which they must share) instead of in this process")
      ->needs(seeds)->excludes(shard);
  cmd->add_flag("--sheet-only", opts->sheet_only,
                "With --seeds: only write DIR/contact-sheet.png from the seed-N.png files already there (after --shard runs)")
      ->needs(seeds)->excludes(shard)->excludes(no_sheet);
  cmd->add_option("--tensor-out", opts->tensor_out, "Also write the raw output as float32 .npy [N, C, H, W]")
                     ->excludes(seeds);
  cmd->add_option("--dump-taps", opts->dump_taps, "Write every tap's activation as DIR/<tap>.npy")->excludes(seeds);
  auto* edits = cmd->add_option("--edits", opts->edits_path, "Apply the edits in this JSON file ({\"edits\": [...]} or a list)");
  // StyleGAN2: truncation, noise, explicit W+.
  cmd->add_option("--truncation", opts->truncation, "StyleGAN2: truncation psi (1 = none; 0.7 is a common choice)")
      ->check(CLI::Range(-100.0, 100.0));
  cmd->add_option("--truncation-cutoff", opts->truncation_cutoff, "StyleGAN2: truncate only the first N rows of W+ (default: all)")
      ->check(CLI::Range(std::int64_t{0}, std::int64_t{100000}));
  cmd->add_option("--noise", opts->noise, "StyleGAN2 noise inputs: const (the stored maps), random (seeded by --noise-seed) or none")
      ->check(CLI::IsMember({"const", "random", "none"}));
  cmd->add_option("--noise-seed", opts->noise_seed, "StyleGAN2: seed of --noise random");
  add_class_options(*cmd, opts->model);
  auto* ws = cmd->add_option("--ws", opts->ws_path, "StyleGAN2: render this W+ (.npy [N, num_ws, w_dim]); skips the mapping")
                 ->excludes(seed)->excludes(seeds)->excludes(z);
  cmd->add_option("--ws-out", opts->ws_out, "StyleGAN2: write the W+ used (after W+ edits) as .npy [N, num_ws, w_dim]")
      ->excludes(seeds);
  // StyleGAN3: the input transform, as gen_images.py's --rotate and --translate.
  cmd->add_option("--input-rotate", opts->input_rotate, "StyleGAN3: rotate the image by DEG degrees (gen_images.py --rotate)")
      ->check(CLI::Range(-1e6, 1e6));
  cmd->add_option("--input-translate", opts->input_translate,
                  "StyleGAN3: move the image by X,Y image widths (gen_images.py --translate)")
      ->delimiter(',')->expected(2)->check(CLI::Range(-1e6, 1e6));
  cmd->callback([opts, cmd, count, z, edits, ws] {
    if (!opts->dask.empty()) {
      if (opts->session.empty()) throw Error("--dask renders a session: give SESSION.json");
      for (const char* o : {"--model", "--edits", "--truncation", "--truncation-cutoff", "--noise", "--noise-seed", "--sheet-only",
                            "--class", "--c", "--w-avg", "--input-rotate", "--input-translate"}) {
        if (cmd->count(o)) throw Error(std::string(o) + " does not go with --dask (the session says it all)");
      }
      if (opts->model.fp16) throw Error(kFp16NotOnDask);
      parse_seed_range(opts->seeds);
      load_session_file(opts->session);  // converts a checkpoint the session names before the workers need it
      std::vector<std::string> args = {"render-seeds", opts->session, "--seeds", opts->seeds, "-o", opts->out,
                                       "--device", opts->model.device};
      if (opts->no_sheet) args.push_back("--no-sheet");
      if (cmd->count("--threads")) args.insert(args.end(), {"--threads", std::to_string(opts->model.threads)});
      run_on_dask(args, opts->dask);
    }
    if (opts->sheet_only) {
      if (opts->session.empty() && !cmd->count("--model")) throw Error("--sheet-only goes with a session or --model, as the renders did");
      write_sheet(opts->out, parse_seed_range(opts->seeds), {});
      return;
    }
    std::shared_ptr<const Generator> gen;
    std::vector<Edit> edit_list;
    std::optional<Session> session;
    if (!opts->session.empty()) {
      if (cmd->count("--model")) throw Error("a session names its model; drop --model (or edit the session's \"model\")");
      for (auto* o : {count, z, edits}) {
        if (o->count()) throw Error(o->get_name() + " does not go with a session (use --seed or --seeds)");
      }
      session = load_session_file(opts->session);
      gen = open_session_model(*session, opts->model);
      edit_list = session->edits;
    } else {
      gen = open_model(opts->model);
      if (!opts->edits_path.empty()) edit_list = load_edits(opts->edits_path);
    }
    const ModelCard& card = gen->card();
    Renderer renderer(gen);
    // Synthesis options: the session's, with any flag given on top.
    SynthesisOptions synthesis = session ? session->synthesis : SynthesisOptions{};
    const bool synthesis_flags = cmd->count("--truncation") + cmd->count("--truncation-cutoff") + cmd->count("--noise") +
                                 cmd->count("--noise-seed") + cmd->count("--ws") + cmd->count("--ws-out") +
                                 cmd->count("--class") + cmd->count("--c") > 0;
    if (synthesis_flags && !gen->has_mapping()) {
      throw Error("--truncation, --truncation-cutoff, --noise, --noise-seed, --ws, --ws-out, --class and --c need a StyleGAN2 "
                  "or StyleGAN3 model; " + card.name + " is " + card.family);
    }
    apply_class_options(opts->model, synthesis);
    if (card.stylegan2 && card.stylegan2->c_dim > 0 && !synthesis.has_label()) {
      std::cerr << "note: " << card.name << " is conditional (" << card.stylegan2->c_dim
                << " classes): rendering class 0; choose one with --class K or --c FILE.npy\n";
    }
    if ((cmd->count("--input-rotate") || cmd->count("--input-translate")) && !card.stylegan3) {
      throw Error("--input-rotate and --input-translate need a StyleGAN3 model; " + card.name + " is " + card.family);
    }
    if (cmd->count("--input-rotate")) synthesis.input_rotate = opts->input_rotate;
    if (cmd->count("--input-translate")) synthesis.input_translate = {opts->input_translate.at(0), opts->input_translate.at(1)};
    if (cmd->count("--truncation")) synthesis.truncation_psi = opts->truncation;
    if (cmd->count("--truncation-cutoff")) synthesis.truncation_cutoff = opts->truncation_cutoff;
    if (cmd->count("--noise")) synthesis.noise_mode = *noise_mode_from_name(opts->noise);
    if (cmd->count("--noise-seed")) synthesis.noise_seed = opts->noise_seed;
    if (session) session->synthesis = synthesis;

    if (!opts->seeds.empty()) {
      SeedRange range = parse_seed_range(opts->seeds);
      const bool sharded = !opts->shard.empty();
      if (sharded) {
        const Shard part = parse_shard(opts->shard);
        const auto all = static_cast<std::int64_t>(range.last - range.first + 1);
        if (part.first(all) == part.end(all)) {
          std::cout << "shard " << opts->shard << ": no seeds (" << all << " seeds in " << part.n << " shards)\n";
          return;
        }
        range = {range.first + static_cast<std::uint64_t>(part.first(all)), range.first + static_cast<std::uint64_t>(part.end(all) - 1)};
      }
      std::error_code ec;
      fs::create_directories(opts->out, ec);
      if (ec) throw Error(opts->out + ": cannot create directory: " + ec.message());
      double total_ms = 0.0;
      std::vector<Image> sheet;
      const bool want_sheet = !opts->no_sheet && !sharded;
      const std::int64_t n = static_cast<std::int64_t>(range.last - range.first + 1);
      ProgressBar progress("render");
      for (std::uint64_t s = range.first;; ++s) {
        const RenderResult r = session ? render_session(renderer, *session, s)
                                       : renderer.render(latents_from_seeds(card.latent, s, 1, gen->device()), edit_list, synthesis);
        total_ms += r.timings.total_ms;
        Image image = output_to_images(r.output, card).front();
        write_png((fs::path(opts->out) / ("seed-" + std::to_string(s) + ".png")).string(), image);
        if (want_sheet && sheet.size() < kSheetMax) sheet.push_back(std::move(image));
        progress(static_cast<std::int64_t>(s - range.first + 1), n);
        if (s == range.last) break;
      }
      progress.finish();
      std::cout << "wrote " << n << " images to " << opts->out << "/ (seed-" << range.first << ".png .. seed-" << range.last
                << ".png, " << card.name << ", " << total_ms << " ms)\n";
      if (want_sheet) write_sheet(opts->out, range, std::move(sheet));
      return;
    }

    RenderResult r;
    if (session && ws->count()) {
      renderer.set_clusters(session->clusters);
      r = renderer.render(ws_from_npy(opts->ws_path, *gen), session->edits, synthesis);
    } else if (session) {
      r = render_session(renderer, *session, cmd->count("--seed") > 0 ? std::optional<std::uint64_t>(opts->seed) : std::nullopt);
    } else {
      at::Tensor latents;
      if (ws->count()) {
        latents = ws_from_npy(opts->ws_path, *gen);
      } else if (!opts->z_path.empty()) {
        const FloatArray a = read_npy(opts->z_path);
        latents = latents_from_array(card.latent, a.shape, a.data, opts->z_path, opts->model.device);
      } else {
        latents = latents_from_seeds(card.latent, opts->seed, opts->count, opts->model.device);
      }
      r = renderer.render(latents, edit_list, synthesis);
    }
    write_outputs(r.output, card, opts->out, opts->tensor_out);
    const auto n = r.output.size(0);
    std::cout << "wrote " << opts->out << " (" << n << " sample" << (n > 1 ? "s" : "") << ", " << card.name << ", "
              << r.timings.total_ms << " ms)\n";
    if (!opts->tensor_out.empty()) std::cout << "wrote " << opts->tensor_out << "\n";
    if (!opts->ws_out.empty()) {
      const at::Tensor w = renderer.activation(gen->tap_index("mapping")).squeeze(2).contiguous();
      write_npy(opts->ws_out, tensor_shape(w), tensor_to_floats(w).data());
      std::cout << "wrote " << opts->ws_out << " (W+ " << w.size(0) << " x " << w.size(1) << " x " << w.size(2) << ")\n";
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
