#include "report_window.h"

#include <filesystem>

#include <imgui.h>

#include "actmap/model/generator.h"
#include "actmap/render/renderer.h"
#include "job_progress.h"
#include "ui_probe.h"

namespace actmap::app {
namespace {

// The shell command that writes the same report, for the report itself to show.
std::string report_command(const std::string& session_path, const std::string& dir) {
  auto quote = [](const std::string& s) {
    if (s.find_first_of(" '\"$`\\!*?&;|<>()") == std::string::npos && !s.empty()) return s;
    std::string out = "'";
    for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
  };
  return "actmap-cli report " + quote(session_path) + " -o " + quote(dir);
}

}  // namespace

void ReportWindow::ask(EditorContext& ctx) {
  const std::string start = ctx.session_path.empty() ? std::filesystem::current_path().string() : dir_of(ctx.session_path);
  ctx.ask_for_file(kFolderTitle, FileBrowser::Mode::OpenDirectory, start, "", {},
                   [this, &ctx](const std::string& dir) { this->start(ctx, dir); });
}

void ReportWindow::start(const EditorContext& ctx, const std::string& dir) {
  const Session s = ctx.session();
  const std::string device = ctx.options.device;
  ReportOptions o;
  o.command = ctx.session_path.empty() ? "(the session was not saved: save it, then run actmap-cli report SESSION -o " + dir + ")"
                                       : report_command(ctx.session_path, dir);
  o.working_dir = std::filesystem::current_path().string();
  dir_ = dir;
  error_.clear();
  result_.reset();
  open_ = true;
  job_.start([s, device, dir, o](const ProgressFn& progress) {
    Renderer renderer(load_generator(load_model_card(s.card_path), device));
    return write_report(renderer, s, dir, o, progress);
  });
}

void ReportWindow::poll(EditorContext& ctx) {
  if (auto r = job_.take()) {
    result_ = std::move(*r);
    ctx.report("wrote the report " + result_->index);
  }
  const std::string error = job_.take_error();
  if (!error.empty()) {
    error_ = error;
    ctx.report("report: " + error);
  }
}

void ReportWindow::draw() {
  if (!open_) return;
  ImGui::SetNextWindowPos(ImGui::GetMainViewport()->GetCenter(), ImGuiCond_Appearing, ImVec2(0.5f, 0.5f));
  if (ImGui::Begin("HTML report", &open_, ImGuiWindowFlags_AlwaysAutoResize | ImGuiWindowFlags_NoSavedSettings)) {
    probe::item("report/window");
    ImGui::Text("into %s", dir_.c_str());
    if (job_.running()) {
      job_progress(job_.progress(), "writing");
      ImGui::SameLine();
      if (ImGui::Button("Cancel##report")) job_.cancel();
    } else if (result_) {
      ImGui::Text("%zu files; open this in a browser:", result_->files.size());
      ImGui::TextUnformatted(result_->index.c_str());
      if (ImGui::SmallButton("Copy the path")) ImGui::SetClipboardText(result_->index.c_str());
      probe::value("report_index", result_->index);
    } else if (!error_.empty()) {
      ImGui::PushTextWrapPos(ImGui::GetFontSize() * 30);
      ImGui::TextColored(ImVec4(1.0f, 0.45f, 0.45f, 1.0f), "%s", error_.c_str());
      ImGui::PopTextWrapPos();
    }
  }
  ImGui::End();
}

}  // namespace actmap::app
