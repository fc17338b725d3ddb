#include "model_library.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <set>
#include <utility>

#include <imgui.h>

#include "actmap/fetch/fetch.h"
#include "actmap/io/error.h"
#include "actmap/model/checkpoint_cache.h"
#include "actmap/model/model_card.h"
#include "ui_probe.h"

namespace actmap::app {
namespace fs = std::filesystem;

namespace {

const char* phase_name(ModelDownload::Phase p) {
  switch (p) {
    case ModelDownload::Phase::Running: return "running";
    case ModelDownload::Phase::Done: return "done";
    case ModelDownload::Phase::Failed: return "failed";
    case ModelDownload::Phase::Cancelled: return "cancelled";
    case ModelDownload::Phase::Idle: break;
  }
  return "idle";
}

// The job's small window, centred when it appears; false when it is collapsed (then End it).
bool begin_job_window(const char* title) {
  ImGui::SetNextWindowPos(ImGui::GetMainViewport()->GetCenter(), ImGuiCond_Appearing, ImVec2(0.5f, 0.5f));
  ImGui::SetNextWindowSize(ImVec2(ImGui::GetFontSize() * 30, 0), ImGuiCond_Appearing);
  const ImGuiWindowFlags flags = ImGuiWindowFlags_NoCollapse | ImGuiWindowFlags_NoSavedSettings | ImGuiWindowFlags_AlwaysAutoResize;
  return ImGui::Begin(title, nullptr, flags);
}

// How a job ended (an error in red, probed as `probe_prefix`/error), wrapped at the window's
// width, and its Close button: true when it is clicked.
bool job_end(const std::string& text, bool error, const std::string& probe_prefix) {
  if (error) ImGui::PushStyleColor(ImGuiCol_Text, IM_COL32(255, 110, 110, 255));
  ImGui::PushTextWrapPos(ImGui::GetFontSize() * 28);
  ImGui::TextUnformatted(text.c_str());
  ImGui::PopTextWrapPos();
  if (error) ImGui::PopStyleColor();
  if (error) probe::item(probe_prefix + "/error");
  const bool close = ImGui::Button("Close");
  probe::item(probe_prefix + "/close");
  return close;
}

}  // namespace

const std::vector<std::string>& ModelLibrary::model_extensions() {
  static const std::vector<std::string> e = {".json", ".pkl", ".pt", ".pth", ".ckpt", ".safetensors"};
  return e;
}

void ModelLibrary::ask_open_model(EditorContext& ctx) {
  ctx.ask_for_file(kOpenModelTitle, FileBrowser::Mode::Open, dir_of(ctx.session().card_path), "", model_extensions(),
                   [&ctx](const std::string& path) { ctx.requests.open_model = path; });
}

bool ModelLibrary::converting() const {
  return download_.running() && download_.state().kind == ModelDownload::Kind::CheckpointFile;
}

bool ModelLibrary::open_file(EditorContext& ctx, const std::string& checkpoint, std::function<void(const std::string&)> then,
                             std::function<void(const std::string&)> failed) {
  if (download_.running()) {
    const ModelDownload::State s = download_.state();
    const std::string error = "wait for " + fs::path(s.name).filename().string() + " to finish (or cancel it) before opening " +
                              fs::path(checkpoint).filename().string();
    ctx.report(error);
    if (failed) failed(error);
    return false;
  }
  download_.dismiss();  // a finished job's window gives way
  announced_.clear();
  after_file_ = std::move(then);
  file_failed_ = std::move(failed);
  download_.start_file(fs::absolute(checkpoint).lexically_normal().string(), ctx.options.import_delay_ms);
  download_window_ = true;
  return true;
}

void ModelLibrary::draw_file_job(EditorContext& ctx, const ModelDownload::State& s) {
  probe::value("import", phase_name(s.phase));
  probe::value("import_stage", s.file.text);
  probe::value("import_fraction", s.file.fraction);
  probe::value("import_error", s.error);
  const std::string file = fs::path(s.name).filename().string();
  if (s.phase == ModelDownload::Phase::Done) {
    // The model opens and the window closes; what the conversion found goes to the log, its
    // summary last (the status bar shows it).
    ++files_opened_;
    last_from_cache_ = s.from_cache;
    last_seconds_ = s.seconds;
    close_job_window();
    remember(s.name);
    file_failed_ = nullptr;
    if (auto then = std::exchange(after_file_, nullptr)) then(s.name);
    for (std::string line : s.report) {
      // The command line's advice on conditional models, in the editor's terms.
      if (const auto at = line.find("; pick one with --class"); at != std::string::npos) {
        line = line.substr(0, at) + "; pick the class in the StyleGAN2 tab (class 0 until then)";
      }
      ctx.report(line.rfind(file + ":", 0) == 0 ? line : file + ": " + line);
    }
    char summary[512];
    std::snprintf(summary, sizeof summary, s.from_cache ? "%s: from the cache (converted before), %.2f s: %s"
                                                        : "%s: converted into the cache in %.2f s: %s",
                  file.c_str(), s.seconds, s.card.c_str());
    ctx.report(summary);
    return;
  }
  if ((s.phase == ModelDownload::Phase::Failed || s.phase == ModelDownload::Phase::Cancelled) && announced_ != s.name) {
    announced_ = s.name;  // once per ended conversion
    const std::string error = s.phase == ModelDownload::Phase::Failed ? "could not open " + file + ": " + s.error
                                                                      : file + ": cancelled; nothing was added to the cache";
    ctx.report(error);
    after_file_ = nullptr;
    if (auto failed = std::exchange(file_failed_, nullptr)) failed(error);
  }
  if (!download_window_) return;
  if (!begin_job_window("Open model file")) return ImGui::End();
  ImGui::TextUnformatted(file.c_str());
  ImGui::TextDisabled("%s", s.name.c_str());
  bool close = false;
  switch (s.phase) {
    case ModelDownload::Phase::Running: {
      char overlay[256];
      if (s.file.fraction >= 0) {
        std::snprintf(overlay, sizeof overlay, "%s  %.0f%%", s.file.text.c_str(), s.file.fraction * 100.0);
      } else {
        std::snprintf(overlay, sizeof overlay, "%s", s.file.text.empty() ? "starting" : s.file.text.c_str());
      }
      // A stage of unknown length shows a bar moving to and fro.
      const float fraction = s.file.fraction >= 0 ? float(s.file.fraction)
                                                  : float(0.5 + 0.5 * std::sin(ImGui::GetTime() * 3.0)) * 0.15f;
      ImGui::ProgressBar(fraction, ImVec2(ImGui::GetFontSize() * 28, 0), overlay);
      probe::item("import/progress");
      ImGui::TextDisabled("Converted once into the cache; opening it again is instant.");
      if (ImGui::Button("Cancel")) download_.cancel();
      probe::item("import/cancel");
      break;
    }
    case ModelDownload::Phase::Failed: close = job_end(s.error, true, "import"); break;
    case ModelDownload::Phase::Cancelled:
      close = job_end("Cancelled: nothing was added to the cache, and the model in use stays open.", false, "import");
      break;
    case ModelDownload::Phase::Done:
    case ModelDownload::Phase::Idle:
      close = true;
      break;
  }
  ImGui::End();
  if (close) close_job_window();
}

void ModelLibrary::close_job_window() {
  download_window_ = false;
  download_.dismiss();
  announced_.clear();
}

void ModelLibrary::remember(const std::string& card) {
  const std::string path = fs::absolute(card).string();
  if (std::find(extra_.begin(), extra_.end(), path) == extra_.end()) extra_.push_back(path);
}

std::string ModelLibrary::label(const std::string& path) {
  return is_checkpoint_path(path) ? fs::path(path).filename().string() : fs::path(path).stem().string();
}

void ModelLibrary::refresh() {
  std::vector<std::string> out;
  std::set<std::string> names;
  auto consider = [&](const std::string& path) {
    if (is_checkpoint_path(path)) {  // opened this run: opening it again finds it in the cache
      std::error_code ec;
      if (fs::is_regular_file(path, ec) && names.insert(path).second) out.push_back(path);
      return;
    }
    try {
      const ModelCard card = load_model_card(path);
      resolve_weights_path(card);
      if (names.insert(card.name).second) out.push_back(path);
    } catch (const std::exception&) {
      // Cards without their weights at hand are not offered.
    }
  };
  for (const auto& p : extra_) consider(p);
  for (const auto& dir : model_card_dirs()) {
    std::error_code ec;
    std::vector<std::string> cards;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
      if (it->path().extension() == ".json" && it->is_regular_file(ec)) cards.push_back(it->path().string());
    }
    std::sort(cards.begin(), cards.end());
    for (const auto& c : cards) consider(c);
  }
  models_ = std::move(out);

