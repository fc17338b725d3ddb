#include "app_window.h"

#include <algorithm>
#include <cfloat>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include <epoxy/gl.h>
#define GLFW_INCLUDE_NONE
#include <GLFW/glfw3.h>
#include <imgui.h>
#include <backends/imgui_impl_glfw.h>
#include <backends/imgui_impl_opengl3.h>

#include "actmap/io/files.h"
#include "actmap/io/image.h"
#include "actmap/model/device.h"
#include "editor.h"
#include "key_queue.h"
#include "ui_probe.h"

namespace {

using namespace actmap;
using Clock = std::chrono::steady_clock;

std::vector<std::string> g_dropped;
volatile std::sig_atomic_t g_signal = 0;

void on_signal(int sig) {
  g_signal = sig;
  glfwPostEmptyEvent();  // wake the event loop
}

void on_drop(GLFWwindow*, int count, const char** paths) {
  for (int i = 0; i < count; ++i) g_dropped.emplace_back(paths[i]);
}

void on_glfw_error(int code, const char* text) { std::fprintf(stderr, "actmap: GLFW error %d: %s\n", code, text); }

// The window's back buffer as an RGB image, top row first.
Image read_framebuffer(int width, int height) {
  Image img;
  img.width = width;
  img.height = height;
  img.channels = 3;
  img.pixels.resize(std::size_t(width) * height * 3);
  glPixelStorei(GL_PACK_ALIGNMENT, 1);
  glReadBuffer(GL_BACK);
  glReadPixels(0, 0, width, height, GL_RGB, GL_UNSIGNED_BYTE, img.pixels.data());
  const std::size_t row = std::size_t(width) * 3;
  for (int y = 0; y < height / 2; ++y) {
    std::swap_ranges(img.pixels.begin() + y * row, img.pixels.begin() + (y + 1) * row,
                     img.pixels.begin() + (height - 1 - y) * row);
  }
  return img;
}

double percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, std::size_t(q * double(v.size() - 1) + 0.5))];
}

// A window with an OpenGL 3.3 core context, or 3.0 where that is all there is (old Mesa, VMs).
GLFWwindow* create_window(int width, int height, const char** glsl) {
  struct Try {
    int major, minor;
    bool core;
    const char* glsl;
  };
  for (const Try& t : {Try{3, 3, true, "#version 330 core"}, Try{3, 0, false, "#version 130"}}) {
    glfwDefaultWindowHints();
    glfwWindowHint(GLFW_CONTEXT_VERSION_MAJOR, t.major);
    glfwWindowHint(GLFW_CONTEXT_VERSION_MINOR, t.minor);
    if (t.core) {
      glfwWindowHint(GLFW_OPENGL_PROFILE, GLFW_OPENGL_CORE_PROFILE);
      glfwWindowHint(GLFW_OPENGL_FORWARD_COMPAT, GLFW_TRUE);
    }
    glfwWindowHint(GLFW_SCALE_TO_MONITOR, GLFW_TRUE);
    if (GLFWwindow* w = glfwCreateWindow(width, height, "actmap", nullptr, nullptr)) {
      *glsl = t.glsl;
      return w;
    }
  }
  return nullptr;
}

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

}  // namespace

