// The analysis area in Python: depth sweeps, channel sensitivity, feature clustering, unit
// dissection, per-channel statistics and animations, returning numpy arrays and dicts. The
// dissection and statistics also come in parts that combine exactly, for actmap.distributed.
#include <cmath>
#include <filesystem>

#include <ATen/ATen.h>
#include <pybind11/stl.h>

#include "actmap/analysis/animation.h"
#include "actmap/analysis/channel_stats.h"
#include "actmap/analysis/clustering.h"
#include "actmap/analysis/dissection.h"
#include "actmap/analysis/sensitivity.h"
#include "actmap/analysis/sweep.h"
#include "actmap/io/error.h"
#include "actmap/model/registry.h"
#include "bindings.h"

namespace fs = std::filesystem;

namespace actmap::python {
namespace {

// A model given as a Model, a Session (its model) or a name / card path.
std::shared_ptr<const Generator> generator_of(py::handle model) {
  if (py::isinstance<PyModel>(model)) return model.cast<const PyModel&>().generator;
  std::string card, device = "cpu";
  if (py::isinstance<PySession>(model)) {
    const auto& p = model.cast<const PySession&>();
    card = p.session.card_path;
    device = p.device;
  } else if (py::isinstance<py::str>(model)) {
    card = model.cast<std::string>();
  } else {
    throw py::type_error("model: expected an actmap.Model, an actmap.Session or a model name, got " +
                         py::repr(py::type::handle_of(model)).cast<std::string>());
  }
  py::gil_scoped_release release;
  return cached_generator(find_model_card(card), device);
}

std::string tap_name(const Generator& gen, py::handle tap) { return gen.taps()[tap_index(gen, tap)].name; }

template <class T>
py::array_t<T> vector_array(const std::vector<T>& v) {
  py::array_t<T> a(static_cast<py::ssize_t>(v.size()));
  std::copy(v.begin(), v.end(), a.mutable_data());
  return a;
}

Region region_from_py(py::handle region) {
  if (py::isinstance<py::str>(region) || py::isinstance(region, py::module_::import("os").attr("PathLike"))) {
    const std::string path = py::str(region).cast<std::string>();
    py::gil_scoped_release release;
    return region_from_image(read_image(path), path);
  }
  const py::array a = py::array::ensure(region);
  if (!a) throw py::type_error("region: expected an image path or an array [H, W] (nonzero inside)");
  if (a.ndim() == 3) return region_from_image(numpy_to_image(a, "region"), "region");
  if (a.ndim() != 2) throw py::value_error("region: expected [H, W] (nonzero inside) or an image [H, W, C]");
  const py::array_t<double, py::array::c_style | py::array::forcecast> d(a);
  Region r;
  r.height = static_cast<int>(d.shape(0));
  r.width = static_cast<int>(d.shape(1));
  r.inside.resize(static_cast<std::size_t>(d.size()));
  for (py::ssize_t i = 0; i < d.size(); ++i) r.inside[static_cast<std::size_t>(i)] = d.data()[i] != 0.0 ? 1 : 0;
  if (r.count() == 0 || r.count() == static_cast<std::int64_t>(r.inside.size())) {
    throw Error("region: it must cover some, but not all, of the image (" + std::to_string(r.count()) + " of " +
                std::to_string(r.inside.size()) + " pixels are inside)");
  }
  return r;
}

py::dict dissect_dict(const DissectResult& r) {
  py::dict d;
  d["tap"] = r.tap;
  d["region_pixels"] = r.region_pixels;
  d["width"] = r.width;
  d["height"] = r.height;
  const std::size_t C = r.units.size();
  std::vector<double> iou(C), inside(C), outside(C), ratio(C);
  std::vector<float> threshold(C);
  std::vector<int> order;
  py::list units;
  for (const UnitScore& u : r.units) {
    py::dict ud;
    ud["channel"] = u.channel;
    ud["iou"] = u.iou;
    ud["inside_mean"] = u.inside_mean;
    ud["outside_mean"] = u.outside_mean;
    ud["ratio"] = u.ratio;
    ud["threshold"] = u.threshold;
    units.append(ud);
    const auto c = static_cast<std::size_t>(u.channel);
    iou[c] = u.iou;
    inside[c] = u.inside_mean;
    outside[c] = u.outside_mean;
    ratio[c] = u.ratio;
    threshold[c] = u.threshold;
    order.push_back(u.channel);
  }
  d["units"] = units;
  d["ranking"] = vector_array(order);
  d["iou"] = vector_array(iou);
  d["inside_mean"] = vector_array(inside);
  d["outside_mean"] = vector_array(outside);
  d["ratio"] = vector_array(ratio);
  d["threshold"] = vector_array(threshold);
  return d;
}

py::dict sums_dict(const DissectSums& s) {
  py::dict d;
  d["samples"] = s.samples;
  d["intersection"] = vector_array(s.intersection);
  d["on"] = vector_array(s.on);
  d["inside_sum"] = vector_array(s.inside_sum);
  d["total_sum"] = vector_array(s.total_sum);
  return d;
}

std::vector<double> doubles(py::handle v) {
  const py::array_t<double, py::array::c_style | py::array::forcecast> a(py::array::ensure(v));
  return std::vector<double>(a.data(), a.data() + a.size());
}
std::vector<float> floats(py::handle v) {
  const py::array_t<float, py::array::c_style | py::array::forcecast> a(py::array::ensure(v));
  return std::vector<float>(a.data(), a.data() + a.size());
}

DissectSums sums_from_py(const py::dict& d) {
  DissectSums s;
  s.samples = d["samples"].cast<int>();
  s.intersection = doubles(d["intersection"]);
  s.on = doubles(d["on"]);
  s.inside_sum = doubles(d["inside_sum"]);
  s.total_sum = doubles(d["total_sum"]);
  return s;
}

py::dict stats_dict(const ChannelStats& s) {
  py::dict d;
  d["tap"] = s.tap;
  d["count"] = s.count;
  d["samples"] = s.samples;
  d["mean"] = vector_array(s.mean);
  d["m2"] = vector_array(s.m2);
  d["min"] = vector_array(s.min);
  d["max"] = vector_array(s.max);
  const std::vector<double> var = s.variance();
  d["variance"] = vector_array(var);
  std::vector<double> sd(var.size());
  for (std::size_t i = 0; i < var.size(); ++i) sd[i] = std::sqrt(var[i]);
  d["std"] = vector_array(sd);
  return d;
}

ChannelStats stats_from_py(const py::dict& d) {
  ChannelStats s;
  s.tap = d["tap"].cast<std::string>();
  s.count = d["count"].cast<std::int64_t>();
  s.samples = d["samples"].cast<int>();
  s.mean = doubles(d["mean"]);
  s.m2 = doubles(d["m2"]);
  s.min = floats(d["min"]);
  s.max = floats(d["max"]);
  return s;
}

// An animation with its own renderer on the session's model (frames re-run only what changed).
struct PyAnimation {
  std::unique_ptr<Animation> animation;
  std::string device;
  std::shared_ptr<Renderer> renderer;
};

}  // namespace

void bind_analysis(py::module_& m) {
  m.def(
      "sweep",
      [](PySession& p, const std::string& edit_id, int tile, py::object progress) {
        SweepResult r;
        Image strip;
        run_without_gil(
            [&](Interrupt& interrupt) {
              Renderer& renderer = p.get_renderer();
              r = sweep_edit(renderer, p.session, edit_id, interrupt.progress());
              strip = sweep_strip(r, tile);
              return 0;
            },
            progress);
        py::dict d;
        d["edit_id"] = r.edit_id;
        d["source_tap"] = r.source_tap;
        d["baseline"] = image_to_numpy(r.baseline);
        d["strip"] = image_to_numpy(strip);
        d["total_ms"] = r.total_ms;
        py::list steps;
        for (const SweepStep& s : r.steps) {
          py::dict sd;
          sd["tap"] = s.tap;
          sd["applied"] = s.applied;
          sd["skipped"] = s.skipped;
          sd["edit"] = s.applied ? from_json(s.edit.to_json()) : py::object(py::none());
          sd["mean_abs_change"] = s.mean_abs_change;
          sd["image"] = s.applied ? py::object(image_to_numpy(s.output)) : py::object(py::none());
          sd["ms"] = s.ms;
          steps.append(sd);
        }
        d["steps"] = steps;
        d["csv"] = sweep_csv(r);
        return d;
      },
      py::arg("session"), py::arg("edit_id"), py::arg("tile") = 0, py::arg("progress") = py::none(),
      "Depth sweep (actmap-cli sweep): the session without edit `edit_id` (baseline), then with that edit moved to\n"
      "every tap in turn. Returns {edit_id, source_tap, baseline, strip (the labelled image actmap-cli writes), steps:\n"
      "[{tap, applied, skipped, edit, mean_abs_change, image, ms}], csv, total_ms}. `progress(done, total)` is\n"
      "called as taps finish (return False to stop: actmap.Cancelled); Ctrl+C stops it too.");

  m.def(
      "sensitivity",
      [](py::handle model, py::handle tap, int samples, std::uint64_t seed, bool ablate, double factor, int batch,
         py::object synthesis, py::object progress) {
        const auto gen = generator_of(model);
        SensitivityOptions o;
        o.samples = samples;
        o.seed = seed;
        o.ablate = ablate;
        o.factor = factor;
        o.batch = batch;
        o.synthesis = synthesis_from_py(synthesis);
        const std::string name = tap_name(*gen, tap);
        const SensitivityResult r =
            run_without_gil([&](Interrupt& interrupt) { return channel_sensitivity(*gen, name, o, interrupt.progress()); }, progress);
        py::dict d;
        d["tap"] = r.tap;
        d["change"] = vector_array(r.change);
        d["ranking"] = vector_array(r.ranking());
        d["samples"] = r.samples;
        d["ms"] = r.ms;
        return d;
      },
      py::arg("model"), py::arg("tap"), py::arg("samples") = 16, py::arg("seed") = 0, py::arg("ablate") = true,
      py::arg("factor") = 0.0, py::arg("batch") = 64, py::arg("synthesis") = py::none(), py::arg("progress") = py::none(),
      "Channel sensitivity (actmap-cli sensitivity): per channel of `tap`, the mean |output change| in 8-bit pixel\n"
      "units when that channel alone is switched off (ablate) or multiplied by `factor`, over `samples` seeded\n"
      "latents from `seed`. Returns {tap, change (float64 [C]), ranking (most sensitive first), samples, ms}.\n"
      "`model`: a Model, a Session (its model) or a model name.");

  m.def(
      "cluster",
      [](py::handle model, py::handle tap, int k, int samples, std::uint64_t seed, int restarts, int k_min, int k_max, int max_size,
         int batch, py::object progress) {
        const auto gen = generator_of(model);
        ClusterOptions o;
        o.k = k;
        o.samples = samples;
        o.seed = seed;
        o.restarts = restarts;
        o.k_min = k_min;
        o.k_max = k_max;
        o.max_size = max_size;
        o.batch = batch;
        const std::string name = tap_name(*gen, tap);
        const ClusterResult r =
            run_without_gil([&](Interrupt& interrupt) { return cluster_tap(*gen, name, o, interrupt.progress()); }, progress);
        py::dict d;
        d["tap"] = r.tap;
        d["k"] = r.k;
        d["default_k"] = r.default_k;
        d["labels"] = vector_array(r.labels);
        py::list per_k;
        for (const auto& c : r.per_k) {
          py::dict cd;
          cd["k"] = c.k;
          cd["silhouette"] = c.silhouette;
          cd["inertia"] = c.inertia;
          cd["labels"] = vector_array(c.labels);
          per_k.append(cd);
        }
        d["per_k"] = per_k;
        const auto C = static_cast<py::ssize_t>(r.labels.size());
        py::array_t<float> maps({C, py::ssize_t(r.map_height), py::ssize_t(r.map_width)});
        std::copy(r.mean_maps.begin(), r.mean_maps.end(), maps.mutable_data());
        d["mean_maps"] = maps;
        return d;
      },
      py::arg("model"), py::arg("tap"), py::arg("k") = 0, py::arg("samples") = 64, py::arg("seed") = 0, py::arg("restarts") = 10,
      py::arg("k_min") = 2, py::arg("k_max") = 8, py::arg("max_size") = 16, py::arg("batch") = 16, py::arg("progress") = py::none(),
      "Feature clustering (actmap-cli cluster): k-means of `tap`'s channels by their mean maps over seeded samples.\n"
      "Returns {tap, k, default_k, labels (int [C]), per_k: [{k, silhouette, inertia, labels}], mean_maps [C, h, w]}.\n"
      "Put labels into Session.clusters ({tap: labels}) for {\"cluster\": k} selectors.");

  m.def(
      "dissect",
      [](py::handle model, py::handle tap, py::handle region, int samples, std::uint64_t seed, double quantile, int batch,
         py::object progress) {
        const auto gen = generator_of(model);
        const Region reg = region_from_py(region);
        DissectOptions o;
        o.samples = samples;
        o.seed = seed;
        o.quantile = quantile;
        o.batch = batch;
        const std::string name = tap_name(*gen, tap);
        const DissectResult r =
            run_without_gil([&](Interrupt& interrupt) { return dissect_tap(*gen, name, reg, o, interrupt.progress()); }, progress);
        return dissect_dict(r);
      },
      py::arg("model"), py::arg("tap"), py::arg("region"), py::arg("samples") = 64, py::arg("seed") = 0, py::arg("quantile") = 0.99,
      py::arg("batch") = 8, py::arg("progress") = py::none(),
      "Unit dissection (actmap-cli dissect): ranks `tap`'s channels by the IoU of their \"on\" maps (above the\n"
      "channel's `quantile` level, up-sampled to the output) with `region` (an image path, white inside, or an array\n"
      "[H, W], nonzero inside), over seeded samples. Returns {tap, units (best first: channel, iou, inside_mean,\n"
      "outside_mean, ratio, threshold), ranking, and per channel: iou, inside_mean, outside_mean, ratio, threshold}.");

  m.def(
      "region",
      [](py::handle region) {
        const Region r = region_from_py(region);
        py::array_t<std::uint8_t> a({py::ssize_t(r.height), py::ssize_t(r.width)});
        std::copy(r.inside.begin(), r.inside.end(), a.mutable_data());
        return a;
      },
      py::arg("region"),
      "A dissection region as dissect() reads it: uint8 [H, W], 1 inside. From an image path (pixels whose grey\n"
      "value is at least 128 are inside), an image array [H, W, C], or an array [H, W] (nonzero inside).");

  // Dissection in parts (what actmap.distributed.dissect spreads over workers).
  m.def(
      "dissect_keep",
      [](py::handle model, py::handle tap, double quantile, int samples) {
        const auto gen = generator_of(model);
        return dissect_keep(*gen, tap_name(*gen, tap), quantile, samples);
      },
      py::arg("model"), py::arg("tap"), py::arg("quantile"), py::arg("samples"),
      "Dissection in parts, step 1: how many of each channel's largest values decide its quantile level over `samples`.");
  m.def(
      "dissect_top_values",
      [](py::handle model, py::handle tap, int samples, std::uint64_t seed, int batch, std::int64_t keep) {
        const auto gen = generator_of(model);
        const std::string name = tap_name(*gen, tap);
        const auto top = run_without_gil(
            [&](Interrupt& interrupt) { return dissect_top_values(*gen, name, samples, seed, batch, keep, interrupt.progress()); });
        const auto C = static_cast<py::ssize_t>(top.size()), k = C ? static_cast<py::ssize_t>(top.front().size()) : 0;
        py::array_t<float> a({C, k});
        float* dst = a.mutable_data();
        for (const auto& row : top) dst = std::copy(row.begin(), row.end(), dst);
        return a;
      },
      py::arg("model"), py::arg("tap"), py::arg("samples"), py::arg("seed"), py::arg("batch"), py::arg("keep"),
      "Dissection in parts, step 2: each channel's `keep` largest activations over a part's samples, float32 [C, k].");
  m.def(
      "dissect_thresholds",
      [](const std::vector<py::array>& parts, std::int64_t keep) {
        std::vector<std::vector<std::vector<float>>> values;
        for (const py::array& part : parts) {
          const py::array_t<float, py::array::c_style | py::array::forcecast> a(part);
          if (a.ndim() != 2) throw py::value_error("dissect_thresholds: each part must be [C, k]");
          std::vector<std::vector<float>> rows(static_cast<std::size_t>(a.shape(0)));
          for (py::ssize_t c = 0; c < a.shape(0); ++c) rows[c].assign(a.data() + c * a.shape(1), a.data() + (c + 1) * a.shape(1));
          values.push_back(std::move(rows));
        }
        return vector_array(dissect_thresholds(values, keep));
      },
      py::arg("parts"), py::arg("keep"), "Dissection in parts, step 3: each channel's level from every part's top values.");
  m.def(
      "dissect_sums",
      [](py::handle model, py::handle tap, py::handle region, const py::array& thresholds, int samples, std::uint64_t seed,
         int batch) {
        const auto gen = generator_of(model);
        const std::string name = tap_name(*gen, tap);
        const Region reg = region_from_py(region);
        const std::vector<float> thr = floats(thresholds);
        const DissectSums s = run_without_gil(
            [&](Interrupt& interrupt) { return dissect_sums(*gen, name, reg, thr, samples, seed, batch, interrupt.progress()); });
        return sums_dict(s);
      },
      py::arg("model"), py::arg("tap"), py::arg("region"), py::arg("thresholds"), py::arg("samples"), py::arg("seed"), py::arg("batch"),
      "Dissection in parts, step 4: a part's sums {samples, intersection, on, inside_sum, total_sum} (add them up).");
  m.def(
      "dissect_scores",
      [](py::handle model, py::handle tap, py::handle region, const py::array& thresholds, const py::dict& sums) {
        const auto gen = generator_of(model);
        return dissect_dict(dissect_scores(*gen, tap_name(*gen, tap), region_from_py(region), floats(thresholds), sums_from_py(sums)));
      },
      py::arg("model"), py::arg("tap"), py::arg("region"), py::arg("thresholds"), py::arg("sums"),
      "Dissection in parts, step 5: the result dissect() returns, from the levels and the summed sums.");

  m.def(
      "channel_stats",
      [](py::handle source, py::handle tap, int samples, std::uint64_t seed, int batch, bool edited, py::object edits,
         py::object progress) {
        std::vector<Edit> edit_list;
        SynthesisOptions synthesis;
        std::map<std::string, std::vector<int>> clusters;
        if (py::isinstance<PySession>(source)) {
          const auto& p = source.cast<const PySession&>();
          edit_list = p.session.edits;
          synthesis = p.session.synthesis;
          clusters = p.session.clusters;
        }
        if (!edits.is_none()) {
          nlohmann::json j = to_json(edits, "edits");
          if (j.is_array()) j = {{"edits", j}};
          edit_list = edits_from_json(j);
        }
        const auto gen = generator_of(source);
        const std::string name = tap_name(*gen, tap);
        const ChannelStats s = run_without_gil(
            [&](Interrupt& interrupt) {
              Renderer renderer(gen);
              renderer.set_clusters(clusters);
              RendererInterruptScope scope(renderer, interrupt);
              return channel_stats(renderer, name, edit_list, synthesis, samples, seed, batch, edited, interrupt.progress());
            },
            progress);
        return stats_dict(s);
      },
      py::arg("source"), py::arg("tap"), py::arg("samples") = 64, py::arg("seed") = 0, py::arg("batch") = 8, py::arg("edited") = true,
      py::arg("edits") = py::none(), py::arg("progress") = py::none(),
      "Per-channel statistics of `tap`'s activation over the seeds seed .. seed+samples-1: a Session's edits (or\n"
      "`edits`; none for a Model) applied, after the tap's edits (edited=True) or before. Returns {tap, count,\n"
      "samples, mean, m2, min, max, variance, std} (arrays per channel); parts merge with merge_channel_stats.");
  m.def(
      "merge_channel_stats",
      [](const std::vector<py::dict>& parts) {
        ChannelStats total;
        for (const auto& p : parts) total.merge(stats_from_py(p));
        return stats_dict(total);
      },
      py::arg("parts"), "Merges channel_stats results of disjoint samples of one tap (Chan et al.'s pairwise update).");

  py::class_<PyAnimation>(m, "Animation",
                          "A session whose numeric value sweeps and/or whose latent walks through seeds, frame by frame\n"
                          "(actmap-cli animate).")
      .def(py::init([](const PySession& p, int frames) {
             auto a = std::make_unique<PyAnimation>();
             a->animation = std::make_unique<Animation>(p.session, frames, p.source.empty() ? "<session>" : p.source);
             a->device = p.device;
             return a;
           }),
           py::arg("session"), py::arg("frames"))
      .def(
          "sweep", [](PyAnimation& a, const std::string& pointer, double from, double to) { a.animation->sweep(pointer, from, to); },
          py::arg("pointer"), py::arg("start"), py::arg("stop"),
          "Sweeps the number at a JSON pointer (e.g. /edits/0/params/degrees) linearly from `start` to `stop`.")
      .def(
          "walk_seeds", [](PyAnimation& a, const std::vector<std::uint64_t>& seeds) { a.animation->walk_seeds(seeds); },
          py::arg("seeds"), "Walks the latent through the seeds (slerp in z), the first at frame 0 and the last at the end.")
      .def_property_readonly("frames", [](const PyAnimation& a) { return a.animation->frames(); })
      .def("value", [](const PyAnimation& a, int frame) { return a.animation->value(frame); }, py::arg("frame"))
      .def(
          "frame",
          [](const PyAnimation& a, int frame) {
            auto p = std::make_shared<PySession>();
            p->session = a.animation->frame(frame);
            p->device = a.device;
            return p;
          },
          py::arg("frame"), "The session of one frame.")
      .def(
          "render_frame",
          [](PyAnimation& a, int frame, int scale) {
            if (scale < 1 || scale > 64) throw py::value_error("scale must be 1..64, got " + std::to_string(scale));
            const Image im = run_without_gil([&](Interrupt& interrupt) {
              const Session s = a.animation->frame(frame);
              if (!a.renderer || a.renderer->generator().card().path != s.card_path) {
                a.renderer = std::make_shared<Renderer>(cached_generator(s.card_path, a.device));
              }
              RendererInterruptScope scope(*a.renderer, interrupt);
              const RenderResult r = render_session(*a.renderer, s);
              return enlarge_nearest(output_to_images(r.output, a.renderer->generator().card()).front(), scale);
            });
            return image_to_numpy(im);
          },
          py::arg("frame"), py::arg("scale") = 1,
          "One frame's image, uint8 [H*scale, W*scale, C]: what actmap-cli animate writes for that frame.");

  m.def("frame_file_name", &frame_file_name, py::arg("frame"), py::arg("frames"),
        "The name actmap-cli animate gives frame `frame` of `frames` in a frame folder (frame-NNNN.png).");

  py::class_<FrameWriter>(m, "FrameWriter",
                          "Where animation frames go: OUT.gif or OUT.mp4 through ffmpeg (to a temporary file renamed into\n"
                          "place by finish()), or a directory of frame-NNNN.png.")
      .def(py::init<std::string, double, int>(), py::arg("out"), py::arg("fps"), py::arg("frames"))
      .def(
          "add",
          [](FrameWriter& w, const py::array& frame) {
            const Image im = numpy_to_image(frame, "frame");
            py::gil_scoped_release release;
            w.add(im);
          },
          py::arg("frame"))
      .def("finish", [](FrameWriter& w) {
        py::gil_scoped_release release;
        w.finish();
      })
      .def_property_readonly("video", &FrameWriter::video);
}

}  // namespace actmap::python
