// What the editor's panels share: the session (read it; change it only through the history's
// commands), the taps of its model, which tap and channels are selected, the latest render
// reply, the file browser, and the status line. Each panel keeps its own state in its own class
// (src/app/panels/) and sees the others only through this context. Changes to the whole editor
// (a new session, a depth sweep) are requested here and carried out by the Editor after the frame.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "actmap/render/channel_view.h"
#include "actmap/session/history.h"
#include "file_browser.h"
#include "render_link.h"

namespace actmap::app {

struct EditorOptions {
  std::string model;         // card path or name; "" = the default model
  std::string session_path;  // open this session at start
  std::string device = "cpu";
  bool offer_recovery = true;
  int seed_strip = 4;        // seeds in the strip under the output (0: off)
  int import_delay_ms = 0;   // GUI tests: slow a checkpoint's conversion down to watch it
};

// Which channels the slice editor's tools apply to.
enum class ApplyTo { Channel, Selected, All, Cluster };
enum class OutputMode { SideBySide, Toggle, Difference, Dissect };

// The selected tap and channels: the layers panel, the grid, the slice editor, the clusters,
// dissection and sensitivity panels all read and set it.
struct Selection {
  std::size_t tap = 0;
  int focus = 0;               // the channel shown large
  std::set<int> channels;      // selected in the grid (Ctrl/Shift+click)
  int last_clicked = 0;        // the anchor of Shift+click ranges
  ApplyTo apply_to = ApplyTo::Channel;
  int cluster = 0;             // for ApplyTo::Cluster

  void select_only(int channel) {
    focus = channel;
    channels = {channel};
  }
};

// Changes to the whole editor a panel asks for during a frame; the Editor applies them after it.
struct EditorRequests {
  std::optional<std::string> new_session_on;  // a model card: start a new session on it
  std::optional<std::string> open_model;      // a card path or name chosen by the user
  std::optional<std::string> sweep_edit;      // an edit id: sweep it over every layer
};

class EditorContext {
 public:
  explicit EditorContext(EditorOptions editor_options) : options(std::move(editor_options)) {}

  const EditorOptions options;

  // The session: the single source of truth. Change it only through history().
  SessionHistory& history() { return *history_; }
  const SessionHistory& history() const { return *history_; }
  const Session& session() const { return history_->session(); }
  bool has_session() const { return history_ != nullptr; }
  // A session and its model's taps (from the card; no weights needed). Returns the card's error
  // ("" when it is usable).
  std::string adopt(Session session, const std::string& path, bool dirty);
  std::string session_path;  // "" until saved
  const std::vector<TapInfo>& taps() const { return taps_; }
  const std::string& card_error() const { return card_error_; }
  bool is_stylegan() const { return !taps_.empty() && taps_.front().name == "mapping"; }
  const std::string& family() const { return family_; }  // the card's ("" when it did not load)
  // The number of classes of a conditional generator (its label c has c_dim values); 0 otherwise.
  std::int64_t c_dim() const { return c_dim_; }
  // StyleGAN2 asked to run its float16 blocks (--fp16 or the card's "cuda_fp16"): the lowest block
  // resolution in float16 (on CUDA only); 0 otherwise.
  std::int64_t fp16_resolution() const { return fp16_resolution_; }

  Selection selection;
  const TapInfo* selected_tap() const { return selection.tap < taps_.size() ? &taps_[selection.tap] : nullptr; }
  ViewOptions view;                                // how the selected tap's channels are drawn
  OutputMode output_mode = OutputMode::SideBySide;  // the output panel's mode (Dissect paints a region)

  RenderLink render;
  // The latest reply's view of the selected tap (nullptr while none matches it).
  const TapView* shown_view() const;
  // Channels of `tap` that some enabled edit touches.
  std::set<std::int64_t> edited_channels(const std::string& tap) const;

  // Adds `op` at the selected tap for the channels the selection applies to; returns the edit's
  // id ("" when it failed: the error is reported).
  std::string add_edit(const std::string& op, nlohmann::json params, const std::string& gesture = "",
                       std::optional<SpatialMask> mask = std::nullopt);
  void set_seed(std::uint64_t seed);

  // One modal file browser serves every panel: `on_chosen` runs with the path the user confirms.
  void ask_for_file(const std::string& title, FileBrowser::Mode mode, const std::string& start,
                    const std::string& default_name, std::vector<std::string> extensions,
                    std::function<void(const std::string&)> on_chosen);
  FileBrowser browser;
  std::function<void(const std::string&)> on_file_chosen;  // of the request the browser shows

  // A message in the status bar and the log.
  void report(const std::string& message);
  const std::deque<std::string>& log() const { return log_; }
  const std::string& status_message() const { return status_message_; }
  double status_time() const { return status_time_; }

  EditorRequests requests;

 private:
  ChannelSelector apply_selector() const;

  std::unique_ptr<SessionHistory> history_;
  std::vector<TapInfo> taps_;
  std::string family_;
  std::int64_t c_dim_ = 0, fp16_resolution_ = 0;
  std::string card_error_;
  std::deque<std::string> log_;
  std::string status_message_;
  double status_time_ = 0.0;
};

// Wakes the event loop (a background job finished).
void wake_ui();

// The colour of cluster k in the grid's stripes and the Clusters panel (an ImU32).
unsigned cluster_colour(int k);

// "a, b, c" for messages.
std::string join_dirs(const std::vector<std::string>& dirs);

// The folder of a file the user works on, for the file browser (the working directory for "").
std::string dir_of(const std::string& path);

// A tooltip for the last item.
void tip(const char* text);

}  // namespace actmap::app