namespace actmap::app {

namespace {

// Frame pacing. No vsync under Xvfb or a software GL, so without it frames would run as fast as
// the cores allow, taking them from the model. Waits for input, a worker's wake-up, or the
// editor's next frame; then keeps at least 1/60 s between frames, except when a render's result
// is waiting (so it reaches the screen at once). Key presses are queued by GLFW's callbacks
// meanwhile (KeyQueue), so none is lost however long the wait.
void wait_for_next_frame(const Editor& editor, Clock::time_point last_frame) {
  constexpr double kMinFrame = 1.0 / 60.0;
  const double interval = editor.frame_interval_s();
  const double since = seconds_since(last_frame);
  if (interval <= 0.0) {
    glfwWaitEventsTimeout(0.25);  // idle: input or a worker's empty event wakes us
  } else if (since < interval) {
    glfwWaitEventsTimeout(interval - since);
  } else {
    glfwPollEvents();
  }
  const double after = seconds_since(last_frame);
  if (after < kMinFrame && !editor.result_waiting()) {
    std::this_thread::sleep_for(std::chrono::duration<double>(kMinFrame - after));
    glfwPollEvents();
  }
}

}  // namespace

int run_editor_window(const EditorOptions& opts, const WindowOptions& w) {
  const std::string& screenshot = w.screenshot;
  const std::string& stats_out = w.stats_out;
  const int frames = w.frames;
  double ui_scale = w.ui_scale;
  glfwSetErrorCallback(on_glfw_error);
  if (!glfwInit()) {
    std::cerr << "actmap: cannot open a window (no display?). Set DISPLAY, or run headless under xvfb-run; "
                 "actmap-cli renders sessions without a window.\n";
    return 1;
  }
  const char* glsl = nullptr;
  GLFWwindow* window = create_window(w.width, w.height, &glsl);
  if (!window) {
    std::cerr << "actmap: could not create an OpenGL 3 window\n";
    glfwTerminate();
    return 1;
  }
  glfwMakeContextCurrent(window);
  glfwSwapInterval(screenshot.empty() ? 1 : 0);
  glfwSetDropCallback(window, on_drop);

  IMGUI_CHECKVERSION();
  ImGui::CreateContext();
  ImGuiIO& io = ImGui::GetIO();
  io.IniFilename = nullptr;  // the layout is fixed; nothing to remember
  ImGui::StyleColorsDark();
  // Opaque panels: nothing shows through them, and a software rasterizer (Mesa's llvmpipe, as
  // under Xvfb or in a VM) blends less.
  ImGui::GetStyle().Colors[ImGuiCol_WindowBg].w = 1.0f;
  // HiDPI: scale fonts and sizes by the monitor's content scale (or the user's choice).
  if (ui_scale <= 0.0) {
    if (const char* env = std::getenv("ACTMAP_UI_SCALE")) ui_scale = std::atof(env);
  }
  if (ui_scale <= 0.0) {
    float sx = 1.0f, sy = 1.0f;
    glfwGetWindowContentScale(window, &sx, &sy);
    ui_scale = std::max(1.0f, sx);
  }
  ui_scale = std::clamp(ui_scale, 0.5, 4.0);
  ImFontConfig font;
  font.SizePixels = std::round(13.0f * float(ui_scale));
  io.Fonts->AddFontDefault(&font);
  ImGui::GetStyle().ScaleAllSizes(float(ui_scale));
  ImGui_ImplGlfw_InitForOpenGL(window, true);
  KeyQueue keys;
  keys.install(window);  // in front of ImGui's key callback, which it forwards to
  ImGui_ImplOpenGL3_Init(glsl);

  int rc = 0;
  std::vector<double> frame_ms, ui_ms;  // whole frame; building the UI (the rest is drawing)
  {
    Editor editor(opts);
    int settled_frames = 0;
    const auto start = Clock::now();
    Clock::time_point last_frame = start;
    for (int sig : {SIGTERM, SIGINT, SIGHUP}) std::signal(sig, on_signal);
    while (true) {
      if (g_signal) {
        editor.keep_unsaved_work();
        std::cerr << "actmap: stopped by signal " << int(g_signal) << "; unsaved work is in the recovery file\n";
        rc = 128 + int(g_signal);
        break;
      }
      if (glfwWindowShouldClose(window)) {
        glfwSetWindowShouldClose(window, GLFW_FALSE);
        editor.request_quit();
      }
      if (editor.quit_requested()) break;
      keys.begin_frame();
      if (!screenshot.empty()) {
        glfwPollEvents();
      } else {
        wait_for_next_frame(editor, last_frame);
      }
      const auto t0 = Clock::now();
      last_frame = t0;
      if (!g_dropped.empty()) {
        editor.drop_files(g_dropped);
        g_dropped.clear();
      }
      ImGui_ImplOpenGL3_NewFrame();
      ImGui_ImplGlfw_NewFrame();
      if (!screenshot.empty()) io.MousePos = ImVec2(-FLT_MAX, -FLT_MAX);  // the pointer is not part of a scripted shot
      ImGui::NewFrame();
      editor.frame(keys.take());
      ImGui::Render();
      const auto t_ui = Clock::now();
      int fb_w = 0, fb_h = 0;
      glfwGetFramebufferSize(window, &fb_w, &fb_h);
      glViewport(0, 0, fb_w, fb_h);
      const ImVec4 bg = ImGui::GetStyle().Colors[ImGuiCol_WindowBg];  // the panels' background (they draw none)
      glClearColor(bg.x, bg.y, bg.z, 1.0f);
      glClear(GL_COLOR_BUFFER_BIT);
      ImGui_ImplOpenGL3_RenderDrawData(ImGui::GetDrawData());
      probe::end_frame();

      if (!screenshot.empty()) {
        // A checkpoint file asked for (--model, or the session's model) converts first.
        settled_frames = editor.settled() && !editor.converting_model() ? settled_frames + 1 : 0;
        if (settled_frames >= std::max(1, frames)) {
          try {
            write_png(screenshot, read_framebuffer(fb_w, fb_h));
            std::cout << "actmap: wrote " << screenshot << " (" << fb_w << "x" << fb_h << ")\n";
            if (!editor.startup_error().empty()) {
              std::cerr << "actmap: " << editor.startup_error() << "\n";
              rc = 1;
            }
          } catch (const std::exception& e) {
            std::cerr << "actmap: " << e.what() << "\n";
            rc = 1;
          }
          break;
        }
        if (std::chrono::duration<double>(Clock::now() - start).count() > 120.0) {
          std::cerr << "actmap: --screenshot: the session did not finish rendering within 120 s\n";
          rc = 1;
          break;
        }
      }
      if (!stats_out.empty()) glFinish();  // so frame times include the drawing
      frame_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
      ui_ms.push_back(std::chrono::duration<double, std::milli>(t_ui - t0).count());
      glfwSwapBuffers(window);
      editor.note_frame_presented();
      if (w.frame_delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(w.frame_delay_ms));
    }
    if (!stats_out.empty()) {
      const auto& lat = editor.latencies_ms();
      const auto& vlat = editor.views_latencies_ms();
      // The first frames include opening the window and loading the model: reported apart.
      const std::size_t warmup = std::min<std::size_t>(10, frame_ms.size());
      const std::vector<double> first(frame_ms.begin(), frame_ms.begin() + long(warmup));
      frame_ms.erase(frame_ms.begin(), frame_ms.begin() + long(warmup));
      const auto over = std::count_if(frame_ms.begin(), frame_ms.end(), [](double ms) { return ms > 1000.0 / 60.0; });
      nlohmann::json j = {{"frames", frame_ms.size()},
                          {"warmup_frames_max_ms", percentile(first, 1.0)},
                          {"frames_over_16_7_ms", over},
                          {"threads", cpu_threads()},
                          {"ui_build_ms", {{"median", percentile(ui_ms, 0.5)}, {"p95", percentile(ui_ms, 0.95)}, {"max", percentile(ui_ms, 1.0)}}},
                          {"frame_ms", {{"median", percentile(frame_ms, 0.5)}, {"p95", percentile(frame_ms, 0.95)}, {"p99", percentile(frame_ms, 0.99)}, {"max", percentile(frame_ms, 1.0)}}},
                          {"latency_ms", {{"count", lat.size()}, {"median", percentile(lat, 0.5)}, {"p95", percentile(lat, 0.95)}, {"max", percentile(lat, 1.0)}}},
                          {"views_latency_ms", {{"count", vlat.size()}, {"median", percentile(vlat, 0.5)}, {"p95", percentile(vlat, 0.95)}, {"max", percentile(vlat, 1.0)}}}};
      try {
        write_file_atomic(stats_out, j.dump(2) + "\n");
      } catch (const std::exception& e) {
        std::cerr << "actmap: " << e.what() << "\n";
      }
    }
  }
  ImGui_ImplOpenGL3_Shutdown();
  ImGui_ImplGlfw_Shutdown();
  ImGui::DestroyContext();
  glfwDestroyWindow(window);
  glfwTerminate();
  return rc;
}

}  // namespace actmap::app
