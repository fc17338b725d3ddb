#include "file_browser.h"

#include <algorithm>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <system_error>

#include <imgui.h>
#include <imgui_stdlib.h>

#include "actmap/io/error.h"

namespace actmap::app {
namespace fs = std::filesystem;

namespace {

// The popup IDs stay fixed whatever the title says, so a new request replaces an open one.
constexpr const char* kPopupId = "###actmap.file_browser";
constexpr const char* kOverwritePopup = "Overwrite?###actmap.file_browser.overwrite";
const ImVec4 kErrorColour(1.0f, 0.4f, 0.4f, 1.0f);

// Filesystem queries that answer false rather than throw (permission errors, races).
bool is_dir(const std::string& path) {
  std::error_code ec;
  return fs::is_directory(path, ec);
}
bool is_file(const std::string& path) {
  std::error_code ec;
  return fs::is_regular_file(path, ec);
}
bool exists(const std::string& path) {
  std::error_code ec;
  return fs::exists(path, ec);
}

std::string format_time(std::int64_t unix_seconds) {
  const std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm local{};
  if (!::localtime_r(&t, &local)) return "";
  char text[32];
  std::strftime(text, sizeof(text), "%Y-%m-%d %H:%M", &local);
  return text;
}

std::string describe_filter(const std::vector<std::string>& extensions) {
  if (extensions.empty()) return "Showing all files";
  std::string text = "Showing";
  for (std::size_t i = 0; i < extensions.size(); ++i) {
    const std::string& ext = extensions[i];
    text += (i == 0 ? " *" : ", *") + (ext.empty() || ext[0] == '.' ? ext : "." + ext);
  }
  return text;
}

void tooltip(const char* text) {
  if (ImGui::IsItemHovered()) ImGui::SetTooltip("%s", text);
}

bool key_pressed(ImGuiKey key) { return ImGui::IsKeyPressed(ImGui::GetKeyIndex(key), false); }

}  // namespace

void FileBrowser::open(const std::string& title, Mode mode, const std::string& start_dir,
                       const std::string& default_name, std::vector<std::string> extensions) {
  title_ = title;
  mode_ = mode;
  extensions_ = std::move(extensions);
  filter_text_ = describe_filter(extensions_);
  name_field_ = default_name;
  path_.clear();
  error_.clear();
  overwrite_target_.clear();
  pending_dir_.clear();
  submit_requested_ = cancel_requested_ = false;
  visible_ = open_requested_ = place_window_ = focus_name_ = true;
  ++generation_;

  std::vector<std::string> candidates;
  if (!start_dir.empty()) {
    candidates.push_back(start_dir);
    candidates.push_back(fs::path(normalize_path(start_dir)).parent_path().string());
  }
  if (!last_dir_.empty()) candidates.push_back(last_dir_);
  candidates.push_back(normalize_path("."));
  candidates.push_back("/");
  for (const auto& dir : candidates) {
    if (is_dir(dir) && navigate(dir)) break;
  }
}

bool FileBrowser::navigate(const std::string& dir) {
  const std::string target = resolve(dir);
  std::vector<DirEntry> entries;
  try {
    entries = list_directory(target, extensions_, show_hidden_);
  } catch (const Error& e) {
    error_ = e.what();
    dir_field_ = dir_;
    if (target == dir_) rows_.clear();  // the listed folder itself went away
    return false;
  }
  rows_.clear();
  for (auto& entry : entries) {
    Row row;
    row.label = entry.is_dir ? entry.name + "/" : entry.name;
    row.size = entry.is_dir ? "" : human_size(entry.size);
    row.modified = format_time(entry.mtime_unix);
    row.entry = std::move(entry);
    rows_.push_back(std::move(row));
  }
  dir_ = dir_field_ = target;
  selected_ = -1;
  error_.clear();
  scroll_to_top_ = true;
  return true;
}

// Typed names are relative to the listed folder; "~" is the home folder, as in a shell.
std::string FileBrowser::resolve(const std::string& typed) const {
  const char* home = std::getenv("HOME");
  if (home && (typed == "~" || typed.rfind("~/", 0) == 0)) return normalize_path(home + typed.substr(1));
  if (!typed.empty() && typed[0] == '/') return normalize_path(typed);
  return normalize_path((fs::path(dir_) / typed).string());
}

// Acts on the name field: may confirm, enter a folder, show an error or ask before overwriting.
bool FileBrowser::submit() {
  const std::string& name = name_field_;
  if (mode_ == Mode::OpenDirectory) {
    const std::string target = name.empty() ? dir_ : resolve(name);
    if (!is_dir(target)) {
      error_ = target + " is not a folder";
      return false;
    }
    return finish(target);
  }
  if (name.empty()) {
    error_ = mode_ == Mode::Save ? "Type a name to save as" : "Select or type a file to open";
    return false;
  }
  std::string target = resolve(name);
  if (is_dir(target)) {  // typing a folder name and Enter goes there, as in most file dialogs
    if (navigate(target)) name_field_.clear();
    focus_name_ = true;
    return false;
  }
  if (mode_ == Mode::Open) {
    if (!is_file(target)) {
      error_ = target + (exists(target) ? " is not a regular file" : " does not exist");
      return false;
    }
    return finish(target);
  }
  target = with_default_extension(target, extensions_);
  const std::string parent = fs::path(target).parent_path().string();
  if (!is_dir(parent)) {
    error_ = "Folder " + parent + " does not exist";
    return false;
  }
  if (is_dir(target)) {
    error_ = target + " is a folder";
    return false;
  }
  if (exists(target)) {
    overwrite_target_ = target;
    open_overwrite_prompt_ = true;
    return false;
  }
  return finish(target);
}

bool FileBrowser::finish(const std::string& chosen) {
  path_ = chosen;
  last_dir_ = dir_;
  visible_ = false;
  return true;
}

bool FileBrowser::draw() {
  if (!visible_) return false;
  const std::string popup = title_ + kPopupId;
  if (open_requested_) {
    ImGui::OpenPopup(popup.c_str());
    open_requested_ = false;
  }
  // Placed once per opening, but only once the display has a size: a minimised window has none.
  const ImGuiViewport* viewport = ImGui::GetMainViewport();
  if (place_window_ && viewport->WorkSize.x > 0.0f && viewport->WorkSize.y > 0.0f) {
    ImGui::SetNextWindowPos(viewport->GetCenter(), ImGuiCond_Always, ImVec2(0.5f, 0.5f));
    ImGui::SetNextWindowSize(ImVec2(viewport->WorkSize.x * 0.6f, viewport->WorkSize.y * 0.7f), ImGuiCond_Always);
    place_window_ = false;
  }
  bool keep_open = true;  // false when the title bar's close button is clicked
  if (!ImGui::BeginPopupModal(popup.c_str(), &keep_open, ImGuiWindowFlags_NoSavedSettings)) {
    // Also false while the display has no size (minimised): the popup is still open then.
    if (!ImGui::IsPopupOpen(popup.c_str())) {
      last_dir_ = dir_;
      visible_ = false;
    }
    return false;
  }

  enter_used_ = false;
  draw_location_bar();
  const ImGuiStyle& style = ImGui::GetStyle();
  draw_listing(2.0f * ImGui::GetFrameHeightWithSpacing() + ImGui::GetTextLineHeight() + style.ItemSpacing.y);
  if (!pending_dir_.empty()) {
    navigate(pending_dir_);
    pending_dir_.clear();
  }
  draw_footer();

  // Keys act only while the overwrite question does not have the focus: without
  // NoPopupHierarchy, ImGui 1.86 counts a popup opened from this window as one of its children.
  if (ImGui::IsWindowFocused(ImGuiFocusedFlags_RootAndChildWindows | ImGuiFocusedFlags_NoPopupHierarchy)) {
    if (key_pressed(ImGuiKey_Escape)) cancel_requested_ = true;
    const bool enter = key_pressed(ImGuiKey_Enter) || key_pressed(ImGuiKey_KeyPadEnter);
    if (enter && !enter_used_ && !ImGui::IsAnyItemActive()) {
      // Enter on a folder picked in the list goes into it, unless folders are what is chosen.
      const bool on_folder = selected_ >= 0 && rows_[static_cast<std::size_t>(selected_)].entry.is_dir;
      if (on_folder && mode_ != Mode::OpenDirectory) {
        navigate((fs::path(dir_) / rows_[static_cast<std::size_t>(selected_)].entry.name).string());
      } else {
        submit_requested_ = true;
      }
    }
  }

  bool confirmed = false;
  if (cancel_requested_) {
    cancel_requested_ = submit_requested_ = false;
    last_dir_ = dir_;
    visible_ = false;
  } else if (submit_requested_) {
    submit_requested_ = false;
    confirmed = submit();
  }
  if (draw_overwrite_prompt()) confirmed = finish(overwrite_target_);
  if (!visible_) ImGui::CloseCurrentPopup();
  ImGui::EndPopup();
  return confirmed;
}

void FileBrowser::draw_location_bar() {
  ImGui::BeginDisabled(dir_.empty() || dir_ == "/");
  if (ImGui::Button("Up")) pending_dir_ = fs::path(dir_).parent_path().string();
  ImGui::EndDisabled();
  if (ImGui::IsItemHovered(ImGuiHoveredFlags_AllowWhenDisabled)) ImGui::SetTooltip("Go to the parent folder");
  ImGui::SameLine();
  if (ImGui::Button("Refresh")) pending_dir_ = dir_;
  tooltip("Read this folder again");
  ImGui::SameLine();
  draw_breadcrumbs();

  ImGui::SetNextItemWidth(-FLT_MIN);
  ImGui::PushID(generation_);
  const bool entered =
      ImGui::InputTextWithHint("##dir", "type a folder and press Enter", &dir_field_, ImGuiInputTextFlags_EnterReturnsTrue);
  ImGui::PopID();
  if (entered) {
    enter_used_ = true;
    const std::string typed = dir_field_;
    if (!navigate(typed)) dir_field_ = typed;  // keep the mistake on screen to correct it
  }
}

// One button per path component; the leading ones give way to "..." when the row is too narrow.
void FileBrowser::draw_breadcrumbs() {
  std::vector<std::string> labels, paths;
  fs::path so_far;
  for (const auto& part : fs::path(dir_)) {
    so_far /= part;
    labels.push_back(part.string());
    paths.push_back(so_far.string());
  }
  const ImGuiStyle& style = ImGui::GetStyle();
  const float ellipsis = ImGui::CalcTextSize("...").x + style.ItemSpacing.x;
  const float avail = ImGui::GetContentRegionAvail().x;
  std::size_t first = labels.size();
  float used = 0.0f;
  while (first > 0) {
    const float w =
        ImGui::CalcTextSize(labels[first - 1].c_str()).x + 2.0f * style.FramePadding.x + style.ItemSpacing.x;
    const float reserve = first > 1 ? ellipsis : 0.0f;
    if (first < labels.size() && used + w + reserve > avail) break;  // the last one always shows
    used += w;
    --first;
  }
  if (first > 0) {
    ImGui::AlignTextToFramePadding();
    ImGui::TextDisabled("...");
    tooltip("Use Up or type in the folder field to reach the folders above");
    ImGui::SameLine();
  }
  for (std::size_t i = first; i < labels.size(); ++i) {
    if (i > first) ImGui::SameLine();
    ImGui::PushID(static_cast<int>(i));
    if (ImGui::Button(labels[i].c_str())) pending_dir_ = paths[i];
    if (ImGui::IsItemHovered()) ImGui::SetTooltip("Go to %s", paths[i].c_str());
    ImGui::PopID();
  }
}

void FileBrowser::draw_listing(float footer_height) {
  const ImGuiTableFlags flags = ImGuiTableFlags_ScrollY | ImGuiTableFlags_RowBg | ImGuiTableFlags_BordersOuter |
                                ImGuiTableFlags_BordersInnerV | ImGuiTableFlags_Resizable;
  if (!ImGui::BeginTable("##entries", 3, flags, ImVec2(0.0f, -footer_height))) return;
  ImGui::TableSetupScrollFreeze(0, 1);
  ImGui::TableSetupColumn("Name", ImGuiTableColumnFlags_WidthStretch);
  ImGui::TableSetupColumn("Size", ImGuiTableColumnFlags_WidthFixed, ImGui::CalcTextSize("1023.9 KB").x);
  ImGui::TableSetupColumn("Modified", ImGuiTableColumnFlags_WidthFixed, ImGui::CalcTextSize("2000-01-01 00:00").x);
  ImGui::TableHeadersRow();
  if (scroll_to_top_) {
    ImGui::SetScrollY(0.0f);
    scroll_to_top_ = false;
  }
  if (rows_.empty()) {
    ImGui::TableNextRow();
    ImGui::TableSetColumnIndex(0);
    ImGui::TextDisabled(extensions_.empty() ? "(empty folder)" : "(no folders or matching files)");
  }
  // Only the visible rows are submitted: a folder may hold many thousands of files.
  ImGuiListClipper clipper;
  clipper.Begin(static_cast<int>(rows_.size()));
  while (clipper.Step()) {
    for (int i = clipper.DisplayStart; i < clipper.DisplayEnd; ++i) draw_row(i);
  }
  ImGui::EndTable();
}

void FileBrowser::draw_row(int index) {
  const Row& row = rows_[static_cast<std::size_t>(index)];
  const bool is_dir_row = row.entry.is_dir;
  // In OpenDirectory mode files are listed only to recognise a folder by its contents.
  const bool pickable = is_dir_row || mode_ != Mode::OpenDirectory;
  ImGui::TableNextRow();
  ImGui::TableSetColumnIndex(0);
  ImGui::PushID(index);
  ImGuiSelectableFlags flags = ImGuiSelectableFlags_SpanAllColumns | ImGuiSelectableFlags_AllowDoubleClick;
  if (!pickable) flags |= ImGuiSelectableFlags_Disabled;
  // The name is drawn as plain text over an unlabelled selectable, since ImGui would treat a "##"
  // inside a file name as the start of an ID.
  const ImVec2 at = ImGui::GetCursorPos();
  if (ImGui::Selectable("##row", selected_ == index, flags)) {
    selected_ = index;
    if (is_dir_row == (mode_ == Mode::OpenDirectory)) {
      name_field_ = row.entry.name;
      error_.clear();
    }
    if (ImGui::IsMouseDoubleClicked(ImGuiMouseButton_Left)) {
      if (is_dir_row) pending_dir_ = (fs::path(dir_) / row.entry.name).string();
      else submit_requested_ = true;
    }
  }
  ImGui::SetCursorPos(at);
  if (pickable) ImGui::TextUnformatted(row.label.c_str());
  else ImGui::TextDisabled("%s", row.label.c_str());
  ImGui::TableSetColumnIndex(1);
  ImGui::TextUnformatted(row.size.c_str());
  ImGui::TableSetColumnIndex(2);
  ImGui::TextUnformatted(row.modified.c_str());
  ImGui::PopID();
}

void FileBrowser::draw_footer() {
  const ImGuiStyle& style = ImGui::GetStyle();
  if (error_.empty()) {
    ImGui::NewLine();  // keeps the rows below from jumping when an error appears
  } else {
    ImGui::TextColored(kErrorColour, "%s", error_.c_str());
    if (ImGui::IsItemHovered()) ImGui::SetTooltip("%s", error_.c_str());
  }

  const char* confirm = mode_ == Mode::Open ? "Open" : mode_ == Mode::Save ? "Save" : "Choose";
  const float button_w =
      std::max(ImGui::CalcTextSize(confirm).x, ImGui::CalcTextSize("Cancel").x) + 2.0f * style.FramePadding.x;
  ImGui::AlignTextToFramePadding();
  ImGui::TextUnformatted(mode_ == Mode::OpenDirectory ? "Folder:" : "Name:");
  ImGui::SameLine();
  ImGui::SetNextItemWidth(-2.0f * (button_w + style.ItemSpacing.x));
  if (focus_name_) {
    ImGui::SetKeyboardFocusHere();
    focus_name_ = false;
  }
  const char* hint = mode_ == Mode::OpenDirectory ? "(this folder)" : "file name";
  ImGui::PushID(generation_);
  if (ImGui::InputTextWithHint("##name", hint, &name_field_, ImGuiInputTextFlags_EnterReturnsTrue)) {
    enter_used_ = true;
    submit_requested_ = true;
  }
  if (ImGui::IsItemEdited()) error_.clear();
  ImGui::PopID();
  ImGui::SameLine();
  if (ImGui::Button(confirm, ImVec2(button_w, 0.0f))) submit_requested_ = true;
  tooltip(mode_ == Mode::Save            ? "Save under this name (Enter)"
          : mode_ == Mode::OpenDirectory ? "Choose the selected folder, or this one when none is (Enter)"
                                         : "Open the selected file (Enter)");
  ImGui::SameLine();
  if (ImGui::Button("Cancel", ImVec2(button_w, 0.0f))) cancel_requested_ = true;
  tooltip("Close without choosing (Escape)");

  ImGui::AlignTextToFramePadding();
  ImGui::TextDisabled("%s", filter_text_.c_str());
  ImGui::SameLine();
  if (ImGui::Checkbox("Show hidden", &show_hidden_)) navigate(dir_);
  tooltip("List files and folders whose names start with '.'");
}

bool FileBrowser::draw_overwrite_prompt() {
  if (open_overwrite_prompt_) {
    ImGui::OpenPopup(kOverwritePopup);
    open_overwrite_prompt_ = false;
  }
  if (!ImGui::BeginPopupModal(kOverwritePopup, nullptr, ImGuiWindowFlags_AlwaysAutoResize)) return false;
  const std::string name = fs::path(overwrite_target_).filename().string();
  ImGui::TextUnformatted(("Overwrite " + name + "?").c_str());
  ImGui::TextDisabled("%s", overwrite_target_.c_str());
  const bool yes = ImGui::Button("Yes");
  tooltip("Replace the existing file");
  ImGui::SameLine();
  // "No" is the default for keyboard navigation: losing a file should take a deliberate click.
  const bool no = ImGui::Button("No") || key_pressed(ImGuiKey_Escape);
  ImGui::SetItemDefaultFocus();
  tooltip("Go back and choose another name (Escape)");
  if (yes || no) ImGui::CloseCurrentPopup();
  if (no) {
    overwrite_target_.clear();
    focus_name_ = true;  // ready to type another name
  }
  ImGui::EndPopup();
  return yes;
}

}  // namespace actmap::app
