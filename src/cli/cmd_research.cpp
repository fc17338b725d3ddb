// actmap-cli sweep, sensitivity, import-bending, export-bending, report: tools for students and
// researchers (docs/research.md).
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include <CLI/CLI.hpp>

#include "actmap/analysis/bending.h"
#include "actmap/analysis/report.h"
#include "actmap/analysis/sensitivity.h"
#include "actmap/analysis/sweep.h"
#include "actmap/io/error.h"
#include "actmap/io/files.h"
#include "actmap/model/generator.h"
#include "actmap/render/renderer.h"
#include "actmap/session/session.h"
#include "cli_common.h"

namespace actmap::cli {
namespace {

std::string shell_quote(const std::string& s) {
  if (!s.empty() && s.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_./:=@+-,") ==
                        std::string::npos) {
    return s;
  }
  std::string out = "'";
  for (const char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

void parse_op(const std::string& text, SensitivityOptions& o) {
  if (text == "ablate") {
    o.ablate = true;
    return;
  }
  if (text.rfind("scale:", 0) == 0) {
    const std::string f = text.substr(6);
    char* end = nullptr;
    const double v = std::strtod(f.c_str(), &end);
    if (!f.empty() && end && *end == '\0' && std::isfinite(v)) {
      o.ablate = false;
      o.factor = v;
      return;
    }
  }
  throw Error("--op: expected 'ablate' or 'scale:FACTOR' (e.g. scale:2), got '" + text + "'");
}

void register_sweep(CLI::App& app) {
  struct Options {
    ModelOptions model;
    std::string session, edit, out, csv;
    std::vector<std::string> taps;
    bool network_bending = false;
    int tile = 0, columns = 8;
  };
  auto opts = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand(
      "sweep",
      "Depth sweep: apply one edit of a session at every tap in turn (coordinates rescaled to each\n"
      "tap, channels mapped by fraction; taps where the op cannot act are skipped and say why) and\n"
      "write a labelled strip with the mean |change| of the output per depth (docs/research.md).\n"
      "  actmap-cli sweep session.json --edit e1 -o strip.png --csv stats.csv");
  cmd->add_option("session", opts->session, "The session (model, latent, edits)")->required();
  cmd->add_option("--edit", opts->edit, "The id of the edit to sweep (e.g. e1)")->required();
  cmd->add_option("-o,--output", opts->out, "The strip (PNG)")->required();
  cmd->add_option("--csv", opts->csv, "Also write tap,height,width,channels,applied,mean_abs_change,ms,note");
  cmd->add_option("--tile", opts->tile, "Side of each output tile in pixels (0: automatic)")->check(CLI::Range(0, 1024));
  cmd->add_option("--columns", opts->columns, "Tiles per row")->check(CLI::Range(1, 256))->capture_default_str();
  auto* taps = cmd->add_option("--taps", opts->taps, "Only these taps (comma-separated)")->delimiter(',');
  cmd->add_flag("--network-bending", opts->network_bending,
                "Network Bending's sample strip: its layers only (the synthesis convolutions; layer 0, b4.conv1, "
                "stays unbent as there)")
      ->excludes(taps);
  add_device_options(*cmd, opts->model);
  add_class_options(*cmd, opts->model);
  cmd->callback([opts] {
    Session session = load_session_file(opts->session);
    apply_class_options(opts->model, session.synthesis);
    Renderer renderer(open_session_model(session, opts->model));
    SweepOptions options;
    options.taps = opts->taps;
    options.network_bending = opts->network_bending;
    SweepResult sweep;
    {
      ProgressBar progress("sweep " + opts->edit);
      sweep = sweep_edit(renderer, session, opts->edit, std::ref(progress), options);
    }
    write_png(opts->out, sweep_strip(sweep, opts->tile, opts->columns));
    int applied = 0;
    for (const auto& s : sweep.steps) {
      if (s.applied) ++applied;
      std::printf("%-14s %5lldx%-5lld %5lld ch  %s\n", s.tap.name.c_str(), static_cast<long long>(s.tap.height),
                  static_cast<long long>(s.tap.width), static_cast<long long>(s.tap.channels),
                  s.applied ? ("mean |change| " + std::to_string(s.mean_abs_change)).c_str()
                            : ("skipped: " + s.skipped).c_str());
    }
    std::printf("%d of %zu taps in %.0f ms; wrote %s\n", applied, sweep.steps.size(), sweep.total_ms, opts->out.c_str());
    if (!opts->csv.empty()) {
      write_file_atomic(opts->csv, sweep_csv(sweep));
      std::cout << "wrote " << opts->csv << "\n";
    }
  });
}

void register_sensitivity(CLI::App& app) {
  struct Options {
    ModelOptions model;
    SensitivityOptions sens;
    std::string tap, op = "ablate", out, truncation_text;
    int top = 10;
  };
  auto opts = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand(
      "sensitivity",
      "Channel sensitivity: how much the output changes (mean |change| of 8-bit pixels) when each\n"
      "channel of a tap alone is ablated or scaled, averaged over seeded latents; batches the channels\n"
      "and re-runs only the layers after the tap (docs/research.md).\n"
      "  actmap-cli sensitivity -m faces64 --tap main.8 --samples 16 -o sens.csv");
  add_model_options(*cmd, opts->model);
  add_class_options(*cmd, opts->model);
  cmd->add_option("--tap", opts->tap, "The tap whose channels to measure")->required();
  cmd->add_option("--samples", opts->sens.samples, "Latents (seeds SEED, SEED+1, ...)")->check(CLI::Range(1, 100000))->capture_default_str();
  cmd->add_option("--seed", opts->sens.seed, "First seed")->capture_default_str();
  cmd->add_option("--op", opts->op, "ablate | scale:FACTOR")->capture_default_str();
  cmd->add_option("--batch", opts->sens.batch, "Copies per forward pass")->check(CLI::Range(1, 4096))->capture_default_str();
  cmd->add_option("--top", opts->top, "Channels to print")->check(CLI::Range(0, 100000))->capture_default_str();
  cmd->add_option("-o,--output", opts->out, "CSV: rank,channel,mean_abs_change (every channel)");
  cmd->callback([opts] {
    parse_op(opts->op, opts->sens);
    apply_class_options(opts->model, opts->sens.synthesis);
    const auto gen = open_model(opts->model);
    gen->tap_index(opts->tap);
    SensitivityResult r;
    {
      ProgressBar progress("sensitivity " + opts->tap);
      r = channel_sensitivity(*gen, opts->tap, opts->sens, std::ref(progress));
    }
    std::printf("%s: %zu channels, %d samples, %s, %.0f ms\nrank  channel  mean |change|\n", opts->tap.c_str(), r.change.size(),
                r.samples, opts->op.c_str(), r.ms);
    const auto order = r.ranking();
    for (std::size_t i = 0; i < order.size() && i < static_cast<std::size_t>(opts->top); ++i) {
      std::printf("%4zu  %7d  %12.4f\n", i + 1, order[i], r.change[static_cast<std::size_t>(order[i])]);
    }
    if (!opts->out.empty()) {
      write_file_atomic(opts->out, sensitivity_csv(r));
      std::cout << "wrote " << opts->out << "\n";
    }
  });
}

void register_bending(CLI::App& app) {
  struct Options {
    std::string config, model, clusters, out, session, clusters_out;
    int seed = 0;
    std::uint64_t random_seed = 0;
    int random_stream = 0;
    bool strict = false;
  };
  auto opts = std::make_shared<Options>();
  CLI::App* imp = app.add_subcommand(
      "import-bending",
      "Import a Network Bending YAML config (transforms: layer, transform, params, features,\n"
      "feature-param; or its sample-strip config), the bending report's operation template\n"
      "(resolution, install_after, layers) or an Autolume preset (a folder with layer.pkl, or the file)\n"
      "into a new session on a StyleGAN2 model, each read as its authors' code reads it. Layer numbers\n"
      "count the synthesis convolutions (0 = b4.conv1, never bent; 1 = b8.conv0, 2 = b8.conv1, ...).\n"
      "What Network Bending would skip or ignore is left out with a note; --strict makes notes errors.\n"
      "The tables and the original code behind them are in docs/research.md.\n"
      "  actmap-cli import-bending config.yaml --model ffhq256.json --clusters clusters.yaml -o s.json");
  imp->add_option("config", opts->config, "The YAML config or template, or an Autolume preset")->required();
  imp->add_option("-m,--model", opts->model, "A StyleGAN2 model card (path or name)")->required();
  imp->add_option("--clusters", opts->clusters,
                  "A cluster dictionary: Network Bending's (LAYER: [{cluster_index, feature_index}]) or TAP: [labels]");
  imp->add_option("--seed", opts->seed, "The session's latent seed")->capture_default_str();
  imp->add_option("--random-seed", opts->random_seed,
                  "Transform i of the config draws its random features with seed RANDOM_SEED + i (as Python's random.seed)")
      ->capture_default_str();
  imp->add_option("--random-stream", opts->random_stream,
                  "Draw every random transform from one Python stream seeded with --random-seed, as Network Bending "
                  "does after random.seed(RANDOM_SEED), after N passes over the config (1: one call of util.py's "
                  "create_transforms_dict_list; 2: a run of generate.py, which makes two); 0: a seed per transform")
      ->check(CLI::Range(0, 16))->capture_default_str();
  imp->add_flag("--strict", opts->strict, "Every note (what is skipped or ignored) is an error");
  imp->add_option("-o,--output", opts->out, "The session to write")->required();
  imp->callback([opts] {
    const std::string card_path = resolve_model_card(opts->model);
    const ModelCard card = load_model_card(card_path);
    BendingOptions options;
    options.strict = opts->strict;
    options.random_seed = opts->random_seed;
    options.random_stream = opts->random_stream;
    std::string source = opts->config;
    std::error_code ec;
    if (std::filesystem::is_directory(source, ec)) source = (std::filesystem::path(source) / "layer.pkl").string();
    BendingImport in;
    if (source.size() >= 4 && source.compare(source.size() - 4, 4, ".pkl") == 0) {
      if (!opts->clusters.empty()) throw Error("--clusters: an Autolume preset names its channels itself");
      const std::string bytes = read_file_text(source);
      in = import_autolume_preset(std::vector<std::uint8_t>(bytes.begin(), bytes.end()), source, card, options);
    } else {
      in = import_bending(read_file_text(source), source, card, opts->clusters.empty() ? "" : read_file_text(opts->clusters),
                          opts->clusters, options);
    }
    Session s = new_session(opts->model);
    s.latent = SessionLatent::from_seed(static_cast<std::uint64_t>(opts->seed));
    s.edits = in.edits;
    s.clusters = in.clusters;
    s.notes = "imported from " + opts->config + (opts->clusters.empty() ? "" : " with clusters " + opts->clusters);
    check_session_against_card(s, card);
    save_session(s, opts->out);
    for (const auto& n : in.notes) std::cerr << "note: " << n << "\n";
    std::printf("wrote %s: %zu edits on %s\n", opts->out.c_str(), s.edits.size(), card.name.c_str());
    if (!in.strip_edit.empty()) {
      std::printf("its strip: actmap-cli sweep %s --edit %s --network-bending -o strip.png\n", opts->out.c_str(),
                  in.strip_edit.c_str());
    }
  });

  CLI::App* exp = app.add_subcommand(
      "export-bending",
      "Export a session's edits as a Network Bending YAML config; edits it cannot express (other\n"
      "ops, masks, channel lists, taps that are not convolutions, renormalize) are listed and left out.\n"
      "  actmap-cli export-bending s.json -o config.yaml --clusters-out clusters.yaml");
  exp->add_option("session", opts->session, "The session")->required();
  exp->add_option("-o,--output", opts->out, "The YAML config to write")->required();
  exp->add_option("--clusters-out", opts->clusters_out, "Also write the cluster dictionary of the taps the edits select clusters at");
  exp->callback([opts] {
    const Session s = load_session_file(opts->session);
    const ModelCard card = load_model_card(s.card_path);
    const BendingExport out = export_bending(s, card);
    write_file_atomic(opts->out, out.config);
    std::printf("wrote %s\n", opts->out.c_str());
    if (!opts->clusters_out.empty()) {
      if (out.clusters.empty()) {
        std::printf("no edit selects clusters; %s not written\n", opts->clusters_out.c_str());
      } else {
        write_file_atomic(opts->clusters_out, out.clusters);
        std::printf("wrote %s\n", opts->clusters_out.c_str());
      }
    } else if (!out.clusters.empty()) {
      std::cerr << "note: edits select clusters; add --clusters-out to write their dictionary\n";
    }
    for (const auto& n : out.skipped) std::printf("not exported: %s\n", n.c_str());
    for (const auto& n : out.notes) std::printf("note: %s\n", n.c_str());
  });
}

void register_report(CLI::App& app, const std::vector<std::string>& argv) {
  struct Options {
    ModelOptions model;
    std::string session, dir;
    ReportOptions report;
    bool no_sweep = false;
  };
  auto opts = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand(
      "report",
      "Write a self-contained HTML report of a session (DIR/index.html and its PNGs): the model card\n"
      "and weights hash, the latent, every edit with its tap and output before and after, the depth\n"
      "sweep of the last edit, timings and the command that regenerates it.\n"
      "  actmap-cli report session.json -o report/");
  cmd->add_option("session", opts->session, "The session")->required();
  cmd->add_option("-o,--output", opts->dir, "The report's directory (created)")->required();
  cmd->add_option("--channels", opts->report.max_channels, "Channels shown per edit")->check(CLI::Range(1, 64))->capture_default_str();
  cmd->add_flag("--no-sweep", opts->no_sweep, "Leave out the depth sweep");
  add_device_options(*cmd, opts->model);
  add_class_options(*cmd, opts->model);
  cmd->callback([opts, argv] {
    Session session = load_session_file(opts->session);
    apply_class_options(opts->model, session.synthesis);
    Renderer renderer(open_session_model(session, opts->model));
    for (std::size_t i = 0; i < argv.size(); ++i) {
      opts->report.command += (i ? " " : "") + shell_quote(i == 0 ? std::string("actmap-cli") : argv[i]);
    }
    opts->report.working_dir = std::filesystem::current_path().string();
    opts->report.sweep = !opts->no_sweep;
    ReportResult r;
    {
      ProgressBar progress("report");
      r = write_report(renderer, session, opts->dir, opts->report, std::ref(progress));
    }
    std::printf("wrote %s (%zu files)\n", r.index.c_str(), r.files.size());
  });
}

}  // namespace

void register_research(CLI::App& app, const std::vector<std::string>& argv) {
  register_sweep(app);
  register_sensitivity(app);
  register_bending(app);
  register_report(app, argv);
}

}  // namespace actmap::cli
