// actmap-cli fetch: download a model of the registry into the cache (src/core/fetch/fetch.cpp).
#include <csignal>
#include <cstdio>
#include <iostream>

#include <CLI/CLI.hpp>

#include "actmap/fetch/fetch.h"
#include "actmap/io/error.h"
#include "actmap/model/registry.h"
#include "cli_common.h"

namespace actmap::cli {
namespace {

struct FetchArgs {
  std::string name;
  std::string registry;
  bool list = false;
  bool force = false;
};

std::string megabytes(std::uint64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MB", static_cast<double>(bytes) / 1e6);
  return buf;
}

// "celeba32-fletcher [######.....] 1.2/3.5 MB  34%  2.1 MB/s  ETA 0:01"
class FetchPrinter {
 public:
  explicit FetchPrinter(std::string name) : name_(std::move(name)) {}
  void operator()(const FetchProgress& p) {
    const bool last = p.stage != FetchProgress::Stage::Download || p.bytes == p.total;
    if (stage_ == p.stage && (shown_last_ || !line_.due(last))) return;  // each stage's last state once
    stage_ = p.stage;
    shown_last_ = last;
    const double fraction = p.total ? static_cast<double>(p.bytes) / static_cast<double>(p.total) : 0.0;
    char text[256];
    if (p.stage == FetchProgress::Stage::Download) {
      std::snprintf(text, sizeof text, "%s %s %.1f/%.1f MB  %3.0f%%  %.2f MB/s  ETA %s", name_.c_str(),
                    progress_bar(fraction).c_str(), static_cast<double>(p.bytes) / 1e6,
                    static_cast<double>(p.total) / 1e6, 100.0 * fraction, p.bytes_per_second / 1e6,
                    p.eta_seconds < 0 ? "-" : clock_text(p.eta_seconds).c_str());
    } else {
      std::snprintf(text, sizeof text, "%s: %s", name_.c_str(),
                    p.stage == FetchProgress::Stage::Verify ? "checking size and sha256" : "importing the checkpoint");
    }
    line_.show(text, last);
  }
  void finish() { line_.finish(); }

 private:
  std::string name_;
  FetchProgress::Stage stage_ = FetchProgress::Stage::Download;
  bool shown_last_ = false;
  ProgressLine line_;
};

void list_models(const Registry& registry) {
  const auto status = registry_status(registry);
  std::printf("%-22s %-12s %10s  %-14s %s\n", "name", "family", "size", "license", "present");
  for (const auto& s : status) {
    const std::string where = s.weights.empty() ? "no (actmap-cli fetch " + s.entry.name + ")"
                              : s.in_cache       ? "yes, in the cache: " + s.weights
                                                 : "yes: " + s.weights;
    std::printf("%-22s %-12s %10s  %-14s %s\n", s.entry.name.c_str(), s.entry.family.c_str(),
                megabytes(s.entry.size).c_str(), s.entry.license.c_str(), where.c_str());
  }
  std::printf("registry: %s\ncache: %s\n", registry.path.c_str(), model_cache_dir().c_str());
}

void fetch_one(const Registry& registry, const FetchArgs& args) {
  FetchOptions o;
  o.force = args.force;
  o.cancel = &install_stop_handlers();
  FetchPrinter printer(args.name);
  o.progress = std::ref(printer);
  FetchResult r;
  try {
    r = fetch_model(registry, args.name, o);
  } catch (...) {
    printer.finish();
    throw;
  }
  printer.finish();
  if (r.cancelled) {
    const int sig = o.cancel->load();
    std::cerr << "actmap-cli: interrupted; the partial download " << r.part
              << " is kept: run the same command to resume\n";
    throw CLI::RuntimeError(128 + (sig ? sig : SIGINT));
  }
  if (r.already_present) {
    std::cout << args.name << " is already in the cache (verified): " << r.weights << "\n";
  } else {
    std::cout << "fetched " << args.name << (r.resumed_from ? " (resumed from " + megabytes(r.resumed_from) + ")" : "")
              << ": " << r.weights << "\n";
  }
  std::cout << "card: " << r.card << "\nuse it with: actmap-cli render --model " << args.name << " ...  or  actmap --model "
            << args.name << "\n";
}

}  // namespace

void register_fetch(CLI::App& app) {
  auto args = std::make_shared<FetchArgs>();
  CLI::App* cmd = app.add_subcommand(
      "fetch",
      "Download a model published by others (listed in models/registry.json) into the cache directory\n"
      "($XDG_CACHE_HOME/actmap/models, else ~/.cache/actmap/models), check its size and sha256, and\n"
      "convert PyTorch checkpoints to safetensors. Ctrl+C keeps the partial file; running the same\n"
      "command again resumes it. Fetched models open by name everywhere.\n"
      "  actmap-cli fetch --list\n"
      "  actmap-cli fetch celeba32-fletcher");
  cmd->add_option("name", args->name, "Model to download (see --list)");
  cmd->add_flag("--list", args->list, "List the registry's models and whether each is present");
  cmd->add_option("--registry", args->registry,
                  "Registry file (default: $ACTMAP_REGISTRY, else models/registry.json)");
  cmd->add_flag("--force", args->force, "Download again even when a verified copy is present");
  cmd->callback([args] {
    if (args->list == !args->name.empty()) throw Error("fetch: give a model name or --list (see actmap-cli fetch --help)");
    const Registry registry = load_registry(args->registry.empty() ? default_registry_path() : args->registry);
    if (args->list) list_models(registry);
    else fetch_one(registry, *args);
  });
}

}  // namespace actmap::cli
