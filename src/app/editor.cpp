#include "editor.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <ctime>
#include <filesystem>

#include <imgui.h>

#include "actmap/io/error.h"
#include "actmap/model/checkpoint_cache.h"
#include "ui_probe.h"

namespace actmap::app {

Editor::Editor(EditorOptions options)
    : ctx_(std::move(options)),
      output_panel_([this](float x, float y, float zoom) { dissect_panel_.draw_region_overlay(ctx_, x, y, zoom); }),
      recent_((std::filesystem::path(config_dir()) / "recent.json").string()) {
  recent_.load();
  layout_ = PanelLayout::load(layout_path());
  // One recovery file per editor (new_recovery_path: the start time, the process id and a count).
  autosaver_ = std::make_unique<Autosaver>(new_recovery_path(recovery_dir()));
  const EditorOptions& o = ctx_.options;
  // A checkpoint file (asked for directly or named by the session) not converted yet: the window
  // opens on the default model while it converts, then switches to it.
  std::string checkpoint = is_checkpoint_path(o.model) && o.session_path.empty() ? o.model : "";
  try {
    if (!o.session_path.empty()) {
      try {
        adopt(load_session(o.session_path), o.session_path, false);
      } catch (const CheckpointNotConverted& e) {
        checkpoint = e.checkpoint();
        adopt(actmap::new_session(models_.default_model()), "", false);
      }
    } else {
      adopt(actmap::new_session(o.model.empty() || !checkpoint.empty() ? models_.default_model() : o.model), "", false);
    }
  } catch (const std::exception& e) {
    // The window still opens, on the default model where it can, and shows what went wrong.
    const std::string error = e.what();
    try {
      if (!o.session_path.empty() || !o.model.empty()) adopt(actmap::new_session(models_.default_model()), "", false);
    } catch (const std::exception&) {
    }
    if (!ctx_.has_session()) ctx_.adopt(Session{}, "", false);
    ctx_.report(error);
    if (checkpoint.empty()) startup_error_ = error;  // no default model is no error while a checkpoint opens
  }
  if (!checkpoint.empty()) {
    // A conversion that fails is the start's error (--screenshot then exits 1).
    auto failed = [this](const std::string& error) { startup_error_ = error; };
    if (o.session_path.empty()) {
      open_model(checkpoint, failed);
    } else {
      convert_then_open_session(checkpoint, o.session_path, failed);
    }
  }
  if (o.offer_recovery) check_recovery();
}

Editor::~Editor() = default;

std::string Editor::layout_path() { return (std::filesystem::path(config_dir()) / "layout.json").string(); }

void Editor::set_layout(const PanelLayout& layout) {
  layout_ = layout;
  layout_.save(layout_path());
}

void Editor::frame(const std::vector<KeyPress>& keys) {
  if (const std::string error = ctx_.render.take_reply(); !error.empty()) ctx_.report(error);
  clusters_panel_.poll(ctx_);
  dissect_panel_.poll(ctx_);
  record_panel_.poll(ctx_);
  sensitivity_panel_.poll(ctx_);
  sweep_window_.poll(ctx_);
  report_window_.poll(ctx_);
  snapshots_panel_.poll(ctx_);
  handle_keys(keys);
  draw_menu();
  layout_windows();
  sweep_window_.draw();
  report_window_.draw();
  status_bar_.draw_log(ctx_);
  draw_prompts();
  models_.draw_download_window(ctx_);
  apply_requests();
  submit_render();
  seed_strip_.poll(ctx_);  // after the main request went out: the strip starts only when that is idle
  tick_autosave();
  if (probe::enabled()) write_probe_values();
}

// The panels in a fixed layout: model and layers on the left, the channels and the slice editor in
// the middle, the output and the tabs of edits and analyses on the right, the status bar below.
void Editor::layout_windows() {
  const ImGuiViewport* vp = ImGui::GetMainViewport();
  const float x0 = vp->WorkPos.x, top = vp->WorkPos.y, W = vp->WorkSize.x, H = vp->WorkSize.y;
  const float status_h = ImGui::GetFrameHeightWithSpacing() + 4.0f;
  const float h = H - status_h;
  const float gap = std::round(std::max(4.0f, ImGui::GetFontSize() * 0.35f));  // the splitters
  PanelLayout& L = layout_;
  const float left_w = std::round(W * L.left), mid_w = std::round(W * L.middle);
  const float mid_x = left_w + gap, right_x = left_w + mid_w + 2 * gap, right_w = W - right_x;
  const float model_h = std::round(h * L.model);
  const float grid_h = std::round(h * L.grid);
  const float output_h = std::round(h * L.output);
  // The panels tile the window and draw no background of their own: the window is cleared to
  // their colour (app_window.cpp). Under a software GL every pixel drawn costs, and a background is
  // a blended quad over the whole window, every frame.
  const ImGuiWindowFlags fixed = ImGuiWindowFlags_NoMove | ImGuiWindowFlags_NoResize | ImGuiWindowFlags_NoCollapse |
                                 ImGuiWindowFlags_NoSavedSettings | ImGuiWindowFlags_NoBackground;
  auto place = [&](float x, float y, float w, float hh) {
    ImGui::SetNextWindowPos(ImVec2(x0 + x, top + y));
    ImGui::SetNextWindowSize(ImVec2(w, hh));
  };

  place(0, 0, left_w, model_h);
  if (ImGui::Begin("Model and latent", nullptr, fixed)) model_panel_.draw(ctx_, models_);
  ImGui::End();
  place(0, model_h + gap, left_w, h - model_h - gap);
  if (ImGui::Begin("Layers", nullptr, fixed)) layers_panel_.draw(ctx_);
  ImGui::End();
  place(mid_x, 0, mid_w, grid_h);
  if (ImGui::Begin("Channels", nullptr, fixed) && ImGui::BeginTabBar("channel tabs")) {
    if (ImGui::BeginTabItem("Grid")) {
      grid_panel_.draw(ctx_);
      ImGui::EndTabItem();
    }
    if (ImGui::BeginTabItem("Sensitivity")) {
      sensitivity_panel_.draw(ctx_);
      ImGui::EndTabItem();
    }
    probe::item("tab/sensitivity");
    ImGui::EndTabBar();
  }
  ImGui::End();
  place(mid_x, grid_h + gap, mid_w, h - grid_h - gap);
  if (ImGui::Begin("Slice editor", nullptr, fixed)) slice_panel_.draw(ctx_);
  ImGui::End();
  place(right_x, 0, right_w, output_h);
  if (ImGui::Begin("Output", nullptr, fixed)) {
    output_panel_.draw(ctx_, seed_strip_.height());
    ImGui::Separator();
    seed_strip_.draw(ctx_);
  }
  ImGui::End();
  place(right_x, output_h + gap, right_w, h - output_h - gap);
  if (ImGui::Begin("Edits", nullptr, fixed)) {
    if (ImGui::BeginTabBar("edit tabs")) {
      if (ImGui::BeginTabItem("Edit stack")) {
        edit_stack_panel_.draw(ctx_);
        ImGui::EndTabItem();
      }
      if (ImGui::BeginTabItem("History")) {
        history_panel_.draw(ctx_);
        ImGui::EndTabItem();
      }
      if (ImGui::BeginTabItem("Snapshots")) {
        snapshots_panel_.draw(ctx_);
        ImGui::EndTabItem();
      }
      probe::item("tab/snapshots");
      if (ImGui::BeginTabItem("Clusters")) {
        clusters_panel_.draw(ctx_);
        ImGui::EndTabItem();
      }
      probe::item("tab/clusters");
      if (ImGui::BeginTabItem("Dissect")) {
        dissect_panel_.draw(ctx_);
        ImGui::EndTabItem();
      }
      probe::item("tab/dissect");
      if (ImGui::BeginTabItem("Record")) {
        record_panel_.draw(ctx_);
        ImGui::EndTabItem();
      }
      probe::item("tab/record");
      if (ctx_.is_stylegan()) {
        if (ImGui::BeginTabItem(ctx_.family() == "stylegan3" ? "StyleGAN3###stylegan" : "StyleGAN2###stylegan")) {
          stylegan_panel_.draw(ctx_);
          ImGui::EndTabItem();
        }
        probe::item("tab/stylegan");
      }
      ImGui::EndTabBar();
    }
  }
  ImGui::End();
  place(0, h, W, status_h);
  if (ImGui::Begin("Status", nullptr, fixed | ImGuiWindowFlags_NoTitleBar | ImGuiWindowFlags_NoScrollbar)) status_bar_.draw(ctx_);
  ImGui::End();

  // The splitters, over the gaps between the panels; a drag ends with the layout saved.
  bool released = false;
  released |= draw_splitter("columns-left", x0 + left_w, top, gap, h, true, W, &L.left);
  float middle_edge = L.left + L.middle;
  if (draw_splitter("columns-right", x0 + right_x - gap, top, gap, h, true, W, &middle_edge)) released = true;
  L.middle = middle_edge - L.left;
  released |= draw_splitter("rows-left", x0, top + model_h, left_w, gap, false, h, &L.model);
  released |= draw_splitter("rows-middle", x0 + mid_x, top + grid_h, mid_w, gap, false, h, &L.grid);
  released |= draw_splitter("rows-right", x0 + right_x, top + output_h, right_w, gap, false, h, &L.output);
  L.clamp();
  if (released) layout_.save(layout_path());

}

void Editor::apply_requests() {
  EditorRequests r = std::exchange(ctx_.requests, {});
  if (r.sweep_edit) sweep_window_.start(ctx_, *r.sweep_edit);
  if (r.open_model) open_model(*r.open_model);
  if (r.new_session_on) new_session(*r.new_session_on);
}

void Editor::submit_render() {
  if (ctx_.session().card_path.empty() || !ctx_.card_error().empty()) return;
  std::vector<TapViewRequest> views;
  if (ctx_.selection.tap < ctx_.taps().size()) {
    TapViewRequest v;
    v.tap = ctx_.selection.tap;
    v.options = ctx_.view;
    v.focus_channel = ctx_.selection.focus;
    views.push_back(v);
  }
  ctx_.render.submit_if_needed(ctx_.session(), ctx_.history().revision(), std::move(views), ctx_.options.device);
}

void Editor::write_probe_values() {
  probe::value("layout", {layout_.left, layout_.middle, layout_.model, layout_.grid, layout_.output});
  const SessionHistory& h = ctx_.history();
  probe::value("revision", h.revision());
  probe::value("dirty", h.dirty());
  probe::value("session_path", ctx_.session_path);
  probe::value("model", ctx_.session().model);
  probe::value("settled", settled());
  probe::value("edits", ctx_.session().edits.size());
  nlohmann::json order = nlohmann::json::array();
  for (const Edit& e : ctx_.session().edits) order.push_back(e.id);
  probe::value("edit_order", order);
  probe::value("tap", ctx_.selection.tap);
  probe::value("focus", ctx_.selection.focus);
  probe::value("history_position", h.position());
  probe::value("error", ctx_.render.error());
  probe::value("browser_open", ctx_.browser.is_open());
  probe::value("popup_open", ImGui::IsPopupOpen("", ImGuiPopupFlags_AnyPopupId));
  probe::value("mouse", {ImGui::GetIO().MousePos.x, ImGui::GetIO().MousePos.y});
  probe::value("selected", ctx_.selection.channels.size());
  probe::value("apply_to_cluster", ctx_.selection.apply_to == ApplyTo::Cluster ? ctx_.selection.cluster : -1);
  probe::value("clusters", ctx_.session().clusters);
  probe::value("jobs_running", jobs_running());
  probe::value("startup_error", startup_error_);
  probe::value("status_message", ctx_.status_message());
  const auto& log = ctx_.log();
  probe::value("log", std::vector<std::string>(log.end() - std::min<std::ptrdiff_t>(log.size(), 20), log.end()));
  probe::value("seed", ctx_.session().latent.kind == SessionLatent::Kind::Seed ? nlohmann::json(ctx_.session().latent.seed)
                                                                                : nlohmann::json());
}

bool Editor::jobs_running() const {
  return clusters_panel_.busy() || dissect_panel_.busy() || record_panel_.busy() || sweep_window_.busy() ||
         sensitivity_panel_.busy() || report_window_.busy() || snapshots_panel_.busy();
}

bool Editor::settled() const {
  if (!ctx_.card_error().empty() || ctx_.session().card_path.empty()) return true;  // nothing will render
  return ctx_.render.settled(ctx_.history().revision());
}

double Editor::frame_interval_s() const {
  // Something done by hand, or a result to show: every frame (at most 60 a second).
  if (ctx_.render.waiting_to_present() || ctx_.render.predict_now || ctx_.render.result_waiting() ||
      ImGui::IsAnyMouseDown())
    return 1.0 / 60.0;
  // Only a marker to animate (a render or job in progress, a message to take down): a few frames a
  // second, so the model keeps the cores. Under a software GL (llvmpipe) a frame costs both cores
  // for several milliseconds. Not the seed strip: its worker wakes the loop when a seed is done.
  if (ctx_.render.busy() || jobs_running() || models_.busy() ||
      (ctx_.status_time() > 0 && ImGui::GetTime() - ctx_.status_time() < 6.0))
    return 1.0 / 15.0;
  return 0.0;
}

}  // namespace actmap::app
