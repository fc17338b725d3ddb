// The Clusters, Dissect and Record tabs, and the dissection region painted on the output. Their
// computations run as background jobs on a generator of their own, never on the UI thread.
#include <algorithm>
#include <cmath>
#include <filesystem>

#include <imgui.h>

#include "actmap/animation.h"
#include "actmap/channel_view.h"
#include "actmap/generator.h"
#include "actmap/renderer.h"
#include "editor.h"
#include "ui_probe.h"

namespace actmap::app {
namespace {

void tip(const char* text) {
  if (ImGui::IsItemHovered()) ImGui::SetTooltip("%s", text);
}

void job_progress(float fraction, const char* what) {
  char overlay[64];
  std::snprintf(overlay, sizeof overlay, "%s %.0f%%", what, fraction * 100.0f);
  ImGui::ProgressBar(fraction, ImVec2(ImGui::GetFontSize() * 14, 0), overlay);
}

const char* depth_name(std::size_t index, std::size_t count) {
  const double r = count > 1 ? double(index) / double(count - 1) : 0.0;
  return r < 1.0 / 3.0 ? "early" : r < 2.0 / 3.0 ? "middle" : "late";
}

}  // namespace

bool Editor::jobs_running() const {
  return cluster_job_.running() || dissect_job_.running() || effect_job_.running() || record_job_.running() ||
         sweep_job_.running() || sens_job_.running();
}

void Editor::take_job_results() {
  take_research_results();
  if (auto r = cluster_job_.take()) {
    cluster_result_ = std::move(*r);
    cluster_result_card_ = cluster_job_card_;
    if (cluster_result_card_ == session().card_path) {
      history_->set_clusters(cluster_result_->tap, cluster_result_->labels);
      report("clustered " + cluster_result_->tap + " into " + std::to_string(cluster_result_->k) + " clusters");
    }
  }
  if (auto r = dissect_job_.take()) dissection_ = std::move(*r);
  if (auto r = effect_job_.take()) effect_ = *r;
  if (auto r = record_job_.take()) {
    record_message_ = *r;
    report(*r);
  }
  const std::pair<std::string, std::string> errors[] = {{"clustering", cluster_job_.take_error()},
                                                        {"dissection", dissect_job_.take_error()},
                                                        {"measuring the effect", effect_job_.take_error()},
                                                        {"recording", record_job_.take_error()}};
  for (const auto& [what, error] : errors) {
    if (error.empty()) continue;
    if (what == "recording") record_message_ = "recording: " + error;
    report(what + ": " + error);
  }
}

// ---- Clusters ----------------------------------------------------------------------------------

void Editor::draw_clusters_panel() {
  const TapInfo* tap = selected_tap();
  if (!tap) return ImGui::TextDisabled("No layer selected.");
  const int default_k = default_cluster_count(tap_, taps_.size(), tap->channels);
  ImGui::Text("%s: %lld channels of %lld x %lld, depth %zu of %zu (%s)", tap->name.c_str(), (long long)tap->channels,
              (long long)tap->height, (long long)tap->width, tap_, taps_.size(), depth_name(tap_, taps_.size()));
  int k = cluster_k_ > 0 ? cluster_k_ : default_k;
  ImGui::SetNextItemWidth(ImGui::GetFontSize() * 6);
  if (ImGui::InputInt("k", &k)) cluster_k_ = std::clamp(k, 1, int(std::min<std::int64_t>(tap->channels, 64)));
  probe::item("clusters/k");
  tip("Number of clusters. Network Bending's defaults: 5 for early layers, 4 in the middle, 3 late");
  ImGui::SameLine();
  ImGui::TextDisabled("default %d", default_k);
  ImGui::SameLine();
  ImGui::SetNextItemWidth(ImGui::GetFontSize() * 6);
  if (ImGui::InputInt("samples", &cluster_samples_)) cluster_samples_ = std::clamp(cluster_samples_, 1, 4096);
  tip("Latents (seeds 0, 1, ...) whose activation maps are averaged");
  ImGui::SameLine();
  ImGui::SetNextItemWidth(ImGui::GetFontSize() * 5);
  if (ImGui::InputInt("restarts", &cluster_restarts_)) cluster_restarts_ = std::clamp(cluster_restarts_, 1, 100);
  tip("k-means runs from different k-means++ starts; the lowest inertia wins");

  if (cluster_job_.running()) {
    job_progress(cluster_job_.progress(), "clustering");
    ImGui::SameLine();
    if (ImGui::Button("Cancel##clusters")) cluster_job_.cancel();
  } else if (ImGui::Button("Compute")) {
    ClusterOptions o;
    o.k = k;
    o.samples = cluster_samples_;
    o.restarts = cluster_restarts_;
    const std::string card = session().card_path, device = options_.device, name = tap->name;
    cluster_job_card_ = card;
    cluster_job_.start([card, device, name, o](const ProgressFn& progress) {
      const auto gen = load_generator(load_model_card(card), device);
      return cluster_tap(*gen, name, o, progress);
    });
  }
  probe::item("clusters/compute");
  tip("Cluster this layer's channels by their mean activation maps (k-means on the model's device), "
      "with a silhouette score for every k from 2 to 8; the result goes into the session (undoable)");

  const ClusterResult* result = cluster_result_ && cluster_result_->tap == tap->name &&
                                        cluster_result_card_ == session().card_path
                                    ? &*cluster_result_
                                    : nullptr;
  const std::vector<int> labels = session().cluster_labels(tap->name);
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
          history_->set_clusters(tap->name, c.labels);
          cluster_k_ = c.k;
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
  if (result && (cluster_tex_labels_ != labels || cluster_tex_tap_ != tap->name)) {
    cluster_tex_.clear();
    cluster_tex_.resize(std::size_t(session_k));
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
      cluster_tex_[std::size_t(j)].upload(im);
    }
    cluster_tex_labels_ = labels;
    cluster_tex_tap_ = tap->name;
  }
  const bool previews = result && cluster_tex_tap_ == tap->name && cluster_tex_.size() == std::size_t(session_k);
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
      ImGui::Image(cluster_tex_[std::size_t(j)].handle(), ImVec2(thumb, thumb));
      ImGui::SameLine();
    }
    ImGui::BeginGroup();
    ImGui::Text("cluster %d: %d channel%s", j, n, n == 1 ? "" : "s");
    if (ImGui::SmallButton("Select")) {
      selected_.clear();
      for (std::size_t c = 0; c < labels.size(); ++c) {
        if (labels[c] == j) selected_.insert(int(c));
      }
      if (!selected_.empty()) focus_ = *selected_.begin();
      apply_to_ = ApplyTo::Cluster;
      cluster_ = j;
      report("cluster " + std::to_string(j) + " selected (" + std::to_string(n) + " channels): the slice tools now apply to it");
    }
    probe::item("clusters/select/" + std::to_string(j));
    tip("Select this cluster's channels in the grid; the slice editor's tools then apply to the cluster");
    ImGui::EndGroup();
    ImGui::PopID();
  }
}

