#include "render_link.h"

#include <algorithm>
#include <cstdlib>

#include <GLFW/glfw3.h>

namespace actmap::app {

using Clock = std::chrono::steady_clock;

RenderLink::RenderLink() : worker_([] { glfwPostEmptyEvent(); }) {}

void RenderLink::submit_if_needed(const Session& session, std::uint64_t revision, std::vector<TapViewRequest> views,
                                  const std::string& device) {
  const bool session_changed = revision != submitted_revision_ || session.card_path != submitted_card_;
  const bool view_changed = !(views == submitted_views_);
  if (session_changed && (auto_predict || predict_now)) {
    rendered_session_ = session;
  } else if (!predict_now && !view_changed) {
    return;
  }
  predict_now = false;
  submitted_revision_ = revision;
  submitted_card_ = session.card_path;
  submitted_views_ = views;
  RenderRequest r;
  r.session = rendered_session_;
  r.device = device;
  r.views = std::move(views);
  submitted_stamp_ = worker_.submit(std::move(r));
  submit_times_[submitted_stamp_] = Clock::now();
}

std::string RenderLink::take_reply() {
  std::optional<RenderReply> r = worker_.take();
  if (!r) return "";
  // The whole reply of a request whose partial reply is on screen: its picture is there already.
  const bool picture_shown = !r->partial && good_reply_ && good_reply_->partial && good_reply_->stamp == r->stamp;
  const auto sent = submit_times_.find(r->stamp);
  if (sent != submit_times_.end()) {
    awaiting_present_ = sent->second;
    if (r->partial) {
      partial_sent_ = sent->second;
    } else {
      awaiting_views_present_ = sent->second;
    }
  } else if (picture_shown) {
    awaiting_views_present_ = partial_sent_;
  }
  submit_times_.erase(submit_times_.begin(), submit_times_.upper_bound(r->stamp));
  shown_stamp_ = r->stamp;
  error_ = r->error;
  if (!r->ok()) return error_;
  if (!picture_shown) upload_picture(*r);
  if (r->partial) {
    // The picture is new; the views of the last whole reply stay until this one's follow (of
    // the same model: another model's views are dropped).
    if (good_reply_ && good_reply_->card_path == r->card_path && good_reply_->taps.size() == r->taps.size()) {
      r->views = std::move(good_reply_->views);
      r->overview = std::move(good_reply_->overview);
      r->view_ms = good_reply_->view_ms;
    }
    good_reply_ = std::move(r);
    return "";
  }
  if (!r->views.empty()) {
    grid_tex_.upload(r->views[0].grid.atlas);
    if (r->views[0].focus.width > 0) focus_tex_.upload(r->views[0].focus);
  }
  overview_tex_.resize(r->overview.size());
  for (std::size_t i = 0; i < r->overview.size(); ++i) overview_tex_[i].upload(r->overview[i]);
  good_reply_ = std::move(r);
  return "";
}

void RenderLink::upload_picture(const RenderReply& r) {
  output_tex_.upload(r.output);
  if (r.original.width > 0) original_tex_.upload(r.original);
  if (r.original.width == r.output.width && r.original.height == r.output.height) {
    // |edited - original|, amplified 4x so small changes show.
    diff_image_ = r.output;
    double sum = 0.0;
    for (std::size_t i = 0; i < diff_image_.pixels.size(); ++i) {
      const int d = std::abs(int(r.output.pixels[i]) - int(r.original.pixels[i]));
      sum += d;
      diff_image_.pixels[i] = static_cast<std::uint8_t>(std::min(255, d * 4));
    }
    mean_change_ = diff_image_.pixels.empty() ? 0.0 : sum / double(diff_image_.pixels.size());
    diff_tex_.upload(diff_image_);
  } else {
    mean_change_ = -1.0;
  }
}

double RenderLink::pending_ms() const {
  if (submit_times_.empty()) return 0.0;
  return std::chrono::duration<double, std::milli>(Clock::now() - submit_times_.begin()->second).count();
}

void RenderLink::note_frame_presented() {
  const auto now = Clock::now();
  if (awaiting_present_) {
    latencies_ms_.push_back(std::chrono::duration<double, std::milli>(now - *awaiting_present_).count());
    awaiting_present_.reset();
  }
  if (awaiting_views_present_) {
    views_latencies_ms_.push_back(std::chrono::duration<double, std::milli>(now - *awaiting_views_present_).count());
    awaiting_views_present_.reset();
  }
}

bool RenderLink::settled(std::uint64_t revision) const {
  return !worker_.busy() && shown_stamp_ == submitted_stamp_ && submitted_stamp_ > 0 && !predict_now &&
         (revision == submitted_revision_ || !auto_predict);
}

}  // namespace actmap::app
