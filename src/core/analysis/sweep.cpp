#include "actmap/analysis/sweep.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <cmath>
#include <cstdio>
#include <sstream>

#include <ATen/ATen.h>

#include "actmap/edit/ops.h"
#include "actmap/io/error.h"
#include "actmap/model/generator.h"
#include "actmap/render/renderer.h"

namespace actmap {
namespace {

using json = nlohmann::json;

// A point (pixel centres to pixel centres) and the inclusive bounds of a block of pixels (edge to edge).
double map_coord(double v, double ratio) { return (v + 0.5) * ratio - 0.5; }
double map_low(double v, double ratio) { return v * ratio - 0.5; }
double map_high(double v, double ratio) { return (v + 1.0) * ratio - 0.5; }

bool spatial_op(const OpSpec& op) {
  return op.category == "paint" || op.category == "geometry" || op.category == "filter" || op.name == "sin_disrupt" ||
         op.name == "sin_field";
}

// Channels of `from_channels` mapped by fraction onto `to_channels` (see move_edit).
std::vector<std::int64_t> map_channels(const std::vector<std::int64_t>& list, std::int64_t from_channels,
                                       std::int64_t to_channels) {
  std::vector<std::int64_t> out;
  for (const std::int64_t c : list) {
    const std::int64_t lo = c * to_channels / from_channels;
    const std::int64_t hi = std::max(lo, ((c + 1) * to_channels + from_channels - 1) / from_channels - 1);
    for (std::int64_t k = lo; k <= std::min(hi, to_channels - 1); ++k) out.push_back(k);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

double mean_abs_change(const Image& a, const Image& b) {
  if (a.pixels.size() != b.pixels.size() || a.pixels.empty()) return 0.0;
  double sum = 0.0;
  for (std::size_t i = 0; i < a.pixels.size(); ++i) sum += std::abs(int(a.pixels[i]) - int(b.pixels[i]));
  return sum / static_cast<double>(a.pixels.size());
}

std::string fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

// RGB copy of an image scaled by a whole factor up (nearest) or down (area average).
Image to_tile(const Image& im, int side) {
  Image out;
  out.width = out.height = side;
  out.channels = 3;
  out.pixels.assign(static_cast<std::size_t>(side) * side * 3, 0);
  if (im.width <= 0 || im.height <= 0) return out;
  for (int y = 0; y < side; ++y) {
    for (int x = 0; x < side; ++x) {
      // The source pixels that fall into this tile pixel (at least one).
      const int sx0 = x * im.width / side, sx1 = std::max(sx0 + 1, (x + 1) * im.width / side);
      const int sy0 = y * im.height / side, sy1 = std::max(sy0 + 1, (y + 1) * im.height / side);
      for (int k = 0; k < 3; ++k) {
        int sum = 0, n = 0;
        for (int sy = sy0; sy < sy1; ++sy) {
          for (int sx = sx0; sx < sx1; ++sx) {
            const int ch = im.channels >= 3 ? k : 0;
            sum += im.pixels[(static_cast<std::size_t>(sy) * im.width + sx) * im.channels + ch];
            ++n;
          }
        }
        out.pixels[(static_cast<std::size_t>(y) * side + x) * 3 + k] = static_cast<std::uint8_t>((sum + n / 2) / n);
      }
    }
  }
  return out;
}

void blit(Image& dst, const Image& src, int x0, int y0) {
  for (int y = 0; y < src.height; ++y) {
    for (int x = 0; x < src.width; ++x) {
      if (x0 + x >= dst.width || y0 + y >= dst.height) continue;
      for (int k = 0; k < 3; ++k) {
        dst.pixels[(static_cast<std::size_t>(y0 + y) * dst.width + x0 + x) * 3 + k] =
            src.pixels[(static_cast<std::size_t>(y) * src.width + x) * 3 + k];
      }
    }
  }
}

// Words of `text` broken into lines that fit `width` pixels.
std::string wrap(const std::string& text, int width) {
  std::istringstream in(text);
  std::string word, line, out;
  while (in >> word) {
    const std::string next = line.empty() ? word : line + " " + word;
    if (!line.empty() && text_width(next) > width) {
      out += line + "\n";
      line = word;
    } else {
      line = next;
    }
  }
  return out + line;
}

}  // namespace

std::optional<Edit> move_edit(const Edit& edit, const TapInfo& from, const TapInfo& to, bool stylegan2,
                              const std::vector<int>& from_labels, std::string* why) {
  auto refuse = [&](const std::string& reason) -> std::optional<Edit> {
    if (why) *why = reason;
    return std::nullopt;
  };
  const OpSpec* op = find_op(edit.op);
  if (!op) return refuse("unknown op " + edit.op);
  const bool to_wplus = stylegan2 && to.name == "mapping";
  if (op->category == "latent" && !to_wplus) return refuse("W+ op: acts only at mapping");
  if (to_wplus && spatial_op(*op)) return refuse("spatial op: W+ has no map");
  if (to_wplus && !edit.mask.empty()) return refuse("masked edit: W+ has no map");

  Edit out = edit;
  out.enabled = true;
  if (to.name == from.name) return out;

  // Channels.
  using Kind = ChannelSelector::Kind;
  if (edit.channels.kind == Kind::List || edit.channels.kind == Kind::Range || edit.channels.kind == Kind::Cluster) {
    const std::vector<std::int64_t> src = edit.channels.resolve(from.channels, from.name, from_labels);
    out.channels = ChannelSelector{};
    out.channels.kind = Kind::List;
    out.channels.list = from.channels == to.channels ? src : map_channels(src, from.channels, to.channels);
  }
  if (edit.op == "vanish") {
    const std::size_t n = out.channels.resolve(to.channels, to.name, {}).size();
    if (n >= static_cast<std::size_t>(to.channels)) return refuse("vanish needs a channel outside the selection");
  }

  // Coordinates.
  const double sx = from.width > 0 ? double(to.width) / double(from.width) : 1.0;
  const double sy = from.height > 0 ? double(to.height) / double(from.height) : 1.0;
  if (out.params.contains("points") && out.params["points"].is_array()) {
    for (auto& p : out.params["points"]) p = json::array({map_coord(p[0].get<double>(), sx), map_coord(p[1].get<double>(), sy)});
  }
  if (out.params.contains("radius") && (op->name == "brush" || op->name == "erase")) {
    out.params["radius"] = std::clamp(out.params["radius"].get<double>() * 0.5 * (sx + sy), 0.1, 1e4);
  }
  if (op->name == "rect") {
    out.params["x0"] = map_low(out.params["x0"].get<double>(), sx);
    out.params["y0"] = map_low(out.params["y0"].get<double>(), sy);
    out.params["x1"] = map_high(out.params["x1"].get<double>(), sx);
    out.params["y1"] = map_high(out.params["y1"].get<double>(), sy);
  }
  auto& m = out.mask;
  if (m.kind == SpatialMask::Kind::Rect) {
    m.shape = {map_low(m.shape[0], sx), map_low(m.shape[1], sy), map_high(m.shape[2], sx), map_high(m.shape[3], sy)};
  } else if (m.kind == SpatialMask::Kind::Ellipse) {
    m.shape = {map_coord(m.shape[0], sx), map_coord(m.shape[1], sy), m.shape[2] * sx, m.shape[3] * sy};
  }
  out.tap = to.name;
  return out;
}

SweepResult sweep_edit(Renderer& renderer, const Session& session, const std::string& edit_id,
                       const ProgressFn& progress, const SweepOptions& options) {
  const auto t_start = std::chrono::steady_clock::now();
  const Edit* edit = session.find_edit(edit_id);
  if (!edit) {
    std::string ids;
    for (const auto& e : session.edits) ids += (ids.empty() ? "" : ", ") + e.id;
    throw Error("sweep: no edit '" + edit_id + "' in the session (edits: " + (ids.empty() ? "none" : ids) + ")");
  }
  const Generator& gen = renderer.generator();
  const auto& all_taps = gen.taps();
  const TapInfo& from = all_taps[gen.tap_index(edit->tap)];
  // The taps to visit, and those shown unbent with a reason.
  std::vector<TapInfo> taps;
  std::map<std::string, std::string> unbent;
  if (options.network_bending) {
    if (!gen.has_mapping()) throw Error("sweep: Network Bending's strip needs a StyleGAN2 model; " + gen.card().name + " is " + gen.card().family);
    for (const auto& t : all_taps) {
      const auto dot = t.name.rfind('.');
      const std::string layer = dot == std::string::npos ? "" : t.name.substr(dot + 1);
      if (layer == "conv0" || layer == "conv1") taps.push_back(t);
    }
    if (!taps.empty()) unbent[taps.front().name] = "layer 0: Network Bending never bends it";
  } else if (!options.taps.empty()) {
    for (const auto& name : options.taps) gen.tap_index(name);  // names the model's taps when one is unknown
    for (const auto& t : all_taps) {
      if (std::find(options.taps.begin(), options.taps.end(), t.name) != options.taps.end()) taps.push_back(t);
    }
  } else {
    taps = all_taps;
  }
  const std::vector<int> labels = session.cluster_labels(edit->tap);

  std::vector<Edit> base;
  std::size_t position = 0;
  for (const Edit& e : session.edits) {
    if (e.id == edit_id) position = base.size();
    else base.push_back(e);
  }
  renderer.set_clusters(session.clusters);
  const at::Tensor z = session_latent(session, gen);

  SweepResult result;
  result.edit_id = edit_id;
  result.source_tap = edit->tap;
  result.baseline = output_to_images(renderer.render(z, base, session.synthesis).output, gen.card()).at(0);
  result.steps.resize(taps.size());
  const auto n = static_cast<std::int64_t>(taps.size());
  report_progress(progress, 0, n);
  for (std::size_t k = taps.size(); k-- > 0;) {
    SweepStep& step = result.steps[k];
    step.tap = taps[k];
    std::string why;
    const std::optional<Edit> moved =
        unbent.count(taps[k].name) ? std::nullopt : move_edit(*edit, from, taps[k], gen.has_mapping(), labels, &why);
    if (unbent.count(taps[k].name)) {
      step.skipped = unbent.at(taps[k].name);
      step.output = result.baseline;
    } else if (!moved) {
      step.skipped = why;
    } else {
      std::vector<Edit> edits = base;
      edits.insert(edits.begin() + static_cast<std::ptrdiff_t>(position), *moved);
      const auto t0 = std::chrono::steady_clock::now();
      try {
        const RenderResult r = renderer.render(z, edits, session.synthesis);
        step.output = output_to_images(r.output, gen.card()).at(0);
        step.ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
        step.applied = true;
        step.edit = *moved;
        step.mean_abs_change = mean_abs_change(step.output, result.baseline);
      } catch (const Cancelled&) {
        throw;
      } catch (const Error& e) {
        step.skipped = e.what();
      }
    }
    report_progress(progress, n - static_cast<std::int64_t>(k), n);
  }
  result.total_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t_start).count();
  return result;
}

Image sweep_strip(const SweepResult& sweep, int tile, int columns) {
  const int out_side = std::max(sweep.baseline.width, sweep.baseline.height);
  if (tile <= 0) {
    tile = out_side >= 96 ? std::min(out_side, 256) : out_side * ((96 + out_side - 1) / out_side);
  }
  tile = std::max(tile, 72);
  const int n = static_cast<int>(sweep.steps.size()) + 1;
  columns = std::clamp(columns, 1, n);
  const int rows = (n + columns - 1) / columns;
  const int pad = 6, label_h = 3 * 12 + 10, header_h = 28;
  const int cell_w = tile + pad, cell_h = tile + label_h + pad;
  Image out;
  out.channels = 3;
  out.width = pad + columns * cell_w;
  out.height = header_h + rows * cell_h + pad;
  out.pixels.assign(static_cast<std::size_t>(out.width) * out.height * 3, 28);
  const std::array<std::uint8_t, 3> white{235, 235, 235}, grey{130, 130, 130}, bar{240, 160, 40};
  double max_change = 0.0;
  for (const auto& s : sweep.steps) max_change = std::max(max_change, s.mean_abs_change);
  draw_text(out, pad, 6,
            "edit " + sweep.edit_id + " (at " + sweep.source_tap + ") applied at each tap; bars: mean |change| of 8-bit pixels",
            white);
  for (int i = 0; i < n; ++i) {
    const int x0 = pad + (i % columns) * cell_w, y0 = header_h + (i / columns) * cell_h;
    if (i == 0) {
      blit(out, to_tile(sweep.baseline, tile), x0, y0);
      draw_text(out, x0, y0 + tile + 4, "unedited\n(without " + sweep.edit_id + ")", white);
      continue;
    }
    const SweepStep& s = sweep.steps[static_cast<std::size_t>(i - 1)];
    const std::string dims = std::to_string(s.tap.height) + "x" + std::to_string(s.tap.width) + " x" +
                             std::to_string(s.tap.channels) + " ch";
    if (s.applied) {
      blit(out, to_tile(s.output, tile), x0, y0);
      draw_text(out, x0, y0 + tile + 4, s.tap.name + "\n" + dims + "\nchange " + fixed(s.mean_abs_change, 2), white);
      const int len = max_change > 0 ? static_cast<int>(std::lround(tile * s.mean_abs_change / max_change)) : 0;
      fill_rect(out, x0, y0 + tile + 4 + 36 + 1, std::max(len, 1), 5, bar);
    } else {
      fill_rect(out, x0, y0, tile, tile, {48, 48, 48});
      draw_text(out, x0 + 4, y0 + 4, wrap("skipped: " + s.skipped, tile - 8), grey);
      draw_text(out, x0, y0 + tile + 4, s.tap.name + "\n" + dims + "\nskipped", grey);
    }
  }
  return out;
}

std::string sweep_csv(const SweepResult& sweep) {
  std::ostringstream csv;
  csv << "tap,height,width,channels,applied,mean_abs_change,ms,note\n";
  for (const auto& s : sweep.steps) {
    std::string note = s.skipped;
    std::replace(note.begin(), note.end(), '"', '\'');
    csv << s.tap.name << "," << s.tap.height << "," << s.tap.width << "," << s.tap.channels << ","
        << (s.applied ? 1 : 0) << "," << (s.applied ? fixed(s.mean_abs_change, 4) : "") << ","
        << (s.applied ? fixed(s.ms, 2) : "") << ",\"" << note << "\"\n";
  }
  return csv.str();
}

}  // namespace actmap