// ---- Dissection ------------------------------------------------------------------------------

void Editor::draw_region_overlay(float x, float y, float zoom) {
  const int w = output_tex_.width(), h = output_tex_.height();
  if (region_.width != w || region_.height != h) {
    region_.width = w;
    region_.height = h;
    region_.inside.assign(std::size_t(w) * std::size_t(h), 0);
    region_dirty_ = true;
  }
  if (ImGui::IsItemHovered() && ImGui::IsMouseDown(ImGuiMouseButton_Left)) {
    const ImVec2 m = ImGui::GetIO().MousePos;
    const float cx = (m.x - x) / zoom, cy = (m.y - y) / zoom;
    const std::uint8_t value = ImGui::GetIO().KeyShift ? 0 : 1;
    const float r = region_brush_;
    for (int py = std::max(0, int(cy - r)); py <= std::min(h - 1, int(cy + r)); ++py) {
      for (int px = std::max(0, int(cx - r)); px <= std::min(w - 1, int(cx + r)); ++px) {
        const float dx = float(px) + 0.5f - cx, dy = float(py) + 0.5f - cy;
        if (dx * dx + dy * dy <= r * r) region_.inside[std::size_t(py) * std::size_t(w) + std::size_t(px)] = value;
      }
    }
    region_dirty_ = true;
  }
  if (region_dirty_) {
    Image im;
    im.width = w;
    im.height = h;
    im.channels = 4;
    im.pixels.resize(std::size_t(w) * std::size_t(h) * 4);
    for (std::size_t i = 0; i < region_.inside.size(); ++i) {
      const bool in = region_.inside[i] != 0;
      im.pixels[i * 4 + 0] = 255;
      im.pixels[i * 4 + 1] = 40;
      im.pixels[i * 4 + 2] = 40;
      im.pixels[i * 4 + 3] = in ? 130 : 0;
    }
    region_tex_.upload(im);
    region_dirty_ = false;
  }
  if (region_tex_.valid()) {
    ImGui::GetWindowDrawList()->AddImage(region_tex_.handle(), ImVec2(x, y), ImVec2(x + float(w) * zoom, y + float(h) * zoom));
  }
  if (probe::enabled()) probe::value("region_pixels", region_.count());
}

