// Shared pieces of actmap-cli's subcommands.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "actmap/generator.h"
#include "actmap/session.h"

namespace CLI {
class App;
}

namespace actmap::cli {

// Options every model-using command shares.
struct ModelOptions {
  std::string model = "ffhq64-vae";
  std::string device = "cpu";
  int threads = 0;
};
void add_model_options(CLI::App& cmd, ModelOptions& opts);

// Median and minimum of timings in milliseconds.
struct Stats {
  double median, min;
};
Stats summarize(std::vector<double> v);

// Loads the card named by opts.model and its generator on opts.device, setting the thread count.
std::shared_ptr<const Generator> open_model(const ModelOptions& opts);
// The generator of the card a loaded session names, with opts' device and threads.
std::shared_ptr<const Generator> open_session_model(const Session& session, const ModelOptions& opts);

void register_layers(CLI::App& app);
void register_render(CLI::App& app);
void register_bench(CLI::App& app);
void register_session_tools(CLI::App& app);
void register_bench_edits(CLI::App& app);
// `argv` is recorded in the trained card and used for the resume hint.
void register_train(CLI::App& app, const std::vector<std::string>& argv);
void register_import(CLI::App& app);

}  // namespace actmap::cli
