#include "seed_strip_panel.h"

#include <algorithm>
#include <cstdio>

#include <imgui.h>

#include "ui_probe.h"

namespace actmap::app {
namespace {

std::uint32_t fnv1a(const std::vector<std::uint8_t>& bytes) {
  std::uint32_t h = 2166136261u;
  for (std::uint8_t b : bytes) h = (h ^ b) * 16777619u;
  return h;
}

}  // namespace

SeedStripPanel::SeedStripPanel(const RenderLink& main) : worker_(wake_ui, /*nice=*/12), main_(main) {
  // Give way to the main render: stop between layers as soon as it has work.
  worker_.set_interrupt([this] { return main_.busy(); });
}

std::string SeedStripPanel::state_key(const Session& s) const {
  // Everything that changes the pixels except the latent, which each slot replaces by its seed.
  Session copy = s;
  copy.latent = SessionLatent::from_seed(0);
  copy.view = nlohmann::json::object();
  return session_to_json(copy, "").dump();
}

int SeedStripPanel::next_slot() const {
  for (std::size_t i = 0; i < slots_.size(); ++i) {
    if (slots_[i].key != key_ && int(i) != in_flight_) return int(i);
  }
  return -1;
}

float SeedStripPanel::height() const {
  const float line = ImGui::GetFrameHeightWithSpacing();
  return enabled_ ? line + ImGui::GetFontSize() * 5.0f : line;
}

void SeedStripPanel::poll(EditorContext& ctx) {
  if (!configured_) {
    configured_ = true;
    enabled_ = ctx.options.seed_strip > 0;
    if (enabled_) count_ = ctx.options.seed_strip;
  }
  if (auto reply = worker_.take()) {
    if (reply->stamp == in_flight_stamp_ && in_flight_ >= 0 && in_flight_ < int(slots_.size())) {
      Slot& slot = slots_[std::size_t(in_flight_)];
      if (reply->ok()) {
        slot.image.upload(reply->output);
        slot.checksum = fnv1a(reply->output.pixels);
        slot.key = in_flight_key_;
      } else if (reply->error != "interrupted") {
        slot.key = in_flight_key_;  // shown as failed; the main render reports the error
        slot.checksum = 0;
      }
    }
    in_flight_ = -1;
  }
  if (!enabled_ || !ctx.has_session() || ctx.session().card_path.empty() || !ctx.card_error().empty()) return;
  if (int(slots_.size()) != count_) slots_.resize(std::size_t(count_));
  for (int i = 0; i < count_; ++i) {
    const std::uint64_t seed = first_seed_ + std::uint64_t(i);
    if (slots_[std::size_t(i)].seed != seed) {
      slots_[std::size_t(i)].seed = seed;
      slots_[std::size_t(i)].key.clear();
    }
  }
  key_ = state_key(ctx.session());
  if (in_flight_ >= 0 || worker_.busy() || main_.busy() || main_.pending_ms() > 0.0) return;
  const int next = next_slot();
  if (next < 0) return;
  RenderRequest r;
  r.session = ctx.session();
  r.session.latent = SessionLatent::from_seed(slots_[std::size_t(next)].seed);
  r.device = ctx.options.device;
  r.overview = false;
  r.original = false;
  in_flight_ = next;
  in_flight_key_ = key_;
  in_flight_stamp_ = worker_.submit(std::move(r));
}

void SeedStripPanel::draw(EditorContext& ctx) {
  ImGui::Checkbox("Seeds", &enabled_);
  probe::item("strip/enabled");
  tip("The current edits on other seeds, rendered in the background when the main render is idle: "
      "is the bend a reliable effect or an accident of one latent? Click one to make it the current seed.");
  if (!enabled_) return;
  ImGui::SameLine();
  ImGui::SetNextItemWidth(ImGui::GetFontSize() * 5);
  if (ImGui::InputInt("##count", &count_)) count_ = std::clamp(count_, 1, 16);
  probe::item("strip/count");
  tip("How many seeds the strip shows");
  ImGui::SameLine();
  std::uint64_t first = first_seed_;
  const std::uint64_t step = 1;
  ImGui::SetNextItemWidth(ImGui::GetFontSize() * 7);
  if (ImGui::InputScalar("from seed", ImGuiDataType_U64, &first, &step, nullptr, "%llu")) first_seed_ = first;
  probe::item("strip/first");
  const int pending = next_slot();
  if (pending >= 0 || in_flight_ >= 0) {
    ImGui::SameLine();
    ImGui::TextDisabled("rendering...");
  }

  const float thumb = ImGui::GetFontSize() * 4.6f;
  ImDrawList* dl = ImGui::GetWindowDrawList();
  nlohmann::json shown = nlohmann::json::array();
  for (std::size_t i = 0; i < slots_.size(); ++i) {
    Slot& s = slots_[i];
    if (i > 0) ImGui::SameLine();
    ImGui::PushID(int(i));
    const ImVec2 p = ImGui::GetCursorScreenPos();
    if (ImGui::InvisibleButton("seed", ImVec2(thumb, thumb))) ctx.set_seed(s.seed);
    probe::item("strip/seed/" + std::to_string(i));
    const bool current = s.key == key_;
    if (s.image.valid()) {
      const float aspect = float(s.image.width()) / float(std::max(1, s.image.height()));
      const float w = aspect >= 1.0f ? thumb : thumb * aspect, h = aspect >= 1.0f ? thumb / aspect : thumb;
      dl->AddImage(s.image.handle(), p, ImVec2(p.x + w, p.y + h));
      if (!current) dl->AddRectFilled(p, ImVec2(p.x + w, p.y + h), IM_COL32(0, 0, 0, 110));  // stale
    } else {
      dl->AddRectFilled(p, ImVec2(p.x + thumb, p.y + thumb), IM_COL32(30, 30, 30, 255));
    }
    const bool is_current_seed =
        ctx.session().latent.kind == SessionLatent::Kind::Seed && ctx.session().latent.seed == s.seed;
    dl->AddRect(p, ImVec2(p.x + thumb, p.y + thumb), is_current_seed ? IM_COL32(255, 220, 0, 255) : IM_COL32(80, 80, 80, 255));
    char label[32];
    std::snprintf(label, sizeof label, "%llu", (unsigned long long)s.seed);
    dl->AddText(ImVec2(p.x + 3, p.y + thumb - ImGui::GetFontSize() - 2), IM_COL32(255, 255, 255, 230), label);
    if (ImGui::IsItemHovered()) ImGui::SetTooltip("seed %llu%s: click to edit this one", (unsigned long long)s.seed, current ? "" : " (updating)");
    if (current && s.image.valid()) shown.push_back({{"seed", s.seed}, {"checksum", s.checksum}});
    ImGui::PopID();
  }
  probe::value("strip", shown);
}

}  // namespace actmap::app
