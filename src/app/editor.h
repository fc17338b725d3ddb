// The desktop editor's state and panels. The session (inside SessionHistory) is the single source
// of truth: panels read it and the latest render reply, and change it only through history
// commands. The model runs on the RenderWorker's thread; this class never waits for it.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "actmap/clustering.h"
#include "actmap/dissection.h"
#include "actmap/history.h"
#include "actmap/render_worker.h"
#include "actmap/sensitivity.h"
#include "actmap/sweep.h"
#include "app_files.h"
#include "background_job.h"
#include "file_browser.h"
#include "model_download.h"
#include "texture.h"

namespace actmap::app {

struct EditorOptions {
  std::string model;         // card path or name; "" = the default model
  std::string session_path;  // open this session at start
  std::string device = "cpu";
  bool offer_recovery = true;
};

enum class Tool { Brush, Erase, Fill, Rect, Rotate, Scale, Translate, Flip, Multiply, Threshold };
enum class ApplyTo { Channel, Selected, All, Cluster };
enum class OutputMode { SideBySide, Toggle, Difference, Dissect };

// Wakes the event loop (a background job finished).
void wake_ui();

// The colour of cluster k in the grid's stripes and the Clusters panel (an ImU32).
unsigned cluster_colour(int k);

// "a, b, c" for messages.
std::string join_dirs(const std::vector<std::string>& dirs);

class Editor {
 public:
  static constexpr const char* kRecordTitle = "Record animation to";
  explicit Editor(EditorOptions options);
  ~Editor();

  // One frame of UI (between ImGui::NewFrame and ImGui::Render).
  void frame();
  // Why the session or model asked for on the command line did not open ("" when it did).
  const std::string& startup_error() const { return startup_error_; }
  // The window's close button: true when it may close now (otherwise a prompt is showing).
  bool request_quit();
  bool quit_requested() const { return quit_now_; }
  // SIGTERM, SIGINT, SIGHUP: unsaved work goes to the recovery file before the process ends.
  void keep_unsaved_work();
  // Files dropped on the window: sessions open, model cards switch the model.
  void drop_files(const std::vector<std::string>& paths);

  // For scripted screenshots: whether the latest session state has been rendered and shown.
  bool settled() const;
  // The latency from a change to its result on screen, per shown result (milliseconds).
  const std::vector<double>& latencies_ms() const { return latencies_ms_; }
  void note_frame_presented();  // after the buffer swap: closes the latency measurements

  // Called with the time the app wants the UI to keep animating (e.g. while rendering).
  bool wants_continuous_frames() const;

 private:
  // Session and files (editor_session.cpp).
  void open_model(const std::string& name_or_path);
  void new_session(const std::string& model);
  void open_session(const std::string& path);
  void adopt(Session session, const std::string& path, bool dirty);
  bool save(const std::string& path);
  void save_or_save_as();
  void run_or_confirm(std::function<void()> action);  // asks about unsaved changes first
  void draw_menu();
  void draw_prompts();
  void handle_keys();
  void check_recovery();
  void tick_autosave();
  void refresh_models();     // models_: the cards with their weights at hand; downloadable_
  void draw_model_items();   // models_ as menu items (the Model menu and the model combo)
  void draw_download_window();  // progress, Cancel and errors of a registry download
  std::string default_model();

  // Rendering (editor.cpp).
  void submit_if_needed();
  void take_reply();
  RenderRequest make_request(const Session& s) const;

  // Panels.
  void draw_model_panel();     // editor_layers.cpp
  void draw_layers_panel();    // editor_layers.cpp
  void draw_grid_panel();      // editor_layers.cpp
  void draw_slice_panel();     // editor_slice.cpp
  void draw_edits_panel();     // editor_edits.cpp
  void draw_history_panel();   // editor_edits.cpp
  void draw_output_panel();    // editor_output.cpp
  void draw_status_bar();      // editor_output.cpp
  void draw_clusters_panel();  // editor_analysis.cpp
  void draw_dissect_panel();   // editor_analysis.cpp
  void draw_record_panel();    // editor_analysis.cpp
  void draw_stylegan_panel();  // editor_stylegan.cpp
  bool is_stylegan() const;    // the session's model has a mapping network (its first tap is W+)
  void add_w_edit(const std::string& op, nlohmann::json params);  // at "mapping", the ticked W+ rows
  // Draws the dissection region over the output image at (x, y), `zoom` screen pixels per output
  // pixel, and paints it with the mouse (editor_analysis.cpp).
  void draw_region_overlay(float x, float y, float zoom);
  void take_job_results();     // editor_analysis.cpp
  // Depth sweeps and channel sensitivity (editor_research.cpp).
  static const char* kSensitivityCsvTitle;
  void start_sweep(const std::string& edit_id);
  void draw_sweep_window();
  void draw_sensitivity_panel();
  void take_research_results();
  void export_sensitivity(const std::string& path);
  bool jobs_running() const;

  // Helpers.
  const Session& session() const { return history_->session(); }
  const TapInfo* selected_tap() const;
  const TapView* shown_view() const;  // the latest reply's view of the selected tap
  std::set<std::int64_t> edited_channels(const std::string& tap) const;
  ChannelSelector apply_selector() const;
  std::string add_edit(const std::string& op, nlohmann::json params, const std::string& gesture = "",
                       std::optional<SpatialMask> mask = std::nullopt);
  void set_seed(std::uint64_t seed);
  void report(const std::string& message);  // a message in the status bar and the log
  void export_output(const std::string& path, int scale);
  void export_grid(const std::string& path);

