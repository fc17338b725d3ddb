#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>

#include <CLI/CLI.hpp>
#include <unistd.h>

#include "actmap/fetch/model_file.h"
#include "actmap/io/error.h"
#include "actmap/io/npy.h"
#include "actmap/model/checkpoint_cache.h"
#include "actmap/model/device.h"
#include "cli_common.h"

namespace actmap::cli {

void add_model_options(CLI::App& cmd, ModelOptions& opts) {
  cmd.add_option("-m,--model", opts.model,
                 "Model card: a path or a name found on ACTMAP_MODEL_PATH or in models/; or a StyleGAN2 checkpoint\n"
                 "file (.pkl, .pt, .pth, .ckpt, .safetensors), converted into the cache the first time")
      ->capture_default_str();
  add_device_options(cmd, opts);
}

void add_device_options(CLI::App& cmd, ModelOptions& opts) {
  cmd.add_option("--device", opts.device, "cpu, cuda or cuda:N (available: " + available_devices() + ")")
      ->capture_default_str();
  cmd.add_flag("--fp16", opts.fp16,
               "StyleGAN2 on CUDA: run the blocks num_fp16_res names in float16, as the original does on NVIDIA GPUs\n"
               "(default: float32 everywhere; the CPU always computes in float32)");
  cmd.add_option("--threads", opts.threads, "CPU threads (0: every core, or OMP_NUM_THREADS when set)")->check(CLI::NonNegativeNumber);
  cmd.add_option("--w-avg", opts.w_avg, "StyleGAN2: the average W for truncation, a .npy [w_dim] (instead of the model's)")
      ->check(CLI::ExistingFile);
}

void add_class_options(CLI::App& cmd, ModelOptions& opts) {
  auto* k = cmd.add_option("--class", opts.class_index, "Conditional StyleGAN2: the class to render (c one-hot at K)")
                ->check(CLI::NonNegativeNumber);
  cmd.add_option("--c", opts.c_file, "Conditional StyleGAN2: the label vector c, a .npy of c_dim values")
      ->check(CLI::ExistingFile)
      ->excludes(k);
}

void apply_class_options(const ModelOptions& opts, SynthesisOptions& synthesis) {
  if (opts.class_index >= 0) {
    synthesis.class_index = opts.class_index;
    synthesis.c.clear();
  } else if (!opts.c_file.empty()) {
    const FloatArray a = read_npy(opts.c_file);
    if (a.data.empty() || (a.shape.size() == 2 && a.shape[0] != 1) || a.shape.size() > 2) {
      throw Error("--c " + opts.c_file + ": expected the label vector, shape [c_dim] or [1, c_dim], got " +
                  std::to_string(a.shape.size()) + " dimensions");
    }
    synthesis.c = a.data;
    synthesis.class_index.reset();
  }
}

namespace {
// Converts a checkpoint file into the cache (or finds it there), with a progress line.
std::string open_checkpoint(const std::string& path) {
  ModelFileOptions o;
  auto line = std::make_shared<ProgressLine>();
  o.progress = [line](const ModelFileProgress& p) {
    const bool counted = p.fraction >= 0;
    if (!line->due(false)) return;
    line->show(counted ? p.text + " " + progress_bar(p.fraction) : p.text + " ...", false);
  };
  const OpenedModelFile r = open_model_file(path, o);
  line->finish();
  if (!r.from_cache) {
    for (const auto& l : r.report) std::cerr << l << "\n";
    std::cerr << "converted " << path << " into " << r.card << "\n";
  }
  return r.card;
}

std::shared_ptr<const Generator> load_with_options(ModelCard card, const ModelOptions& opts) {
  if (!opts.w_avg.empty()) {
    if (!card.stylegan2) throw Error("--w-avg: model " + card.name + " (" + card.family + ") has no average W");
    card.stylegan2->w_avg_file = std::filesystem::absolute(opts.w_avg).string();
  }
  if (opts.fp16) {
    set_cuda_fp16(true);
    if (!card.stylegan2 || card.stylegan2->num_fp16_res == 0) {
      std::cerr << "note: --fp16 changes nothing for " << card.name << ": "
                << (card.stylegan2 ? "its num_fp16_res is 0" : "only StyleGAN2 models have float16 blocks") << "\n";
    } else if (opts.device.rfind("cuda", 0) != 0) {
      std::cerr << "note: --fp16 applies on CUDA only; on " << opts.device
                << " every block computes in float32 (the CPU has no float16 convolutions)\n";
    }
  }
  auto gen = load_generator(card, opts.device);
  if (opts.fp16) std::cerr << card.name << " computes in " << gen->precision() << "\n";
  return gen;
}
}  // namespace

std::string resolve_model_card(const std::string& model) {
  return is_checkpoint_path(model) ? open_checkpoint(model) : find_model_card(model);
}

Session load_session_file(const std::string& path) {
  try {
    return load_session(path);
  } catch (const CheckpointNotConverted& e) {
    open_checkpoint(e.checkpoint());
    return load_session(path);
  }
}

Stats summarize(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return {n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]), v.front()};
}

std::shared_ptr<const Generator> open_session_model(const Session& session, const ModelOptions& opts) {
  set_cpu_threads(opts.threads);
  check_device(opts.device);
  return load_with_options(load_model_card(session.card_path), opts);
}

