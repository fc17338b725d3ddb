// A background job's progress bar, as the analysis panels show it.
#pragma once

#include <cstdio>

#include <imgui.h>

namespace actmap::app {

inline void job_progress(float fraction, const char* what) {
  char overlay[64];
  std::snprintf(overlay, sizeof overlay, "%s %.0f%%", what, fraction * 100.0f);
  ImGui::ProgressBar(fraction, ImVec2(ImGui::GetFontSize() * 14, 0), overlay);
}

}  // namespace actmap::app
