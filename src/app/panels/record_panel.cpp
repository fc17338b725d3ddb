#include "record_panel.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>

#include <imgui.h>

#include "actmap/analysis/animation.h"
#include "actmap/model/generator.h"
#include "actmap/render/renderer.h"
#include "job_progress.h"
#include "ui_probe.h"

namespace actmap::app {

void RecordPanel::poll(EditorContext& ctx) {
  if (auto r = job_.take()) {
    message_ = *r;
    ctx.report(*r);
  }
  const std::string error = job_.take_error();
  if (!error.empty()) {
    message_ = "recording: " + error;
    ctx.report(message_);
  }
}

void RecordPanel::draw(EditorContext& ctx) {
  const std::vector<std::string> pointers = numeric_pointers(ctx.session());
  if (param_ >= int(pointers.size())) param_ = -1;
  auto describe = [&](int i) -> std::string {
    if (i < 0) return "(none: the latent walk only)";
    const std::string& p = pointers[std::size_t(i)];
    const std::size_t e = std::stoul(p.substr(7));
    const Edit& edit = ctx.session().edits[e];
    return edit.id + " " + edit.op + ": " + p.substr(p.rfind('/') + 1) + "  (" + p + ")";
  };
  ImGui::SetNextItemWidth(-ImGui::GetFontSize() * 6);
  if (ImGui::BeginCombo("parameter", describe(param_).c_str())) {
    for (int i = -1; i < int(pointers.size()); ++i) {
      if (ImGui::Selectable(describe(i).c_str(), i == param_)) {
        param_ = i;
        if (i >= 0) {
          const nlohmann::json doc = session_to_json(ctx.session(), "");
          from_ = doc.at(nlohmann::json::json_pointer(pointers[std::size_t(i)])).get<float>();
        }
      }
    }
    ImGui::EndCombo();
  }
  probe::item("record/param");
  tip("The edit parameter to sweep (the edit stack's numeric parameters)");
  if (param_ >= 0) {
    ImGui::SetNextItemWidth(ImGui::GetFontSize() * 6);
    ImGui::InputFloat("from", &from_);
    ImGui::SameLine();
    ImGui::SetNextItemWidth(ImGui::GetFontSize() * 6);
    ImGui::InputFloat("to", &to_);
  }
  char walk[128];
  std::snprintf(walk, sizeof walk, "%s", walk_.c_str());
  ImGui::SetNextItemWidth(ImGui::GetFontSize() * 10);
  if (ImGui::InputTextWithHint("seed walk", "e.g. 0,7,3", walk, sizeof walk)) walk_ = walk;
  tip("Also walk the latent through these seeds (slerp in z); leave empty to keep the session's latent");
  ImGui::SetNextItemWidth(ImGui::GetFontSize() * 5);
  if (ImGui::InputInt("frames", &frames_)) frames_ = std::clamp(frames_, 1, 100000);
  ImGui::SameLine();
  ImGui::SetNextItemWidth(ImGui::GetFontSize() * 5);
  if (ImGui::InputInt("fps", &fps_)) fps_ = std::clamp(fps_, 1, 240);
  ImGui::SameLine();
  ImGui::SetNextItemWidth(ImGui::GetFontSize() * 5);
  if (ImGui::InputInt("scale", &scale_)) scale_ = std::clamp(scale_, 1, 32);
  tip("Enlarge every frame by this whole factor (nearest neighbour)");
  const char* formats[] = {"MP4", "GIF", "PNG frames"};
  const char* extensions[] = {".mp4", ".gif", ""};
  ImGui::SetNextItemWidth(ImGui::GetFontSize() * 7);
  ImGui::Combo("format", &format_, formats, 3);
  tip("MP4 and GIF are written by ffmpeg; PNG frames go to a folder as frame-NNNN.png");
  if (path_.empty()) {
    path_ = (std::filesystem::current_path() / (format_ == 2 ? "frames" : std::string("animation") + extensions[format_])).string();
  }
  char path[1024];
  std::snprintf(path, sizeof path, "%s", path_.c_str());
  ImGui::SetNextItemWidth(-ImGui::GetFontSize() * 6);
  if (ImGui::InputText("##record path", path, sizeof path)) path_ = path;
  ImGui::SameLine();
  if (ImGui::Button("Browse...")) {
    ctx.ask_for_file(kBrowseTitle, FileBrowser::Mode::Save, path_,
                  format_ == 2 ? "frames" : std::string("animation") + extensions[format_],
                  format_ == 2 ? std::vector<std::string>{} : std::vector<std::string>{extensions[format_]},
                     [this](const std::string& chosen) { path_ = chosen; });
  }
  if (job_.running()) {
    job_progress(job_.progress(), "recording");
    ImGui::SameLine();
    if (ImGui::Button("Cancel##record")) job_.cancel();
  } else {
    ImGui::BeginDisabled(param_ < 0 && walk_.empty());
    if (ImGui::Button("Record")) {
      std::string out = path_;
      const std::string ext = std::filesystem::path(out).extension().string();
      if (format_ < 2 && ext != extensions[format_]) out += extensions[format_];
      const Session s = ctx.session();
      const std::string pointer = param_ >= 0 ? pointers[std::size_t(param_)] : "";
      const double from = from_, to = to_, fps = fps_;
      const int frames = frames_, scale = scale_;
      const std::string walk_text = walk_, device = ctx.options.device;
      const std::string source = ctx.session_path.empty() ? "the session" : ctx.session_path;
      message_.clear();
      job_.start([=](const ProgressFn& progress) {
        Animation animation(s, frames, source);
        if (!walk_text.empty()) animation.walk_seeds(parse_seed_list(walk_text));
        if (!pointer.empty()) animation.sweep(pointer, from, to);
        FrameWriter writer(out, fps, frames);
        Renderer renderer(load_generator(load_model_card(s.card_path), device));
        render_animation(renderer, animation, scale, writer, progress);
        return "recorded " + std::to_string(frames) + " frames to " + out;
      });
    }
    probe::item("record/start");
    if (param_ < 0 && walk_.empty()) {
      if (ImGui::IsItemHovered(ImGuiHoveredFlags_AllowWhenDisabled)) {
        ImGui::SetTooltip("Nothing moves yet: choose a parameter to sweep, or type seeds to walk through");
      }
      ImGui::SameLine();
      ImGui::TextDisabled("choose a parameter or a seed walk first");
    }
    tip("Render every frame in the background (the edit stack as it is now) and write the animation");
    ImGui::EndDisabled();
  }
  if (!message_.empty()) ImGui::TextWrapped("%s", message_.c_str());
}

}  // namespace actmap::app