std::shared_ptr<const Generator> open_session_or_model(const std::string& session_path, const ModelOptions& opts,
                                                       bool model_given, std::optional<Session>& session) {
  if (session_path.empty()) return open_model(opts);
  if (model_given) throw Error("a session names its model; drop --model");
  session = load_session_file(session_path);
  return open_session_model(*session, opts);
}

std::shared_ptr<const Generator> open_model(const ModelOptions& opts) {
  set_cpu_threads(opts.threads);
  check_device(opts.device);
  return load_with_options(load_model_card(resolve_model_card(opts.model)), opts);
}

namespace {
std::atomic<int> g_stop_signal{0};  // lock-free, so the handler may set it
extern "C" void on_stop_signal(int sig) { g_stop_signal.store(sig); }
}  // namespace

const std::atomic<int>& install_stop_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sa.sa_flags = SA_RESETHAND;  // a second signal takes the default action: the process ends
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  return g_stop_signal;
}

std::string clock_text(double seconds) {
  const long s = static_cast<long>(seconds + 0.5);
  char buf[32];
  if (s >= 3600) std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
  else std::snprintf(buf, sizeof buf, "%ld:%02ld", s / 60, s % 60);
  return buf;
}

ProgressBar::ProgressBar(std::string label) : label_(std::move(label)), start_(std::chrono::steady_clock::now()) {}

bool ProgressBar::operator()(std::int64_t done, std::int64_t total) {
  const bool last = done >= total;
  if (!line_.due(last)) return true;
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double eta = done > 0 && total > done ? elapsed * double(total - done) / double(done) : 0.0;
  char text[256];
  std::snprintf(text, sizeof text, "%s %s %lld/%lld  %s%s", label_.c_str(),
                progress_bar(total > 0 ? double(done) / double(total) : 1.0).c_str(), static_cast<long long>(done),
                static_cast<long long>(total), clock_text(elapsed).c_str(), last ? "" : ("  ETA " + clock_text(eta)).c_str());
  line_.show(text, last);
  return true;
}

SeedRange parse_seed_range(const std::string& text) {
  std::uint64_t a = 0, b = 0;
  char extra = 0;
  const int n = std::sscanf(text.c_str(), "%lu-%lu%c", &a, &b, &extra);
  const bool digits = !text.empty() && text.find_first_not_of("0123456789-") == std::string::npos;
  if (digits && n == 2 && a <= b && b - a < 100000) return {a, b};
  if (digits && n == 1 && text.find('-') == std::string::npos) return {a, a};
  throw Error("--seeds: expected A-B with A <= B (at most 100000 seeds), got '" + text + "'");
}

Shard parse_shard(const std::string& text) {
  int k = 0, n = 0;
  char extra = 0;
  const bool digits = !text.empty() && text.find_first_not_of("0123456789/") == std::string::npos;
  if (digits && std::sscanf(text.c_str(), "%d/%d%c", &k, &n, &extra) == 2 && 1 <= k && k <= n && n <= 1000000) return {k, n};
  throw Error("--shard: expected K/N with 1 <= K <= N (this process's part of N), got '" + text + "'");
}

void run_on_dask(std::vector<std::string> args, const std::string& scheduler) {
  std::string path;
#ifdef ACTMAP_PYTHON_PACKAGE_DIR
  path = ACTMAP_PYTHON_PACKAGE_DIR;  // the build tree's python/ (an installed actmap is found anyway)
#endif
  if (const char* old = std::getenv("PYTHONPATH"); old && *old) path += (path.empty() ? "" : ":") + std::string(old);
  if (!path.empty()) ::setenv("PYTHONPATH", path.c_str(), 1);
  args.insert(args.begin(), {"/usr/bin/python3", "-m", "actmap"});
  args.insert(args.end(), {"--scheduler", scheduler});
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::cout << std::flush;
  ::execv(argv[0], argv.data());
  throw Error("--dask: cannot run /usr/bin/python3 -m actmap: " + std::string(std::strerror(errno)));
}

std::string progress_bar(double fraction, int width) {
  const int filled = static_cast<int>(width * std::clamp(fraction, 0.0, 1.0));
  return "[" + std::string(static_cast<std::size_t>(filled), '#') + std::string(static_cast<std::size_t>(width - filled), '.') + "]";
}

ProgressLine::ProgressLine() : tty_(::isatty(STDERR_FILENO) == 1) {}

bool ProgressLine::due(bool last) const {
  const auto interval = tty_ ? std::chrono::milliseconds(200) : std::chrono::milliseconds(5000);
  return last || std::chrono::steady_clock::now() - last_ >= interval;
}

void ProgressLine::show(const std::string& text, bool last) {
  last_ = std::chrono::steady_clock::now();
  open_line_ = tty_ && !last;
  if (tty_) std::cerr << "\r" << text << "\x1b[K" << (open_line_ ? "" : "\n") << std::flush;
  else std::cerr << text << "\n" << std::flush;
}

void ProgressLine::finish() {
  if (open_line_) std::cerr << "\n";
  open_line_ = false;
}

}  // namespace actmap::cli
