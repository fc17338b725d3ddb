#include "edit_stack_panel.h"

#include <algorithm>
#include <cstdio>
#include <optional>

#include <imgui.h>

#include "actmap/edit/ops.h"
#include "actmap/io/error.h"
#include "ui_probe.h"

namespace actmap::app {

namespace {

std::string selector_text(const ChannelSelector& s) {
  switch (s.kind) {
    case ChannelSelector::Kind::All: return "all channels";
    case ChannelSelector::Kind::List:
      if (s.list.size() == 1) return "channel " + std::to_string(s.list[0]);
      return std::to_string(s.list.size()) + " channels";
    case ChannelSelector::Kind::Range: return "channels " + std::to_string(s.first) + "-" + std::to_string(s.last);
    case ChannelSelector::Kind::Cluster: return "cluster " + std::to_string(s.cluster);
    case ChannelSelector::Kind::Random: return "random " + std::to_string(int(s.fraction * 100)) + "%";
  }
  return "";
}

}  // namespace

// The edit's layer and channels, changeable (one undo step each).
void EditStackPanel::draw_target(EditorContext& ctx, const Edit& e) {
  ImGui::SetNextItemWidth(ImGui::GetFontSize() * 10);
  if (ImGui::BeginCombo("layer", e.tap.c_str())) {
    for (const TapInfo& t : ctx.taps()) {
      if (ImGui::Selectable(t.name.c_str(), t.name == e.tap) && t.name != e.tap) {
        Edit changed = e;
        changed.tap = t.name;
        try {
          ctx.history().replace_edit(e.id, changed, "move " + e.id + " to " + t.name);
        } catch (const std::exception& err) {
          ctx.report(err.what());
        }
      }
    }
    ImGui::EndCombo();
  }
  probe::item("edit/" + e.id + "/tap");
  tip("The layer this edit acts on. Strokes and rectangles keep their coordinates in layer pixels.");
  if (e.channels.kind == ChannelSelector::Kind::Random) {
    ImGui::TextDisabled("channels: %s", selector_text(e.channels).c_str());
    return;
  }
  if (editing_channels_ != e.id) channels_text_ = e.channels.to_text();
  char buf[256];
  std::snprintf(buf, sizeof buf, "%s", channels_text_.c_str());
  ImGui::SetNextItemWidth(ImGui::GetFontSize() * 10);
  if (ImGui::InputText("channels", buf, sizeof buf)) {
    channels_text_ = buf;
    editing_channels_ = e.id;
  }
  probe::item("edit/" + e.id + "/channels");
  tip("5 | 1, 4, 9 | 2-7 | all | cluster 2; Enter or leaving the field applies it");
  if (ImGui::IsItemDeactivated() && editing_channels_ == e.id) {
    editing_channels_.clear();
    try {
      Edit changed = e;
      changed.channels = ChannelSelector::from_text(channels_text_);
      const TapInfo* tap = nullptr;
      for (const TapInfo& t : ctx.taps()) {
        if (t.name == e.tap) tap = &t;
      }
      if (tap) changed.channels.resolve(tap->channels, tap->name, ctx.session().cluster_labels(tap->name));
      if (!(changed.channels.to_json() == e.channels.to_json())) {
        ctx.history().replace_edit(e.id, changed, "channels of " + e.id + ": " + channels_text_);
      }
    } catch (const std::exception& err) {
      ctx.report(err.what());
    }
  }
}

EditStackPanel::EditStackPanel() {
  const auto& ops = op_registry();
  chosen_op_ = int(std::find_if(ops.begin(), ops.end(), [](const OpSpec& o) { return o.name == "multiply"; }) - ops.begin());
  if (chosen_op_ >= int(ops.size())) chosen_op_ = 0;
}

void EditStackPanel::draw(EditorContext& ctx) {
  // Any op of the registry, for the layer and channels chosen in the slice editor.
  const auto& ops = op_registry();
  int& chosen = chosen_op_;
  ImGui::SetNextItemWidth(ImGui::GetFontSize() * 10);
  if (ImGui::BeginCombo("##op", ops[std::size_t(chosen)].name.c_str())) {
    std::string category;
    for (std::size_t i = 0; i < ops.size(); ++i) {
      if (ops[i].category != category) {
        category = ops[i].category;
        ImGui::TextDisabled("%s", category.c_str());
      }
      if (ImGui::Selectable(ops[i].name.c_str(), int(i) == chosen)) chosen = int(i);
      if (ImGui::IsItemHovered()) ImGui::SetTooltip("%s", ops[i].help.c_str());
    }
    ImGui::EndCombo();
  }
  ImGui::SameLine();
  const OpSpec& spec = ops[std::size_t(chosen)];
  const bool needs_stroke = std::any_of(spec.params.begin(), spec.params.end(), [](const ParamSpec& p) { return p.required; });
  if (ImGui::Button("Add") && !needs_stroke) ctx.add_edit(spec.name, nlohmann::json::object());
  probe::item("edits/add");
  if (ImGui::IsItemHovered()) {
    ImGui::SetTooltip("%s", needs_stroke ? "Paint strokes with the Brush or Erase tool in the slice editor"
                                         : "Add this op at the selected layer, for the channels under Apply to; then tune it below");
  }

  ImGui::Separator();
  const std::vector<Edit>& edits = ctx.session().edits;
  if (edits.empty()) ImGui::TextDisabled("No edits yet: paint on a slice or add an op.");
  ImGui::BeginChild("stack");
  std::optional<std::pair<std::string, std::size_t>> move;
  std::optional<std::string> remove;
  for (std::size_t i = 0; i < edits.size(); ++i) {
    const Edit& e = edits[i];
    ImGui::PushID(e.id.c_str());
    bool enabled = e.enabled;
    if (ImGui::Checkbox("##on", &enabled)) ctx.history().set_enabled(e.id, enabled);
    probe::item("edit/" + e.id + "/enabled");
    if (ImGui::IsItemHovered()) ImGui::SetTooltip("Enable or disable this edit");
    ImGui::SameLine();
    const std::string label = e.id + "  " + e.op + " @ " + e.tap + "  [" + selector_text(e.channels) + "]" +
                              (e.mask.empty() ? "" : "  masked");
    const bool open = ImGui::TreeNodeEx("##node", ImGuiTreeNodeFlags_SpanAvailWidth | ImGuiTreeNodeFlags_AllowItemOverlap, "%s", label.c_str());
    probe::item("edit/" + e.id);
    if (ImGui::BeginDragDropSource()) {
      ImGui::SetDragDropPayload("actmap-edit", &i, sizeof i);
      ImGui::Text("Move %s", e.id.c_str());
      ImGui::EndDragDropSource();
    }
    if (ImGui::BeginDragDropTarget()) {
      if (const ImGuiPayload* p = ImGui::AcceptDragDropPayload("actmap-edit")) {
        const std::size_t from = *static_cast<const std::size_t*>(p->Data);
        if (from < edits.size()) move = {edits[from].id, i};
      }
      ImGui::EndDragDropTarget();
    }
    if (ImGui::IsItemHovered() && !ImGui::IsMouseDragging(0)) {
      const OpSpec* op = find_op(e.op);
      ImGui::SetTooltip("%s\nDrag to reorder; edits apply from top to bottom.", op ? op->help.c_str() : "");
    }
    ImGui::SameLine(ImGui::GetContentRegionMax().x - ImGui::GetFrameHeight());
    if (ImGui::SmallButton("x")) remove = e.id;
    probe::item("edit/" + e.id + "/delete");
    if (ImGui::IsItemHovered()) ImGui::SetTooltip("Delete this edit");
    if (open) {
      if (ImGui::SmallButton("Show layer")) {
        for (std::size_t t = 0; t < ctx.taps().size(); ++t) {
          if (ctx.taps()[t].name == e.tap) ctx.selection.tap = t;
        }
        if (e.channels.kind == ChannelSelector::Kind::List && !e.channels.list.empty()) ctx.selection.focus = int(e.channels.list[0]);
      }
      ImGui::SameLine();
      if (ImGui::SmallButton("Sweep depth")) ctx.requests.sweep_edit = e.id;
      probe::item("edit/" + e.id + "/sweep");
      if (ImGui::IsItemHovered()) ImGui::SetTooltip("Apply this edit at every layer in turn and compare the outputs");
      draw_target(ctx, e);
      const OpSpec* op = find_op(e.op);
      for (const ParamSpec& p : op ? op->params : std::vector<ParamSpec>{}) {
        const nlohmann::json cur = e.params.value(p.name, p.default_value);
        const std::string gesture = "param/" + e.id + "/" + p.name;
        std::optional<nlohmann::json> changed;
        ImGui::SetNextItemWidth(ImGui::GetFontSize() * 10);
        switch (p.type) {
          case ParamType::Number: {
            float v = cur.is_number() ? cur.get<float>() : 0.0f;
            const float lo = float(std::max(p.min, std::min(p.ui_min, v - 0.0)));
            const float hi = float(std::min(p.max, std::max(p.ui_max, double(v))));
            if (ImGui::SliderFloat(p.name.c_str(), &v, lo, hi, "%.3f")) changed = std::clamp<double>(v, p.min, p.max);
            break;
          }
          case ParamType::Integer: {
            int v = cur.is_number() ? cur.get<int>() : 0;
            if (ImGui::SliderInt(p.name.c_str(), &v, int(std::max(p.min, p.ui_min)), int(std::min(p.max, std::max(p.ui_max, double(v)))))) {
              if (p.odd && v % 2 == 0) ++v;
              changed = std::clamp<double>(v, p.min, p.max);
            }
            break;
          }
          case ParamType::Boolean: {
            bool v = cur.is_boolean() && cur.get<bool>();
            if (ImGui::Checkbox(p.name.c_str(), &v)) changed = v;
            break;
          }
          case ParamType::Choice: {
            const std::string v = cur.is_string() ? cur.get<std::string>() : "";
            if (ImGui::BeginCombo(p.name.c_str(), v.c_str())) {
              for (const auto& c : p.choices) {
                if (ImGui::Selectable(c.c_str(), c == v)) changed = c;
              }
              ImGui::EndCombo();
            }
            break;
          }
          case ParamType::Points:
            ImGui::Text("%s: %zu points", p.name.c_str(), cur.is_array() ? cur.size() : std::size_t(0));
            break;
        }
        if (ImGui::IsItemHovered()) ImGui::SetTooltip("%s", p.help.c_str());
        if (changed) {
          try {
            ctx.history().set_params(e.id, {{p.name, *changed}}, gesture);
          } catch (const std::exception& err) {
            ctx.report(err.what());
          }
        }
        if (ImGui::IsItemDeactivated()) ctx.history().end_gesture();
      }
      ImGui::TreePop();
    }
    ImGui::PopID();
  }
  ImGui::EndChild();
  try {
    if (move) ctx.history().move_edit(move->first, move->second);
    if (remove) ctx.history().remove_edit(*remove);
  } catch (const std::exception& err) {
    ctx.report(err.what());
  }
}

}  // namespace actmap::app
