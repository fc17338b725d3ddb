// A map of where named widgets are on screen, and a few state values, written as JSON for GUI
// tests (`actmap --ui-map FILE`): the tests then drive the real window with real mouse and key
// events at those places. Costs nothing when not enabled.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace actmap::app::probe {

void enable(const std::string& path);
bool enabled();
// The last ImGui item's rectangle, under `name`.
void item(const std::string& name);
void rect(const std::string& name, float x0, float y0, float x1, float y1);
void value(const std::string& name, nlohmann::json v);
// Writes the file (atomically) when anything changed since the last frame.
void end_frame();

}  // namespace actmap::app::probe
