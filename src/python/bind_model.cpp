// The model area in Python: actmap.Model (a generator loaded from a name, a card or a checkpoint),
// actmap.Tap, and the process-wide cache that loads each model once.
#include <filesystem>
#include <map>

#include <ATen/ATen.h>
#include <pybind11/stl.h>

#include "actmap/io/checkpoint_import.h"
#include "actmap/io/error.h"
#include "actmap/io/files.h"
#include "actmap/io/safetensors.h"
#include "actmap/model/device.h"
#include "actmap/model/registry.h"
#include "bindings.h"

namespace fs = std::filesystem;

namespace actmap::python {
namespace {

std::mutex g_models_mutex;
std::map<std::string, std::shared_ptr<const Generator>> g_models;

std::string lower_extension(const std::string& path) {
  std::string e = fs::path(path).extension().string();
  for (auto& c : e) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return e;
}

bool is_checkpoint(const std::string& path) {
  const std::string e = lower_extension(path);
  return e == ".pkl" || e == ".pt" || e == ".pth";
}

// A StyleGAN2 checkpoint (.pkl, .pt, .pth) converted once, as actmap-cli import --card does, into
// the model cache (imported/<sha256>/): the card it gets is returned.
std::string import_to_cache(const std::string& checkpoint) {
  const std::string sha = sha256_file(checkpoint);
  const fs::path dir = fs::path(model_cache_dir()) / "imported" / sha.substr(0, 16);
  const fs::path card_path = dir / "card.json";
  if (fs::exists(card_path)) return card_path.string();
  const ImportResult r = import_checkpoint(checkpoint);
  if (!is_stylegan2_state_dict(r.tensors)) {
    throw Error(checkpoint + ": not a StyleGAN2 generator (no mapping.fc0.weight and synthesis.b4.const after the key map), "
                "so its architecture cannot be read off the weights: convert it with actmap-cli import and write its card "
                "(docs/import.md), then load the card");
  }
  nlohmann::json config = r.config;
  if (config.is_null()) config = infer_stylegan2_config(r.tensors, nullptr);
  const std::string bytes = encode_safetensors(r.tensors, {{"source", fs::path(checkpoint).filename().string()},
                                                           {"source_format", r.format},
                                                           {"prefix", r.prefix},
                                                           {"key_map", r.key_map}});
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw Error(dir.string() + ": cannot create directory: " + ec.message());
  write_file_atomic((dir / "model.safetensors").string(), bytes);
  const nlohmann::json card = {
      {"actmap_model_card", 1},
      {"name", fs::path(checkpoint).stem().string()},
      {"family", "stylegan2"},
      {"description", "Imported by the actmap Python module from " + fs::path(checkpoint).filename().string() + " (" + r.format + ")."},
      {"license", "unknown: state the checkpoint's license"},
      {"config", config},
      {"weights", {{"path", "model.safetensors"}, {"sha256", sha256_hex(bytes.data(), bytes.size())}}}};
  write_file_atomic(card_path.string(), card.dump(2) + "\n");
  return card_path.string();
}

std::shared_ptr<const Generator> load_model(const std::string& source, const std::string& device, const std::string& weights) {
  std::string card_path;
  if (is_checkpoint(source)) {
    if (!weights.empty()) throw Error("weights= goes with a model card, not with the checkpoint " + source);
    card_path = import_to_cache(source);
  } else {
    card_path = find_model_card(source);
  }
  if (weights.empty()) return cached_generator(card_path, device);
  ModelCard card = load_model_card(card_path);
  card.weights_path = fs::absolute(weights).string();
  card.weights_sha256.clear();
  card.weights_sha256_accepted.clear();
  check_device(device);
  return load_generator(card, device);
}

}  // namespace

std::shared_ptr<const Generator> cached_generator(const std::string& card_path, const std::string& device) {
  std::error_code ec;
  const fs::path canonical = fs::weakly_canonical(fs::absolute(card_path), ec);
  const std::string key = (ec ? card_path : canonical.string()) + "\n" + device + (cuda_fp16_requested() ? "\nfp16" : "");
  std::lock_guard<std::mutex> lock(g_models_mutex);  // a model loads once even when asked from several threads
  auto it = g_models.find(key);
  if (it != g_models.end()) return it->second;
  check_device(device);
  auto gen = load_generator(load_model_card(card_path), device);
  g_models.emplace(key, gen);
  return gen;
}

std::size_t tap_index(const Generator& generator, py::handle tap) {
  if (py::isinstance<py::int_>(tap)) {
    const auto n = static_cast<std::int64_t>(generator.taps().size());
    std::int64_t i = tap.cast<std::int64_t>();
    if (i < 0) i += n;
    if (i < 0 || i >= n) {
      throw py::index_error("tap index " + py::str(tap).cast<std::string>() + " out of range: " + generator.card().name + " has " +
                            std::to_string(n) + " taps");
    }
    return static_cast<std::size_t>(i);
  }
  if (py::hasattr(tap, "name") && !py::isinstance<py::str>(tap)) return generator.tap_index(tap.attr("name").cast<std::string>());
  return generator.tap_index(tap.cast<std::string>());
}

void bind_model(py::module_& m) {
  py::class_<TapInfo>(m, "Tap", "A named point in the forward pass whose activation can be seen and edited.")
      .def_readonly("name", &TapInfo::name)
      .def_readonly("channels", &TapInfo::channels)
      .def_readonly("height", &TapInfo::height)
      .def_readonly("width", &TapInfo::width)
      .def_readonly("depth", &TapInfo::depth, "Position in the forward pass, 0 nearest the latent.")
      .def_property_readonly("shape", [](const TapInfo& t) { return py::make_tuple(t.channels, t.height, t.width); },
                             "(channels, height, width) of one sample's activation.")
      .def("__repr__", [](const TapInfo& t) {
        return "<actmap.Tap " + std::to_string(t.depth) + " '" + t.name + "' " + std::to_string(t.channels) + "x" +
               std::to_string(t.height) + "x" + std::to_string(t.width) + ">";
      });

  py::class_<PyModel, std::shared_ptr<PyModel>>(m, "Model",
                                                "A trained generator: immutable weights and the taps of its forward pass.\n\n"
                                                "Load one with Model.load(name, card path or checkpoint). Each card is loaded once\n"
                                                "per process and device; every Model, Session and Renderer on it shares the weights.")
      .def_static(
          "load",
          [](const std::string& source, const std::string& device, const std::optional<std::string>& weights) {
            auto gen = [&] {
              py::gil_scoped_release release;
              return load_model(source, device, weights.value_or(""));
            }();
            return std::make_shared<PyModel>(PyModel{gen});
          },
          py::arg("source"), py::arg("device") = "cpu", py::arg("weights") = py::none(),
          "Loads a model from a name (searched in ACTMAP_MODEL_PATH, actmap's models/ and the cache of\n"
          "fetched models, as actmap-cli -m does), a card file (.json), or a StyleGAN2 checkpoint (.pkl,\n"
          ".pt, .pth: imported once with actmap's restricted unpickler into the model cache).\n"
          "`weights` loads the card's architecture with another safetensors file (e.g. a training checkpoint).\n"
          "Raises actmap.Error naming the file, key or shape at fault.")
      .def_property_readonly("name", [](const PyModel& p) { return p.generator->card().name; })
      .def_property_readonly("family", [](const PyModel& p) { return p.generator->card().family; })
      .def_property_readonly("description", [](const PyModel& p) { return p.generator->card().description; })
      .def_property_readonly("license", [](const PyModel& p) { return p.generator->card().license; })
      .def_property_readonly("card_path", [](const PyModel& p) { return p.generator->card().path; })
      .def_property_readonly("card", [](const PyModel& p) { return from_json(p.generator->card().document); },
                             "The model card as a dict.")
      .def_property_readonly("weights_path", [](const PyModel& p) { return resolve_weights_path(p.generator->card()); })
      .def_property_readonly("device", [](const PyModel& p) { return p.generator->device(); })
      .def_property_readonly("precision", [](const PyModel& p) { return p.generator->precision(); },
                             "How it computes: \"float32\", or which StyleGAN2 blocks run in float16 (set_cuda_fp16).")
      .def_property_readonly("latent_size", [](const PyModel& p) { return p.generator->card().latent.size; })
      .def_property_readonly("latent_distribution",
                             [](const PyModel& p) { return std::string(latent_distribution_name(p.generator->card().latent.distribution)); })
      .def_property_readonly("output_range",
                             [](const PyModel& p) { return py::make_tuple(p.generator->card().output_low, p.generator->card().output_high); },
                             "(low, high): output values mapped to pixel 0 and 255.")
      .def_property_readonly("has_mapping", [](const PyModel& p) { return p.generator->has_mapping(); },
                             "True for models with a mapping network (StyleGAN2): W+ is the tap 'mapping'.")
      .def_property_readonly("taps", [](const PyModel& p) { return p.generator->taps(); },
                             "Every tap in forward order (the last one is the output image).")
      .def(
          "tap", [](const PyModel& p, py::handle tap) { return p.generator->taps()[tap_index(*p.generator, tap)]; }, py::arg("tap"),
          "A tap by name or index (negative counts from the end).")
      .def(
          "latents",
          [](const PyModel& p, std::uint64_t seed, int count) {
            if (count < 1) throw py::value_error("count must be at least 1, got " + std::to_string(count));
            return tensor_to_numpy(latents_from_seeds(p.generator->card().latent, seed, count, "cpu"));
          },
          py::arg("seed") = 0, py::arg("count") = 1,
          "Latents z [count, latent_size] of consecutive seeds, identical on every machine (actmap's SplitMix64).")
      .def("__repr__", [](const PyModel& p) {
        const auto& c = p.generator->card();
        return "<actmap.Model '" + c.name + "' (" + c.family + ", " + std::to_string(p.generator->taps().size()) + " taps, " +
               p.generator->device() + ")>";
      });

  m.def(
      "clear_model_cache",
      [] {
        std::lock_guard<std::mutex> lock(g_models_mutex);
        g_models.clear();
      },
      "Forgets the loaded models (objects that still hold one keep it).");
}

}  // namespace actmap::python
