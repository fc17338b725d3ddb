// The session area in Python: actmap.Session, the JSON document a user saves, checked by the same
// code as session files (so errors carry the same file name and JSON pointer), rendered to the
// same pixels as actmap-cli, and pickled as its JSON text.
#include <filesystem>

#include <pybind11/stl.h>

#include <ATen/ATen.h>

#include "actmap/edit/edit.h"
#include "actmap/io/error.h"
#include "actmap/io/json_text.h"
#include "actmap/model/registry.h"
#include "bindings.h"

namespace fs = std::filesystem;

namespace actmap::python {

Renderer& PySession::get_renderer() {
  const std::string card = session.card_path;
  if (!renderer || renderer->generator().card().path != card || renderer->generator().device() != device) {
    generator = cached_generator(card, device);
    renderer = std::make_shared<Renderer>(generator);
  }
  return *renderer;
}

Renderer& PySession::rendered() {
  if (!renderer || renderer->generator().card().path != session.card_path || renderer->generator().device() != device) {
    throw Error("nothing rendered yet: call render() first");
  }
  return *renderer;
}

namespace {

std::string source_name(const PySession& p) { return p.source.empty() ? "<session>" : p.source; }

// The document as saved beside its file (or with absolute paths when it has none).
nlohmann::json document(const PySession& p) { return session_to_json(p.session, p.source.empty() ? "" : p.session.base_dir); }

// Changes the document and reads it back through parse_session: every check a session file gets.
void change_document(PySession& p, const std::function<void(nlohmann::json&)>& change) {
  nlohmann::json doc = document(p);
  change(doc);
  const std::string text = doc.dump();
  const std::string src = source_name(p);
  Session s;
  {
    py::gil_scoped_release release;
    s = parse_session(text, src);
  }
  s.base_dir = p.session.base_dir.empty() ? s.base_dir : p.session.base_dir;
  p.session = std::move(s);
}

// New edits, checked as a session file's "edits" are (the same JSON pointers, prefixed by the
// session's file), against the session's model card.
void set_edits(PySession& p, const nlohmann::json& list) {
  const std::string src = source_name(p);
  std::vector<Edit> edits;
  {
    py::gil_scoped_release release;
    try {
      if (!list.is_array()) throw Error("/edits: expected a list of edits, got " + list.dump().substr(0, 80));
      edits = edits_from_json(nlohmann::json{{"edits", list}}, "", p.session.base_dir);
      Session copy = p.session;
      copy.edits = edits;
      check_session_against_card(copy, load_model_card(p.session.card_path));
    } catch (const Error& e) {
      throw Error(src + ": " + e.what());
    }
  }
  p.session.edits = std::move(edits);
}

nlohmann::json edits_json(const PySession& p) { return document(p).at("edits"); }

std::size_t edit_position(const PySession& p, const std::string& id) {
  for (std::size_t i = 0; i < p.session.edits.size(); ++i) {
    if (p.session.edits[i].id == id) return i;
  }
  std::string ids;
  for (const auto& e : p.session.edits) ids += (ids.empty() ? "" : ", ") + e.id;
  throw Error(source_name(p) + ": no edit with id '" + id + "' (edits: " + (ids.empty() ? "none" : ids) + ")");
}

PyRenderResult render_session_py(PySession& p, std::optional<std::uint64_t> seed) {
  RenderResult r = run_without_gil([&](Interrupt& interrupt) {
    Renderer& renderer = p.get_renderer();
    RendererInterruptScope scope(renderer, interrupt);
    return render_session(renderer, p.session, seed);
  });
  return PyRenderResult{std::move(r.output), std::move(r.timings), p.generator};
}

std::shared_ptr<PySession> load_py(const std::string& path, const std::string& device) {
  auto p = std::make_shared<PySession>();
  {
    py::gil_scoped_release release;
    p->session = load_session(path);
  }
  p->source = path;
  p->device = device;
  return p;
}

std::shared_ptr<PySession> from_text(const std::string& text, const std::string& source, const std::string& device) {
  auto p = std::make_shared<PySession>();
  {
    py::gil_scoped_release release;
    p->session = parse_session(text, source);
  }
  p->source = source == "<session>" ? "" : source;
  p->device = device;
  return p;
}

}  // namespace

void bind_session(py::module_& m) {
  py::class_<PySession, std::shared_ptr<PySession>>(
      m, "Session",
      "An editing session: the model, the latent and the ordered edits, as the JSON document actmap\n"
      "saves (docs/sessions.md). Every change is checked as a session file is, and errors name the file\n"
      "and the JSON pointer of the value at fault. render() gives the pixels actmap-cli render gives for\n"
      "the same document. Pickles as its JSON text (with absolute paths), never as tensors.")
      .def_static("load", &load_py, py::arg("path"), py::arg("device") = "cpu",
                  "Reads and checks a session file (as actmap-cli check does); actmap.Error names the file and pointer.")
      .def_static(
          "new",
          [](py::handle model, const std::string& device) {
            const std::string name = py::isinstance<PyModel>(model) ? model.cast<const PyModel&>().generator->card().path
                                                                   : model.cast<std::string>();
            auto p = std::make_shared<PySession>();
            {
              py::gil_scoped_release release;
              p->session = new_session(name);
            }
            p->device = device;
            return p;
          },
          py::arg("model"), py::arg("device") = "cpu",
          "A new session on a model (a name, a card path or a Model): seed 0, no edits.")
      .def_static(
          "from_dict",
          [](py::handle doc, const std::string& source, const std::string& device) {
            return from_text(to_json(doc, "session").dump(), source, device);
          },
          py::arg("doc"), py::arg("source") = "<session>", py::arg("device") = "cpu",
          "A session from its document as a dict. `source` names it in errors, and its folder resolves relative paths.")
      .def_static("from_json", &from_text, py::arg("text"), py::arg("source") = "<session>", py::arg("device") = "cpu",
                  "A session from its JSON text. `source` names it in errors, and its folder resolves relative paths.")
      .def(
          "save",
          [](PySession& p, const std::string& path) {
            {
              py::gil_scoped_release release;
              save_session(p.session, path);
            }
            p.source = path;
          },
          py::arg("path"), "Writes the session (atomically); relative paths in it are rewritten to still point at the same files.")
      .def(
          "to_dict",
          [](const PySession& p, bool absolute) { return from_json(absolute ? session_to_json(p.session, "") : document(p)); },
          py::arg("absolute") = false,
          "The document as save() writes it: paths relative to the session's file (absolute when it has none, or\n"
          "with absolute=True: a document that means the same from any folder).")
      .def(
          "to_json",
          [](const PySession& p, bool absolute) { return (absolute ? session_to_json(p.session, "") : document(p)).dump(2) + "\n"; },
          py::arg("absolute") = false, "The text save() writes (absolute=True: with absolute paths, as to_dict).")
      .def_property_readonly("path", [](const PySession& p) -> py::object {
        return p.source.empty() ? py::object(py::none()) : py::object(py::str(p.source));
      }, "The file it was loaded from or last saved to (None for a new one).")
      .def_property_readonly("model", [](const PySession& p) { return p.session.model; }, "The model as written: a card path or a name.")
      .def_property_readonly("card_path", [](const PySession& p) { return p.session.card_path; })
      .def_property_readonly("weights_sha256", [](const PySession& p) { return p.session.weights_sha256; })
      .def_property("device", [](const PySession& p) { return p.device; },
                    [](PySession& p, const std::string& d) { p.device = d; }, "Where render() runs (\"cpu\", \"cuda\", \"cuda:N\").")
      .def_property(
          "latent", [](const PySession& p) { return from_json(document(p).at("latent")); },
          [](PySession& p, py::handle v) {
            const nlohmann::json j = to_json(v, "latent");
            change_document(p, [&](nlohmann::json& d) { d["latent"] = j; });
          },
          "The latent as in the document: {\"seed\": N}, {\"z\": [...]}, {\"z_file\": ...}, {\"ws\": ...}, {\"ws_file\": ...}.")
      .def_property(
          "seed",
          [](const PySession& p) -> py::object {
            if (p.session.latent.kind != SessionLatent::Kind::Seed) return py::none();
            return py::int_(p.session.latent.seed);
          },
          [](PySession& p, std::uint64_t seed) { p.session.latent = SessionLatent::from_seed(seed); },
          "The latent's seed (None when the latent is not a seed); setting it makes the latent that seed.")
      .def_property(
          "edits", [](const PySession& p) { return from_json(edits_json(p)); },
          [](PySession& p, py::handle v) { set_edits(p, to_json(v, "edits")); },
          "The ordered edits as dicts (copies: assign the list back, or use add_edit/update_edit/remove_edit).\n"
          "Assigning checks them as a session file's are: errors read \"FILE: /edits/2/params/degrees: ...\".")
      .def(
          "add_edit",
          [](PySession& p, py::handle edit, std::optional<std::size_t> index) {
            nlohmann::json list = edits_json(p);
            const std::size_t at = std::min(index.value_or(list.size()), list.size());
            list.insert(list.begin() + static_cast<std::ptrdiff_t>(at), to_json(edit, "edit"));
            set_edits(p, list);
            return p.session.edits[at].id;
          },
          py::arg("edit"), py::arg("index") = py::none(),
          "Adds an edit (a dict: tap, channels, op, params, and optionally id, enabled, mask) at `index` (default:\n"
          "last) and returns its id (\"e1\", \"e2\", ... when it has none).")
      .def(
          "update_edit",
          [](PySession& p, const std::string& id, py::kwargs changes) {
            nlohmann::json list = edits_json(p);
            const std::size_t i = edit_position(p, id);
            for (auto item : changes) {
              const std::string key = item.first.cast<std::string>();
              if (key == "params") {
                const nlohmann::json params = to_json(item.second, "params");
                if (!params.is_object()) throw Error(source_name(p) + ": params: expected a dict, got " + params.dump().substr(0, 80));
                list[i]["params"].update(params);
              } else {
                list[i][key] = to_json(item.second, key);
              }
            }
            set_edits(p, list);
          },
          py::arg("id"),
          "Changes an edit's fields: update_edit(\"e1\", params={\"degrees\": 45}) (params are merged), enabled=False,\n"
          "tap=..., channels=..., op=..., mask=....")
      .def(
          "remove_edit",
          [](PySession& p, const std::string& id) {
            nlohmann::json list = edits_json(p);
            list.erase(list.begin() + static_cast<std::ptrdiff_t>(edit_position(p, id)));
            set_edits(p, list);
          },
          py::arg("id"))
      .def(
          "edit", [](const PySession& p, const std::string& id) { return from_json(edits_json(p).at(edit_position(p, id))); },
          py::arg("id"), "One edit as a dict.")
      .def_property(
          "clusters",
          [](const PySession& p) {
            py::dict d;
            for (const auto& [tap, labels] : p.session.clusters) d[py::str(tap)] = labels;
            return d;
          },
          [](PySession& p, py::handle v) {
            const nlohmann::json j = to_json(v, "clusters");
            change_document(p, [&](nlohmann::json& d) {
              if (j.empty()) d.erase("clusters");
              else d["clusters"] = j;
            });
          },
          "Cluster labels per tap ({tap: [label per channel]}), for {\"cluster\": k} selectors.")
      .def_property(
          "synthesis", [](const PySession& p) { return from_json(p.session.synthesis.to_json()); },
          [](PySession& p, py::handle v) {
            const nlohmann::json j = to_json(v, "synthesis");
            change_document(p, [&](nlohmann::json& d) { d["synthesis"] = j; });
          },
          "StyleGAN2 truncation and noise: {\"truncation_psi\", \"truncation_cutoff\", \"noise_mode\", \"noise_seed\"}.")
      .def_property(
          "notes", [](const PySession& p) { return p.session.notes; }, [](PySession& p, const std::string& n) { p.session.notes = n; })
      .def_property(
          "view", [](const PySession& p) { return from_json(p.session.view); },
          [](PySession& p, py::handle v) {
            const nlohmann::json j = to_json(v, "view");
            if (!j.is_object()) throw Error(source_name(p) + ": /view: expected an object, got " + j.dump().substr(0, 80));
            p.session.view = j;
          },
          "The editor's view state (kept, not interpreted).")
      .def(
          "open_model",
          [](PySession& p) {
            std::shared_ptr<const Generator> gen;
            {
              py::gil_scoped_release release;
              gen = cached_generator(p.session.card_path, p.device);
            }
            return std::make_shared<PyModel>(PyModel{gen});
          },
          "The session's model (loaded once per process and device).")
      .def(
          "render", [](PySession& p, std::optional<std::uint64_t> seed) { return render_session_py(p, seed); },
          py::arg("seed") = py::none(),
          "Renders the session (batch 1): the same pixels as actmap-cli render SESSION (-o out.png), or with\n"
          "seed= its edits on that seed's latent (as --seed / --seeds). Repeated renders re-run only from the\n"
          "first tap whose edits changed. The GIL is released while the model runs; Ctrl+C stops it.")
      .def(
          "activation",
          [](PySession& p, py::handle tap, bool edited) {
            Renderer& r = p.rendered();
            const std::size_t i = tap_index(r.generator(), tap);
            return tensor_to_numpy(edited ? r.activation(i) : r.unedited_activation(i));
          },
          py::arg("tap"), py::arg("edited") = true,
          "A tap's activation in the last render(), float32 [1, C, H, W]: after that tap's edits or (edited=False) before.")
      .def(
          "unedited_output",
          [](PySession& p) {
            Renderer& r = p.rendered();
            at::Tensor out = run_without_gil([&](Interrupt&) { return r.unedited_output(); });
            return tensor_to_numpy(out);
          },
          "The last render's output with no edits, float32 [1, C, H, W].")
      .def(
          "set_activation",
          [](PySession& p, py::handle tap, const py::array& activation) {
            Renderer& r = p.rendered();
            const std::size_t i = tap_index(r.generator(), tap);
            const at::Tensor a = numpy_to_tensor(activation);
            RenderResult result = run_without_gil([&](Interrupt& interrupt) {
              RendererInterruptScope scope(r, interrupt);
              return r.render_from(i, a, p.session.edits);
            });
            return PyRenderResult{std::move(result.output), std::move(result.timings), p.generator};
          },
          py::arg("tap"), py::arg("activation"),
          "Replaces a tap's activation in the last render() (after its edits; shape [1, C, H, W]) and runs the model\n"
          "on from there with the session's later edits. Returns the new result; the next render() forgets it.")
      .def(py::pickle(
          [](const PySession& p) {
            return py::make_tuple(session_to_json(p.session, "").dump(), p.source, p.device);
          },
          [](const py::tuple& t) {
            auto p = from_text(t[0].cast<std::string>(), t[1].cast<std::string>().empty() ? "<session>" : t[1].cast<std::string>(),
                               t[2].cast<std::string>());
            return p;
          }))
      .def("__repr__", [](const PySession& p) {
        return "<actmap.Session " + (p.source.empty() ? std::string("(unsaved)") : "'" + p.source + "'") + ": " + p.session.model + ", " +
               p.session.latent.describe() + ", " + std::to_string(p.session.edits.size()) + " edit" +
               (p.session.edits.size() == 1 ? "" : "s") + ">";
      });
}

}  // namespace actmap::python
