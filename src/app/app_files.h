// The editor's file helpers that need no GUI: directory listings for the file browser and the
// recent-files list. Kept apart from ImGui so the tests can cover them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace actmap::app {

struct DirEntry {
  std::string name;
  bool is_dir = false;
  std::uintmax_t size = 0;      // bytes; 0 for directories
  std::int64_t mtime_unix = 0;  // last modification, seconds since 1970-01-01 UTC
};

// The directories, then the regular files, of `dir`, each group sorted case-insensitively.
// `extensions` such as {".json", ".PNG"} keep only the files ending in one of them, ignoring case
// (empty: every file). Names starting with '.' are left out unless `show_hidden`. Entries that
// cannot be stat'ed (broken links, races with deletion) and special files are left out.
// Throws actmap::Error naming `dir` when it cannot be read.
std::vector<DirEntry> list_directory(const std::string& dir, const std::vector<std::string>& extensions,
                                     bool show_hidden);

// True when `name` ends in one of `extensions`, ignoring case; always true for an empty list.
bool has_extension(const std::string& name, const std::vector<std::string>& extensions);

// `name` with the first of `extensions` appended when it has no extension at all ("face" ->
// "face.json"); any name with an extension, or an empty list, leaves it as typed.
std::string with_default_extension(const std::string& name, const std::vector<std::string>& extensions);

// std::filesystem::absolute + lexically_normal, without a trailing '/' (except for "/").
std::string normalize_path(const std::string& path);

// $XDG_CONFIG_HOME/actmap, or ~/.config/actmap. Not created here.
std::string config_dir();

// "532 B", "1.2 KB", "3.4 MB" (binary multiples, one decimal above bytes).
std::string human_size(std::uintmax_t bytes);

// The most recently used files, newest first, kept in a JSON file {"recent": [paths...]}.
// Never throws: a recent list is a convenience, and failing to read or save it must not stop
// the editor. Problems are reported through warning().
class RecentFiles {
 public:
  explicit RecentFiles(std::string store_path, std::size_t max = 10);

  // Reads the store. A missing store gives an empty list; an unreadable or corrupt one gives an
  // empty list and a warning.
  void load();
  // Moves `path` (made absolute and normalised) to the front, dropping duplicates and the
  // oldest entries beyond the maximum, then saves.
  void add(const std::string& path);
  // Removes `path` (normalised the same way) if present, then saves.
  void remove(const std::string& path);

  const std::vector<std::string>& items() const { return items_; }
  // The problem met by the latest load(), add() or remove(); empty when it succeeded.
  const std::string& warning() const { return warning_; }

 private:
  void save();

  std::string store_path_;
  std::size_t max_ = 10;
  std::vector<std::string> items_;
  std::string warning_;
};

}  // namespace actmap::app