void Editor::draw_dissect_panel() {
  const TapInfo* tap = selected_tap();
  if (!tap) return ImGui::TextDisabled("No layer selected.");
  const std::int64_t painted = region_.count();
  ImGui::Text("Region: %lld of %d x %d output pixels", (long long)painted, region_.width, region_.height);
  ImGui::SameLine();
  if (ImGui::SmallButton("Clear")) {
    std::fill(region_.inside.begin(), region_.inside.end(), 0);
    region_dirty_ = true;
  }
  ImGui::SameLine();
  if (output_mode_ != OutputMode::Dissect && ImGui::SmallButton("Paint it")) output_mode_ = OutputMode::Dissect;
  tip("Switch the output to Dissect mode: drag on the image to paint the region, Shift+drag to erase");
  ImGui::SetNextItemWidth(ImGui::GetFontSize() * 8);
  ImGui::SliderFloat("brush", &region_brush_, 0.5f, 16.0f, "%.1f px");
  tip("Radius of the region brush, in output pixels");

  ImGui::Text("Layer %s: %lld channels", tap->name.c_str(), (long long)tap->channels);
  ImGui::SetNextItemWidth(ImGui::GetFontSize() * 6);
  if (ImGui::InputInt("samples##dissect", &dissect_samples_)) dissect_samples_ = std::clamp(dissect_samples_, 1, 4096);
  tip("Latents (seeds 0, 1, ...) the scores are computed over");
  ImGui::SameLine();
  ImGui::SetNextItemWidth(ImGui::GetFontSize() * 6);
  if (ImGui::InputInt("top", &dissect_top_)) dissect_top_ = std::clamp(dissect_top_, 1, int(tap->channels));
  tip("How many of the best units the buttons below edit");
  ImGui::SameLine();
  ImGui::SetNextItemWidth(ImGui::GetFontSize() * 6);
  ImGui::SliderFloat("quantile", &dissect_quantile_, 0.5f, 0.999f, "%.3f");
  tip("A unit is 'on' where its activation exceeds this quantile of all its values (GAN Dissection uses 0.99)");

  if (dissect_job_.running()) {
    job_progress(dissect_job_.progress(), "dissecting");
    ImGui::SameLine();
    if (ImGui::Button("Cancel##dissect")) dissect_job_.cancel();
  } else {
    ImGui::BeginDisabled(painted == 0 || painted == std::int64_t(region_.inside.size()));
    if (ImGui::Button("Run dissection")) {
      DissectOptions o;
      o.samples = dissect_samples_;
      o.quantile = dissect_quantile_;
      const std::string card = session().card_path, device = options_.device, name = tap->name;
      const Region region = region_;
      dissection_.reset();
      effect_.reset();
      dissect_job_.start([card, device, name, o, region](const ProgressFn& progress) {
        const auto gen = load_generator(load_model_card(card), device);
        return dissect_tap(*gen, name, region, o, progress);
      });
    }
    probe::item("dissect/run");
    tip("Rank this layer's channels by how their activations concentrate inside the painted region");
    ImGui::EndDisabled();
  }

  if (!dissection_ || dissection_->tap != tap->name) return;
  const DissectResult& d = *dissection_;
  const int top = std::min<int>(dissect_top_, int(d.units.size()));
  std::vector<int> best;
  for (int i = 0; i < top; ++i) best.push_back(d.units[std::size_t(i)].channel);
  auto apply = [&](bool ablate) {
    try {
      const Edit e = unit_edit(d.tap, best, ablate, boost_factor_);
      const std::vector<Edit> base = session().edits;
      const auto clusters = session().clusters;
      history_->add_edit(e);
      const std::string card = session().card_path, device = options_.device;
      const Region region = region_;
      const int samples = dissect_samples_;
      effect_.reset();
      char label[96];
      std::snprintf(label, sizeof label, "%s top %d of %s", ablate ? "ablating" : "boosting", top, d.tap.c_str());
      effect_label_ = label;
      effect_job_.start([card, device, base, e, clusters, region, samples](const ProgressFn& progress) {
        const auto gen = load_generator(load_model_card(card), device);
        return measure_edit_effect(*gen, base, e, clusters, region, samples, 0, progress);
      });
    } catch (const std::exception& ex) {
      report(ex.what());
    }
  };
  char ablate_label[48], boost_label[48];
  std::snprintf(ablate_label, sizeof ablate_label, "Ablate top %d", top);
  std::snprintf(boost_label, sizeof boost_label, "Boost top %d", top);
  if (ImGui::Button(ablate_label)) apply(true);
  probe::item("dissect/ablate");
  tip("Add an edit that switches these units off (op ablate), then measure what it does inside and outside the region");
  ImGui::SameLine();
  if (ImGui::Button(boost_label)) apply(false);
  probe::item("dissect/boost");
  tip("Add an edit that multiplies these units by the factor, then measure its effect");
  ImGui::SameLine();
  ImGui::SetNextItemWidth(ImGui::GetFontSize() * 5);
  ImGui::InputFloat("factor", &boost_factor_, 0.5f, 1.0f, "%.1f");
  if (effect_job_.running()) {
    job_progress(effect_job_.progress(), "measuring");
  } else if (effect_) {
    ImGui::TextWrapped("Effect of %s over %d samples: mean |change| %.2f inside the region, %.2f outside (8-bit values)",
                effect_label_.c_str(), effect_->samples, effect_->inside, effect_->outside);
  }
  if (probe::enabled()) probe::value("dissect_best", best);
  if (ImGui::BeginTable("units", 5, ImGuiTableFlags_Borders | ImGuiTableFlags_RowBg | ImGuiTableFlags_ScrollY | ImGuiTableFlags_SizingFixedFit,
                        ImVec2(0, ImGui::GetContentRegionAvail().y))) {
    ImGui::TableSetupScrollFreeze(0, 1);
    for (const char* h : {"rank", "channel", "IoU", "inside", "in/out"}) ImGui::TableSetupColumn(h);
    ImGui::TableHeadersRow();
    for (std::size_t i = 0; i < d.units.size() && i < 64; ++i) {
      const UnitScore& u = d.units[i];
      ImGui::TableNextRow();
      ImGui::TableNextColumn();
      char label[32];
      std::snprintf(label, sizeof label, "%zu##u%zu", i + 1, i);
      if (ImGui::Selectable(label, int(i) < top, ImGuiSelectableFlags_SpanAllColumns)) {
        focus_ = u.channel;
        selected_ = {u.channel};
      }
      tip("Open this channel in the slice editor");
      ImGui::TableNextColumn();
      ImGui::Text("%d", u.channel);
      ImGui::TableNextColumn();
      ImGui::Text("%.4f", u.iou);
      ImGui::TableNextColumn();
      ImGui::Text("%.3f", u.inside_mean);
      ImGui::TableNextColumn();
      if (std::isinf(u.ratio)) ImGui::TextUnformatted("inf");
      else ImGui::Text("%.2f", u.ratio);
    }
    ImGui::EndTable();
  }
}

