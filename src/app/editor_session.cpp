// Sessions and files: new, open, save, recent files, drops, the unsaved-changes prompt, autosave
// and recovery, menus and keys.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>

#include <imgui.h>

#include "actmap/error.h"
#include "actmap/files.h"
#include "editor.h"
#include "ui_probe.h"

namespace actmap::app {
namespace fs = std::filesystem;

namespace {

const char* kOpenSession = "Open session";
const char* kSaveSessionAs = "Save session as";
const char* kExportOutput = "Export output";
const char* kExportOutputLarge = "Export output (enlarged)";
const char* kExportGrid = "Export channel grid";
const char* kOpenCard = "Open model card";

// A JSON file that has the model card marker is a card; anything else is taken for a session.
bool looks_like_card(const std::string& path) {
  try {
    const nlohmann::json j = nlohmann::json::parse(read_file_text(path));
    return j.is_object() && j.contains("actmap_model_card");
  } catch (const std::exception&) {
    return false;
  }
}

std::string dir_of(const std::string& path) {
  if (path.empty()) return fs::current_path().string();
  return fs::absolute(fs::path(path)).parent_path().string();
}

Image enlarge(const Image& in, int scale) {
  if (scale <= 1) return in;
  Image out;
  out.width = in.width * scale;
  out.height = in.height * scale;
  out.channels = in.channels;
  out.pixels.resize(std::size_t(out.width) * out.height * out.channels);
  for (int y = 0; y < out.height; ++y) {
    for (int x = 0; x < out.width; ++x) {
      const std::size_t src = (std::size_t(y / scale) * in.width + x / scale) * in.channels;
      const std::size_t dst = (std::size_t(y) * out.width + x) * out.channels;
      std::copy_n(in.pixels.begin() + src, in.channels, out.pixels.begin() + dst);
    }
  }
  return out;
}

}  // namespace

void Editor::refresh_models() {
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
  for (const auto& p : extra_models_) consider(p);
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

void Editor::draw_model_items() {
  if (ImGui::IsWindowAppearing()) refresh_models();  // once per opening, not every frame it stays open
  const std::string current = normalize_path(session().card_path);
  for (const auto& card : models_) {
    if (ImGui::MenuItem(fs::path(card).stem().string().c_str(), nullptr, normalize_path(card) == current)) {
      new_session(card);
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
    browser_.open(kOpenCard, FileBrowser::Mode::Open, dir_of(session().card_path), "", {".json"});
  }
}

void Editor::draw_download_window() {
  const ModelDownload::State s = download_.state();
  const char* phase = s.phase == ModelDownload::Phase::Running     ? "running"
                      : s.phase == ModelDownload::Phase::Done      ? "done"
                      : s.phase == ModelDownload::Phase::Failed    ? "failed"
                      : s.phase == ModelDownload::Phase::Cancelled ? "cancelled"
                                                                   : "idle";
  probe::value("download", phase);
  probe::value("download_bytes", s.progress.bytes);
  probe::value("download_error", s.error);
  if (s.phase == ModelDownload::Phase::Done && s.name != announced_download_) {
    announced_download_ = s.name;  // once per finished download
    refresh_models();
    report("downloaded " + s.name + " (size and sha256 verified): " + s.card);
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
        new_session(s.card);
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
    announced_download_.clear();
  }
}

void Editor::adopt(Session session, const std::string& path, bool dirty) {
  card_error_.clear();
  taps_.clear();
  try {
    const ModelCard card = load_model_card(session.card_path);
    check_session_against_card(session, card);
    taps_ = card_taps(card);
  } catch (const std::exception& e) {
    card_error_ = e.what();
    report(e.what());
  }
  history_ = std::make_unique<SessionHistory>(std::move(session));
  if (dirty) history_->mark_unsaved();
  session_path_ = path;
  // The view comes back from the session where it was saved with one.
  const nlohmann::json& view = history_->session().view;
  tap_ = taps_.size() / 2;  // a middle layer: neither the latent's reshaping nor the image
  if (view.contains("tap") && view["tap"].is_string()) {
    for (std::size_t i = 0; i < taps_.size(); ++i) {
      if (taps_[i].name == view["tap"].get<std::string>()) tap_ = i;
    }
  }
  focus_ = std::max(0, view.value("channel", 0));
  if (tap_ < taps_.size()) focus_ = std::min<int>(focus_, int(taps_[tap_].channels) - 1);
  selected_ = {focus_};
  stroke_edit_.clear();
  predict_now_ = true;
  submitted_revision_ = UINT64_MAX;
  autosaver_->discard();
  if (!path.empty()) recent_.add(path);
}

void Editor::open_model(const std::string& name_or_path) {
  try {
    const std::string card = find_model_card(name_or_path);
    if (is_card_path(name_or_path) &&
        std::find(extra_models_.begin(), extra_models_.end(), card) == extra_models_.end()) {
      extra_models_.push_back(fs::absolute(card).string());
    }
    new_session(card);
  } catch (const std::exception& e) {
    report(e.what());
  }
}

void Editor::new_session(const std::string& model) {
  run_or_confirm([this, model] {
    try {
      Session s = actmap::new_session(model);
      if (history_) s.latent = session().latent;  // keep the seed: the same face, a new model or no edits
      adopt(std::move(s), "", false);
      report("new session on " + model);
    } catch (const std::exception& e) {
      report(e.what());
    }
  });
}

void Editor::open_session(const std::string& path) {
  run_or_confirm([this, path] {
    try {
      adopt(load_session(path), path, false);
      report("opened " + path);
    } catch (const std::exception& e) {
      report(e.what());
    }
  });
}

bool Editor::save(const std::string& path) {
  try {
    Session& s = history_->untracked();
    s.view = {{"tap", tap_ < taps_.size() ? taps_[tap_].name : std::string()}, {"channel", focus_}};
    save_session(s, path);
    history_->mark_saved();
    session_path_ = path;
    autosaver_->discard();
    recent_.add(path);
    report("saved " + path);
    return true;
  } catch (const std::exception& e) {
    report(std::string("could not save: ") + e.what());
    return false;
  }
}

void Editor::save_or_save_as() {
  if (session_path_.empty()) {
    browser_.open(kSaveSessionAs, FileBrowser::Mode::Save, dir_of(session_path_), "session.json", {".json"});
  } else {
    save(session_path_);
  }
}

void Editor::run_or_confirm(std::function<void()> action) {
  if (history_ && history_->dirty()) {
    after_save_prompt_ = std::move(action);
    unsaved_prompt_ = true;
  } else {
    action();
  }
}

bool Editor::request_quit() {
  run_or_confirm([this] {
    autosaver_->discard();
    quit_now_ = true;
  });
  return quit_now_;
}

void Editor::keep_unsaved_work() {
  if (history_ && history_->dirty()) autosaver_->flush(session(), history_->revision(), session_path_);
}

void Editor::drop_files(const std::vector<std::string>& paths) {
  for (const auto& p : paths) {
    if (looks_like_card(p)) {
      open_model(p);
    } else if (fs::path(p).extension() == ".json") {
      open_session(p);
      break;  // one session at a time
    } else {
      report(p + ": not a session or model card (.json)");
    }
  }
}

void Editor::export_output(const std::string& path, int scale) {
  if (!good_reply_) return report("nothing rendered yet to export");
  try {
    write_png(path, enlarge(good_reply_->output, scale));
    report("exported " + path);
  } catch (const std::exception& e) {
    report(e.what());
  }
}

void Editor::export_grid(const std::string& path) {
  const TapView* v = shown_view();
  if (!v) return report("no channel grid to export yet");
  try {
    write_png(path, grid_export(v->grid, 4, 2));
    report("exported " + path);
  } catch (const std::exception& e) {
    report(e.what());
  }
}

void Editor::check_recovery() {
  for (const RecoveryFile& r : list_recovery_files(recovery_dir())) {
    if (r.path != autosaver_->path()) recovery_offer_.push_back(r);
  }
}

void Editor::tick_autosave() {
  if (!history_) return;
  if (history_->dirty()) {
    autosaver_->tick(session(), history_->revision(), session_path_, ImGui::GetTime());
  } else {
    autosaver_->discard();
  }
}

void Editor::handle_keys() {
  ImGuiIO& io = ImGui::GetIO();
  if (io.WantTextInput || browser_.is_open()) return;
  const bool ctrl = io.KeyCtrl, shift = io.KeyShift;
  if (ctrl && ImGui::IsKeyPressed('Z', false)) {
    stroke_edit_.clear();
    shift ? history_->redo() : history_->undo();
  } else if (ctrl && ImGui::IsKeyPressed('Y', false)) {
    history_->redo();
  } else if (ctrl && shift && ImGui::IsKeyPressed('S', false)) {
    browser_.open(kSaveSessionAs, FileBrowser::Mode::Save, dir_of(session_path_), "session.json", {".json"});
  } else if (ctrl && ImGui::IsKeyPressed('S', false)) {
    save_or_save_as();
  } else if (ctrl && ImGui::IsKeyPressed('O', false)) {
    browser_.open(kOpenSession, FileBrowser::Mode::Open, dir_of(session_path_), "", {".json"});
  } else if (!ctrl && ImGui::IsKeyPressed('N', false)) {
    if (session().latent.kind == SessionLatent::Kind::Seed) set_seed(session().latent.seed + 1);
  } else if (!ctrl && ImGui::IsKeyPressed('[', true)) {
    brush_radius_ = std::max(0.5f, brush_radius_ / 1.25f);
  } else if (!ctrl && ImGui::IsKeyPressed(']', true)) {
    brush_radius_ = std::min(64.0f, brush_radius_ * 1.25f);
  }
}

void Editor::draw_menu() {
  if (!ImGui::BeginMainMenuBar()) return;
  if (ImGui::BeginMenu("File")) {
    if (ImGui::MenuItem("New session", nullptr)) new_session(session().card_path);
    if (ImGui::MenuItem("Open session...", "Ctrl+O")) {
      browser_.open(kOpenSession, FileBrowser::Mode::Open, dir_of(session_path_), "", {".json"});
    }
    if (ImGui::BeginMenu("Open recent", !recent_.items().empty())) {
      for (const auto& p : recent_.items()) {
        if (ImGui::MenuItem(p.c_str())) open_session(p);
      }
      ImGui::EndMenu();
    }
    if (ImGui::MenuItem("Save", "Ctrl+S")) save_or_save_as();
    if (ImGui::MenuItem("Save as...", "Ctrl+Shift+S")) {
      browser_.open(kSaveSessionAs, FileBrowser::Mode::Save, dir_of(session_path_), "session.json", {".json"});
    }
    ImGui::Separator();
    if (ImGui::MenuItem("Export output PNG...")) {
      browser_.open(kExportOutput, FileBrowser::Mode::Save, dir_of(session_path_), "output.png", {".png"});
    }
    if (ImGui::MenuItem("Export output PNG, enlarged 8x...")) {
      browser_.open(kExportOutputLarge, FileBrowser::Mode::Save, dir_of(session_path_), "output-8x.png", {".png"});
    }
    if (ImGui::MenuItem("Export channel grid PNG...", nullptr, false, shown_view() != nullptr)) {
      browser_.open(kExportGrid, FileBrowser::Mode::Save, dir_of(session_path_), "channels.png", {".png"});
    }
    ImGui::Separator();
    if (ImGui::MenuItem("Quit")) request_quit();
    ImGui::EndMenu();
  }
  if (ImGui::BeginMenu("Edit")) {
    if (ImGui::MenuItem("Undo", "Ctrl+Z", false, history_->can_undo())) history_->undo();
    if (ImGui::MenuItem("Redo", "Ctrl+Shift+Z / Ctrl+Y", false, history_->can_redo())) history_->redo();
    ImGui::EndMenu();
  }
  const bool model_menu = ImGui::BeginMenu("Model");
  probe::item("menu/model");
  if (model_menu) {
    draw_model_items();
    ImGui::EndMenu();
  }
  if (ImGui::BeginMenu("Help")) {
    if (ImGui::MenuItem("Keys and tips")) show_help_ = true;
    ImGui::EndMenu();
  }
  const std::string title = (session_path_.empty() ? std::string("untitled session") : fs::path(session_path_).filename().string()) +
                            (history_->dirty() ? " *" : "");
  ImGui::SameLine(ImGui::GetWindowWidth() - ImGui::CalcTextSize(title.c_str()).x - 16.0f);
  ImGui::TextDisabled("%s", title.c_str());
  ImGui::EndMainMenuBar();
}

void Editor::draw_prompts() {
  if (browser_.draw()) {
    const std::string title = browser_.title(), path = browser_.path();
    if (title == kOpenSession) {
      open_session(path);
    } else if (title == kSaveSessionAs) {
      if (save(path) && after_save_prompt_) std::exchange(after_save_prompt_, nullptr)();
    } else if (title == kExportOutput) {
      export_output(path, 1);
    } else if (title == kExportOutputLarge) {
      export_output(path, 8);
    } else if (title == kExportGrid) {
      export_grid(path);
    } else if (title == kOpenCard) {
      open_model(path);
    } else if (title == kRecordTitle) {
      record_path_ = path;
    } else if (title == kSensitivityCsvTitle) {
      export_sensitivity(path);
    }
  } else if (!browser_.is_open() && browser_.title() == kSaveSessionAs && after_save_prompt_ && !unsaved_prompt_) {
    after_save_prompt_ = nullptr;  // Save As was cancelled: so is what waited for it
  }

  if (unsaved_prompt_) {
    ImGui::OpenPopup("Unsaved changes");
    unsaved_prompt_ = false;
  }
  ImGui::SetNextWindowPos(ImGui::GetMainViewport()->GetCenter(), ImGuiCond_Appearing, ImVec2(0.5f, 0.5f));
  if (ImGui::BeginPopupModal("Unsaved changes", nullptr, ImGuiWindowFlags_AlwaysAutoResize)) {
    ImGui::Text("Save the changes to %s?", session_path_.empty() ? "this untitled session" : session_path_.c_str());
    ImGui::TextDisabled("Unsaved changes are lost otherwise.");
    if (ImGui::Button("Save")) {
      ImGui::CloseCurrentPopup();
      if (session_path_.empty()) {
        browser_.open(kSaveSessionAs, FileBrowser::Mode::Save, dir_of(session_path_), "session.json", {".json"});
      } else if (save(session_path_) && after_save_prompt_) {
        std::exchange(after_save_prompt_, nullptr)();
      }
    }
    probe::item("prompt/save");
    ImGui::SameLine();
    if (ImGui::Button("Don't save")) {
      ImGui::CloseCurrentPopup();
      history_->mark_saved();  // what follows replaces this session
      autosaver_->discard();
      if (after_save_prompt_) std::exchange(after_save_prompt_, nullptr)();
    }
    probe::item("prompt/discard");
    ImGui::SameLine();
    if (ImGui::Button("Cancel") || ImGui::IsKeyPressed(ImGui::GetKeyIndex(ImGuiKey_Escape))) {
      ImGui::CloseCurrentPopup();
      after_save_prompt_ = nullptr;
    }
    probe::item("prompt/cancel");
    ImGui::EndPopup();
  }

  if (!recovery_offer_.empty() && !ImGui::IsPopupOpen("Recover unsaved work")) ImGui::OpenPopup("Recover unsaved work");
  ImGui::SetNextWindowPos(ImGui::GetMainViewport()->GetCenter(), ImGuiCond_Appearing, ImVec2(0.5f, 0.5f));
  if (ImGui::BeginPopupModal("Recover unsaved work", nullptr, ImGuiWindowFlags_AlwaysAutoResize)) {
    const RecoveryFile& r = recovery_offer_.front();
    char when[64] = "an unknown time";
    const std::time_t t = static_cast<std::time_t>(r.saved_unix);
    if (r.saved_unix > 0) std::strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", std::localtime(&t));
    ImGui::Text("actmap did not close cleanly. Unsaved work from %s was kept:", when);
    ImGui::BulletText("%s", r.session_path.empty() ? "an untitled session" : r.session_path.c_str());
    ImGui::TextDisabled("%s", r.path.c_str());
    if (ImGui::Button("Recover")) {
      try {
        Session s = load_session(r.path);
        const std::string original = s.recovered_from;
        s.recovered_from.clear();
        adopt(std::move(s), original, /*dirty=*/true);
        std::error_code ec;
        fs::remove(r.path, ec);  // our own autosave holds it from now on
        report("recovered unsaved work" + (original.empty() ? std::string() : " of " + original));
      } catch (const std::exception& e) {
        report(std::string("could not recover: ") + e.what());
      }
      recovery_offer_.clear();
      ImGui::CloseCurrentPopup();
    }
    probe::item("recovery/recover");
    ImGui::SameLine();
    if (ImGui::Button("Discard")) {
      std::error_code ec;
      fs::remove(r.path, ec);
      recovery_offer_.erase(recovery_offer_.begin());
      ImGui::CloseCurrentPopup();
    }
    probe::item("recovery/discard");
    ImGui::SameLine();
    if (ImGui::Button("Not now")) {
      recovery_offer_.clear();
      ImGui::CloseCurrentPopup();
    }
    if (ImGui::IsItemHovered()) ImGui::SetTooltip("Keep the recovery file and ask again at the next start");
    ImGui::EndPopup();
  }

  if (show_help_) {
    ImGui::SetNextWindowPos(ImGui::GetMainViewport()->GetCenter(), ImGuiCond_Appearing, ImVec2(0.5f, 0.5f));
    if (ImGui::Begin("Keys and tips", &show_help_, ImGuiWindowFlags_AlwaysAutoResize)) {
      const char* rows[][2] = {{"Ctrl+Z", "undo"},
                               {"Ctrl+Shift+Z, Ctrl+Y", "redo"},
                               {"Ctrl+S / Ctrl+Shift+S", "save / save as"},
                               {"Ctrl+O", "open a session"},
                               {"N", "next seed"},
                               {"[ and ]", "smaller / larger brush"},
                               {"Shift + drag", "brush subtracts"},
                               {"Ctrl/Shift + click", "select several channels (Apply to: selected)"},
                               {"Ctrl + click a slider", "type a value"}};
      for (const auto& r : rows) {
        ImGui::TextUnformatted(r[0]);
        ImGui::SameLine(ImGui::GetFontSize() * 12);
        ImGui::TextUnformatted(r[1]);
      }
      ImGui::Separator();
      ImGui::TextWrapped("Drop a session or a model card on the window to open it.");
    }
    ImGui::End();
  }
}

}  // namespace actmap::app
