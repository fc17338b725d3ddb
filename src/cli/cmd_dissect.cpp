// actmap-cli dissect: rank a tap's channels by how their activations concentrate in a region of
// the output image; optionally switch the top ones off (or boost them) in a session.
#include <cmath>
#include <cstdio>
#include <iostream>
#include <sstream>

#include <CLI/CLI.hpp>

#include "actmap/analysis/dissection.h"
#include "actmap/io/error.h"
#include "actmap/io/files.h"
#include "actmap/model/generator.h"
#include "actmap/session/history.h"
#include "actmap/session/session.h"
#include "cli_common.h"

namespace actmap::cli {
namespace {

struct Apply {
  bool ablate = true;
  double factor = 0.0;
};

Apply parse_apply(const std::string& text) {
  if (text == "ablate") return {true, 0.0};
  if (text.rfind("boost:", 0) == 0) {
    const std::string f = text.substr(6);
    char* end = nullptr;
    const double v = std::strtod(f.c_str(), &end);
    if (!f.empty() && end && *end == '\0' && std::isfinite(v)) return {false, v};
  }
  throw Error("--apply: expected 'ablate' or 'boost:FACTOR' (e.g. boost:3), got '" + text + "'");
}

std::string ratio_text(double r) {
  if (std::isinf(r)) return "inf";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", r);
  return buf;
}

}  // namespace

void register_dissect(CLI::App& app) {
  struct Options {
    ModelOptions model;
    DissectOptions dissect;
    std::string tap, region, csv, apply, session;
    int top = 10;
  };
  auto opts = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand(
      "dissect",
      "Rank a tap's channels by how their activations concentrate in a region of the output (a PNG\n"
      "mask, white = inside): IoU of each channel's top-quantile mask (up-sampled to the output) with\n"
      "the region over seeded latents, and the mean activation inside / outside (docs/clustering.md).\n"
      "With --apply and --session, adds an edit on the top units and prints its measured effect.\n"
      "  actmap-cli dissect -m faces64 --tap main.8 --region mouth.png --top 8\n"
      "  actmap-cli dissect --session s.json --tap main.8 --region mouth.png --top 8 --apply ablate");
  add_model_options(*cmd, opts->model);
  cmd->add_option("--tap", opts->tap, "The tap whose channels to rank")->required();
  cmd->add_option("--region", opts->region, "PNG mask of the output's region (grey >= 128 is inside; resized to the output)")
      ->required();
  cmd->add_option("--samples", opts->dissect.samples, "Latents (seeds SEED, SEED+1, ...)")->check(CLI::Range(1, 100000))->capture_default_str();
  cmd->add_option("--seed", opts->dissect.seed, "First seed")->capture_default_str();
  cmd->add_option("--quantile", opts->dissect.quantile, "A channel is 'on' above this quantile of its values over all samples and pixels")
      ->check(CLI::Range(0.5, 0.99999))->capture_default_str();
  cmd->add_option("--top", opts->top, "Units to print (and to edit with --apply)")->check(CLI::Range(1, 100000))->capture_default_str();
  cmd->add_option("--csv", opts->csv, "Write every channel's scores to this CSV file");
  auto* apply = cmd->add_option("--apply", opts->apply, "ablate | boost:FACTOR: add this edit on the top units to --session");
  cmd->add_option("--session", opts->session, "The session (its model, edits and clusters); --apply writes into it atomically");
  cmd->callback([opts, cmd, apply] {
    std::optional<Apply> how;
    if (apply->count()) {
      how = parse_apply(opts->apply);
      if (opts->session.empty()) throw Error("--apply needs --session (the session the edit goes into)");
    }
    std::optional<Session> session;
    const std::shared_ptr<const Generator> gen = open_session_or_model(opts->session, opts->model, cmd->count("--model") > 0, session);
    gen->tap_index(opts->tap);
    const Region region = region_from_image(read_image(opts->region), opts->region);
    DissectResult r;
    {
      ProgressBar progress("dissect " + opts->tap);
      r = dissect_tap(*gen, opts->tap, region, opts->dissect, std::ref(progress));
    }
    std::printf("%s: region %lld of %dx%d output pixels%s, %d samples, quantile %g\n", opts->tap.c_str(),
                static_cast<long long>(r.region_pixels), r.width, r.height,
                region.width != r.width || region.height != r.height ? " (mask resized)" : "", opts->dissect.samples,
                opts->dissect.quantile);
    std::printf("rank  channel     IoU   inside  outside  in/out  threshold\n");
    const int top = std::min<int>(opts->top, static_cast<int>(r.units.size()));
    for (int i = 0; i < top; ++i) {
      const UnitScore& u = r.units[static_cast<std::size_t>(i)];
      std::printf("%4d  %7d  %6.4f  %7.4f  %7.4f  %6s  %9.4f\n", i + 1, u.channel, u.iou, u.inside_mean, u.outside_mean,
                  ratio_text(u.ratio).c_str(), u.threshold);
    }
    if (!opts->csv.empty()) {
      std::ostringstream csv;
      csv << "rank,channel,iou,inside_mean,outside_mean,ratio,threshold\n";
      for (std::size_t i = 0; i < r.units.size(); ++i) {
        const UnitScore& u = r.units[i];
        csv << i + 1 << "," << u.channel << "," << u.iou << "," << u.inside_mean << "," << u.outside_mean << ","
            << ratio_text(u.ratio) << "," << u.threshold << "\n";
      }
      write_file_atomic(opts->csv, csv.str());
      std::cout << "wrote " << opts->csv << "\n";
    }
    if (how) {
      std::vector<int> channels;
      for (int i = 0; i < top; ++i) channels.push_back(r.units[static_cast<std::size_t>(i)].channel);
      const Edit edit = unit_edit(opts->tap, channels, how->ablate, how->factor);
      EditEffect effect;
      {
        ProgressBar progress("measure");
        effect = measure_edit_effect(*gen, session->edits, edit, session->clusters, region, opts->dissect.samples,
                                     opts->dissect.seed, std::ref(progress));
      }
      SessionHistory history(*session);
      const std::string id = history.add_edit(edit);
      Session out = history.session();
      save_session(out, opts->session);
      std::printf("added edit %s (%s of %d units of %s) to %s\n", id.c_str(), how->ablate ? "ablate" : "multiply", top,
                  opts->tap.c_str(), opts->session.c_str());
      std::printf("measured effect over %d samples: mean |change| of 8-bit pixels %.3f inside the region, %.3f outside (%sx)\n",
                  effect.samples, effect.inside, effect.outside,
                  effect.outside > 0 ? ratio_text(effect.inside / effect.outside).c_str() : "inf");
    }
  });
}

}  // namespace actmap::cli