// ---- Record ----------------------------------------------------------------------------------

void Editor::draw_record_panel() {
  const std::vector<std::string> pointers = numeric_pointers(session());
  if (record_param_ >= int(pointers.size())) record_param_ = -1;
  auto describe = [&](int i) -> std::string {
    if (i < 0) return "(none: the latent walk only)";
    const std::string& p = pointers[std::size_t(i)];
    const std::size_t e = std::stoul(p.substr(7));
    const Edit& edit = session().edits[e];
    return edit.id + " " + edit.op + ": " + p.substr(p.rfind('/') + 1) + "  (" + p + ")";
  };
  ImGui::SetNextItemWidth(-ImGui::GetFontSize() * 6);
  if (ImGui::BeginCombo("parameter", describe(record_param_).c_str())) {
    for (int i = -1; i < int(pointers.size()); ++i) {
      if (ImGui::Selectable(describe(i).c_str(), i == record_param_)) {
        record_param_ = i;
        if (i >= 0) {
          const nlohmann::json doc = session_to_json(session(), "");
          record_from_ = doc.at(nlohmann::json::json_pointer(pointers[std::size_t(i)])).get<float>();
        }
      }
    }
    ImGui::EndCombo();
  }
  probe::item("record/param");
  tip("The edit parameter to sweep (the edit stack's numeric parameters)");
  if (record_param_ >= 0) {
    ImGui::SetNextItemWidth(ImGui::GetFontSize() * 6);
    ImGui::InputFloat("from", &record_from_);
    ImGui::SameLine();
    ImGui::SetNextItemWidth(ImGui::GetFontSize() * 6);
    ImGui::InputFloat("to", &record_to_);
  }
  char walk[128];
  std::snprintf(walk, sizeof walk, "%s", record_walk_.c_str());
  ImGui::SetNextItemWidth(ImGui::GetFontSize() * 10);
  if (ImGui::InputTextWithHint("seed walk", "e.g. 0,7,3", walk, sizeof walk)) record_walk_ = walk;
  tip("Also walk the latent through these seeds (slerp in z); leave empty to keep the session's latent");
  ImGui::SetNextItemWidth(ImGui::GetFontSize() * 5);
  if (ImGui::InputInt("frames", &record_frames_)) record_frames_ = std::clamp(record_frames_, 1, 100000);
  ImGui::SameLine();
  ImGui::SetNextItemWidth(ImGui::GetFontSize() * 5);
  if (ImGui::InputInt("fps", &record_fps_)) record_fps_ = std::clamp(record_fps_, 1, 240);
  ImGui::SameLine();
  ImGui::SetNextItemWidth(ImGui::GetFontSize() * 5);
  if (ImGui::InputInt("scale", &record_scale_)) record_scale_ = std::clamp(record_scale_, 1, 32);
  tip("Enlarge every frame by this whole factor (nearest neighbour)");
  const char* formats[] = {"MP4", "GIF", "PNG frames"};
  const char* extensions[] = {".mp4", ".gif", ""};
  ImGui::SetNextItemWidth(ImGui::GetFontSize() * 7);
  ImGui::Combo("format", &record_format_, formats, 3);
  tip("MP4 and GIF are written by ffmpeg; PNG frames go to a folder as frame-NNNN.png");
  if (record_path_.empty()) {
    record_path_ = (std::filesystem::current_path() / (record_format_ == 2 ? "frames" : std::string("animation") + extensions[record_format_])).string();
  }
  char path[1024];
  std::snprintf(path, sizeof path, "%s", record_path_.c_str());
  ImGui::SetNextItemWidth(-ImGui::GetFontSize() * 6);
  if (ImGui::InputText("##record path", path, sizeof path)) record_path_ = path;
  ImGui::SameLine();
  if (ImGui::Button("Browse...")) {
    browser_.open(kRecordTitle, FileBrowser::Mode::Save, record_path_,
                  record_format_ == 2 ? "frames" : std::string("animation") + extensions[record_format_],
                  record_format_ == 2 ? std::vector<std::string>{} : std::vector<std::string>{extensions[record_format_]});
  }
  if (record_job_.running()) {
    job_progress(record_job_.progress(), "recording");
    ImGui::SameLine();
    if (ImGui::Button("Cancel##record")) record_job_.cancel();
  } else {
    ImGui::BeginDisabled(record_param_ < 0 && record_walk_.empty());
    if (ImGui::Button("Record")) {
      std::string out = record_path_;
      const std::string ext = std::filesystem::path(out).extension().string();
      if (record_format_ < 2 && ext != extensions[record_format_]) out += extensions[record_format_];
      const Session s = session();
      const std::string pointer = record_param_ >= 0 ? pointers[std::size_t(record_param_)] : "";
      const double from = record_from_, to = record_to_, fps = record_fps_;
      const int frames = record_frames_, scale = record_scale_;
      const std::string walk_text = record_walk_, device = options_.device;
      const std::string source = session_path_.empty() ? "the session" : session_path_;
      record_message_.clear();
      record_job_.start([=](const ProgressFn& progress) {
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
    tip("Render every frame in the background (the edit stack as it is now) and write the animation");
    ImGui::EndDisabled();
  }
  if (!record_message_.empty()) ImGui::TextWrapped("%s", record_message_.c_str());
}

}  // namespace actmap::app
