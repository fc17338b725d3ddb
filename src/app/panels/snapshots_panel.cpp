#include "snapshots_panel.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include <imgui.h>

#include "actmap/model/generator.h"
#include "actmap/render/renderer.h"
#include "ui_probe.h"

namespace actmap::app {

void SnapshotsPanel::load_from_session(EditorContext& ctx) {
  needs_load_ = false;
  job_.cancel();
  snapshots_.clear();
  a_ = -1;
  b_ = -2;
  const nlohmann::json& view = ctx.session().view;
  if (!view.contains("snapshots") || !view["snapshots"].is_array()) return;
  std::vector<Session> states;
  for (const auto& j : view["snapshots"]) {
    try {
      Snapshot s;
      s.name = j.at("name").get<std::string>();
      s.state = j.at("session");
      states.push_back(parse_session(s.state.dump(), ctx.session_path.empty() ? "snapshot " + s.name : ctx.session_path));
      snapshots_.push_back(std::move(s));
    } catch (const std::exception& e) {
      ctx.report("a snapshot in the session could not be read, and is left out: " + std::string(e.what()));
    }
  }
  if (states.empty()) return;
  const std::string device = ctx.options.device, card = ctx.session().card_path;
  job_.start([states, device, card](const ProgressFn& progress) {
    Renderer renderer(load_generator(load_model_card(card), device));
    std::vector<Image> images;
    for (std::size_t i = 0; i < states.size(); ++i) {
      report_progress(progress, std::int64_t(i), std::int64_t(states.size()));
      images.push_back(output_to_images(render_session(renderer, states[i]).output, renderer.generator().card()).at(0));
    }
    return images;
  });
}

void SnapshotsPanel::store_in_session(EditorContext& ctx) const {
  nlohmann::json list = nlohmann::json::array();
  for (const Snapshot& s : snapshots_) list.push_back({{"name", s.name}, {"session", s.state}});
  Session& session = ctx.history().untracked();
  session.view["snapshots"] = list;
  ctx.history().mark_unsaved();
}

void SnapshotsPanel::poll(EditorContext& ctx) {
  if (!ctx.has_session()) return;
  if (needs_load_) load_from_session(ctx);
  if (auto images = job_.take()) {
    for (std::size_t i = 0; i < images->size() && i < snapshots_.size(); ++i) {
      snapshots_[i].image = (*images)[i];
      snapshots_[i].texture.upload(snapshots_[i].image);
    }
  }
  const std::string error = job_.take_error();
  if (!error.empty()) ctx.report("snapshots: " + error);
}

const Image* SnapshotsPanel::image_of(const EditorContext& ctx, int which) const {
  const RenderReply* r = ctx.render.reply();
  if (which == -1) return r ? &r->output : nullptr;
  if (which == -2) return r && r->original.width > 0 ? &r->original : nullptr;
  if (which >= 0 && which < int(snapshots_.size()) && snapshots_[std::size_t(which)].image.width > 0) {
    return &snapshots_[std::size_t(which)].image;
  }
  return nullptr;
}

const Texture* SnapshotsPanel::texture_of(const EditorContext& ctx, int which) const {
  if (which == -1) return ctx.render.output().valid() ? &ctx.render.output() : nullptr;
  if (which == -2) return ctx.render.original().valid() ? &ctx.render.original() : nullptr;
  if (which >= 0 && which < int(snapshots_.size()) && snapshots_[std::size_t(which)].texture.valid()) {
    return &snapshots_[std::size_t(which)].texture;
  }
  return nullptr;
}

std::string SnapshotsPanel::label_of(int which) const {
  if (which == -1) return "current output";
  if (which == -2) return "original (no edits)";
  return which < int(snapshots_.size()) ? snapshots_[std::size_t(which)].name : "?";
}

void SnapshotsPanel::draw(EditorContext& ctx) {
  // Keep the current output under a name.
  char name[64];
  std::snprintf(name, sizeof name, "%s", name_.c_str());
  ImGui::SetNextItemWidth(ImGui::GetFontSize() * 8);
  if (ImGui::InputText("##name", name, sizeof name)) name_ = name;
  ImGui::SameLine();
  const RenderReply* reply = ctx.render.reply();
  ImGui::BeginDisabled(!reply || name_.empty());
  if (ImGui::Button("Keep current output")) {
    Snapshot s;
    s.name = name_;
    Session state = ctx.session();
    state.view = nlohmann::json::object();
    s.state = session_to_json(state, "");
    s.image = reply->output;
    s.texture.upload(s.image);
    snapshots_.push_back(std::move(s));
    store_in_session(ctx);
    b_ = a_;
    a_ = int(snapshots_.size()) - 1;
    // The next name: A, B, C, ...
    name_ = name_.size() == 1 && name_[0] >= 'A' && name_[0] < 'Z' ? std::string(1, char(name_[0] + 1)) : name_ + "+";
  }
  ImGui::EndDisabled();
  probe::item("snapshots/keep");
  tip("Keep the output as it is now, with the session state that makes it (saved with the session)");
  probe::value("snapshots", int(snapshots_.size()));

  // Which two to compare, and how.
  auto picker = [&](const char* label, int* which) {
    ImGui::SetNextItemWidth(ImGui::GetFontSize() * 9);
    if (ImGui::BeginCombo(label, label_of(*which).c_str())) {
      for (int i = -2; i < int(snapshots_.size()); ++i) {
        if (ImGui::Selectable(label_of(i).c_str(), i == *which)) *which = i;
      }
      ImGui::EndCombo();
    }
  };
  picker("A", &a_);
  ImGui::SameLine();
  picker("B", &b_);
  int mode = int(compare_);
  ImGui::RadioButton("side by side", &mode, int(Compare::SideBySide));
  ImGui::SameLine();
  ImGui::RadioButton("toggle", &mode, int(Compare::Toggle));
  probe::item("snapshots/toggle");
  ImGui::SameLine();
  ImGui::RadioButton("difference", &mode, int(Compare::Difference));
  probe::item("snapshots/difference");
  compare_ = Compare(mode);
  if (compare_ == Compare::Toggle) {
    ImGui::SameLine();
    ImGui::Checkbox("show B", &show_b_);
  }
  if (!snapshots_.empty()) {
    ImGui::SameLine();
    if (ImGui::SmallButton("Delete A") && a_ >= 0) {
      snapshots_.erase(snapshots_.begin() + a_);
      store_in_session(ctx);
      a_ = -1;
      b_ = std::min(b_, int(snapshots_.size()) - 1);
    }
  }
  if (job_.running()) ImGui::TextDisabled("rendering the session's snapshots...");

  const Texture* ta = texture_of(ctx, a_);
  const Texture* tb = texture_of(ctx, b_);
  if (!ta || !tb) {
    ImGui::TextDisabled("Nothing to compare yet: keep a snapshot, then pick A and B.");
    return;
  }
  const ImVec2 avail = ImGui::GetContentRegionAvail();
  const int panes = compare_ == Compare::SideBySide ? 2 : 1;
  const float gap = ImGui::GetStyle().ItemSpacing.x;
  const float ow = float(ta->width()), oh = float(ta->height());
  const float zoom = std::max(0.1f, std::min((avail.x - gap * float(panes - 1)) / (ow * float(panes)),
                                             (avail.y - ImGui::GetTextLineHeightWithSpacing()) / oh));
  const ImVec2 size(ow * zoom, oh * zoom);
  auto pane = [&](const std::string& label, const Texture& t) {
    ImGui::BeginGroup();
    ImGui::TextUnformatted(label.c_str());
    ImGui::Image(t.handle(), size);
    ImGui::EndGroup();
  };
  switch (compare_) {
    case Compare::SideBySide:
      pane("A: " + label_of(a_), *ta);
      ImGui::SameLine();
      pane("B: " + label_of(b_), *tb);
      break;
    case Compare::Toggle: {
      const bool b = show_b_ || (ImGui::IsMouseDown(0) && ImGui::IsWindowHovered());
      pane(b ? "B: " + label_of(b_) : "A: " + label_of(a_), b ? *tb : *ta);
      break;
    }
    case Compare::Difference: {
      const Image* ia = image_of(ctx, a_);
      const Image* ib = image_of(ctx, b_);
      if (!ia || !ib || ia->width != ib->width || ia->height != ib->height || ia->channels != ib->channels) {
        ImGui::TextDisabled("A and B differ in size: no difference to show.");
        break;
      }
      // Recomputed when either side changed (cheap: one pass over the bytes).
      const std::string key = std::to_string(a_) + "/" + std::to_string(b_) + "/" +
                              std::to_string(reinterpret_cast<std::uintptr_t>(ia->pixels.data())) + "/" +
                              std::to_string(reinterpret_cast<std::uintptr_t>(ib->pixels.data()));
      double sum = 0.0;
      if (key != diff_for_ || diff_.pixels.size() != ia->pixels.size()) {
        diff_ = *ia;
        for (std::size_t i = 0; i < diff_.pixels.size(); ++i) {
          const int d = std::abs(int(ia->pixels[i]) - int(ib->pixels[i]));
          diff_.pixels[i] = static_cast<std::uint8_t>(std::min(255, d * 4));
        }
        diff_tex_.upload(diff_);
        diff_for_ = key;
      }
      for (std::size_t i = 0; i < ia->pixels.size(); ++i) sum += std::abs(int(ia->pixels[i]) - int(ib->pixels[i]));
      pane("|A - B| x4", diff_tex_);
      ImGui::Text("mean |A - B|: %.2f of 255", ia->pixels.empty() ? 0.0 : sum / double(ia->pixels.size()));
      break;
    }
  }
}

}  // namespace actmap::app
