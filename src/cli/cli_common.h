// Shared pieces of actmap-cli's subcommands.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "actmap/model/generator.h"
#include "actmap/session/session.h"

namespace CLI {
class App;
}

namespace actmap::cli {

// Options every model-using command shares.
struct ModelOptions {
  std::string model = "ffhq64-vae";
  std::string device = "cpu";
  int threads = 0;
  bool fp16 = false;                // --fp16: StyleGAN2's float16 blocks on CUDA
  std::string w_avg;                // --w-avg FILE.npy: the average W of a StyleGAN2 model
  std::int64_t class_index = -1;    // --class K (conditional StyleGAN2; -1: not given)
  std::string c_file;               // --c FILE.npy (conditional StyleGAN2: the label vector)
};
// The workers of --dask read their precision from the card, not from a flag.
inline constexpr const char* kFp16NotOnDask =
    "--fp16 does not go with --dask: the workers read the model's card, so put \"cuda_fp16\": true in it instead";
// --model (a card path or name, or a checkpoint file), --device, --fp16, --threads, --w-avg.
void add_model_options(CLI::App& cmd, ModelOptions& opts);
// Only --device, --fp16, --threads and --w-avg (commands whose model comes from a session).
void add_device_options(CLI::App& cmd, ModelOptions& opts);
// --class K and --c FILE.npy for the commands that render (conditional StyleGAN2 models).
void add_class_options(CLI::App& cmd, ModelOptions& opts);
// Puts --class or --c (when given) into `synthesis`; errors name the option.
void apply_class_options(const ModelOptions& opts, SynthesisOptions& synthesis);

// The card of --model: a card path or name, or a checkpoint file (.pkl, .pt, ...), which is
// converted into the cache the first time (progress on stderr, then what it found) and found
// there afterwards.
std::string resolve_model_card(const std::string& model);
// load_session, converting a checkpoint file the session names the first time it is opened.
Session load_session_file(const std::string& path);

// Median and minimum of timings in milliseconds.
struct Stats {
  double median, min;
};
Stats summarize(std::vector<double> v);

// Loads the card named by opts.model and its generator on opts.device, setting the thread count.
std::shared_ptr<const Generator> open_model(const ModelOptions& opts);
// The generator of the card a loaded session names, with opts' device and threads.
std::shared_ptr<const Generator> open_session_model(const Session& session, const ModelOptions& opts);
// A session's model when `session_path` is given (then --model must not be: `model_given`),
// else the model of --model. `session` receives the loaded session.
std::shared_ptr<const Generator> open_session_or_model(const std::string& session_path, const ModelOptions& opts,
                                                       bool model_given, std::optional<Session>& session);

// "M:SS", or "H:MM:SS" from an hour up.
std::string clock_text(double seconds);
// "[######..........]": `fraction` (0 to 1) of `width` characters filled.
std::string progress_bar(double fraction, int width = 24);

// A progress line on stderr: redrawn in place on a terminal (at most every 200 ms), else printed
// every 5 s. `last` marks the final state of the line, always shown and then ended.
class ProgressLine {
 public:
  ProgressLine();
  bool due(bool last) const;  // whether show() would print now (so callers format only then)
  void show(const std::string& text, bool last);
  void finish();  // ends a line left open for redrawing, before other messages

 private:
  bool tty_;
  bool open_line_ = false;
  std::chrono::steady_clock::time_point last_{};
};

// "label [####....] done/total  elapsed  ETA": a ProgressLine for counted work. Use as a
// ProgressFn through std::ref.
class ProgressBar {
 public:
  explicit ProgressBar(std::string label);
  ~ProgressBar() { finish(); }
  bool operator()(std::int64_t done, std::int64_t total);
  void finish() { line_.finish(); }

 private:
  std::string label_;
  ProgressLine line_;
  std::chrono::steady_clock::time_point start_;
};

// The first Ctrl+C (SIGINT) or SIGTERM sets the returned flag to the signal's number, for the
// command to stop cleanly at its next check; a second one ends the process at once.
const std::atomic<int>& install_stop_handlers();

// The per-seed outputs of a session or model over a seed range "A-B" (or "N").
struct SeedRange {
  std::uint64_t first = 0, last = 0;
};
SeedRange parse_seed_range(const std::string& text);

// --shard K/N (1 <= K <= N): this process does the K-th of N contiguous parts of the work, e.g.
// one task of a Slurm job array. The part of `count` items is [first, end).
struct Shard {
  int k = 1, n = 1;
  std::int64_t first(std::int64_t count) const { return (k - 1) * count / n; }
  std::int64_t end(std::int64_t count) const { return k * count / n; }
};
Shard parse_shard(const std::string& text);

// --dask SCHEDULER_ADDRESS: hands the command to `/usr/bin/python3 -m actmap ARGS... --scheduler
// ADDRESS` (actmap.distributed), with this build's Python package on PYTHONPATH, and never returns.
[[noreturn]] void run_on_dask(std::vector<std::string> args, const std::string& scheduler);

void register_layers(CLI::App& app);
void register_render(CLI::App& app);
void register_bench(CLI::App& app);
void register_session_tools(CLI::App& app);
void register_bench_edits(CLI::App& app);
void register_cluster(CLI::App& app);
void register_dissect(CLI::App& app);
void register_animate(CLI::App& app);
// sweep, sensitivity, import-bending, export-bending, report; `argv` goes into reports.
void register_research(CLI::App& app, const std::vector<std::string>& argv);
// `argv` is recorded in the trained card and used for the resume hint.
void register_train(CLI::App& app, const std::vector<std::string>& argv);
void register_fetch(CLI::App& app);
void register_import(CLI::App& app);

}  // namespace actmap::cli
