// The io area in Python: actmap.Error and actmap.Cancelled, warnings, PNG images, files, threads.
#include <pybind11/stl.h>

#include "actmap/io/error.h"
#include "actmap/io/files.h"
#include "actmap/io/image.h"
#include "actmap/io/progress.h"
#include "actmap/model/device.h"
#include "bindings.h"

namespace actmap::python {

void bind_io(py::module_& m) {
  // Every actmap::Error becomes actmap.Error with the same message; Cancelled (a stop asked by a
  // progress callback) is a kind of it. Registered in this order so Cancelled is tried first.
  // (The Python objects kept for the translator are never freed: they must outlive the interpreter.)
  static auto* error = new py::exception<Error>(m, "Error", PyExc_RuntimeError);
  error->doc() = "A failure actmap reports to its user: a bad file, key or value (the message names it).";
  static auto* cancelled = new py::exception<Cancelled>(m, "Cancelled", error->ptr());
  cancelled->doc() = "A long computation stopped because its progress callback returned False.";
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const Cancelled& e) {
      PyErr_SetString(cancelled->ptr(), e.what());
    } catch (const Error& e) {
      PyErr_SetString(error->ptr(), e.what());
    }
  });

  // actmap's warnings (a weights hash that differs, non-finite weights) as Python warnings.
  static auto* warning_type = new py::object(py::module_::import("builtins").attr("type")(
      "ActmapWarning", py::make_tuple(py::reinterpret_borrow<py::object>(PyExc_UserWarning)),
      py::dict(py::arg("__module__") = "actmap", py::arg("__doc__") = "A warning from actmap's core.")));
  m.attr("ActmapWarning") = *warning_type;
  set_warning_sink([](const std::string& message) {
    if (!Py_IsInitialized()) {
      std::fprintf(stderr, "actmap: warning: %s\n", message.c_str());
      return;
    }
    py::gil_scoped_acquire gil;
    if (PyErr_WarnEx(warning_type->ptr(), message.c_str(), 1) != 0) PyErr_Clear();  // a warning filter set to "error"
  });
  py::module_::import("atexit").attr("register")(py::cpp_function([] { set_warning_sink({}); }));

  m.def(
      "encode_png",
      [](const py::array& image) { return png_bytes(numpy_to_image(image, "image")); }, py::arg("image"),
      "PNG bytes of a uint8 image [H, W] or [H, W, C] (C = 1, 3 or 4), encoded exactly as actmap-cli writes its files.");
  m.def(
      "write_png",
      [](const std::string& path, const py::array& image) {
        Image im = numpy_to_image(image, "image");
        py::gil_scoped_release release;
        write_png(path, im);
      },
      py::arg("path"), py::arg("image"),
      "Writes a uint8 image [H, W] or [H, W, C] as PNG, atomically (a temporary file renamed into place).");
  m.def(
      "read_image",
      [](const std::string& path) {
        Image im;
        {
          py::gil_scoped_release release;
          im = read_image(path);
        }
        return image_to_numpy(im);
      },
      py::arg("path"), "Reads a PNG (or JPEG, ...) as a uint8 array [H, W, C].");
  m.def(
      "tile_images",
      [](const std::vector<py::array>& images, int gap, int background) {
        std::vector<Image> ims;
        for (std::size_t i = 0; i < images.size(); ++i) ims.push_back(numpy_to_image(images[i], "images[" + std::to_string(i) + "]"));
        if (background < 0 || background > 255) throw py::value_error("background must be 0..255, got " + std::to_string(background));
        Image out;
        {
          py::gil_scoped_release release;
          out = tile_images(ims, gap, static_cast<std::uint8_t>(background));
        }
        return image_to_numpy(out);
      },
      py::arg("images"), py::arg("gap") = 2, py::arg("background") = 0,
      "Images of one size side by side in a near-square grid, `gap` pixels apart: the grid actmap-cli writes\n"
      "for --count and the contact sheet of --seeds.");
  m.def(
      "sha256_file", [](const std::string& path) {
        py::gil_scoped_release release;
        return sha256_file(path);
      },
      py::arg("path"), "SHA-256 of a file as lowercase hex (how sessions and cards name weights).");

  m.def("set_threads", &set_cpu_threads, py::arg("threads"),
        "CPU threads LibTorch uses within one computation (0: every core, or OMP_NUM_THREADS when set), as actmap-cli's --threads.");
  m.def("threads", &cpu_threads, "CPU threads LibTorch uses within one computation.");
  m.def("set_cuda_fp16", &set_cuda_fp16, py::arg("on"),
        "StyleGAN2 models loaded after this on CUDA run the blocks their num_fp16_res names in float16, as the original "
        "does on NVIDIA GPUs (actmap-cli's --fp16); on the CPU they stay float32.");
  m.def("devices", &available_devices, "The compute devices this build of LibTorch offers, e.g. \"cpu\".");
}

}  // namespace actmap::python
