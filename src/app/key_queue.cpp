#include "key_queue.h"

#include <set>
#include <utility>

#define GLFW_INCLUDE_NONE
#include <GLFW/glfw3.h>

namespace actmap::app {
namespace {

// GLFW calls back on the thread that polls events, the same one that takes the queue.
std::vector<KeyPress> g_presses;
GLFWkeyfun g_imgui_callback = nullptr;  // ImGui's backend, which we forward to
std::set<int> g_pressed_this_frame;
struct HeldRelease {
  GLFWwindow* window;
  int key, scancode, mods;
};
std::vector<HeldRelease> g_held_releases;

void on_key(GLFWwindow* window, int key, int scancode, int action, int mods) {
  if (action == GLFW_PRESS || action == GLFW_REPEAT) {
    g_presses.push_back({key, mods, action == GLFW_REPEAT});
    if (action == GLFW_PRESS) g_pressed_this_frame.insert(key);
  } else if (action == GLFW_RELEASE && g_pressed_this_frame.count(key)) {
    // ImGui has not seen this key down yet: let it, for one frame.
    g_held_releases.push_back({window, key, scancode, mods});
    return;
  }
  if (g_imgui_callback) g_imgui_callback(window, key, scancode, action, mods);
}

}  // namespace

void KeyQueue::install(GLFWwindow* window) { g_imgui_callback = glfwSetKeyCallback(window, on_key); }

void KeyQueue::begin_frame() {
  g_pressed_this_frame.clear();
  for (const HeldRelease& r : std::exchange(g_held_releases, {})) {
    if (g_imgui_callback) g_imgui_callback(r.window, r.key, r.scancode, GLFW_RELEASE, r.mods);
  }
}

std::vector<KeyPress> KeyQueue::take() { return std::exchange(g_presses, {}); }

}  // namespace actmap::app
