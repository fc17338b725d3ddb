#include "ui_probe.h"

#include <imgui.h>

#include "actmap/io/files.h"

namespace actmap::app::probe {
namespace {

struct Probe {
  std::string path;
  nlohmann::json frame = nlohmann::json::object();
  std::string written;
};

Probe& probe() {
  static Probe p;
  return p;
}

}  // namespace

void enable(const std::string& path) { probe().path = path; }
bool enabled() { return !probe().path.empty(); }

void rect(const std::string& name, float x0, float y0, float x1, float y1) {
  if (!enabled()) return;
  probe().frame["items"][name] = {x0, y0, x1, y1};
}

void item(const std::string& name) {
  if (!enabled()) return;
  const ImVec2 a = ImGui::GetItemRectMin(), b = ImGui::GetItemRectMax();
  rect(name, a.x, a.y, b.x, b.y);
}

void value(const std::string& name, nlohmann::json v) {
  if (!enabled()) return;
  probe().frame["state"][name] = std::move(v);
}

void end_frame() {
  Probe& p = probe();
  if (p.path.empty()) return;
  std::string text = p.frame.dump(1);
  p.frame = nlohmann::json::object();
  if (text == p.written) return;
  try {
    write_file_atomic(p.path, text + "\n");
    p.written = std::move(text);
  } catch (const std::exception&) {
    // A test harness that cannot be written to must not stop the editor.
  }
}

}  // namespace actmap::app::probe
