// Model and latent, the layer list and a layer's channel grid.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <random>

#include <imgui.h>

#include "editor.h"
#include "ui_probe.h"

namespace actmap::app {

namespace {

void help_marker(const char* text) {
  if (ImGui::IsItemHovered()) ImGui::SetTooltip("%s", text);
}

}  // namespace

unsigned cluster_colour(int k) {
  static const ImU32 colours[] = {IM_COL32(230, 25, 75, 255),  IM_COL32(60, 180, 75, 255),  IM_COL32(0, 130, 200, 255),
                                  IM_COL32(245, 130, 48, 255), IM_COL32(145, 30, 180, 255), IM_COL32(70, 240, 240, 255),
                                  IM_COL32(240, 50, 230, 255), IM_COL32(210, 245, 60, 255)};
  return colours[static_cast<std::size_t>(k) % (sizeof colours / sizeof colours[0])];
}

void Editor::draw_model_panel() {
  const Session& s = session();
  const std::string current = std::filesystem::path(s.card_path).stem().string();
  ImGui::SetNextItemWidth(-ImGui::GetFontSize() * 4);
  if (ImGui::BeginCombo("Model", current.empty() ? "(none)" : current.c_str())) {
    draw_model_items();
    ImGui::EndCombo();
  }
  help_marker("Models found in models/, on ACTMAP_MODEL_PATH and among downloaded ones, and cards opened or dropped "
              "on the window; models of the registry not yet here can be downloaded from this list. "
              "Switching starts a new session on that model.");
  if (!card_error_.empty()) {
    ImGui::PushStyleColor(ImGuiCol_Text, IM_COL32(255, 110, 110, 255));
    ImGui::TextWrapped("%s", card_error_.c_str());
    ImGui::PopStyleColor();
    return;
  }

  // The seed: type it, step it, or draw a random one.
  if (s.latent.kind == SessionLatent::Kind::Seed) {
    std::uint64_t seed = s.latent.seed;
    const std::uint64_t step = 1;
    ImGui::SetNextItemWidth(ImGui::GetFontSize() * 9);
    if (ImGui::InputScalar("Seed", ImGuiDataType_U64, &seed, &step, nullptr, "%llu")) {
      history_->set_latent(SessionLatent::from_seed(seed), "seed-input");
    }
    if (ImGui::IsItemDeactivated()) history_->end_gesture();
    probe::item("latent/seed");
    help_marker("The latent z is drawn from this seed (the same on every machine)");
    ImGui::SameLine();
    if (ImGui::Button("Next")) set_seed(seed + 1);
    probe::item("latent/next");
    help_marker("Next seed (N)");
    ImGui::SameLine();
    if (ImGui::Button("Random")) {
      std::random_device rd;
      set_seed(rd() % 1000000);
    }
    help_marker("A random seed");
  } else {
    ImGui::Text("Latent: %s", s.latent.describe().c_str());
    ImGui::SameLine();
    if (ImGui::Button("Use a seed")) set_seed(0);
    help_marker("Replace the explicit latent by seed 0");
  }

  // The latent's distribution as rendered.
  if (good_reply_ && !good_reply_->latent.empty()) {
    const std::vector<float>& z = good_reply_->latent;
    double mean = 0, sq = 0;
    float lo = z[0], hi = z[0];
    for (float v : z) {
      mean += v;
      sq += double(v) * v;
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
    mean /= double(z.size());
    const double sd = std::sqrt(std::max(0.0, sq / double(z.size()) - mean * mean));
    const float range = std::max({std::abs(lo), std::abs(hi), 1.0f});
    std::vector<float> bins(24, 0.0f);
    for (float v : z) {
      const int b = std::clamp(int((v + range) / (2 * range) * float(bins.size())), 0, int(bins.size()) - 1);
      bins[std::size_t(b)] += 1.0f;
    }
    ImGui::Text("z: %zu values, mean %.3f, sd %.3f", z.size(), mean, sd);
    ImGui::PlotHistogram("##z", bins.data(), int(bins.size()), 0, nullptr, 0.0f, FLT_MAX,
                         ImVec2(ImGui::GetContentRegionAvail().x, ImGui::GetFontSize() * 3.5f));
    help_marker("Histogram of the latent's values over [-range, range]");
    ImGui::TextDisabled("range [%.2f, %.2f]", lo, hi);
  }
  ImGui::TextDisabled("device: %s", options_.device.c_str());
}

void Editor::draw_layers_panel() {
  const float thumb = ImGui::GetFontSize() * 2.2f;
  std::set<std::string> edited_taps;
  for (const Edit& e : session().edits) {
    if (e.enabled) edited_taps.insert(e.tap);
  }
  for (std::size_t i = 0; i < taps_.size(); ++i) {
    const TapInfo& t = taps_[i];
    ImGui::PushID(int(i));
    const ImVec2 start = ImGui::GetCursorScreenPos();
    char label[160];
    std::snprintf(label, sizeof label, "%s%s", t.name.c_str(), edited_taps.count(t.name) ? "  *" : "");
    if (ImGui::Selectable("##tap", tap_ == i, 0, ImVec2(0, thumb))) {
      if (tap_ != i) {
        tap_ = i;
        focus_ = std::min<int>(focus_, int(t.channels) - 1);
        selected_ = {focus_};
      }
    }
    probe::item("tap/" + t.name);
    if (ImGui::IsItemHovered()) {
      ImGui::SetTooltip("%s: %lld channels of %lld x %lld, depth %zu%s", t.name.c_str(), (long long)t.channels,
                        (long long)t.height, (long long)t.width, i, edited_taps.count(t.name) ? "\nhas edits" : "");
    }
    ImDrawList* dl = ImGui::GetWindowDrawList();
    if (i < overview_tex_.size() && overview_tex_[i].valid()) {
      dl->AddImage(overview_tex_[i].handle(), start, ImVec2(start.x + thumb, start.y + thumb));
    }
    const float tx = start.x + thumb + ImGui::GetStyle().ItemSpacing.x;
    dl->AddText(ImVec2(tx, start.y), ImGui::GetColorU32(ImGuiCol_Text), label);
    char shape[96];
    std::snprintf(shape, sizeof shape, "%lld x %lld x %lld   depth %zu", (long long)t.channels, (long long)t.height,
                  (long long)t.width, i);
    dl->AddText(ImVec2(tx, start.y + ImGui::GetFontSize() * 1.1f), ImGui::GetColorU32(ImGuiCol_TextDisabled), shape);
    ImGui::PopID();
  }
  ImGui::Spacing();
  ImGui::TextDisabled("Previews: mean over channels, after edits.\n* marks layers with edits.");
}

void Editor::draw_grid_panel() {
  const TapInfo* tap = selected_tap();
  if (!tap) return ImGui::TextDisabled("No layer selected.");

  // View options.
  const char* maps[] = {"grey", "viridis", "diverging"};
  const char* norms[] = {"per channel", "per layer", "fixed range"};
  int map = int(view_.colormap), norm = int(view_.normalize);
  ImGui::SetNextItemWidth(ImGui::GetFontSize() * 7);
  if (ImGui::Combo("Colours", &map, maps, 3)) view_.colormap = Colormap(map);
  help_marker("grey and viridis map low to high; diverging is blue-white-red with white at 0, for signed values");
  ImGui::SameLine();
  ImGui::SetNextItemWidth(ImGui::GetFontSize() * 7);
  if (ImGui::Combo("Scale", &norm, norms, 3)) view_.normalize = Normalize(norm);
  help_marker("Which range maps to the colours: each channel's own, the whole layer's, or a fixed one");
  if (view_.normalize == Normalize::Fixed) {
    ImGui::SameLine();
    ImGui::SetNextItemWidth(ImGui::GetFontSize() * 8);
    ImGui::DragFloatRange2("##range", &view_.fixed_lo, &view_.fixed_hi, 0.05f, -100.0f, 100.0f, "%.2f");
  }
  ImGui::SameLine();
  ImGui::SetNextItemWidth(ImGui::GetFontSize() * 5);
  ImGui::SliderFloat("Size", &grid_cell_, 16.0f, 160.0f, "%.0f px");
  help_marker("Thumbnail size on screen");
  ImGui::SameLine();
  if (ImGui::SmallButton("Export PNG")) {
    browser_.open("Export channel grid", FileBrowser::Mode::Save, std::filesystem::current_path().string(),
                  tap->name + "-channels.png", {".png"});
  }
  help_marker("Save this layer's channel grid as a PNG");

  const TapView* view = shown_view();
  if (!view) return ImGui::TextDisabled("Rendering...");
  const ChannelGrid& g = view->grid;

  // The layer's histogram.
  std::vector<float> hist(g.histogram.begin(), g.histogram.end());
  char overlay[96];
  std::snprintf(overlay, sizeof overlay, "values in [%.3g, %.3g]", g.hist_lo, g.hist_hi);
  ImGui::PlotHistogram("##hist", hist.data(), int(hist.size()), 0, overlay, 0.0f, FLT_MAX,
                       ImVec2(ImGui::GetContentRegionAvail().x, ImGui::GetFontSize() * 2.5f));
  help_marker("Histogram of every value in this layer (after edits)");

  // The grid.
  const std::set<std::int64_t> edited = edited_channels(tap->name);
  const std::vector<int> labels = session().cluster_labels(tap->name);
  ImGui::BeginChild("grid", ImVec2(0, 0), false);
  const float cell = grid_cell_, gap = 3.0f;
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
        if (!selected_.erase(c)) selected_.insert(c);
      } else if (io.KeyShift) {
        for (int k = std::min(last_clicked_, c); k <= std::max(last_clicked_, c); ++k) selected_.insert(k);
      } else {
        focus_ = c;
        selected_ = {c};
      }
      last_clicked_ = c;
    }
    if (probe::enabled() && c < 64) probe::item("cell/" + std::to_string(c));
    if (ImGui::IsItemHovered() && std::size_t(c) < g.stats.size()) {
      const ChannelStats& st = g.stats[std::size_t(c)];
      ImGui::SetTooltip("channel %d\nmin %.4g  max %.4g  mean %.4g%s%s", c, st.min, st.max, st.mean,
                        edited.count(c) ? "\nedited" : "",
                        labels.empty() ? "" : ("\ncluster " + std::to_string(labels[std::size_t(c)])).c_str());
    }
    if (visible) {
      const int col = c % g.columns, row = c / g.columns;
      const ImVec2 p1(p0.x + cell, p0.y + cell);
      dl->AddImage(grid_tex_.handle(), p0, p1, ImVec2(col * cw, row * ch), ImVec2((col + 1) * cw, (row + 1) * ch));
      if (!labels.empty() && std::size_t(c) < labels.size()) {
        dl->AddRectFilled(p0, ImVec2(p1.x, p0.y + 4.0f), cluster_colour(labels[std::size_t(c)]));
      }
      if (edited.count(c)) {  // an orange corner: some enabled edit touches this channel
        const float k = std::min(10.0f, cell * 0.3f);
        dl->AddTriangleFilled(ImVec2(p1.x - k, p0.y), ImVec2(p1.x, p0.y + k), ImVec2(p1.x, p0.y), IM_COL32(255, 140, 0, 255));
      }
      const ImVec2 o0(p0.x - 1, p0.y - 1), o1(p1.x + 1, p1.y + 1);
      if (c == focus_) {
        dl->AddRect(o0, o1, IM_COL32(255, 220, 0, 255), 0, 0, 2.0f);
      } else if (selected_.count(c)) {
        dl->AddRect(o0, o1, IM_COL32(255, 255, 255, 255), 0, 0, 1.5f);
      }
    }
    ImGui::PopID();
  }
  ImGui::EndChild();
}

}  // namespace actmap::app
