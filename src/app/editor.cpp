#include "editor.h"

#include <algorithm>
#include <cmath>
#include <ctime>

#include <GLFW/glfw3.h>
#include <imgui.h>

#include "actmap/error.h"
#include "ui_probe.h"

namespace actmap::app {

using Clock = std::chrono::steady_clock;

Editor::Editor(EditorOptions options)
    : options_(std::move(options)),
      worker_([] { glfwPostEmptyEvent(); }),
      recent_((std::filesystem::path(config_dir()) / "recent.json").string()) {
  recent_.load();
  autosaver_ = std::make_unique<Autosaver>(
      (std::filesystem::path(recovery_dir()) /
       ("session-" + std::to_string(std::time(nullptr)) + "-" + std::to_string(reinterpret_cast<std::uintptr_t>(this) % 100000) + ".json"))
          .string());
  try {
    if (!options_.session_path.empty()) {
      adopt(load_session(options_.session_path), options_.session_path, false);
    } else {
      adopt(actmap::new_session(options_.model.empty() ? default_model() : options_.model), "", false);
    }
  } catch (const std::exception& e) {
    // The window still opens, on the default model where it can, and shows what went wrong.
    const std::string error = e.what();
    try {
      if (!options_.session_path.empty() || !options_.model.empty()) adopt(actmap::new_session(default_model()), "", false);
    } catch (const std::exception&) {
    }
    if (!history_) history_ = std::make_unique<SessionHistory>(Session{});
    report(error);
    startup_error_ = error;
  }
  if (options_.offer_recovery) check_recovery();
}

Editor::~Editor() = default;

std::string Editor::default_model() {
  // The project's default model first, then the others that have their weights at hand.
  for (const char* name : {"default", "faces64", "ffhq64-vae"}) {
    try {
      const std::string card = find_model_card(name);
      resolve_weights_path(load_model_card(card));
      return card;
    } catch (const std::exception&) {
    }
  }
  refresh_models();
  if (models_.empty()) throw Error("no model card with its weights found in " + join_dirs(model_card_dirs()) +
                                  "; open one with File > Open model card, or set ACTMAP_MODEL_PATH");
  return models_.front();
}

void Editor::frame() {
  take_reply();
  take_job_results();
  handle_keys();
  draw_menu();

  const ImGuiViewport* vp = ImGui::GetMainViewport();
  const float top = vp->WorkPos.y, W = vp->WorkSize.x, H = vp->WorkSize.y;
  const float status_h = ImGui::GetFrameHeightWithSpacing() + 4.0f;
  const float h = H - status_h;
  const float left_w = std::round(W * 0.22f), mid_w = std::round(W * 0.40f), right_w = W - left_w - mid_w;
  const float model_h = std::round(h * 0.36f);
  const float grid_h = std::round(h * 0.48f);
  const float output_h = std::round(h * 0.50f);
  const ImGuiWindowFlags fixed =
      ImGuiWindowFlags_NoMove | ImGuiWindowFlags_NoResize | ImGuiWindowFlags_NoCollapse | ImGuiWindowFlags_NoSavedSettings;
  auto place = [&](float x, float y, float w, float hh) {
    ImGui::SetNextWindowPos(ImVec2(vp->WorkPos.x + x, top + y));
    ImGui::SetNextWindowSize(ImVec2(w, hh));
  };

  place(0, 0, left_w, model_h);
  if (ImGui::Begin("Model and latent", nullptr, fixed)) draw_model_panel();
  ImGui::End();
  place(0, model_h, left_w, h - model_h);
  if (ImGui::Begin("Layers", nullptr, fixed)) draw_layers_panel();
  ImGui::End();
  place(left_w, 0, mid_w, grid_h);
  if (ImGui::Begin("Channels", nullptr, fixed) && ImGui::BeginTabBar("channel tabs")) {
    if (ImGui::BeginTabItem("Grid")) {
      draw_grid_panel();
      ImGui::EndTabItem();
    }
    if (ImGui::BeginTabItem("Sensitivity")) {
      draw_sensitivity_panel();
      ImGui::EndTabItem();
    }
    probe::item("tab/sensitivity");
    ImGui::EndTabBar();
  }
  ImGui::End();
  place(left_w, grid_h, mid_w, h - grid_h);
  if (ImGui::Begin("Slice editor", nullptr, fixed)) draw_slice_panel();
  ImGui::End();
  place(left_w + mid_w, 0, right_w, output_h);
  if (ImGui::Begin("Output", nullptr, fixed)) draw_output_panel();
  ImGui::End();
  place(left_w + mid_w, output_h, right_w, h - output_h);
  if (ImGui::Begin("Edits", nullptr, fixed)) {
    if (ImGui::BeginTabBar("edit tabs")) {
      if (ImGui::BeginTabItem("Edit stack")) {
        draw_edits_panel();
        ImGui::EndTabItem();
      }
      if (ImGui::BeginTabItem("History")) {
        draw_history_panel();
        ImGui::EndTabItem();
      }
      if (ImGui::BeginTabItem("Clusters")) {
        draw_clusters_panel();
        ImGui::EndTabItem();
      }
      probe::item("tab/clusters");
      if (ImGui::BeginTabItem("Dissect")) {
        draw_dissect_panel();
        ImGui::EndTabItem();
      }
      probe::item("tab/dissect");
      if (ImGui::BeginTabItem("Record")) {
        draw_record_panel();
        ImGui::EndTabItem();
      }
      probe::item("tab/record");
      if (is_stylegan()) {
        if (ImGui::BeginTabItem("StyleGAN2")) {
          draw_stylegan_panel();
          ImGui::EndTabItem();
        }
        probe::item("tab/stylegan");
      }
      ImGui::EndTabBar();
    }
  }
  ImGui::End();
  place(0, h, W, status_h);
  if (ImGui::Begin("Status", nullptr, fixed | ImGuiWindowFlags_NoTitleBar | ImGuiWindowFlags_NoScrollbar)) draw_status_bar();
  ImGui::End();

  draw_sweep_window();
  draw_prompts();
  draw_download_window();
  submit_if_needed();
  tick_autosave();

  if (probe::enabled()) {
    probe::value("revision", history_->revision());
    probe::value("dirty", history_->dirty());
    probe::value("session_path", session_path_);
    probe::value("settled", settled());
    probe::value("edits", session().edits.size());
    nlohmann::json order = nlohmann::json::array();
    for (const Edit& e : session().edits) order.push_back(e.id);
    probe::value("edit_order", order);
    probe::value("tap", tap_);
    probe::value("focus", focus_);
    probe::value("history_position", history_->position());
    probe::value("error", render_error_);
    probe::value("browser_open", browser_.is_open());
    probe::value("popup_open", ImGui::IsPopupOpen("", ImGuiPopupFlags_AnyPopupId));
    probe::value("mouse", {ImGui::GetIO().MousePos.x, ImGui::GetIO().MousePos.y});
    probe::value("selected", selected_.size());
    probe::value("apply_to_cluster", apply_to_ == ApplyTo::Cluster ? cluster_ : -1);
    probe::value("clusters", session().clusters);
    probe::value("jobs_running", jobs_running());
    probe::value("effect", effect_ ? nlohmann::json{effect_->inside, effect_->outside} : nlohmann::json());
  }
}

// ---- Rendering -------------------------------------------------------------------------------

RenderRequest Editor::make_request(const Session& s) const {
  RenderRequest r;
  r.session = s;
  r.device = options_.device;
  if (tap_ < taps_.size()) {
    TapViewRequest v;
    v.tap = tap_;
    v.options = view_;
    v.focus_channel = focus_;
    r.views.push_back(v);
  }
  return r;
}

void Editor::submit_if_needed() {
  if (session().card_path.empty() || !card_error_.empty()) return;
  const bool session_changed = history_->revision() != submitted_revision_ || session().card_path != submitted_card_;
  std::vector<TapViewRequest> views = make_request(Session{}).views;
  const bool view_changed = !(views == submitted_views_);
  if (session_changed && (auto_predict_ || predict_now_)) {
    rendered_session_ = session();
  } else if (!predict_now_ && !view_changed) {
    return;
  }
  predict_now_ = false;
  submitted_revision_ = history_->revision();
  submitted_card_ = session().card_path;
  submitted_views_ = views;
  submitted_stamp_ = worker_.submit(make_request(rendered_session_));
  submit_times_[submitted_stamp_] = Clock::now();
}

void Editor::take_reply() {
  std::optional<RenderReply> r = worker_.take();
  if (!r) return;
  const auto sent = submit_times_.find(r->stamp);
  if (sent != submit_times_.end()) awaiting_present_ = sent->second;
  submit_times_.erase(submit_times_.begin(), submit_times_.upper_bound(r->stamp));
  shown_stamp_ = r->stamp;
  render_error_ = r->error;
  if (!r->ok()) {
    report(r->error);
    return;
  }
  output_tex_.upload(r->output);
  if (r->original.width > 0) original_tex_.upload(r->original);
  if (r->original.width == r->output.width && r->original.height == r->output.height) {
    // |edited - original|, amplified 4x so small changes show.
    diff_image_ = r->output;
    for (std::size_t i = 0; i < diff_image_.pixels.size(); ++i) {
      const int d = std::abs(int(r->output.pixels[i]) - int(r->original.pixels[i]));
      diff_image_.pixels[i] = static_cast<std::uint8_t>(std::min(255, d * 4));
    }
    diff_tex_.upload(diff_image_);
  }
  if (!r->views.empty()) {
    grid_tex_.upload(r->views[0].grid.atlas);
    if (r->views[0].focus.width > 0) focus_tex_.upload(r->views[0].focus);
  }
  overview_tex_.resize(r->overview.size());
  for (std::size_t i = 0; i < r->overview.size(); ++i) overview_tex_[i].upload(r->overview[i]);
  good_reply_ = std::move(r);
}

void Editor::note_frame_presented() {
  if (!awaiting_present_) return;
  latencies_ms_.push_back(std::chrono::duration<double, std::milli>(Clock::now() - *awaiting_present_).count());
  awaiting_present_.reset();
}

bool Editor::settled() const {
  if (!card_error_.empty() || session().card_path.empty()) return true;  // nothing will render
  return !worker_.busy() && shown_stamp_ == submitted_stamp_ && submitted_stamp_ > 0 && !predict_now_ &&
         (history_->revision() == submitted_revision_ || !auto_predict_);
}

bool Editor::wants_continuous_frames() const {
  return worker_.busy() || jobs_running() || download_.running() || download_window_ || awaiting_present_.has_value() ||
         predict_now_ || ImGui::IsAnyMouseDown() ||
         (status_time_ > 0 && ImGui::GetTime() - status_time_ < 6.0);
}

// ---- Helpers ---------------------------------------------------------------------------------

const TapInfo* Editor::selected_tap() const { return tap_ < taps_.size() ? &taps_[tap_] : nullptr; }

const TapView* Editor::shown_view() const {
  if (!good_reply_ || good_reply_->views.empty()) return nullptr;
  const TapView& v = good_reply_->views[0];
  return v.request.tap == tap_ && v.request.tap < taps_.size() ? &v : nullptr;
}

std::set<std::int64_t> Editor::edited_channels(const std::string& tap) const {
  std::set<std::int64_t> out;
  const TapInfo* info = nullptr;
  for (const auto& t : taps_) {
    if (t.name == tap) info = &t;
  }
  if (!info) return out;
  for (const Edit& e : session().edits) {
    if (!e.enabled || e.tap != tap) continue;
    try {
      for (std::int64_t c : e.channels.resolve(info->channels, tap, session().cluster_labels(tap))) out.insert(c);
    } catch (const std::exception&) {
      // A selector that does not resolve shows up as the renderer's error instead.
    }
  }
  return out;
}

ChannelSelector Editor::apply_selector() const {
  nlohmann::json j;
  switch (apply_to_) {
    case ApplyTo::Channel: j = focus_; break;
    case ApplyTo::Selected:
      if (selected_.empty()) {
        j = focus_;
      } else {
        j = nlohmann::json::array();
        for (int c : selected_) j.push_back(c);
      }
      break;
    case ApplyTo::All: j = "all"; break;
    case ApplyTo::Cluster: j = {{"cluster", cluster_}}; break;
  }
  return ChannelSelector::from_json(j, "/channels");
}

std::string Editor::add_edit(const std::string& op, nlohmann::json params, const std::string& gesture,
                             std::optional<SpatialMask> mask) {
  const TapInfo* tap = selected_tap();
  if (!tap) return "";
  try {
    Edit e;
    e.tap = tap->name;
    e.channels = apply_selector();
    e.op = op;
    e.params = std::move(params);
    if (mask) e.mask = *mask;
    return history_->add_edit(std::move(e), SIZE_MAX, gesture);
  } catch (const std::exception& e) {
    report(e.what());
    return "";
  }
}

void Editor::set_seed(std::uint64_t seed) {
  try {
    history_->set_latent(SessionLatent::from_seed(seed));
  } catch (const std::exception& e) {
    report(e.what());
  }
}

void Editor::report(const std::string& message) {
  status_message_ = message;
  status_time_ = ImGui::GetCurrentContext() ? ImGui::GetTime() : 0.0;
  log_.push_back(message);
  while (log_.size() > 50) log_.pop_front();
}

void wake_ui() { glfwPostEmptyEvent(); }

std::string join_dirs(const std::vector<std::string>& dirs) {
  std::string s;
  for (const auto& d : dirs) s += (s.empty() ? "" : ", ") + d;
  return s.empty() ? "(no directories)" : s;
}

}  // namespace actmap::app
