#include "channel_grid_panel.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include <imgui.h>

#include "actmap/io/image.h"
#include "ui_probe.h"

namespace actmap::app {

void ChannelGridPanel::export_grid(EditorContext& ctx, const std::string& path) {
  const TapView* v = ctx.shown_view();
  if (!v) return ctx.report("no channel grid to export yet");
  try {
    write_png(path, grid_export(v->grid, 4, 2));
    ctx.report("exported " + path);
  } catch (const std::exception& e) {
    ctx.report(e.what());
  }
}

void ChannelGridPanel::draw(EditorContext& ctx) {
  const TapInfo* tap = ctx.selected_tap();
  if (!tap) return ImGui::TextDisabled("No layer selected.");

  // View options.
  const char* maps[] = {"grey", "viridis", "diverging"};
  const char* norms[] = {"per channel", "per layer", "fixed range"};
  int map = int(ctx.view.colormap), norm = int(ctx.view.normalize);
  ImGui::SetNextItemWidth(ImGui::GetFontSize() * 7);
  if (ImGui::Combo("Colours", &map, maps, 3)) ctx.view.colormap = Colormap(map);
  tip("grey and viridis map low to high; diverging is blue-white-red with white at 0, for signed values");
  ImGui::SameLine();
  ImGui::SetNextItemWidth(ImGui::GetFontSize() * 7);
  if (ImGui::Combo("Scale", &norm, norms, 3)) ctx.view.normalize = Normalize(norm);
  tip("Which range maps to the colours: each channel's own, the whole layer's, or a fixed one");
  if (ctx.view.normalize == Normalize::Fixed) {
    ImGui::SameLine();
    ImGui::SetNextItemWidth(ImGui::GetFontSize() * 8);
    ImGui::DragFloatRange2("##range", &ctx.view.fixed_lo, &ctx.view.fixed_hi, 0.05f, -100.0f, 100.0f, "%.2f");
  }
  ImGui::SameLine();
  ImGui::SetNextItemWidth(ImGui::GetFontSize() * 5);
  ImGui::SliderFloat("Size", &cell_, 16.0f, 160.0f, "%.0f px");
  tip("Thumbnail size on screen");
  ImGui::SameLine();
  if (ImGui::SmallButton("Export PNG")) {
    ctx.ask_for_file(kExportTitle, FileBrowser::Mode::Save, std::filesystem::current_path().string(),
                     tap->name + "-channels.png", {".png"}, [&ctx](const std::string& path) { export_grid(ctx, path); });
  }
  tip("Save this layer's channel grid as a PNG");

  const TapView* view = ctx.shown_view();
  if (!view) return ImGui::TextDisabled("Rendering...");
  const ChannelGrid& g = view->grid;

  // The layer's histogram.
  // After a ReLU most values are 0: a log count shows the rest of the distribution too.
  std::vector<float> hist(g.histogram.begin(), g.histogram.end());
  if (log_counts_) {
    for (float& v : hist) v = std::log1p(v);
  }
  char overlay[96];
  std::snprintf(overlay, sizeof overlay, "values in [%.3g, %.3g]%s", g.hist_lo, g.hist_hi, log_counts_ ? ", log count" : "");
  const float log_w = ImGui::GetFrameHeight() + ImGui::CalcTextSize("log").x + ImGui::GetStyle().ItemSpacing.x * 2;
  ImGui::PlotHistogram("##hist", hist.data(), int(hist.size()), 0, overlay, 0.0f, FLT_MAX,
                       ImVec2(ImGui::GetContentRegionAvail().x - log_w, ImGui::GetFontSize() * 2.5f));
  tip("Histogram of every value in this layer (after edits)");
  ImGui::SameLine();
  ImGui::Checkbox("log", &log_counts_);
  probe::item("grid/log-counts");
  tip("Bar heights as log(1 + count): a spike at 0 (after a ReLU) no longer hides the rest");

  // The grid.
  const std::set<std::int64_t> edited = ctx.edited_channels(tap->name);
  const std::vector<int> labels = ctx.session().cluster_labels(tap->name);
  ImGui::BeginChild("grid", ImVec2(0, 0), false);
  const float cell = cell_, gap = 3.0f;
  const float avail = ImGui::GetContentRegionAvail().x;
  const int per_row = std::max(1, int((avail + gap) / (cell + gap)));
  ImDrawList* dl = ImGui::GetWindowDrawList();
  const float cw = 1.0f / float(g.columns), ch = 1.0f / float(g.rows);
  for (int c = 0; c < g.channels; ++c) {
    if (c % per_row) ImGui::SameLine(0.0f, gap);
    ImGui::PushID(c);
    const ImVec2 p0 = ImGui::GetCursorScreenPos();
    ImGui::InvisibleButton("cell", ImVec2(cell, cell));
    const bool visible = ImGui::IsItemVisible();
    if (ImGui::IsItemClicked()) {
      ImGuiIO& io = ImGui::GetIO();
      if (io.KeyCtrl) {
        if (!ctx.selection.channels.erase(c)) ctx.selection.channels.insert(c);
      } else if (io.KeyShift) {
        for (int k = std::min(ctx.selection.last_clicked, c); k <= std::max(ctx.selection.last_clicked, c); ++k) ctx.selection.channels.insert(k);
      } else {
        ctx.selection.focus = c;
        ctx.selection.channels = {c};
      }
      ctx.selection.last_clicked = c;
    }
    if (probe::enabled() && c < 64) probe::item("cell/" + std::to_string(c));
    if (ImGui::IsItemHovered() && std::size_t(c) < g.stats.size()) {
      const ChannelStats& st = g.stats[std::size_t(c)];
      ImGui::SetTooltip("channel %d\nmin %.4g  max %.4g  mean %.4g%s%s", c, st.min, st.max, st.mean,
                        edited.count(c) ? "\nedited" : "",
                        labels.empty() || std::size_t(c) >= labels.size() ? ""
                        : labels[std::size_t(c)] < 0                       ? "\nin no cluster"
                                                                           : ("\ncluster " + std::to_string(labels[std::size_t(c)])).c_str());
    }
    if (visible) {
      const int col = c % g.columns, row = c / g.columns;
      const ImVec2 p1(p0.x + cell, p0.y + cell);
      dl->AddImage(ctx.render.grid().handle(), p0, p1, ImVec2(col * cw, row * ch), ImVec2((col + 1) * cw, (row + 1) * ch));
      if (std::size_t(c) < labels.size() && labels[std::size_t(c)] >= 0) {  // -1: in no cluster, no bar
        dl->AddRectFilled(p0, ImVec2(p1.x, p0.y + 4.0f), cluster_colour(labels[std::size_t(c)]));
      }
      if (edited.count(c)) {  // an orange corner: some enabled edit touches this channel
        const float k = std::min(10.0f, cell * 0.3f);
        dl->AddTriangleFilled(ImVec2(p1.x - k, p0.y), ImVec2(p1.x, p0.y + k), ImVec2(p1.x, p0.y), IM_COL32(255, 140, 0, 255));
      }
      const ImVec2 o0(p0.x - 1, p0.y - 1), o1(p1.x + 1, p1.y + 1);
      if (c == ctx.selection.focus) {
        dl->AddRect(o0, o1, IM_COL32(255, 220, 0, 255), 0, 0, 2.0f);
      } else if (ctx.selection.channels.count(c)) {
        dl->AddRect(o0, o1, IM_COL32(255, 255, 255, 255), 0, 0, 1.5f);
      }
    }
    ImGui::PopID();
  }
  ImGui::EndChild();
}

}  // namespace actmap::app
