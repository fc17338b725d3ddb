#include "app_files.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <system_error>

#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "actmap/io/error.h"
#include "actmap/io/files.h"
#include "actmap/io/json_text.h"

namespace actmap::app {
namespace fs = std::filesystem;

namespace {

char lower(char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); }

// <0, 0 or >0 like strcmp, ignoring ASCII case.
int compare_ignoring_case(const std::string& a, const std::string& b) {
  const std::size_t n = std::min(a.size(), b.size());
  for (std::size_t i = 0; i < n; ++i) {
    const char ca = lower(a[i]), cb = lower(b[i]);
    if (ca != cb) return ca < cb ? -1 : 1;
  }
  return a.size() == b.size() ? 0 : (a.size() < b.size() ? -1 : 1);
}

bool listed_before(const DirEntry& a, const DirEntry& b) {
  if (a.is_dir != b.is_dir) return a.is_dir;
  const int c = compare_ignoring_case(a.name, b.name);
  return c != 0 ? c < 0 : a.name < b.name;  // "README" and "readme" still in a fixed order
}

// Callers may write "json" or ".json".
std::string dotted(const std::string& ext) { return !ext.empty() && ext[0] != '.' ? "." + ext : ext; }

bool ends_with_ignoring_case(const std::string& name, const std::string& suffix) {
  if (suffix.empty() || name.size() <= suffix.size()) return false;
  return compare_ignoring_case(name.substr(name.size() - suffix.size()), suffix) == 0;
}

}  // namespace

std::vector<DirEntry> list_directory(const std::string& dir, const std::vector<std::string>& extensions,
                                     bool show_hidden) {
  if (dir.empty()) throw Error("cannot list a directory: no directory given");
  std::vector<DirEntry> entries;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (!show_hidden && name[0] == '.') continue;
    struct stat st {};
    if (::stat(it->path().c_str(), &st) != 0) continue;  // follows links, so a broken link is skipped
    DirEntry entry;
    entry.name = name;
    entry.is_dir = S_ISDIR(st.st_mode);
    // Sockets, FIFOs and devices are left out: opening one as a model or session would hang or fail.
    if (!entry.is_dir && (!S_ISREG(st.st_mode) || !has_extension(name, extensions))) continue;
    entry.size = entry.is_dir ? 0 : static_cast<std::uintmax_t>(st.st_size);
    entry.mtime_unix = static_cast<std::int64_t>(st.st_mtime);
    entries.push_back(std::move(entry));
  }
  if (ec) throw Error(dir + ": cannot list the directory: " + ec.message());
  std::sort(entries.begin(), entries.end(), listed_before);
  return entries;
}

bool has_extension(const std::string& name, const std::vector<std::string>& extensions) {
  if (extensions.empty()) return true;
  return std::any_of(extensions.begin(), extensions.end(),
                     [&](const std::string& ext) { return ends_with_ignoring_case(name, dotted(ext)); });
}

std::string with_default_extension(const std::string& name, const std::vector<std::string>& extensions) {
  if (name.empty() || extensions.empty() || fs::path(name).has_extension()) return name;
  return name + dotted(extensions.front());
}

std::string normalize_path(const std::string& path) {
  std::error_code ec;
  fs::path p = fs::absolute(path, ec);
  if (ec) p = path;  // no working directory (deleted): keep what was given
  std::string s = p.lexically_normal().string();
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  return s;
}

std::string config_dir() {
  // The XDG spec says a relative XDG_CONFIG_HOME is invalid and must be ignored.
  const char* xdg = std::getenv("XDG_CONFIG_HOME");
  if (xdg && xdg[0] == '/') return (fs::path(xdg) / "actmap").lexically_normal().string();
  const char* home = std::getenv("HOME");
  if (!home || !home[0]) {
    const passwd* pw = ::getpwuid(::getuid());
    home = pw ? pw->pw_dir : nullptr;
  }
  if (!home || !home[0]) throw Error("cannot find a configuration directory: neither XDG_CONFIG_HOME nor HOME is set");
  return (fs::path(home) / ".config" / "actmap").lexically_normal().string();
}

std::string human_size(std::uintmax_t bytes) {
  if (bytes < 1024) return std::to_string(bytes) + " B";
  static const char* const units[] = {"KB", "MB", "GB", "TB", "PB", "EB"};
  const std::size_t unit_count = sizeof(units) / sizeof(units[0]);
  double value = static_cast<double>(bytes) / 1024.0;
  std::size_t unit = 0;
  // 1023.95 KB would print as "1024.0 KB": show it as "1.0 MB" instead.
  while (value >= 1023.95 && unit + 1 < unit_count) {
    value /= 1024.0;
    ++unit;
  }
  char text[32];
  std::snprintf(text, sizeof(text), "%.1f %s", value, units[unit]);
  return text;
}

RecentFiles::RecentFiles(std::string store_path, std::size_t max) : store_path_(std::move(store_path)), max_(max) {}

void RecentFiles::load() {
  items_.clear();
  warning_.clear();
  std::error_code ec;
  if (!fs::exists(store_path_, ec) && !ec) return;  // first run
  try {
    const nlohmann::json doc = parse_json_text(read_file_text(store_path_), store_path_);
    if (!doc.is_object() || !doc.contains("recent") || !doc["recent"].is_array()) {
      throw Error(store_path_ + ": not a recent-files list (expected {\"recent\": [paths...]})");
    }
    for (const auto& item : doc["recent"]) {
      if (!item.is_string()) throw Error(store_path_ + ": a recent-files entry is not a string: " + item.dump());
      const std::string path = item.get<std::string>();
      if (path.empty() || std::find(items_.begin(), items_.end(), path) != items_.end()) continue;
      if (items_.size() < max_) items_.push_back(path);
    }
  } catch (const std::exception& e) {
    items_.clear();
    warning_ = std::string(e.what()) + "; starting with an empty recent-files list";
  }
}

void RecentFiles::add(const std::string& path) {
  warning_.clear();
  const std::string normal = normalize_path(path);
  if (normal.empty()) return;
  items_.erase(std::remove(items_.begin(), items_.end(), normal), items_.end());
  items_.insert(items_.begin(), normal);
  if (items_.size() > max_) items_.resize(max_);
  save();
}

void RecentFiles::remove(const std::string& path) {
  warning_.clear();
  const std::string normal = normalize_path(path);
  const auto last = std::remove(items_.begin(), items_.end(), normal);
  if (last == items_.end()) return;
  items_.erase(last, items_.end());
  save();
}

void RecentFiles::save() {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& path : items_) {
    // JSON text must be UTF-8 and Linux file names need not be: such a path would make every
    // later save fail, so it is kept in memory only.
    try {
      (void)nlohmann::json(path).dump();
      list.push_back(path);
    } catch (const nlohmann::json::exception&) {
      warning_ = path + ": not valid UTF-8, so it is kept in the recent-files list for this session only";
    }
  }
  try {
    const fs::path parent = fs::path(store_path_).parent_path();
    std::error_code ec;
    if (!parent.empty() && !fs::create_directories(parent, ec) && ec) {
      throw Error(parent.string() + ": cannot create the directory: " + ec.message());
    }
    write_file_atomic(store_path_, nlohmann::json{{"recent", list}}.dump(2) + "\n");
  } catch (const std::exception& e) {
    warning_ = std::string("recent files not saved: ") + e.what();
  }
}

}  // namespace actmap::app
