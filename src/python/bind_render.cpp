// The render area in Python: actmap.Renderer (a model's activation cache: render, read any tap
// before and after its edits, replace a tap's activation and run on), actmap.RenderResult, and
// Model.render for one-off renders.
#include <pybind11/stl.h>

#include <ATen/ATen.h>

#include "actmap/edit/edit.h"
#include "actmap/io/error.h"
#include "bindings.h"

namespace actmap::python {

std::vector<Image> PyRenderResult::images() const { return output_to_images(output, card()); }

Image PyRenderResult::tiled() const { return tile_images(images()); }

namespace {

struct PyRenderer {
  std::shared_ptr<const Generator> generator;
  std::shared_ptr<Renderer> renderer;
  std::vector<Edit> last_edits;  // of the last render, for set_activation
};

PyRenderResult make_result(RenderResult r, std::shared_ptr<const Generator> gen) {
  return PyRenderResult{std::move(r.output), std::move(r.timings), std::move(gen)};
}

std::vector<Edit> edits_from_py(py::handle edits) {
  if (edits.is_none()) return {};
  nlohmann::json j = to_json(edits, "edits");
  if (j.is_array()) j = {{"edits", j}};
  return edits_from_json(j);
}

std::map<std::string, std::vector<int>> clusters_from_py(py::handle clusters) {
  if (clusters.is_none()) return {};
  const nlohmann::json j = to_json(clusters, "clusters");
  if (!j.is_object()) throw Error("clusters: expected {tap: [label per channel]}, got " + j.dump().substr(0, 80));
  std::map<std::string, std::vector<int>> out;
  for (const auto& [tap, labels] : j.items()) {
    if (!labels.is_array()) throw Error("/clusters/" + tap + ": expected a list of labels, got " + labels.dump().substr(0, 80));
    for (const auto& l : labels) {
      if (!l.is_number_integer()) throw Error("/clusters/" + tap + ": labels must be integers, got " + l.dump());
      out[tap].push_back(l.get<int>());
    }
  }
  return out;
}

// The latents of a render call: z ([N, latent_size] or [N, latent_size, 1, 1]), W+ ([N, num_ws,
// w_dim] or [num_ws, w_dim]) or `count` seeds from `seed`.
at::Tensor latents_from_py(const Generator& gen, std::optional<std::uint64_t> seed, int count, const py::object& z,
                           const py::object& ws) {
  const int given = int(seed.has_value()) + int(!z.is_none()) + int(!ws.is_none());
  if (given > 1) throw py::value_error("give one of seed, z and ws");
  if (count < 1) throw py::value_error("count must be at least 1, got " + std::to_string(count));
  if (!ws.is_none()) {
    const auto& cfg = gen.card().stylegan2;
    if (!cfg) throw Error("ws: model " + gen.card().name + " (" + gen.card().family + ") has no W+; ws needs a StyleGAN2 model");
    at::Tensor w = numpy_to_tensor(py::array::ensure(ws));
    if (w.dim() == 2) w = w.unsqueeze(0);
    if (w.dim() != 3 || w.size(1) != cfg->num_ws() || w.size(2) != cfg->w_dim) {
      throw Error("ws: W+ must have shape [N, " + std::to_string(cfg->num_ws()) + ", " + std::to_string(cfg->w_dim) + "] for " +
                  gen.card().name);
    }
    return w.to(at::Device(gen.device()));
  }
  if (!z.is_none()) {
    const at::Tensor t = numpy_to_tensor(py::array::ensure(z));
    const std::vector<std::int64_t> shape(t.sizes().begin(), t.sizes().end());
    const std::vector<float> data(t.data_ptr<float>(), t.data_ptr<float>() + t.numel());
    return latents_from_array(gen.card().latent, shape, data, "z", gen.device());
  }
  return latents_from_seeds(gen.card().latent, seed.value_or(0), count, gen.device());
}

PyRenderResult render_with(PyRenderer& r, const at::Tensor& latents, std::vector<Edit> edits, const SynthesisOptions& synthesis,
                           std::map<std::string, std::vector<int>> clusters) {
  RenderResult result = run_without_gil([&](Interrupt& interrupt) {
    RendererInterruptScope scope(*r.renderer, interrupt);
    r.renderer->set_clusters(std::move(clusters));
    return r.renderer->render(latents, edits, synthesis);
  });
  r.last_edits = std::move(edits);
  return make_result(std::move(result), r.generator);
}

const char* kRenderDoc =
    "Renders latents through the model with edits (dicts as in a session's \"edits\", checked the same way)\n"
    "and synthesis options (StyleGAN2: {\"truncation_psi\", \"truncation_cutoff\", \"noise_mode\", \"noise_seed\"}).\n"
    "The latents: `count` consecutive seeds from `seed` (default 0), or z [N, latent_size], or W+ `ws`\n"
    "[N, num_ws, w_dim] (StyleGAN2). `clusters` ({tap: [label per channel]}) serve {\"cluster\": k} selectors.\n"
    "The GIL is released while the model runs; Ctrl+C stops it between stages (KeyboardInterrupt).";

}  // namespace

void bind_render(py::module_& m) {
  py::class_<PyRenderResult>(m, "RenderResult",
                             "One render: the generator output and its 8-bit images. Shows inline in Jupyter.")
      .def_property_readonly("output", [](const PyRenderResult& r) { return tensor_to_numpy(r.output); },
                             "The generator output, float32 [N, C, H, W] (read-only; np.array() for a copy).")
      .def_property_readonly("image", [](const PyRenderResult& r) { return image_to_numpy(r.tiled()); },
                             "uint8 [H, W, C]: the image actmap-cli render -o writes (several samples in a grid).")
      .def_property_readonly(
          "images",
          [](const PyRenderResult& r) {
            const std::vector<Image> ims = r.images();
            const Image& f = ims.front();
            py::array_t<std::uint8_t> a({py::ssize_t(ims.size()), py::ssize_t(f.height), py::ssize_t(f.width), py::ssize_t(f.channels)});
            std::uint8_t* dst = a.mutable_data();
            for (const Image& im : ims) dst = std::copy(im.pixels.begin(), im.pixels.end(), dst);
            return a;
          },
          "uint8 [N, H, W, C]: each sample's image.")
      .def_property_readonly("timings",
                             [](const PyRenderResult& r) {
                               py::dict d;
                               d["first_stage"] = r.timings.first_stage;
                               d["stage_ms"] = r.timings.stage_ms;
                               d["edit_ms"] = r.timings.edit_ms;
                               d["total_ms"] = r.timings.total_ms;
                               return d;
                             },
                             "first_stage (where the run started), stage_ms and edit_ms per stage, total_ms.")
      .def("png", [](const PyRenderResult& r) { return png_bytes(r.tiled()); }, "The PNG file actmap-cli render -o writes, as bytes.")
      .def(
          "save",
          [](const PyRenderResult& r, const std::string& path) {
            const Image im = r.tiled();
            py::gil_scoped_release release;
            write_png(path, im);
          },
          py::arg("path"), "Writes image as PNG (atomically), byte for byte what actmap-cli render -o writes.")
      .def("_repr_png_", [](const PyRenderResult& r) { return png_bytes(r.tiled()); })
      .def("__repr__", [](const PyRenderResult& r) {
        std::string shape;
        for (auto d : r.output.sizes()) shape += (shape.empty() ? "" : "x") + std::to_string(d);
        return "<actmap.RenderResult " + shape + " of " + r.card().name + ", " + std::to_string(r.timings.total_ms) + " ms>";
      });

  py::class_<PyRenderer>(m, "Renderer",
                         "Runs a model with edits and keeps every tap's activation: a render after a change re-runs\n"
                         "only from the first tap whose edits changed. Read any tap before and after its edits, or\n"
                         "replace a tap's activation and run the rest of the model from there.")
      .def(py::init([](const std::shared_ptr<PyModel>& model) {
             return PyRenderer{model->generator, std::make_shared<Renderer>(model->generator), {}};
           }),
           py::arg("model"))
      .def_property_readonly("model", [](const PyRenderer& r) { return std::make_shared<PyModel>(PyModel{r.generator}); })
      .def(
          "render",
          [](PyRenderer& r, std::optional<std::uint64_t> seed, int count, py::object z, py::object ws, py::object edits,
             py::object synthesis, py::object clusters) {
            return render_with(r, latents_from_py(*r.generator, seed, count, z, ws), edits_from_py(edits), synthesis_from_py(synthesis),
                               clusters_from_py(clusters));
          },
          py::arg("seed") = py::none(), py::arg("count") = 1, py::arg("z") = py::none(), py::arg("ws") = py::none(),
          py::arg("edits") = py::none(), py::arg("synthesis") = py::none(), py::arg("clusters") = py::none(), kRenderDoc)
      .def(
          "activation",
          [](const PyRenderer& r, py::handle tap, bool edited) {
            const std::size_t i = tap_index(*r.generator, tap);
            return tensor_to_numpy(edited ? r.renderer->activation(i) : r.renderer->unedited_activation(i));
          },
          py::arg("tap"), py::arg("edited") = true,
          "A tap's activation in the last render, float32 [N, C, H, W]: after that tap's edits (edited=True) or before them.")
      .def(
          "unedited_output",
          [](const PyRenderer& r) {
            at::Tensor out = run_without_gil([&](Interrupt&) { return r.renderer->unedited_output(); });
            return tensor_to_numpy(out);
          },
          "The output of the last render's latents with no edits (re-run only from the first edited tap).")
      .def(
          "set_activation",
          [](PyRenderer& r, py::handle tap, const py::array& activation) {
            const std::size_t i = tap_index(*r.generator, tap);
            const at::Tensor a = numpy_to_tensor(activation);
            RenderResult result = run_without_gil([&](Interrupt& interrupt) {
              RendererInterruptScope scope(*r.renderer, interrupt);
              return r.renderer->render_from(i, a, r.last_edits);
            });
            return make_result(std::move(result), r.generator);
          },
          py::arg("tap"), py::arg("activation"),
          "Replaces a tap's activation in the last render (after its edits; same shape [N, C, H, W]) and runs the\n"
          "model on from there with the edits of the later taps. Returns the new result. The next render()\n"
          "starts from the model's own activation again.")
      .def("invalidate", [](PyRenderer& r) { r.renderer->invalidate(); }, "Forgets the cached activations.");

  // Model.render: a one-off renderer.
  auto model = py::reinterpret_borrow<py::class_<PyModel, std::shared_ptr<PyModel>>>(m.attr("Model"));
  model.def(
      "render",
      [](const PyModel& p, std::optional<std::uint64_t> seed, int count, py::object z, py::object ws, py::object edits,
         py::object synthesis, py::object clusters) {
        PyRenderer r{p.generator, std::make_shared<Renderer>(p.generator), {}};
        return render_with(r, latents_from_py(*p.generator, seed, count, z, ws), edits_from_py(edits), synthesis_from_py(synthesis),
                           clusters_from_py(clusters));
      },
      py::arg("seed") = py::none(), py::arg("count") = 1, py::arg("z") = py::none(), py::arg("ws") = py::none(),
      py::arg("edits") = py::none(), py::arg("synthesis") = py::none(), py::arg("clusters") = py::none(),
      (std::string(kRenderDoc) + "\nUse a Renderer to keep the activations between calls.").c_str());
}

}  // namespace actmap::python
