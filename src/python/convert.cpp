// JSON, numpy and image conversions, and the Ctrl+C hook, for every binding file.
#include <cmath>
#include <cstring>

#include <ATen/ATen.h>
#include <pybind11/stl.h>

#include "actmap/io/error.h"
#include "bindings.h"

namespace actmap::python {

nlohmann::json to_json(py::handle v, const std::string& where) {
  if (v.is_none()) return nullptr;
  if (py::isinstance<py::bool_>(v)) return v.cast<bool>();
  if (py::isinstance<py::int_>(v)) {
    // Plain ints first: they may be larger than 64 bits.
    try {
      return v.cast<std::int64_t>();
    } catch (const py::cast_error&) {
      try {
        return v.cast<std::uint64_t>();
      } catch (const py::cast_error&) {
        throw py::value_error(where + ": integer " + py::str(v).cast<std::string>() + " does not fit in 64 bits");
      }
    }
  }
  if (py::isinstance<py::float_>(v)) {
    const double d = v.cast<double>();
    if (!std::isfinite(d)) throw py::value_error(where + ": " + py::repr(v).cast<std::string>() + " is not a finite number (JSON has none)");
    return d;
  }
  if (py::isinstance<py::str>(v)) return v.cast<std::string>();
  if (py::isinstance<py::dict>(v)) {
    nlohmann::json o = nlohmann::json::object();
    for (auto item : py::reinterpret_borrow<py::dict>(v)) {
      if (!py::isinstance<py::str>(item.first)) {
        throw py::type_error(where + ": keys must be strings, got " + py::repr(item.first).cast<std::string>());
      }
      const std::string key = item.first.cast<std::string>();
      o[key] = to_json(item.second, where + "/" + key);
    }
    return o;
  }
  if (py::isinstance<py::list>(v) || py::isinstance<py::tuple>(v)) {
    nlohmann::json a = nlohmann::json::array();
    std::size_t i = 0;
    for (auto item : v) a.push_back(to_json(item, where + "/" + std::to_string(i++)));
    return a;
  }
  // numpy arrays and scalars (np.float32(1.5), np.int64(3)) through their Python equivalents.
  if (py::hasattr(v, "tolist") && py::hasattr(v, "dtype")) return to_json(v.attr("tolist")(), where);
  throw py::type_error(where + ": cannot be written as JSON: " + py::repr(py::type::handle_of(v)).cast<std::string>());
}

py::object from_json(const nlohmann::json& j) {
  switch (j.type()) {
    case nlohmann::json::value_t::null: return py::none();
    case nlohmann::json::value_t::boolean: return py::bool_(j.get<bool>());
    case nlohmann::json::value_t::number_integer: return py::int_(j.get<std::int64_t>());
    case nlohmann::json::value_t::number_unsigned: return py::int_(j.get<std::uint64_t>());
    case nlohmann::json::value_t::number_float: return py::float_(j.get<double>());
    case nlohmann::json::value_t::string: return py::str(j.get<std::string>());
    case nlohmann::json::value_t::array: {
      py::list l;
      for (const auto& e : j) l.append(from_json(e));
      return std::move(l);
    }
    case nlohmann::json::value_t::object: {
      py::dict d;
      for (const auto& [k, e] : j.items()) d[py::str(k)] = from_json(e);
      return std::move(d);
    }
    default: return py::none();
  }
}

py::array tensor_to_numpy(const at::Tensor& t) {
  if (!t.defined()) throw Error("no tensor");
  at::Tensor c = t.is_floating_point() ? t.to(at::kCPU, at::kFloat).contiguous() : t.to(at::kCPU).contiguous();
  auto* keep = new at::Tensor(c);
  py::capsule owner(keep, [](void* p) { delete static_cast<at::Tensor*>(p); });
  std::vector<py::ssize_t> shape(c.sizes().begin(), c.sizes().end());
  py::array a;
  if (c.scalar_type() == at::kFloat) {
    a = py::array_t<float>(shape, c.data_ptr<float>(), owner);
  } else if (c.scalar_type() == at::kLong) {
    a = py::array_t<std::int64_t>(shape, c.data_ptr<std::int64_t>(), owner);
  } else if (c.scalar_type() == at::kInt) {
    a = py::array_t<std::int32_t>(shape, c.data_ptr<std::int32_t>(), owner);
  } else if (c.scalar_type() == at::kBool) {
    a = py::array_t<bool>(shape, c.data_ptr<bool>(), owner);
  } else {
    throw Error("cannot convert a tensor of type " + std::string(c.dtype().name()) + " to numpy");
  }
  a.attr("flags").attr("writeable") = false;
  return a;
}

at::Tensor numpy_to_tensor(const py::array& in) {
  const py::array_t<float, py::array::c_style | py::array::forcecast> a(in);
  std::vector<std::int64_t> shape(a.shape(), a.shape() + a.ndim());
  return at::from_blob(const_cast<float*>(a.data()), shape, at::kFloat).clone();
}

py::array image_to_numpy(const Image& image) {
  auto* keep = new std::vector<std::uint8_t>(image.pixels);
  py::capsule owner(keep, [](void* p) { delete static_cast<std::vector<std::uint8_t>*>(p); });
  return py::array_t<std::uint8_t>({py::ssize_t(image.height), py::ssize_t(image.width), py::ssize_t(image.channels)},
                                   keep->data(), owner);
}

Image numpy_to_image(const py::array& in, const std::string& where) {
  if (!py::isinstance<py::array_t<std::uint8_t>>(in)) {
    throw py::type_error(where + ": expected a uint8 array [H, W] or [H, W, C], got dtype " + py::str(in.dtype()).cast<std::string>());
  }
  const py::array_t<std::uint8_t, py::array::c_style | py::array::forcecast> a(in);
  Image image;
  if (a.ndim() == 2 || a.ndim() == 3) {
    image.height = static_cast<int>(a.shape(0));
    image.width = static_cast<int>(a.shape(1));
    image.channels = a.ndim() == 2 ? 1 : static_cast<int>(a.shape(2));
  }
  if (image.width < 1 || image.height < 1 || !(image.channels == 1 || image.channels == 3 || image.channels == 4)) {
    std::string shape;
    for (py::ssize_t i = 0; i < a.ndim(); ++i) shape += (i ? ", " : "") + std::to_string(a.shape(i));
    throw py::value_error(where + ": expected an image [H, W] or [H, W, C] with C 1, 3 or 4, got shape [" + shape + "]");
  }
  image.pixels.assign(a.data(), a.data() + a.size());
  return image;
}

py::bytes png_bytes(const Image& image) {
  std::string png;
  {
    py::gil_scoped_release release;
    png = encode_png(image);
  }
  return py::bytes(png);
}

unsigned long Interrupt::main_thread_ident_ = 0;

void Interrupt::init_main_thread() {
  main_thread_ident_ = py::module_::import("threading").attr("main_thread")().attr("ident").cast<unsigned long>();
}

Interrupt::Interrupt(py::object python_progress)
    : main_thread_(PyThread_get_thread_ident() == main_thread_ident_), python_progress_(std::move(python_progress)) {}

bool Interrupt::requested() {
  if (error_) return true;
  if (!main_thread_) return false;
  const auto now = std::chrono::steady_clock::now();
  if (now - last_check_ < std::chrono::milliseconds(50)) return false;
  last_check_ = now;
  py::gil_scoped_acquire gil;
  if (PyErr_CheckSignals() != 0) {
    error_.emplace();  // takes the pending exception (KeyboardInterrupt) and clears it
    return true;
  }
  return false;
}

ProgressFn Interrupt::progress() {
  if (python_progress_.is_none()) return [this](std::int64_t, std::int64_t) { return !requested(); };
  return [this](std::int64_t done, std::int64_t total) {
    if (requested()) return false;
    py::gil_scoped_acquire gil;
    try {
      const py::object r = python_progress_(done, total);
      return r.is_none() || r.cast<bool>();
    } catch (py::error_already_set& e) {
      error_.emplace(std::move(e));
      return false;
    }
  };
}

void Interrupt::raise() {
  py::error_already_set e = std::move(*error_);
  error_.reset();
  throw e;
}

SynthesisOptions synthesis_from_py(py::handle value) {
  if (value.is_none()) return {};
  return SynthesisOptions::from_json(to_json(value, "synthesis"), "/synthesis");
}

}  // namespace actmap::python
