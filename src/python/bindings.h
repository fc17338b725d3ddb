// Shared pieces of the actmap Python module (actmap._actmap): one bind_<area>.cpp per core area
// registers its classes and functions; this header holds what they share: JSON and numpy
// conversions, the process-wide model cache, and running core calls with the GIL released and
// Ctrl+C honoured.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>
#include <nlohmann/json.hpp>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include "actmap/io/image.h"
#include "actmap/io/progress.h"
#include "actmap/model/generator.h"
#include "actmap/render/renderer.h"
#include "actmap/session/session.h"

namespace actmap::python {

namespace py = pybind11;

void bind_io(py::module_& m);
void bind_model(py::module_& m);
void bind_edit(py::module_& m);
void bind_session(py::module_& m);
void bind_render(py::module_& m);
void bind_analysis(py::module_& m);

// ---- conversions (convert.cpp) ----

// Python values (dict, list, tuple, str, int, float, bool, None, numpy arrays and scalars) to
// JSON; `where` names the value in a TypeError.
nlohmann::json to_json(py::handle value, const std::string& where = "value");
py::object from_json(const nlohmann::json& j);

// A tensor as a numpy array (float32 for floating tensors) that keeps the tensor alive and shares
// its memory when it is on the CPU and contiguous. Read-only: the renderer's cache must not change
// behind its back (np.array(a) gives a writable copy).
py::array tensor_to_numpy(const at::Tensor& t);
// A numpy array (any real dtype, any strides) as a float32 CPU tensor of its own.
at::Tensor numpy_to_tensor(const py::array& a);
// 8-bit images to numpy [H, W, C] and back ([H, W] is one channel).
py::array image_to_numpy(const Image& image);
Image numpy_to_image(const py::array& a, const std::string& where);
py::bytes png_bytes(const Image& image);

// ---- models (bind_model.cpp) ----

// The generator of a card file on a device, loaded once per process (later calls share it).
std::shared_ptr<const Generator> cached_generator(const std::string& card_path, const std::string& device);

// What Python holds for a model: the generator (immutable, shared by every renderer).
struct PyModel {
  std::shared_ptr<const Generator> generator;
};
// A tap named by name or index; errors list the taps.
std::size_t tap_index(const Generator& generator, py::handle tap);

// ---- sessions (bind_session.cpp) ----

// What Python holds for a session: the document and the file it came from, and a renderer made
// on first use (so repeated renders of one session re-run only from the first changed tap).
struct PySession {
  Session session;
  std::string source;  // the file it was loaded from or saved to ("" for a new one)
  std::string device = "cpu";
  std::shared_ptr<const Generator> generator;  // of the renderer
  std::shared_ptr<Renderer> renderer;
  Renderer& get_renderer();  // without the GIL: may load the model
  Renderer& rendered();      // the renderer of the last render(); actmap.Error before one
};

// ---- rendering (bind_render.cpp) ----

struct PyRenderResult {
  at::Tensor output;  // [N, C, H, W]
  RenderTimings timings;
  std::shared_ptr<const Generator> generator;  // its card maps the output to pixels
  const ModelCard& card() const { return generator->card(); }
  std::vector<Image> images() const;
  Image tiled() const;  // what actmap-cli render -o writes for this result
};

// ---- the GIL and Ctrl+C ----

// Lets core code that runs without the GIL notice Ctrl+C: now and then (at most every 50 ms) it
// takes the GIL back, runs Python's signal handlers (PyErr_CheckSignals), and when one raised
// (KeyboardInterrupt) keeps that exception and asks the core to stop. Only the main thread
// handles signals, so elsewhere (a Dask worker's threads) it never takes the GIL at all.
class Interrupt {
 public:
  static void init_main_thread();  // at import, with the GIL held
  // With the GIL held. `python_progress(done, total)` (when not None) is called from progress();
  // returning False stops the computation too.
  explicit Interrupt(py::object python_progress = py::none());
  // Without the GIL: true when the computation should stop.
  bool requested();
  // A ProgressFn for the core: stops on Ctrl+C and reports to python_progress. Create and use it
  // within the call: it refers to this object.
  ProgressFn progress();
  // With the GIL held, after the core threw Cancelled: raises the Python exception that stopped it.
  [[noreturn]] void raise();
  bool has_error() const { return error_.has_value(); }

 private:
  bool main_thread_ = false;
  static unsigned long main_thread_ident_;  // set at import
  std::chrono::steady_clock::time_point last_check_{};
  std::optional<py::error_already_set> error_;
  py::object python_progress_;
};

// Runs fn(interrupt) with the GIL released; a Cancelled from the core becomes the Python exception
// that asked for it (KeyboardInterrupt), or actmap.Cancelled.
template <class F>
auto run_without_gil(F&& fn, py::object python_progress = py::none()) {
  Interrupt interrupt(std::move(python_progress));
  try {
    py::gil_scoped_release release;
    return fn(interrupt);
  } catch (const Cancelled&) {
    if (interrupt.has_error()) interrupt.raise();
    throw;
  }
}

// A renderer whose set_interrupt hook consults `interrupt` for the duration of one call.
class RendererInterruptScope {
 public:
  RendererInterruptScope(Renderer& renderer, Interrupt& interrupt) : renderer_(renderer) {
    renderer_.set_interrupt([&interrupt] { return interrupt.requested(); });
  }
  ~RendererInterruptScope() { renderer_.set_interrupt({}); }
  RendererInterruptScope(const RendererInterruptScope&) = delete;
  RendererInterruptScope& operator=(const RendererInterruptScope&) = delete;

 private:
  Renderer& renderer_;
};

// Synthesis options from a dict (None: the defaults), checked like a session's "synthesis".
SynthesisOptions synthesis_from_py(py::handle value);

}  // namespace actmap::python
