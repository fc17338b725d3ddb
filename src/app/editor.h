// The desktop editor: lays out the panels (src/app/panels/, each owning its state), the menus,
// the prompts and keys, and the session's files (new, open, save, recovery, autosave). What the
// panels share is the EditorContext; the model runs on the render worker's thread and on the
// panels' background jobs, never on this one.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "app_files.h"
#include "editor_context.h"
#include "key_queue.h"
#include "model_library.h"
#include "panel_layout.h"
#include "panels/channel_grid_panel.h"
#include "panels/clusters_panel.h"
#include "panels/dissect_panel.h"
#include "panels/edit_stack_panel.h"
#include "panels/history_panel.h"
#include "panels/layers_panel.h"
#include "panels/model_panel.h"
#include "panels/output_panel.h"
#include "panels/record_panel.h"
#include "panels/report_window.h"
#include "panels/seed_strip_panel.h"
#include "panels/sensitivity_panel.h"
#include "panels/slice_editor_panel.h"
#include "panels/snapshots_panel.h"
#include "panels/status_bar.h"
#include "panels/stylegan_panel.h"
#include "panels/sweep_window.h"

namespace actmap::app {

class Editor {
 public:
  explicit Editor(EditorOptions options);
  ~Editor();

  // One frame of UI (between ImGui::NewFrame and ImGui::Render), with the key presses since the
  // last frame (each shortcut acts once per press, however slow the frame).
  void frame(const std::vector<KeyPress>& keys = {});
  // Why the session or model asked for on the command line did not open ("" when it did).
  const std::string& startup_error() const { return startup_error_; }
  // The window's close button: true when it may close now (otherwise a prompt is showing).
  bool request_quit();
  bool quit_requested() const { return quit_now_; }
  // SIGTERM, SIGINT, SIGHUP: unsaved work goes to the recovery file before the process ends.
  void keep_unsaved_work();
  // Files dropped on the window: sessions open, model cards and checkpoint files switch the model.
  void drop_files(const std::vector<std::string>& paths);

  // For scripted screenshots: whether the latest session state has been rendered and shown.
  bool settled() const;
  // Whether a checkpoint file is being converted (the model asked for is still to come).
  bool converting_model() const { return models_.converting(); }
  // The latency from a change to its result on screen, per shown result (milliseconds): to its
  // output, and to its views as well.
  const std::vector<double>& latencies_ms() const { return ctx_.render.latencies_ms(); }
  const std::vector<double>& views_latencies_ms() const { return ctx_.render.views_latencies_ms(); }
  // Whether the render worker has a result waiting to be taken (it then woke the event loop).
  bool result_waiting() const { return ctx_.render.result_waiting(); }
  void note_frame_presented() { ctx_.render.note_frame_presented(); }  // after the buffer swap

  // How soon the next frame should come when no input arrives, in seconds (0: only on input or
  // a wake-up from a worker).
  double frame_interval_s() const;

 private:
  // Session and files (editor_session.cpp).
  // A card or a checkpoint file (converted in the background; `failed` is told when that fails).
  void open_model(const std::string& name_or_path, std::function<void(const std::string&)> failed = {});
  void new_session(const std::string& model);
  // `convert`: a model that is a checkpoint not converted yet is converted first (then the session
  // opens again, with `convert` false).
  void open_session(const std::string& path, bool convert = true);
  // A session whose model is a checkpoint file not converted yet: convert it, then open the session.
  void convert_then_open_session(const std::string& checkpoint, const std::string& session_path,
                                 std::function<void(const std::string&)> failed = {});
  void adopt(Session session, const std::string& path, bool dirty);
  bool save(const std::string& path);
  void save_or_save_as();
  void ask_save_as();
  void run_or_confirm(std::function<void()> action);  // asks about unsaved changes first
  void draw_menu();
  void draw_prompts();
  void handle_keys(const std::vector<KeyPress>& presses);
  void check_recovery();
  void tick_autosave();

  void layout_windows();
  static std::string layout_path();
  void set_layout(const PanelLayout& layout);  // and keep it for the next run
  void apply_requests();  // what the panels asked for during the frame
  void submit_render();
  void write_probe_values();
  bool jobs_running() const;

  EditorContext ctx_;
  ModelLibrary models_;
  PanelLayout layout_;
  std::unique_ptr<Autosaver> autosaver_;

  // The panels, each with its own state.
  ModelPanel model_panel_;
  LayersPanel layers_panel_;
  ChannelGridPanel grid_panel_;
  SensitivityPanel sensitivity_panel_;
  SliceEditorPanel slice_panel_;
  OutputPanel output_panel_;
  SeedStripPanel seed_strip_{ctx_.render};
  EditStackPanel edit_stack_panel_;
  HistoryPanel history_panel_;
  ClustersPanel clusters_panel_;
  DissectPanel dissect_panel_;
  RecordPanel record_panel_;
  StyleGanPanel stylegan_panel_;
  SnapshotsPanel snapshots_panel_;
  SweepWindow sweep_window_;
  ReportWindow report_window_;
  StatusBar status_bar_;

  // Files and prompts.
  RecentFiles recent_;
  std::function<void()> after_save_prompt_;
  bool unsaved_prompt_ = false;
  std::vector<RecoveryFile> recovery_offer_;
  bool quit_now_ = false;
  bool show_help_ = false;
  std::string startup_error_;
};

}  // namespace actmap::app
