// Sessions and files: new, open, save, recent files, drops, the unsaved-changes prompt, autosave
// and recovery, menus and keys.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>

#include <GLFW/glfw3.h>
#include <imgui.h>

#include "actmap/io/error.h"
#include "actmap/io/files.h"
#include "actmap/model/checkpoint_cache.h"
#include "editor.h"
#include "model_library.h"
#include "ui_probe.h"

namespace actmap::app {
namespace fs = std::filesystem;

namespace {

const char* kOpenSession = "Open session";
const char* kSaveSessionAs = "Save session as";

// A JSON file that has the model card marker is a card; anything else is taken for a session.
bool looks_like_card(const std::string& path) {
  try {
    const nlohmann::json j = nlohmann::json::parse(read_file_text(path));
    return j.is_object() && j.contains("actmap_model_card");
  } catch (const std::exception&) {
    return false;
  }
}

}  // namespace

void Editor::adopt(Session session, const std::string& path, bool dirty) {
  const std::string card_error = ctx_.adopt(std::move(session), path, dirty);
  if (!card_error.empty()) ctx_.report(card_error);
  slice_panel_.end_stroke();
  snapshots_panel_.reset();
  autosaver_->discard();
  if (!path.empty()) recent_.add(path);
}

void Editor::open_model(const std::string& name_or_path, std::function<void(const std::string&)> failed) {
  if (is_checkpoint_path(name_or_path)) {
    // Converted in the background (or found in the cache); the current model stays in use meanwhile.
    models_.open_file(ctx_, name_or_path, [this](const std::string& checkpoint) { new_session(checkpoint); }, std::move(failed));
    return;
  }
  try {
    const std::string card = find_model_card(name_or_path);
    if (is_card_path(name_or_path)) models_.remember(card);
    new_session(card);
  } catch (const std::exception& e) {
    ctx_.report(e.what());
  }
}

void Editor::new_session(const std::string& model) {
  run_or_confirm([this, model] {
    try {
      Session s = actmap::new_session(model);
      if (ctx_.has_session()) s.latent = ctx_.session().latent;  // keep the seed: the same face, a new model or no edits
      adopt(std::move(s), "", false);
      ctx_.report("new session on " + model);
    } catch (const std::exception& e) {
      ctx_.report(e.what());
    }
  });
}

void Editor::open_session(const std::string& path, bool convert) {
  run_or_confirm([this, path, convert] {
    try {
      adopt(load_session(path), path, false);
      ctx_.report("opened " + path);
    } catch (const CheckpointNotConverted& e) {
      if (convert) {
        convert_then_open_session(e.checkpoint(), path);
      } else {
        ctx_.report(e.what());
      }
    } catch (const std::exception& e) {
      ctx_.report(e.what());
    }
  });
}

void Editor::convert_then_open_session(const std::string& checkpoint, const std::string& session_path,
                                       std::function<void(const std::string&)> failed) {
  ctx_.report(session_path + ": its model " + checkpoint + " is converted first (once)");
  models_.open_file(ctx_, checkpoint, [this, session_path](const std::string&) { open_session(session_path, false); },
                    std::move(failed));
}

bool Editor::save(const std::string& path) {
  try {
    Session& s = ctx_.history().untracked();
    s.view = {{"tap", ctx_.selection.tap < ctx_.taps().size() ? ctx_.taps()[ctx_.selection.tap].name : std::string()}, {"channel", ctx_.selection.focus}};
    save_session(s, path);
    ctx_.history().mark_saved();
    ctx_.session_path = path;
    autosaver_->discard();
    recent_.add(path);
    ctx_.report("saved " + path);
    return true;
  } catch (const std::exception& e) {
    ctx_.report(std::string("could not save: ") + e.what());
    return false;
  }
}

void Editor::save_or_save_as() {
  if (ctx_.session_path.empty()) {
    ask_save_as();
  } else {
    save(ctx_.session_path);
  }
}

void Editor::ask_save_as() {
  ctx_.ask_for_file(kSaveSessionAs, FileBrowser::Mode::Save, dir_of(ctx_.session_path), "session.json", {".json"},
                    [this](const std::string& path) {
                      if (save(path) && after_save_prompt_) std::exchange(after_save_prompt_, nullptr)();
                    });
}

void Editor::run_or_confirm(std::function<void()> action) {
  if (ctx_.has_session() && ctx_.history().dirty()) {
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
  if (ctx_.has_session() && ctx_.history().dirty()) autosaver_->flush(ctx_.session(), ctx_.history().revision(), ctx_.session_path);
}

void Editor::drop_files(const std::vector<std::string>& paths) {
  for (const auto& p : paths) {
    if (is_checkpoint_path(p) || looks_like_card(p)) {
      open_model(p);
    } else if (fs::path(p).extension() == ".json") {
      open_session(p);
      break;  // one session at a time
    } else {
      ctx_.report(p + ": not a session, a model card (.json) or a checkpoint file (.pkl, .pt, .pth, .ckpt, .safetensors)");
    }
  }
}

void Editor::check_recovery() {
  for (const RecoveryFile& r : list_recovery_files(recovery_dir())) {
    if (r.path != autosaver_->path()) recovery_offer_.push_back(r);
  }
}

void Editor::tick_autosave() {
  if (!ctx_.has_session()) return;
  if (ctx_.history().dirty()) {
    autosaver_->tick(ctx_.session(), ctx_.history().revision(), ctx_.session_path, ImGui::GetTime());
  } else {
    autosaver_->discard();
  }
}

void Editor::handle_keys(const std::vector<KeyPress>& presses) {
  ImGuiIO& io = ImGui::GetIO();
  // A text field (or the file browser) takes the keys; ImGui handles its own Ctrl+Z there.
  if (io.WantTextInput || ctx_.browser.is_open()) return;
  for (const KeyPress& k : presses) {
    const bool ctrl = (k.mods & GLFW_MOD_CONTROL) != 0, shift = (k.mods & GLFW_MOD_SHIFT) != 0;
    if (ctrl) {
      if (k.repeat) continue;
      switch (k.key) {
        case GLFW_KEY_Z:
          slice_panel_.end_stroke();
          shift ? ctx_.history().redo() : ctx_.history().undo();
          break;
        case GLFW_KEY_Y: ctx_.history().redo(); break;
        case GLFW_KEY_S: shift ? ask_save_as() : save_or_save_as(); break;
        case GLFW_KEY_O:
          ctx_.ask_for_file(kOpenSession, FileBrowser::Mode::Open, dir_of(ctx_.session_path), "", {".json"},
                            [this](const std::string& path) { open_session(path); });
          break;
        case GLFW_KEY_Q: request_quit(); break;
        default: break;
      }
      continue;
    }
    if ((k.mods & (GLFW_MOD_ALT | GLFW_MOD_SUPER)) != 0) continue;
    switch (k.key) {
      case GLFW_KEY_LEFT_BRACKET: slice_panel_.shrink_brush(); break;
      case GLFW_KEY_RIGHT_BRACKET: slice_panel_.grow_brush(); break;
      default: break;
    }
    if (k.repeat) continue;  // holding [ or ] keeps resizing; the rest act once per press
    switch (k.key) {
      case GLFW_KEY_N:
        if (ctx_.session().latent.kind == SessionLatent::Kind::Seed) ctx_.set_seed(ctx_.session().latent.seed + 1);
        break;
      case GLFW_KEY_B: slice_panel_.set_tool(Tool::Brush); break;
      case GLFW_KEY_E: slice_panel_.set_tool(Tool::Erase); break;
      case GLFW_KEY_F: slice_panel_.set_tool(Tool::Fill); break;
      case GLFW_KEY_R: slice_panel_.set_tool(Tool::Rect); break;
      case GLFW_KEY_T: slice_panel_.set_tool(Tool::Rotate); break;
      case GLFW_KEY_S: slice_panel_.set_tool(Tool::Scale); break;
      case GLFW_KEY_G: slice_panel_.set_tool(Tool::Translate); break;
      default: break;
    }
  }
}

void Editor::draw_menu() {
  if (!ImGui::BeginMainMenuBar()) return;
  const bool file_menu = ImGui::BeginMenu("File");
  probe::item("menu/file");
  if (file_menu) {
    if (ImGui::MenuItem("New session", nullptr)) new_session(ctx_.session().card_path);
    if (ImGui::MenuItem("Open session...", "Ctrl+O")) {
      ctx_.ask_for_file(kOpenSession, FileBrowser::Mode::Open, dir_of(ctx_.session_path), "", {".json"},
                      [this](const std::string& path) { open_session(path); });
    }
    if (ImGui::BeginMenu("Open recent", !recent_.items().empty())) {
      for (const auto& p : recent_.items()) {
        if (ImGui::MenuItem(p.c_str())) open_session(p);
      }
      ImGui::EndMenu();
    }
    if (ImGui::MenuItem("Open model...")) ModelLibrary::ask_open_model(ctx_);
    probe::item("file/open-model");
    tip(ModelLibrary::kOpenModelTip);
    ImGui::Separator();
    if (ImGui::MenuItem("Save", "Ctrl+S")) save_or_save_as();
    if (ImGui::MenuItem("Save as...", "Ctrl+Shift+S")) {
      ask_save_as();
    }
    ImGui::Separator();
    if (ImGui::MenuItem("Export output PNG...")) {
      ctx_.ask_for_file(OutputPanel::kExportTitle, FileBrowser::Mode::Save, dir_of(ctx_.session_path), "output.png", {".png"},
                        [this](const std::string& path) { OutputPanel::export_output(ctx_, path, 1); });
    }
    if (ImGui::MenuItem("Export output PNG, enlarged 8x...")) {
      ctx_.ask_for_file(OutputPanel::kExportLargeTitle, FileBrowser::Mode::Save, dir_of(ctx_.session_path), "output-8x.png",
                        {".png"}, [this](const std::string& path) { OutputPanel::export_output(ctx_, path, 8); });
    }
    if (ImGui::MenuItem("Export channel grid PNG...", nullptr, false, ctx_.shown_view() != nullptr)) {
      ctx_.ask_for_file(ChannelGridPanel::kExportTitle, FileBrowser::Mode::Save, dir_of(ctx_.session_path), "channels.png",
                        {".png"}, [this](const std::string& path) { ChannelGridPanel::export_grid(ctx_, path); });
    }
    ImGui::Separator();
    if (ImGui::MenuItem("Write HTML report...")) report_window_.ask(ctx_);
    if (ImGui::IsItemHovered()) {
      ImGui::SetTooltip("A self-contained page of what the session does (each edit's channels and output before and "
                        "after, the depth sweep of the last edit) and the command that regenerates it");
    }
    ImGui::Separator();
    if (ImGui::MenuItem("Quit", "Ctrl+Q")) request_quit();
    ImGui::EndMenu();
  }
  if (ImGui::BeginMenu("Edit")) {
    if (ImGui::MenuItem("Undo", "Ctrl+Z", false, ctx_.history().can_undo())) ctx_.history().undo();
    if (ImGui::MenuItem("Redo", "Ctrl+Shift+Z / Ctrl+Y", false, ctx_.history().can_redo())) ctx_.history().redo();
    ImGui::EndMenu();
  }
  const bool model_menu = ImGui::BeginMenu("Model");
  probe::item("menu/model");
  if (model_menu) {
    models_.draw_items(ctx_);
    ImGui::EndMenu();
  }
  const bool view_menu = ImGui::BeginMenu("View");
  probe::item("menu/view");
  if (view_menu) {
    if (ImGui::MenuItem("Standard layout")) set_layout(PanelLayout::standard());
    if (ImGui::MenuItem("Big output")) set_layout(PanelLayout::big_output());
    probe::item("menu/view/big-output");
    if (ImGui::IsItemHovered()) ImGui::SetTooltip("Most of the window for the output; drag the splitters to adjust");
    ImGui::Separator();
    if (ImGui::MenuItem("Log")) status_bar_.open_log();
    ImGui::EndMenu();
  }
  if (ImGui::BeginMenu("Help")) {
    if (ImGui::MenuItem("Keys and tips")) show_help_ = true;
    ImGui::EndMenu();
  }
  const std::string title = (ctx_.session_path.empty() ? std::string("untitled session") : fs::path(ctx_.session_path).filename().string()) +
                            (ctx_.history().dirty() ? " *" : "");
  ImGui::SameLine(ImGui::GetWindowWidth() - ImGui::CalcTextSize(title.c_str()).x - 16.0f);
  ImGui::TextDisabled("%s", title.c_str());
  ImGui::EndMainMenuBar();
}

void Editor::draw_prompts() {
  if (ctx_.browser.draw()) {
    if (auto chosen = std::exchange(ctx_.on_file_chosen, nullptr)) chosen(ctx_.browser.path());
  } else if (!ctx_.browser.is_open() && ctx_.browser.title() == kSaveSessionAs && after_save_prompt_ && !unsaved_prompt_) {
    after_save_prompt_ = nullptr;  // Save As was cancelled: so is what waited for it
  }

  if (unsaved_prompt_) {
    ImGui::OpenPopup("Unsaved changes");
    unsaved_prompt_ = false;
  }
  ImGui::SetNextWindowPos(ImGui::GetMainViewport()->GetCenter(), ImGuiCond_Appearing, ImVec2(0.5f, 0.5f));
  if (ImGui::BeginPopupModal("Unsaved changes", nullptr, ImGuiWindowFlags_AlwaysAutoResize)) {
    ImGui::Text("Save the changes to %s?", ctx_.session_path.empty() ? "this untitled session" : ctx_.session_path.c_str());
    ImGui::TextDisabled("Unsaved changes are lost otherwise.");
    if (ImGui::Button("Save")) {
      ImGui::CloseCurrentPopup();
      if (ctx_.session_path.empty()) {
        ask_save_as();
      } else if (save(ctx_.session_path) && after_save_prompt_) {
        std::exchange(after_save_prompt_, nullptr)();
      }
    }
    probe::item("prompt/save");
    ImGui::SameLine();
    if (ImGui::Button("Don't save")) {
      ImGui::CloseCurrentPopup();
      ctx_.history().mark_saved();  // what follows replaces this session
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
        ctx_.report("recovered unsaved work" + (original.empty() ? std::string() : " of " + original));
      } catch (const std::exception& e) {
        ctx_.report(std::string("could not recover: ") + e.what());
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
                               {"Ctrl+Q", "quit"},
                               {"N", "next seed"},
                               {"B E F R", "brush, erase, fill, rectangle"},
                               {"T S G", "rotate, scale, translate (drag on the slice)"},
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
      ImGui::TextWrapped("Drop a session, a model card or a checkpoint file (.pkl, .pt, ...) on the window to open it.");
    }
    ImGui::End();
  }
}

}  // namespace actmap::app
