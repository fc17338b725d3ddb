#include "editor_context.h"

#include <algorithm>
#include <filesystem>

#include <GLFW/glfw3.h>
#include <imgui.h>

#include "actmap/model/device.h"

namespace actmap::app {
namespace {

// Where a session without a saved view opens. StyleGAN2: the first feature layer at 16x16 or more
// (its first taps are W+ and 4x4 or 8x8 maps; the ToRGB taps have 3 channels). Others: a middle
// layer, neither the latent's reshaping nor the image.
std::size_t default_tap(const std::vector<TapInfo>& taps) {
  if (!taps.empty() && taps.front().name == "mapping") {
    for (std::size_t i = 1; i < taps.size(); ++i) {
      if (taps[i].height >= 16 && taps[i].channels > 3) return i;
    }
  }
  return taps.size() / 2;
}

}  // namespace

std::string EditorContext::adopt(Session session, const std::string& path, bool dirty) {
  card_error_.clear();
  taps_.clear();
  family_.clear();
  c_dim_ = 0;
  fp16_resolution_ = 0;
  try {
    const ModelCard card = load_model_card(session.card_path);
    check_session_against_card(session, card);
    taps_ = card_taps(card);
    family_ = card.family;
    c_dim_ = card.stylegan2 ? card.stylegan2->c_dim : card.stylegan3 ? card.stylegan3->c_dim : 0;
    if (card.stylegan2 && (card.stylegan2->cuda_fp16 || cuda_fp16_requested())) fp16_resolution_ = card.stylegan2->fp16_resolution();
  } catch (const std::exception& e) {
    card_error_ = e.what();
  }
  history_ = std::make_unique<SessionHistory>(std::move(session));
  if (dirty) history_->mark_unsaved();
  session_path = path;
  // The view comes back from the session where it was saved with one.
  const nlohmann::json& saved_view = history_->session().view;
  selection.tap = default_tap(taps_);
  if (saved_view.contains("tap") && saved_view["tap"].is_string()) {
    for (std::size_t i = 0; i < taps_.size(); ++i) {
      if (taps_[i].name == saved_view["tap"].get<std::string>()) selection.tap = i;
    }
  }
  int focus = std::max(0, saved_view.value("channel", 0));
  if (selection.tap < taps_.size()) focus = std::min<int>(focus, int(taps_[selection.tap].channels) - 1);
  selection.select_only(focus);
  render.reset();
  return card_error_;
}

const TapView* EditorContext::shown_view() const {
  const RenderReply* r = render.reply();
  if (!r || r->views.empty()) return nullptr;
  const TapView& v = r->views[0];
  return v.request.tap == selection.tap && v.request.tap < taps_.size() ? &v : nullptr;
}

std::set<std::int64_t> EditorContext::edited_channels(const std::string& tap) const {
  std::set<std::int64_t> out;
  const TapInfo* info = nullptr;
  for (const auto& t : taps_) {
    if (t.name == tap) info = &t;
  }
  if (!info) return out;
  for (const Edit& e : session().edits) {
    if (!e.enabled || e.tap != tap) continue;
    try {
      for (std::int64_t c : e.channels.resolve(info->channels, tap, session().cluster_labels(tap))) out.insert(c);
    } catch (const std::exception&) {
      // A selector that does not resolve shows up as the renderer's error instead.
    }
  }
  return out;
}

ChannelSelector EditorContext::apply_selector() const {
  nlohmann::json j;
  switch (selection.apply_to) {
    case ApplyTo::Channel: j = selection.focus; break;
    case ApplyTo::Selected:
      if (selection.channels.empty()) {
        j = selection.focus;
      } else {
        j = nlohmann::json::array();
        for (int c : selection.channels) j.push_back(c);
      }
      break;
    case ApplyTo::All: j = "all"; break;
    case ApplyTo::Cluster: j = {{"cluster", selection.cluster}}; break;
  }
  return ChannelSelector::from_json(j, "/channels");
}

std::string EditorContext::add_edit(const std::string& op, nlohmann::json params, const std::string& gesture,
                                    std::optional<SpatialMask> mask) {
  const TapInfo* tap = selected_tap();
  if (!tap) return "";
  try {
    Edit e;
    e.tap = tap->name;
    e.channels = apply_selector();
    e.op = op;
    e.params = std::move(params);
    if (mask) e.mask = *mask;
    return history_->add_edit(std::move(e), SIZE_MAX, gesture);
  } catch (const std::exception& e) {
    report(e.what());
    return "";
  }
}

void EditorContext::set_seed(std::uint64_t seed) {
  try {
    history_->set_latent(SessionLatent::from_seed(seed));
  } catch (const std::exception& e) {
    report(e.what());
  }
}

void EditorContext::ask_for_file(const std::string& title, FileBrowser::Mode mode, const std::string& start,
                                 const std::string& default_name, std::vector<std::string> extensions,
                                 std::function<void(const std::string&)> on_chosen) {
  browser.open(title, mode, start, default_name, std::move(extensions));
  on_file_chosen = std::move(on_chosen);
}

void EditorContext::report(const std::string& message) {
  status_message_ = message;
  status_time_ = ImGui::GetCurrentContext() ? ImGui::GetTime() : 0.0;
  log_.push_back(message);
  while (log_.size() > 50) log_.pop_front();
}

void wake_ui() { glfwPostEmptyEvent(); }

unsigned cluster_colour(int k) {
  static const ImU32 colours[] = {IM_COL32(230, 25, 75, 255),  IM_COL32(60, 180, 75, 255),  IM_COL32(0, 130, 200, 255),
                                  IM_COL32(245, 130, 48, 255), IM_COL32(145, 30, 180, 255), IM_COL32(70, 240, 240, 255),
                                  IM_COL32(240, 50, 230, 255), IM_COL32(210, 245, 60, 255)};
  return colours[static_cast<std::size_t>(k) % (sizeof colours / sizeof colours[0])];
}

std::string join_dirs(const std::vector<std::string>& dirs) {
  std::string s;
  for (const auto& d : dirs) s += (s.empty() ? "" : ", ") + d;
  return s.empty() ? "(no directories)" : s;
}

std::string dir_of(const std::string& path) {
  namespace fs = std::filesystem;
  if (path.empty()) return fs::current_path().string();
  return fs::absolute(fs::path(path)).parent_path().string();
}

void tip(const char* text) {
  if (ImGui::IsItemHovered()) ImGui::SetTooltip("%s", text);
}

}  // namespace actmap::app
