#include "clusters_panel.h"

#include <algorithm>
#include <cstdio>

#include <imgui.h>

#include "actmap/model/generator.h"
#include "actmap/render/channel_view.h"
#include "job_progress.h"
#include "ui_probe.h"

namespace actmap::app {
namespace {

const char* depth_name(std::size_t index, std::size_t count) {
  const double r = count > 1 ? double(index) / double(count - 1) : 0.0;
  return r < 1.0 / 3.0 ? "early" : r < 2.0 / 3.0 ? "middle" : "late";
}

}  // namespace

void ClustersPanel::poll(EditorContext& ctx) {
  if (auto r = job_.take()) {
    result_ = std::move(*r);
    result_card_ = job_card_;
    if (result_card_ == ctx.session().card_path) {
      ctx.history().set_clusters(result_->tap, result_->labels);
      ctx.report("clustered " + result_->tap + " into " + std::to_string(result_->k) + " clusters");
    }
  }
  const std::string error = job_.take_error();
  if (!error.empty()) ctx.report("clustering: " + error);
}

void ClustersPanel::draw(EditorContext& ctx) {
  const TapInfo* tap = ctx.selected_tap();
  if (!tap) return ImGui::TextDisabled("No layer selected.");
  const int default_k = default_cluster_count(ctx.selection.tap, ctx.taps().size(), tap->channels);
  ImGui::Text("%s: %lld channels of %lld x %lld, depth %zu of %zu (%s)", tap->name.c_str(), (long long)tap->channels,
              (long long)tap->height, (long long)tap->width, ctx.selection.tap, ctx.taps().size(), depth_name(ctx.selection.tap, ctx.taps().size()));
  int k = k_ > 0 ? k_ : default_k;
  ImGui::SetNextItemWidth(ImGui::GetFontSize() * 6);
  if (ImGui::InputInt("k", &k)) k_ = std::clamp(k, 1, int(std::min<std::int64_t>(tap->channels, 64)));
  probe::item("clusters/k");
  tip("Number of clusters. Network Bending's defaults: 5 for early layers, 4 in the middle, 3 late");
  ImGui::SameLine();
  ImGui::TextDisabled("default %d", default_k);
  ImGui::SameLine();
  ImGui::SetNextItemWidth(ImGui::GetFontSize() * 6);
  if (ImGui::InputInt("samples", &samples_)) samples_ = std::clamp(samples_, 1, 4096);
  tip("Latents (seeds 0, 1, ...) whose activation maps are averaged");
  ImGui::SameLine();
  ImGui::SetNextItemWidth(ImGui::GetFontSize() * 5);
  if (ImGui::InputInt("restarts", &restarts_)) restarts_ = std::clamp(restarts_, 1, 100);
  tip("k-means runs from different k-means++ starts; the lowest inertia wins");

  if (job_.running()) {
    job_progress(job_.progress(), "clustering");
    ImGui::SameLine();
    if (ImGui::Button("Cancel##clusters")) job_.cancel();
  } else if (ImGui::Button("Compute")) {
    ClusterOptions o;
    o.k = k;
    o.samples = samples_;
    o.restarts = restarts_;
    const std::string card = ctx.session().card_path, device = ctx.options.device, name = tap->name;
    job_card_ = card;
    job_.start([card, device, name, o](const ProgressFn& progress) {
      const auto gen = load_generator(load_model_card(card), device);
      return cluster_tap(*gen, name, o, progress);
    });
  }
  probe::item("clusters/compute");
  tip("Cluster this layer's channels by their mean activation maps (k-means on the model's device), "
      "with a silhouette score for every k from 2 to 8; the result goes into the session (undoable)");

  const ClusterResult* result = result_ && result_->tap == tap->name &&
                                        result_card_ == ctx.session().card_path
                                    ? &*result_
                                    : nullptr;
  const std::vector<int> labels = ctx.session().cluster_labels(tap->name);
  const int session_k = labels.empty() ? 0 : *std::max_element(labels.begin(), labels.end()) + 1;
  if (result) {
    ImGui::TextDisabled("Silhouette per k (higher: better separated). Click a row to use that k.");
    if (ImGui::BeginTable("silhouette", 3, ImGuiTableFlags_Borders | ImGuiTableFlags_RowBg | ImGuiTableFlags_SizingFixedFit)) {
      ImGui::TableSetupColumn("k");
      ImGui::TableSetupColumn("silhouette");
      ImGui::TableSetupColumn("inertia");
      ImGui::TableHeadersRow();
      double best = -2.0;
      for (const auto& c : result->per_k) best = std::max(best, c.silhouette);
      for (const auto& c : result->per_k) {
        ImGui::TableNextRow();
        ImGui::TableNextColumn();
        char label[32];
        std::snprintf(label, sizeof label, "%d%s##k%d", c.k, c.silhouette == best ? " *" : "", c.k);
        if (ImGui::Selectable(label, c.k == session_k && labels == c.labels, ImGuiSelectableFlags_SpanAllColumns)) {
          ctx.history().set_clusters(tap->name, c.labels);
          k_ = c.k;
        }
        probe::item("clusters/k/" + std::to_string(c.k));
        ImGui::TableNextColumn();
        ImGui::Text("%.4f", c.silhouette);
        ImGui::TableNextColumn();
        ImGui::Text("%.2f", c.inertia);
      }
      ImGui::EndTable();
    }
  }

  if (labels.empty()) {
    ImGui::TextDisabled("No clusters for this layer in the session yet: press Compute.");
    return;
  }
  // Mean-map previews of the session's clusters (when this run computed the maps).
  if (result && (preview_labels_ != labels || preview_tap_ != tap->name)) {
    previews_.clear();
    previews_.resize(std::size_t(session_k));
    const int mh = result->map_height, mw = result->map_width, cells = mh * mw;
    for (int j = 0; j < session_k; ++j) {
      std::vector<double> mean(std::size_t(cells), 0.0);
      int n = 0;
      for (std::size_t c = 0; c < labels.size(); ++c) {
        if (labels[c] != j) continue;
        ++n;
        for (int i = 0; i < cells; ++i) mean[std::size_t(i)] += result->mean_maps[c * std::size_t(cells) + std::size_t(i)];
      }
      const auto [lo, hi] = std::minmax_element(mean.begin(), mean.end());
      const double range = n > 0 && *hi > *lo ? *hi - *lo : 1.0;
      Image im;
      im.width = mw;
      im.height = mh;
      im.channels = 3;
      for (int i = 0; i < cells; ++i) {
        const auto rgb = colormap_rgb(Colormap::Viridis, float((mean[std::size_t(i)] - *lo) / range));
        im.pixels.insert(im.pixels.end(), rgb.begin(), rgb.end());
      }
      previews_[std::size_t(j)].upload(im);
    }
    preview_labels_ = labels;
    preview_tap_ = tap->name;
  }
  const bool previews = result && preview_tap_ == tap->name && previews_.size() == std::size_t(session_k);
  ImGui::Separator();
  ImGui::Text("%d clusters in the session%s", session_k, previews ? " (previews: mean activation map, viridis)" : "");
  const float thumb = ImGui::GetFontSize() * 3.0f;
  for (int j = 0; j < session_k; ++j) {
    ImGui::PushID(j);
    const int n = int(std::count(labels.begin(), labels.end(), j));
    const ImVec2 p = ImGui::GetCursorScreenPos();
    ImGui::GetWindowDrawList()->AddRectFilled(p, ImVec2(p.x + 6, p.y + thumb), cluster_colour(j));
    ImGui::Dummy(ImVec2(8, thumb));
    ImGui::SameLine();
    if (previews) {
      ImGui::Image(previews_[std::size_t(j)].handle(), ImVec2(thumb, thumb));
      ImGui::SameLine();
    }
    ImGui::BeginGroup();
    ImGui::Text("cluster %d: %d channel%s", j, n, n == 1 ? "" : "s");
    if (ImGui::SmallButton("Select")) {
      ctx.selection.channels.clear();
      for (std::size_t c = 0; c < labels.size(); ++c) {
        if (labels[c] == j) ctx.selection.channels.insert(int(c));
      }
      if (!ctx.selection.channels.empty()) ctx.selection.focus = *ctx.selection.channels.begin();
      ctx.selection.apply_to = ApplyTo::Cluster;
      ctx.selection.cluster = j;
      ctx.report("cluster " + std::to_string(j) + " selected (" + std::to_string(n) + " channels): the slice tools now apply to it");
    }
    probe::item("clusters/select/" + std::to_string(j));
    tip("Select this cluster's channels in the grid; the slice editor's tools then apply to the cluster");
    ImGui::EndGroup();
    ImGui::PopID();
  }
}

}  // namespace actmap::app
