#include "ui_probe.h"

#include <cstdio>
#include <fstream>

#include <imgui.h>

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
  // Written every frame something moved: a rename makes it atomic for the reader, and no fsync
  // (durability does not matter for a test's map, and a sync each frame would cost the frame).
  const std::string tmp = p.path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text << "\n";
    if (!out) return;  // a test harness that cannot be written to must not stop the editor
  }
  if (std::rename(tmp.c_str(), p.path.c_str()) == 0) p.written = std::move(text);
}

}  // namespace actmap::app::probe
