// The editor's side of the render worker: sends a stamped request when the session or the
// requested views change, takes the newest reply, and keeps what stays on screen (the latest
// good reply and its textures). The model runs on the worker's thread; nothing here waits for it.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "actmap/render/render_worker.h"
#include "texture.h"

namespace actmap::app {

class RenderLink {
 public:
  RenderLink();

  // Sends a request when the session's revision, its model or the views differ from the last
  // one sent (with Auto off, session changes wait for predict_now).
  void submit_if_needed(const Session& session, std::uint64_t revision, std::vector<TapViewRequest> views,
                        const std::string& device);
  // Takes the newest reply, if one came; returns its error ("" when it rendered or none came).
  std::string take_reply();
  // Forget what was sent: the next submit_if_needed sends (a new session was adopted).
  void reset() {
    submitted_revision_ = UINT64_MAX;
    predict_now = true;
  }

  const RenderReply* reply() const { return good_reply_ ? &*good_reply_ : nullptr; }  // what stays on screen
  const std::string& error() const { return error_; }  // of the latest reply
  bool busy() const { return worker_.busy(); }
  bool result_waiting() const { return worker_.has_reply(); }  // a reply not taken yet
  // Milliseconds since the oldest request not yet answered was sent (0 when none is pending): the
  // picture on screen is older than the session while this is above 0.
  double pending_ms() const;
  // Mean |edited - original| over the latest output's 8-bit values (-1 before a reply with both).
  double mean_change() const { return mean_change_; }
  bool started() const { return shown_stamp_ > 0; }  // a reply came, good or not
  bool settled(std::uint64_t revision) const;
  bool waiting_to_present() const { return awaiting_present_.has_value() || awaiting_views_present_.has_value(); }
  void note_frame_presented();
  // From a change to the frame that first shows its output (the picture), and to the frame that
  // shows its views as well (the channel grid, the slice and the layer previews).
  const std::vector<double>& latencies_ms() const { return latencies_ms_; }
  const std::vector<double>& views_latencies_ms() const { return views_latencies_ms_; }

  const Texture& output() const { return output_tex_; }
  const Texture& original() const { return original_tex_; }
  const Texture& difference() const { return diff_tex_; }
  const Texture& grid() const { return grid_tex_; }
  const Texture& focus() const { return focus_tex_; }
  const std::vector<Texture>& overview() const { return overview_tex_; }

  bool auto_predict = true;  // re-render after every session change
  bool predict_now = true;   // render the current session once, Auto or not

 private:
  RenderWorker worker_;
  Session rendered_session_;  // what the last submitted request rendered
  std::uint64_t submitted_revision_ = UINT64_MAX;
  std::vector<TapViewRequest> submitted_views_;
  std::string submitted_card_;
  std::uint64_t submitted_stamp_ = 0;
  std::map<std::uint64_t, std::chrono::steady_clock::time_point> submit_times_;
  std::uint64_t shown_stamp_ = 0;          // of the latest reply taken (0: none yet)
  std::string error_;                      // of the latest reply ("" when it rendered)
  std::optional<RenderReply> good_reply_;  // the latest reply without error
  std::optional<std::chrono::steady_clock::time_point> awaiting_present_, awaiting_views_present_;
  // When the request whose partial reply was taken last was sent (its whole reply comes next).
  std::optional<std::chrono::steady_clock::time_point> partial_sent_;
  std::vector<double> latencies_ms_, views_latencies_ms_;
  // The output, the original and their difference (with mean_change_) to the textures.
  void upload_picture(const RenderReply& r);

  Texture output_tex_, original_tex_, diff_tex_, grid_tex_, focus_tex_;
  std::vector<Texture> overview_tex_;
  Image diff_image_;
  double mean_change_ = -1.0;
};

}  // namespace actmap::app
