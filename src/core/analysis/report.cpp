#include "actmap/analysis/report.h"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <sstream>

#include <ATen/ATen.h>

#include "actmap/analysis/sweep.h"
#include "actmap/edit/ops.h"
#include "actmap/io/error.h"
#include "actmap/io/files.h"
#include "actmap/model/generator.h"
#include "actmap/render/channel_view.h"
#include "actmap/render/renderer.h"

namespace actmap {
namespace {

namespace fs = std::filesystem;

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

std::string fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

// Nearest-neighbour enlargement so the smaller side reaches about `min_side` (each axis separately,
// so 1-pixel-high W+ rows become visible stripes).
Image enlarge(const Image& im, int min_side) {
  const int fx = std::max(1, min_side / std::max(1, im.width)), fy = std::max(1, min_side / std::max(1, im.height));
  if (fx == 1 && fy == 1) return im;
  Image out;
  out.width = im.width * fx;
  out.height = im.height * fy;
  out.channels = im.channels;
  out.pixels.resize(static_cast<std::size_t>(out.width) * out.height * out.channels);
  for (int y = 0; y < out.height; ++y) {
    for (int x = 0; x < out.width; ++x) {
      for (int k = 0; k < im.channels; ++k) {
        out.pixels[(static_cast<std::size_t>(y) * out.width + x) * out.channels + k] =
            im.pixels[(static_cast<std::size_t>(y / fy) * im.width + x / fx) * im.channels + k];
      }
    }
  }
  return out;
}

// The listed channels of a tap's activation [1, C, H, W] side by side, each mapped to the range
// given per channel (so before and after share a scale).
Image channel_strip(const at::Tensor& act, const std::vector<std::int64_t>& channels, const std::vector<float>& lo,
                    const std::vector<float>& hi) {
  ViewOptions view;
  view.colormap = Colormap::Diverging;
  std::vector<Image> cells;
  for (std::size_t i = 0; i < channels.size(); ++i) {
    cells.push_back(enlarge(channel_image(act, static_cast<int>(channels[i]), view, lo[i], hi[i]), 64));
  }
  Image out;
  out.channels = 4;
  const int gap = 4;
  for (const auto& c : cells) {
    out.width += c.width + (out.width ? gap : 0);
    out.height = std::max(out.height, c.height);
  }
  out.pixels.assign(static_cast<std::size_t>(out.width) * out.height * 4, 0);
  int x0 = 0;
  for (const auto& c : cells) {
    for (int y = 0; y < c.height; ++y) {
      std::copy_n(c.pixels.begin() + static_cast<std::ptrdiff_t>(y) * c.width * 4, c.width * 4,
                  out.pixels.begin() + (static_cast<std::ptrdiff_t>(y) * out.width + x0) * 4);
    }
    x0 += c.width + gap;
  }
  return out;
}

}  // namespace

std::string html_escape(const std::string& text) {
  std::string out;
  for (const char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

ReportResult write_report(Renderer& renderer, const Session& session, const std::string& dir,
                          const ReportOptions& options, const ProgressFn& progress) {
  const auto t_start = std::chrono::steady_clock::now();
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw Error(dir + ": cannot create the report's directory: " + ec.message());
  const Generator& gen = renderer.generator();
  const ModelCard& card = gen.card();
  ReportResult result;
  auto save = [&](const std::string& name, const Image& image) {
    write_png((fs::path(dir) / name).string(), image);
    result.files.push_back((fs::path(dir) / name).string());
    return name;
  };

  std::vector<const Edit*> enabled;
  for (const auto& e : session.edits) {
    if (e.enabled) enabled.push_back(&e);
  }
  const auto steps = static_cast<std::int64_t>(enabled.size() + 2);
  std::int64_t done = 0;
  report_progress(progress, done, steps);

  renderer.set_clusters(session.clusters);
  const at::Tensor z = session_latent(session, gen);
  std::vector<std::pair<std::string, double>> timings;

  std::ostringstream body;
  // Every edit in turn: the edits before it, then with it.
  std::vector<Edit> prefix;
  auto t0 = std::chrono::steady_clock::now();
  Image before_out = output_to_images(renderer.render(z, prefix, session.synthesis).output, card).at(0);
  timings.emplace_back("render without edits", ms_since(t0));
  const std::string unedited_png = save("output_unedited.png", enlarge(before_out, 128));
  ++done;
  report_progress(progress, done, steps);

  std::size_t k = 0;
  for (const Edit* e : enabled) {
    ++k;
    const std::size_t tap = gen.tap_index(e->tap);
    const TapInfo& info = gen.taps()[tap];
    std::vector<std::int64_t> channels = e->channels.resolve(info.channels, info.name, session.cluster_labels(info.name));
    const std::size_t shown = std::min<std::size_t>(channels.size(), static_cast<std::size_t>(std::max(1, options.max_channels)));
    channels.resize(shown);
    // The prefix render is cached: re-rendering it costs nothing and gives the tap before the edit.
    renderer.render(z, prefix, session.synthesis);
    const at::Tensor before_tap = renderer.activation(tap).clone();
    prefix.push_back(*e);
    t0 = std::chrono::steady_clock::now();
    const RenderResult r = renderer.render(z, prefix, session.synthesis);
    const double ms = ms_since(t0);
    timings.emplace_back("edit " + e->id + " (re-run from " + e->tap + ")", ms);
    const at::Tensor after_tap = renderer.activation(tap);
    std::vector<float> lo, hi;
    for (const auto c : channels) {
      const at::Tensor both = at::cat({before_tap[0][c].flatten(), after_tap[0][c].flatten()}).to(at::kCPU, at::kFloat);
      const at::Tensor finite = both.masked_select(at::isfinite(both));
      const float m = finite.numel() ? finite.abs().max().item<float>() : 1.0f;
      lo.push_back(-std::max(m, 1e-6f));
      hi.push_back(std::max(m, 1e-6f));
    }
    const Image after_out = output_to_images(r.output, card).at(0);
    const std::string stem = "edit" + std::to_string(k);
    const std::string tb = save(stem + "_tap_before.png", channel_strip(before_tap, channels, lo, hi));
    const std::string ta = save(stem + "_tap_after.png", channel_strip(after_tap, channels, lo, hi));
    const std::string ob = save(stem + "_output_before.png", enlarge(before_out, 128));
    const std::string oa = save(stem + "_output_after.png", enlarge(after_out, 128));
    std::string shown_text;
    for (const auto c : channels) shown_text += (shown_text.empty() ? "" : ", ") + std::to_string(c);
    body << "<section class=\"edit\" id=\"" << html_escape(e->id) << "\"><h3>" << k << ". " << html_escape(e->id) << ": "
         << html_escape(e->op) << " at " << html_escape(e->tap) << " (" << info.height << "&times;" << info.width
         << ", " << info.channels << " channels)</h3>\n<pre>" << html_escape(e->to_json().dump()) << "</pre>\n"
         << "<p>Channels shown: " << shown_text
         << (shown < e->channels.resolve(info.channels, info.name, session.cluster_labels(info.name)).size() ? " (the first "
                 + std::to_string(shown) + " selected)" : std::string())
         << "; blue negative, white 0, red positive, one scale per channel for before and after.</p>\n"
         << "<table><tr><th>tap before</th><th>tap after</th><th>output before</th><th>output after</th></tr><tr>"
         << "<td><img src=\"" << tb << "\" alt=\"tap before\"></td><td><img src=\"" << ta << "\" alt=\"tap after\"></td>"
         << "<td><img src=\"" << ob << "\" alt=\"output before\"></td><td><img src=\"" << oa
         << "\" alt=\"output after\"></td></tr></table>\n<p>Re-render: " << fixed(ms, 1) << " ms.</p></section>\n";
    before_out = after_out;
    report_progress(progress, ++done, steps);
  }

  std::ostringstream sweep_html;
  if (options.sweep && !enabled.empty()) {
    Session s = session;
    t0 = std::chrono::steady_clock::now();
    const SweepResult sweep = sweep_edit(renderer, s, enabled.back()->id);
    timings.emplace_back("depth sweep of " + enabled.back()->id + " (" + std::to_string(sweep.steps.size()) + " taps)", ms_since(t0));
    const std::string png = save("sweep.png", sweep_strip(sweep));
    sweep_html << "<h2>Depth sweep of " << html_escape(enabled.back()->id) << "</h2>\n<p>The last edit applied at each tap "
               << "in turn instead of " << html_escape(sweep.source_tap)
               << " (docs/research.md: coordinates rescaled, channels mapped by fraction).</p>\n<img src=\"" << png
               << "\" alt=\"depth sweep\">\n<table><tr><th>tap</th><th>size</th><th>mean |change| (8-bit)</th><th>ms</th></tr>\n";
    for (const auto& st : sweep.steps) {
      sweep_html << "<tr><td>" << html_escape(st.tap.name) << "</td><td>" << st.tap.height << "&times;" << st.tap.width << "&times;"
                 << st.tap.channels << "</td><td>"
                 << (st.applied ? fixed(st.mean_abs_change, 3) : "skipped: " + html_escape(st.skipped)) << "</td><td>"
                 << (st.applied ? fixed(st.ms, 1) : "") << "</td></tr>\n";
    }
    sweep_html << "</table>\n";
  }
  report_progress(progress, ++done, steps);

  std::string weights_sha = session.weights_sha256;
  std::string weights_file;
  try {
    weights_file = resolve_weights_path(card);
    weights_sha = sha256_file(weights_file);
  } catch (const Error&) {
  }
  std::string card_text;
  try {
    card_text = read_file_text(card.path);
  } catch (const Error&) {
    card_text = card.document.dump(2);
  }
  timings.emplace_back("report in all", ms_since(t_start));

  std::ostringstream html;
  html << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>actmap report: "
       << html_escape(card.name) << "</title>\n<style>body{font-family:sans-serif;max-width:72em;margin:1em auto;padding:0 1em}"
       << "img{image-rendering:pixelated;border:1px solid #ccc}pre{background:#f4f4f4;padding:.5em;overflow-x:auto;"
       << "white-space:pre-wrap}td,th{padding:.2em .6em;text-align:left;vertical-align:top}</style></head><body>\n"
       << "<h1>actmap report</h1>\n<h2>Regenerate</h2>\n<p>In <code>" << html_escape(options.working_dir) << "</code>:</p>\n<pre>"
       << html_escape(options.command) << "</pre>\n<h2>Model</h2>\n<p><b>" << html_escape(card.name) << "</b> ("
       << html_escape(card.family) << "), card <code>" << html_escape(card.path) << "</code>; weights <code>"
       << html_escape(weights_file) << "</code>, sha256 <code>" << html_escape(weights_sha) << "</code>"
       << (!session.weights_sha256.empty() && session.weights_sha256 != weights_sha
               ? " <b>(the session was made with " + html_escape(session.weights_sha256) + ")</b>"
               : std::string())
       << ".</p>\n<details><summary>model card</summary><pre>" << html_escape(card_text) << "</pre></details>\n"
       << "<h2>Latent</h2>\n<p>" << html_escape(session.latent.describe()) << "; synthesis "
       << html_escape(session.synthesis.to_json().dump()) << "; " << enabled.size() << " enabled edit(s) of "
       << session.edits.size() << ".</p>\n<p><img src=\"" << unedited_png << "\" alt=\"unedited output\"></p>\n"
       << "<h2>Edits</h2>\n" << body.str() << sweep_html.str() << "<h2>Timings</h2>\n<table>\n";
  for (const auto& [what, ms] : timings) html << "<tr><td>" << html_escape(what) << "</td><td>" << fixed(ms, 1) << " ms</td></tr>\n";
  html << "</table>\n<p>Device " << html_escape(gen.device()) << ".</p>\n</body></html>\n";
  result.index = (fs::path(dir) / "index.html").string();
  write_file_atomic(result.index, html.str());
  result.files.push_back(result.index);
  return result;
}

}  // namespace actmap
