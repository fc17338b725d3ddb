// actmap._actmap: the compiled half of the `actmap` Python package. Each core area registers its
// part from its own bind_<area>.cpp (as Open3D's cpp/pybind/ does); actmap/__init__.py re-exports
// it and adds actmap.distributed (Dask).
#include <cstdlib>

#include "actmap/model/device.h"
#include "bindings.h"

PYBIND11_MODULE(_actmap, m) {
  m.doc() =
      "actmap: open a trained image generator, see every intermediate activation map (a tap), edit\n"
      "them and render the result, with the same core and the same pixels as actmap-cli and the editor.";
  actmap::tune_memory_allocator();
  // Every core, as actmap-cli uses by default, unless the environment says otherwise (Dask's
  // worker processes get OMP_NUM_THREADS=1; actmap.distributed's plugin sets its own count).
  if (!std::getenv("OMP_NUM_THREADS")) actmap::set_cpu_threads(0);
  actmap::python::Interrupt::init_main_thread();
  actmap::python::bind_io(m);
  actmap::python::bind_model(m);
  actmap::python::bind_edit(m);
  actmap::python::bind_session(m);
  actmap::python::bind_render(m);
  actmap::python::bind_analysis(m);
}
