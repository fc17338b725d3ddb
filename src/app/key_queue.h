// Every key press, in order, whatever the frame rate. Dear ImGui 1.86 polls key state once per
// frame, so a press and release inside one slow frame (a model rendering on the CPU) is lost;
// 1.87 added an input queue for that reason. This keeps our own from GLFW's key callback, for the
// editor's shortcuts (each press handled exactly once), and feeds ImGui a release that came in
// the same frame as its press one frame later, so ImGui's own widgets (Enter in a text field,
// arrows in a list) see every press too.
#pragma once

#include <vector>

struct GLFWwindow;

namespace actmap::app {

struct KeyPress {
  int key = 0;     // GLFW_KEY_*
  int mods = 0;    // GLFW_MOD_* bits
  bool repeat = false;  // held down (GLFW_REPEAT)
};

class KeyQueue {
 public:
  // Installs the callback in front of ImGui's: call after ImGui_ImplGlfw_InitForOpenGL. One
  // queue per process.
  void install(GLFWwindow* window);
  // Before polling events for the next frame: hands ImGui the releases held back from the last.
  void begin_frame();
  // The presses since the last call, oldest first.
  std::vector<KeyPress> take();
};

}  // namespace actmap::app
