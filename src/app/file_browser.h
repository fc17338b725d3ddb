// A modal file browser drawn with Dear ImGui: no file-dialog library is packaged for us, and a
// native dialog would block the render loop.
#pragma once

#include <string>
#include <vector>

#include "app_files.h"

namespace actmap::app {

// One browser can serve every open and save request of the editor: title() tells them apart.
// Call draw() every frame from the same place (best outside any window), since ImGui finds a
// popup by the ID stack it was opened in.
class FileBrowser {
 public:
  enum class Mode { Open, Save, OpenDirectory };

  // Opens the modal popup on the next draw(). `extensions` like {".json"} filter the listing
  // (empty = all); in Save mode the first is appended to a name typed without an extension.
  // `start_dir` may also name a file (its folder is used); when it is empty or unreadable, the
  // browser starts where it was last closed, else in the working directory.
  // `default_name` pre-fills the name field.
  void open(const std::string& title, Mode mode, const std::string& start_dir,
            const std::string& default_name = "", std::vector<std::string> extensions = {});

  // Cheap when closed. Returns true exactly once, on the frame the user confirms; then path()
  // holds the chosen absolute path.
  bool draw();

  bool is_open() const { return visible_; }
  const std::string& path() const { return path_; }
  const std::string& title() const { return title_; }

 private:
  // An entry with its text made once per listing rather than once per frame.
  struct Row {
    DirEntry entry;
    std::string label;  // directories end in '/'
    std::string size;
    std::string modified;
  };

  bool navigate(const std::string& dir);
  std::string resolve(const std::string& typed) const;
  bool submit();
  bool finish(const std::string& chosen);

  void draw_location_bar();
  void draw_breadcrumbs();
  void draw_listing(float footer_height);
  void draw_row(int index);
  void draw_footer();
  bool draw_overwrite_prompt();

  std::string title_;
  Mode mode_ = Mode::Open;
  std::vector<std::string> extensions_;
  std::string filter_text_;
  std::string path_;  // the confirmed choice

  std::string dir_;       // the folder listed, absolute
  std::string last_dir_;  // where the previous opening was closed
  std::vector<Row> rows_;
  int selected_ = -1;
  bool show_hidden_ = false;

  std::string dir_field_;
  std::string name_field_;
  std::string error_;             // shown in red until the next success or edit
  std::string overwrite_target_;  // non-empty while asking "Overwrite NAME?"

  // Part of the text fields' IDs: an active ImGui text field shows its own copy of the text, so
  // a new request made while the browser is open needs fresh fields to show its default name.
  int generation_ = 0;
  bool visible_ = false;
  bool open_requested_ = false;
  bool place_window_ = false;
  bool open_overwrite_prompt_ = false;
  bool focus_name_ = false;
  bool scroll_to_top_ = false;

  // Requests made while the listing is drawn, applied after it: navigating replaces rows_.
  std::string pending_dir_;
  bool submit_requested_ = false;
  bool cancel_requested_ = false;
  bool enter_used_ = false;  // an input field took this frame's Enter
};

}  // namespace actmap::app
