#include <algorithm>

#include <CLI/CLI.hpp>

#include "actmap/device.h"
#include "cli_common.h"

namespace actmap::cli {

void add_model_options(CLI::App& cmd, ModelOptions& opts) {
  cmd.add_option("-m,--model", opts.model, "Model card: a path or a name found on ACTMAP_MODEL_PATH or in models/")
      ->capture_default_str();
  cmd.add_option("--device", opts.device, "cpu, cuda or cuda:N (available: " + available_devices() + ")")
      ->capture_default_str();
  cmd.add_option("--threads", opts.threads, "CPU threads (0: every core)")->check(CLI::NonNegativeNumber);
}

Stats summarize(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return {n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]), v.front()};
}

std::shared_ptr<const Generator> open_session_model(const Session& session, const ModelOptions& opts) {
  ModelOptions m = opts;
  m.model = session.card_path;
  return open_model(m);
}

std::shared_ptr<const Generator> open_model(const ModelOptions& opts) {
  set_cpu_threads(opts.threads);
  check_device(opts.device);
  return load_generator(load_model_card(find_model_card(opts.model)), opts.device);
}

}  // namespace actmap::cli