  EditorOptions options_;
  std::unique_ptr<SessionHistory> history_;
  std::string session_path_;  // "" until saved
  std::vector<TapInfo> taps_; // of the session's model, from its card (no weights needed)
  std::string card_error_;
  std::unique_ptr<Autosaver> autosaver_;
  std::vector<std::string> extra_models_;  // cards opened or dropped this run
  std::vector<std::string> models_;        // read from disk when a model menu opens
  Registry registry_;                      // models/registry.json (or ACTMAP_REGISTRY), read with models_
  std::vector<RegistryEntry> downloadable_;  // the registry's models whose weights are not at hand
  std::string registry_error_;
  ModelDownload download_;
  bool download_window_ = false;
  std::string announced_download_;  // the finished download already reported

  // View state.
  std::size_t tap_ = 0;
  int focus_ = 0;
  std::set<int> selected_;
  int last_clicked_ = 0;
  ViewOptions view_;
  float grid_cell_ = 48.0f;
  float slice_zoom_ = 0.0f;  // 0: fit
  int output_zoom_ = 4;
  OutputMode output_mode_ = OutputMode::SideBySide;
  bool show_original_ = false;

  // Tools.
  Tool tool_ = Tool::Brush;
  ApplyTo apply_to_ = ApplyTo::Channel;
  int cluster_ = 0;
  float brush_radius_ = 2.0f, brush_strength_ = 2.0f;
  bool brush_soft_ = true;
  float fill_value_ = 0.0f, rect_value_ = 3.0f;
  std::vector<bool> ws_rows_;       // StyleGAN2 tab: ticked W+ rows
  std::uint64_t mix_seed_ = 1;      // the other latent of style mixing, swaps and interpolation
  float interp_position_ = 0.5f, w_noise_strength_ = 0.5f;
  float rotate_deg_ = 90.0f, scale_factor_ = 1.5f, translate_dx_ = 0.25f, translate_dy_ = 0.0f;
  bool flip_vertical_ = false;
  float multiply_factor_ = 2.0f, threshold_t_ = 0.5f;
  bool auto_predict_ = true;
  bool predict_now_ = true;
  // The stroke or rectangle being drawn.
  std::string stroke_edit_, stroke_gesture_;
  nlohmann::json stroke_points_ = nlohmann::json::array();
  std::optional<std::array<float, 2>> rect_start_;
  int gesture_counter_ = 0;

  // Rendering.
  RenderWorker worker_;
  Session rendered_session_;             // what the last submitted request rendered
  std::uint64_t submitted_revision_ = UINT64_MAX;
  std::vector<TapViewRequest> submitted_views_;
  std::string submitted_card_;
  std::uint64_t submitted_stamp_ = 0;
  std::map<std::uint64_t, std::chrono::steady_clock::time_point> submit_times_;
  std::uint64_t shown_stamp_ = 0;          // of the latest reply taken (0: none yet)
  std::string render_error_;               // of the latest reply ("" when it rendered)
  std::optional<RenderReply> good_reply_;  // the latest reply without error: what stays on screen
  std::optional<std::chrono::steady_clock::time_point> awaiting_present_;
  std::vector<double> latencies_ms_;
  Texture output_tex_, original_tex_, diff_tex_, grid_tex_, focus_tex_;
  std::vector<Texture> overview_tex_;
  Image diff_image_;

  // Clustering, dissection and recording run as background jobs on their own generator.
  BackgroundJob<ClusterResult> cluster_job_{wake_ui};
  std::optional<ClusterResult> cluster_result_;  // the latest, for cluster_result_card_
  std::string cluster_result_card_, cluster_job_card_;
  int cluster_k_ = 0;  // 0: the default for the layer
  int cluster_samples_ = 64, cluster_restarts_ = 10;
  std::vector<Texture> cluster_tex_;      // mean-map preview per cluster of the session's labels
  std::vector<int> cluster_tex_labels_;   // the labels the previews were made for
  std::string cluster_tex_tap_;
  Region region_;                         // the dissection region, at the output's size
  Texture region_tex_;
  bool region_dirty_ = true;
  float region_brush_ = 3.0f;
  BackgroundJob<DissectResult> dissect_job_{wake_ui};
  std::optional<DissectResult> dissection_;
  int dissect_samples_ = 64, dissect_top_ = 5;
  float dissect_quantile_ = 0.99f, boost_factor_ = 3.0f;
  BackgroundJob<EditEffect> effect_job_{wake_ui};
  std::optional<EditEffect> effect_;
  std::string effect_label_;
  BackgroundJob<std::string> record_job_{wake_ui};
  int record_param_ = -1;  // index into numeric_pointers(session), -1: none
  std::string record_walk_;
  float record_from_ = 0.0f, record_to_ = 360.0f;
  int record_frames_ = 60, record_fps_ = 30, record_scale_ = 4, record_format_ = 0;  // mp4, gif, png frames
  std::string record_path_, record_message_;
  BackgroundJob<SweepResult> sweep_job_{wake_ui};
  std::optional<SweepResult> sweep_;
  std::string sweep_edit_;
  Texture sweep_tex_;
  bool show_sweep_ = false;
  BackgroundJob<SensitivityResult> sens_job_{wake_ui};
  std::optional<SensitivityResult> sensitivity_;
  std::string sens_job_card_, sens_result_card_;
  int sens_samples_ = 16, sens_op_ = 0, sens_sort_ = 0;
  float sens_factor_ = 2.0f;

  // Files and prompts.
  FileBrowser browser_;
  RecentFiles recent_;
  std::function<void()> after_save_prompt_;
  bool unsaved_prompt_ = false;
  std::vector<RecoveryFile> recovery_offer_;
  bool quit_now_ = false;
  bool show_help_ = false;
  std::deque<std::string> log_;
  std::string status_message_, startup_error_;
  double status_time_ = 0.0;
};

}  // namespace actmap::app
