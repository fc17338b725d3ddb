#include "model_library.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <set>

#include <imgui.h>

#include "actmap/fetch/fetch.h"
#include "actmap/io/error.h"
#include "actmap/model/model_card.h"
#include "ui_probe.h"

namespace actmap::app {
namespace fs = std::filesystem;

void ModelLibrary::remember(const std::string& card) {
  const std::string path = fs::absolute(card).string();
  if (std::find(extra_.begin(), extra_.end(), path) == extra_.end()) extra_.push_back(path);
}

void ModelLibrary::refresh() {
  std::vector<std::string> out;
  std::set<std::string> names;
  auto consider = [&](const std::string& path) {
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
  const std::string current = normalize_path(ctx.session().card_path);
  for (const auto& card : models_) {
    if (ImGui::MenuItem(fs::path(card).stem().string().c_str(), nullptr, normalize_path(card) == current)) {
      ctx.requests.new_session_on = card;
    }
    probe::item("model/" + fs::path(card).stem().string());
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
  if (ImGui::MenuItem("Open model card...")) {
    ctx.ask_for_file(kOpenCardTitle, FileBrowser::Mode::Open, dir_of(ctx.session().card_path), "", {".json"},
                     [&ctx](const std::string& path) { ctx.requests.open_model = path; });
  }
}

void ModelLibrary::draw_download_window(EditorContext& ctx) {
  const ModelDownload::State s = download_.state();
  const char* phase = s.phase == ModelDownload::Phase::Running     ? "running"
                      : s.phase == ModelDownload::Phase::Done      ? "done"
                      : s.phase == ModelDownload::Phase::Failed    ? "failed"
                      : s.phase == ModelDownload::Phase::Cancelled ? "cancelled"
                                                                   : "idle";
  probe::value("download", phase);
  probe::value("download_bytes", s.progress.bytes);
  probe::value("download_error", s.error);
  if (s.phase == ModelDownload::Phase::Done && s.name != announced_) {
    announced_ = s.name;  // once per finished download
    refresh();
    ctx.report("downloaded " + s.name + " (size and sha256 verified): " + s.card);
  }
  if (!download_window_) return;
  ImGui::SetNextWindowPos(ImGui::GetMainViewport()->GetCenter(), ImGuiCond_Appearing, ImVec2(0.5f, 0.5f));
  ImGui::SetNextWindowSize(ImVec2(ImGui::GetFontSize() * 30, 0), ImGuiCond_Appearing);
  const ImGuiWindowFlags flags = ImGuiWindowFlags_NoCollapse | ImGuiWindowFlags_NoSavedSettings | ImGuiWindowFlags_AlwaysAutoResize;
  if (!ImGui::Begin("Download model", nullptr, flags)) return ImGui::End();
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
    case ModelDownload::Phase::Failed:
      ImGui::PushStyleColor(ImGuiCol_Text, IM_COL32(255, 110, 110, 255));
      ImGui::PushTextWrapPos(ImGui::GetFontSize() * 28);
      ImGui::TextUnformatted(s.error.c_str());
      ImGui::PopTextWrapPos();
      ImGui::PopStyleColor();
      probe::item("download/error");
      close = ImGui::Button("Close");
      probe::item("download/close");
      break;
    case ModelDownload::Phase::Cancelled:
      ImGui::PushTextWrapPos(ImGui::GetFontSize() * 28);
      ImGui::TextWrapped("Cancelled. The partial file is kept; downloading again resumes it:\n%s", s.part.c_str());
      ImGui::PopTextWrapPos();
      close = ImGui::Button("Close");
      probe::item("download/close");
      break;
    case ModelDownload::Phase::Idle:
      close = true;
      break;
  }
  ImGui::End();
  if (close) {
    download_window_ = false;
    download_.dismiss();
    announced_.clear();
  }
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
                                  "; open one with File > Open model card, or set ACTMAP_MODEL_PATH");
  return models_.front();
}

}  // namespace actmap::app