  downloadable_.clear();
  registry_error_.clear();
  try {
    registry_ = load_registry(default_registry_path());
    for (const auto& m : registry_status(registry_)) {
      if (m.weights.empty()) downloadable_.push_back(m.entry);
    }
  } catch (const std::exception& e) {
    registry_error_ = e.what();
  }
}

void ModelLibrary::draw_items(EditorContext& ctx) {
  if (ImGui::IsWindowAppearing()) refresh();  // once per opening, not every frame it stays open
  const std::string current = normalize_path(ctx.session().card_path), model = normalize_path(ctx.session().model);
  for (const auto& card : models_) {
    const bool checkpoint = is_checkpoint_path(card);
    if (ImGui::MenuItem(label(card).c_str(), nullptr, normalize_path(card) == (checkpoint ? model : current))) {
      if (checkpoint) {
        ctx.requests.open_model = card;
      } else {
        ctx.requests.new_session_on = card;
      }
    }
    probe::item("model/" + label(card));
    if (ImGui::IsItemHovered()) ImGui::SetTooltip("%s", card.c_str());
  }
  if (!downloadable_.empty() || !registry_error_.empty()) ImGui::Separator();
  const bool busy = download_.running();
  for (const auto& m : downloadable_) {
    char label[256];
    std::snprintf(label, sizeof label, "Download %s (%.1f MB, %s)...", m.name.c_str(), static_cast<double>(m.size) / 1e6,
                  m.license.c_str());
    if (ImGui::MenuItem(label, nullptr, false, !busy)) {
      download_.start(registry_, m.name);
      download_window_ = true;
    }
    probe::item("download/" + m.name);
    if (ImGui::IsItemHovered(ImGuiHoveredFlags_AllowWhenDisabled)) {
      ImGui::SetTooltip("%s\n%s\ninto %s", m.description.c_str(), m.url.c_str(), model_cache_dir().c_str());
    }
  }
  if (!registry_error_.empty()) {
    ImGui::MenuItem("Model registry unreadable", nullptr, false, false);
    if (ImGui::IsItemHovered(ImGuiHoveredFlags_AllowWhenDisabled)) ImGui::SetTooltip("%s", registry_error_.c_str());
  }
  ImGui::Separator();
  if (ImGui::MenuItem("Open model...")) ask_open_model(ctx);
  probe::item("model/open-file");
  tip(kOpenModelTip);
}

void ModelLibrary::draw_download_window(EditorContext& ctx) {
  const ModelDownload::State s = download_.state();
  probe::value("imports_done", files_opened_);
  probe::value("import_from_cache", last_from_cache_);
  probe::value("import_seconds", last_seconds_);
  if (s.kind == ModelDownload::Kind::CheckpointFile) {
    probe::value("download", "idle");
    return draw_file_job(ctx, s);
  }
  probe::value("import", "idle");
  const char* phase = phase_name(s.phase);
  probe::value("download", phase);
  probe::value("download_bytes", s.progress.bytes);
  probe::value("download_error", s.error);
  if (s.phase == ModelDownload::Phase::Done && s.name != announced_) {
    announced_ = s.name;  // once per finished download
    refresh();
    ctx.report("downloaded " + s.name + " (size and sha256 verified): " + s.card);
  }
  if (!download_window_) return;
  if (!begin_job_window("Download model")) return ImGui::End();
  ImGui::Text("%s", s.name.c_str());
  const double total = static_cast<double>(s.progress.total), got = static_cast<double>(s.progress.bytes);
  // "1.2 / 3.5 MB" (or kB for small files), then what happens now.
  const double unit = total >= 1e6 ? 1e6 : 1e3;
  char amount[64] = "";
  std::snprintf(amount, sizeof amount, "%.1f / %.1f %s", got / unit, total / unit, unit == 1e6 ? "MB" : "kB");
  char overlay[160] = "connecting...";
  switch (s.phase) {
    case ModelDownload::Phase::Running:
      if (s.progress.stage == FetchProgress::Stage::Verify) {
        std::snprintf(overlay, sizeof overlay, "checking size and sha256");
      } else if (s.progress.stage == FetchProgress::Stage::Import) {
        std::snprintf(overlay, sizeof overlay, "importing the checkpoint");
      } else if (total > 0) {
        std::snprintf(overlay, sizeof overlay, "%s  %.2f MB/s  ETA %s", amount, s.progress.bytes_per_second / 1e6,
                      s.progress.eta_seconds < 0 ? "-" : (std::to_string(std::lround(s.progress.eta_seconds)) + " s").c_str());
      }
      break;
    case ModelDownload::Phase::Done: std::snprintf(overlay, sizeof overlay, "%s  verified", amount); break;
    case ModelDownload::Phase::Failed: std::snprintf(overlay, sizeof overlay, "failed"); break;
    case ModelDownload::Phase::Cancelled: std::snprintf(overlay, sizeof overlay, "%s  cancelled", amount); break;
    case ModelDownload::Phase::Idle: break;
  }
  ImGui::ProgressBar(total > 0 ? static_cast<float>(got / total) : 0.0f, ImVec2(ImGui::GetFontSize() * 28, 0), overlay);
  probe::item("download/progress");
  bool close = false;
  switch (s.phase) {
    case ModelDownload::Phase::Running:
      if (ImGui::Button("Cancel")) download_.cancel();
      probe::item("download/cancel");
      break;
    case ModelDownload::Phase::Done:
      ImGui::TextWrapped("Downloaded and verified. The model is in the Model menu.");
      if (ImGui::Button("Open it")) {
        close = true;
        ctx.requests.new_session_on = s.card;
      }
      probe::item("download/open");
      ImGui::SameLine();
      close |= ImGui::Button("Close");
      probe::item("download/close");
      break;
    case ModelDownload::Phase::Failed: close = job_end(s.error, true, "download"); break;
    case ModelDownload::Phase::Cancelled:
      close = job_end("Cancelled. The partial file is kept; downloading again resumes it:\n" + s.part, false, "download");
      break;
    case ModelDownload::Phase::Idle:
      close = true;
      break;
  }
  ImGui::End();
  if (close) close_job_window();
}

std::string ModelLibrary::default_model() {
  // The project's default model first, then the others that have their weights at hand.
  for (const char* name : {"default", "faces64", "ffhq64-vae"}) {
    try {
      const std::string card = find_model_card(name);
      resolve_weights_path(load_model_card(card));
      return card;
    } catch (const std::exception&) {
    }
  }
  refresh();
  if (models_.empty()) throw Error("no model card with its weights found in " + join_dirs(model_card_dirs()) +
                                  "; open one with File > Open model (a card or a checkpoint file), or set ACTMAP_MODEL_PATH");
  return models_.front();
}

}  // namespace actmap::app
