#include "actmap/edit/ops.h"

#include <cmath>

#include "actmap/io/error.h"

using nlohmann::json;

namespace actmap {
namespace {

constexpr double kBig = 1e6;           // the widest value range an op accepts
constexpr double kMaxSeed = 9007199254740992.0;  // 2^53: every seed survives a round trip through double
constexpr std::size_t kMaxPoints = 100000;

ParamSpec number(const char* name, double min, double max, double dflt, double ui_min, double ui_max, const char* help) {
  ParamSpec p;
  p.name = name;
  p.type = ParamType::Number;
  p.min = min;
  p.max = max;
  p.default_value = dflt;
  p.ui_min = ui_min;
  p.ui_max = ui_max;
  p.help = help;
  return p;
}

ParamSpec integer(const char* name, double min, double max, std::int64_t dflt, double ui_max, const char* help,
                  bool odd = false) {
  ParamSpec p = number(name, min, max, 0.0, min, ui_max, help);
  p.type = ParamType::Integer;
  p.default_value = dflt;
  p.odd = odd;
  return p;
}

ParamSpec choice(const char* name, std::vector<std::string> choices, const char* help) {
  ParamSpec p;
  p.name = name;
  p.type = ParamType::Choice;
  p.default_value = choices.front();
  p.choices = std::move(choices);
  p.help = help;
  return p;
}

ParamSpec points(const char* help) {
  ParamSpec p;
  p.name = "points";
  p.type = ParamType::Points;
  p.default_value = json::array();
  p.help = help;
  p.required = true;
  return p;
}

ParamSpec seed(const char* help) { return integer("seed", 0, kMaxSeed, 0, 1000, help); }

ParamSpec radius_param() {
  return number("radius", 0.1, 1e4, 2.0, 0.5, 32.0, "Brush radius in tap pixels");
}

ParamSpec edge_param() {
  return choice("edge", {"soft", "hard"},
                "soft: weight falls linearly from 1 at the stroke to 0 at the radius; hard: 1 within the radius");
}

ParamSpec shape_param() {
  return choice("shape", {"square", "ellipse"},
                "square: every pixel of the (2r+1) x (2r+1) square; ellipse: OpenCV's elliptical element of that size "
                "(Network Bending's; a cross at r = 1)");
}

std::string fmt(double v) { return json(v).dump(); }

void check_order(const json& p, const char* lo, const char* hi, const std::string& where, const char* what) {
  if (p.at(lo).get<double>() > p.at(hi).get<double>()) {
    throw Error(where + "/params/" + hi + ": " + fmt(p.at(hi).get<double>()) + " is " + what + " " + lo + " " +
                fmt(p.at(lo).get<double>()));
  }
}

std::vector<OpSpec> build_registry() {
  std::vector<OpSpec> ops = {
      // Painting: the Activation Map Editor's tools. Strokes are stored in tap coordinates, so
      // they replay on any latent.
      {"brush", "paint",
       "Paint a stroke: the points are joined into a polyline; each pixel's weight w comes from its distance "
       "to the line. add: x + strength*w; subtract: x - strength*w; set: x + (strength - x)*w.",
       {points("The stroke, as [x, y] points in tap pixels"), radius_param(),
        number("strength", -kBig, kBig, 1.0, 0.0, 10.0, "How much to add or subtract, or the value to set"), edge_param(),
        choice("mode", {"add", "subtract", "set"}, "add, subtract (shift in the editor) or set")},
       {}},
      {"fill", "paint", "Set every selected value to a constant.",
       {number("value", -kBig, kBig, 0.0, -10.0, 10.0, "The value to write")}, {}},
      {"rect", "paint",
       "Set a rectangle to a value: the pixels whose centres (column, row) lie in [x0, x1] x [y0, y1].",
       {number("x0", -kBig, kBig, 0.0, 0.0, 64.0, "Left column"), number("y0", -kBig, kBig, 0.0, 0.0, 64.0, "Top row"),
        number("x1", -kBig, kBig, 0.0, 0.0, 64.0, "Right column (inclusive)"),
        number("y1", -kBig, kBig, 0.0, 0.0, 64.0, "Bottom row (inclusive)"),
        number("value", -kBig, kBig, 0.0, -10.0, 10.0, "The value to write")},
       [](const json& p, const std::string& where) {
         check_order(p, "x0", "x1", where, "left of");
         check_order(p, "y0", "y1", where, "above");
       }},
      {"erase", "paint", "Restore the unedited activation under a stroke (weighted like the brush).",
       {points("The stroke, as [x, y] points in tap pixels"), radius_param(), edge_param()}, {}},

      // Geometry: about the map's centre, zeros where nothing maps (the `convention` says whose
      // centre and sampling; docs/research.md).
      {"rotate", "geometry", "Rotate about the centre, counter-clockwise as seen on screen (zeros outside).",
       {number("degrees", -3600.0, 3600.0, 0.0, -180.0, 180.0, "Angle in degrees, counter-clockwise"),
        choice("convention", {"actmap", "network_bending", "tensorflow"},
               "actmap: about the pixel grid's centre ((W-1)/2, (H-1)/2), exact bilinear, quarter turns exact; "
               "network_bending: Network Bending's OpenCV rotate about (W/2, H/2) (warpAffine: bilinear on a "
               "1/32-pixel grid, zeros outside); tensorflow: the bending report's tfa.image.rotate (nearest, "
               "reflected borders)")},
       {}},
      {"scale", "geometry", "Zoom about the centre: 2 doubles the size, 0.5 halves it, negative turns it 180 degrees too "
       "(zeros outside).",
       {number("factor", -100.0, 100.0, 1.0, 0.25, 4.0, "Zoom factor (at least 0.01 in size with the actmap convention)"),
        choice("convention", {"actmap", "network_bending"},
               "actmap: about the pixel grid's centre, exact bilinear; network_bending: Network Bending's OpenCV "
               "scale about (W/2, H/2) (warpAffine: bilinear on a 1/32-pixel grid, zeros outside)")},
       [](const json& p, const std::string& where) {
         if (p.at("convention") == "actmap" && std::abs(p.at("factor").get<double>()) < 0.01) {
           throw Error(where + "/params/factor: " + fmt(p.at("factor").get<double>()) +
                       " is too small: the actmap convention needs |factor| >= 0.01");
         }
       }},
      {"translate", "geometry", "Shift by fractions of the map (as in Network Bending); zeros move in.",
       {number("dx", -10.0, 10.0, 0.0, -1.0, 1.0, "Rightwards, as a fraction of the width"),
        number("dy", -10.0, 10.0, 0.0, -1.0, 1.0, "Downwards, as a fraction of the height"),
        choice("convention", {"actmap", "network_bending", "tensorflow"},
               "actmap: exact bilinear shift; network_bending: Network Bending's OpenCV translate (warpAffine by "
               "dx H and dy W pixels on a 1/32-pixel grid); tensorflow: the bending report's tfa.image.translate "
               "(nearest, reflected borders)")},
       {}},
      {"flip", "geometry", "Mirror the whole map.",
       {choice("axis", {"horizontal", "vertical"}, "horizontal: left and right swap; vertical: top and bottom swap")}, {}},
      {"mirror", "geometry", "Replace half of the map by the reflection of the other half.",
       {choice("axis", {"x", "y"}, "x: the right half becomes the reflected left half; y: the bottom half the reflected top")},
       {}},

      // Values.
      {"multiply", "value", "Scale the selected activations.",
       {number("factor", -kBig, kBig, 1.0, -8.0, 8.0, "Multiplier; 0 ablates, negative flips the sign")}, {}},
      {"add", "value", "Add a constant to the selected activations.",
       {number("value", -kBig, kBig, 0.0, -10.0, 10.0, "The value to add")}, {}},
      {"negate", "value", "-x.", {}, {}},
      {"invert", "value", "1 - x (Network Bending's invert).", {}, {}},
      {"threshold", "value", "Binary: 1 where x > t, else 0.",
       {number("t", -kBig, kBig, 0.0, -5.0, 5.0, "Threshold")}, {}},
      {"clamp", "value", "Limit values to [lo, hi].",
       {number("lo", -kBig, kBig, 0.0, -10.0, 10.0, "Lower bound"),
        number("hi", -kBig, kBig, 1.0, -10.0, 10.0, "Upper bound")},
       [](const json& p, const std::string& where) { check_order(p, "lo", "hi", where, "below"); }},
      {"ablate", "value", "Zero the selected channels (switch the units off).", {}, {}},

      // Morphology and filters; borders use only the pixels inside the map (edge values repeat).
      {"erode", "filter", "Grey-scale erosion: the minimum over a (2r+1) x (2r+1) square or ellipse.",
       {integer("radius", 0, 64, 1, 8, "Half the element's side (0: unchanged)"), shape_param()}, {}},
      {"dilate", "filter", "Grey-scale dilation: the maximum over a (2r+1) x (2r+1) square or ellipse.",
       {integer("radius", 0, 64, 1, 8, "Half the element's side (0: unchanged)"), shape_param()}, {}},
      {"mean_filter", "filter", "Mean over a size x size square.",
       {integer("size", 1, 129, 3, 15, "Odd side length", /*odd=*/true),
        choice("border", {"inside", "reflect"},
               "inside: only pixels inside the map count; reflect: the map reflected beyond its edges, without "
               "repeating them (tfa.image.mean_filter2d, as the bending report calls it)")},
       {}},
      {"gaussian_blur", "filter", "Gaussian blur (kernel radius ceil(3 sigma), edges repeat).",
       {number("sigma", 0.01, 64.0, 1.0, 0.1, 8.0, "Standard deviation in tap pixels")}, {}},
      {"sharpen", "filter", "x + amount * (4x - the four neighbours); amount 1 is the classic sharpen kernel.",
       {number("amount", -100.0, 100.0, 1.0, 0.0, 5.0, "Strength")}, {}},
      {"sobel", "filter", "Gradient magnitude sqrt(gx^2 + gy^2) with 3x3 Sobel kernels (edges repeat).", {}, {}},

      // Channel-level.
      {"shuffle", "channel", "Permute the selected channels among themselves (seeded).",
       {seed("Seed of the permutation")}, {}},
      {"vanish", "channel", "Replace each selected channel by an unselected one.",
       {seed("Seed of the choice"),
        choice("pick", {"seeded", "repeat"},
               "seeded: an unselected channel chosen with the seed; repeat: the bending report's order (the "
               "unselected channels each repeated C // U times, then the first C % U; channel c takes entry c)")},
       {}},
      {"sin_disrupt", "channel",
       "Multiply by a sinusoid: x * sin(2 pi (fx * column / width + fy * row / height) + phase).",
       {number("fx", -1000.0, 1000.0, 1.0, -8.0, 8.0, "Cycles across the width"),
        number("fy", -1000.0, 1000.0, 0.0, -8.0, 8.0, "Cycles down the height"),
        number("phase", -1000.0, 1000.0, 0.0, -3.14159, 3.14159, "Phase in radians")},
       {}},
      {"sin_field", "channel",
       "Replace the map by amplitude * (sin(2 pi fy (row - y0) / height) + sin(2 pi fx (column - x0) / width)) "
       "(the bending report's sin_disrupt).",
       {number("amplitude", -kBig, kBig, 1.0, -8.0, 8.0, "Amplitude of each sinusoid"),
        number("fx", -1000.0, 1000.0, 1.0, -8.0, 8.0, "Cycles across the width"),
        number("fy", -1000.0, 1000.0, 1.0, -8.0, 8.0, "Cycles down the height"),
        number("x0", -kBig, kBig, 0.0, -16.0, 16.0, "Column where the horizontal sinusoid is 0"),
        number("y0", -kBig, kBig, 0.0, -16.0, 16.0, "Row where the vertical sinusoid is 0")},
       {}},

      // Weights: the kernels of the layer that produces the tap, for the selected output channels.
      // The loaded weights are never changed; a copy is edited for the run.
      {"weight_zero", "weight", "Set the kernels of the selected output channels to zero.", {}, {}},
      {"weight_ones", "weight", "Set every kernel entry of the selected output channels to one.", {}, {}},
      {"weight_negate", "weight", "Negate the kernels of the selected output channels.", {}, {}},
      {"weight_transpose", "weight", "Transpose each k x k kernel (rows become columns).", {}, {}},
      {"weight_rotate90", "weight", "Rotate each k x k kernel by 90 degrees counter-clockwise, `turns` times.",
       {integer("turns", 1, 3, 1, 3, "Quarter turns")}, {}},
      {"weight_mean", "weight", "Mean filter of the kernels: each k x k kernel becomes its mean everywhere (same sum).", {}, {}},

      // W+ (the tap "mapping" of StyleGAN2 models; channels are W+ rows). Other latents come
      // from seeds, mapped with the session's truncation.
      {"style_mix", "latent",
       "Style mixing: the selected W+ rows come from another seed's W+ (as the official visualizer's style-mix).",
       {seed("Seed of the other latent")}, {}},
      {"w_swap", "latent",
       "Swap the selected W+ rows between this latent and another seed's, and show one of the two results.",
       {seed("Seed of the other latent"),
        choice("show", {"other", "this"}, "other: the other latent with this one's rows; this: this latent with the other's")},
       {}},
      {"w_noise", "latent", "Add seeded Gaussian noise to the selected W+ rows.",
       {number("strength", -kBig, kBig, 0.5, 0.0, 4.0, "Standard deviation of the noise"), seed("Seed of the noise")}, {}},
      {"w_negate", "latent", "Negate the selected W+ rows about the average W (2 w_avg - w) or about zero (-w).",
       {choice("about", {"average", "zero"}, "average: reflect through w_avg; zero: plain -w")}, {}},
      {"interpolate", "latent",
       "Move towards another seed's latent: lerp in W, or slerp in z and map again; for the selected W+ rows.",
       {seed("Seed of the other latent"),
        number("position", -10.0, 10.0, 0.5, 0.0, 1.0, "0 = this latent, 1 = the other"),
        choice("space", {"w", "z"}, "w: linear interpolation of W+; z: spherical interpolation of z, then the mapping")},
       {}},
  };
  ParamSpec renorm;
  renorm.name = "renormalize";
  renorm.type = ParamType::Boolean;
  renorm.default_value = false;
  renorm.help = "Afterwards rescale each selected map to its mean and standard deviation before the edit";
  for (auto& op : ops) op.params.push_back(renorm);
  return ops;
}

void check_points(const json& v, const std::string& at) {
  if (!v.is_array()) throw Error(at + ": expected a list of [x, y] points, got " + v.dump());
  if (v.size() > kMaxPoints) throw Error(at + ": " + std::to_string(v.size()) + " points; at most " + std::to_string(kMaxPoints));
  for (std::size_t i = 0; i < v.size(); ++i) {
    const json& pt = v[i];
    if (!pt.is_array() || pt.size() != 2 || !pt[0].is_number() || !pt[1].is_number() ||
        !std::isfinite(pt[0].get<double>()) || !std::isfinite(pt[1].get<double>()) ||
        std::abs(pt[0].get<double>()) > kBig || std::abs(pt[1].get<double>()) > kBig) {
      throw Error(at + "/" + std::to_string(i) + ": expected an [x, y] pair of numbers, got " + pt.dump());
    }
  }
}

void check_value(const ParamSpec& p, const json& v, const std::string& at) {
  switch (p.type) {
    case ParamType::Number:
    case ParamType::Integer: {
      const bool integer = p.type == ParamType::Integer;
      // 3.0 is accepted as an integer: JSON does not tell 3 from 3.0 for many writers.
      if (!v.is_number() || (integer && !v.is_number_integer() && std::floor(v.get<double>()) != v.get<double>())) {
        throw Error(at + ": expected " + (integer ? "an integer" : "a number") + ", got " + v.dump());
      }
      const double x = v.get<double>();
      if (!std::isfinite(x) || x < p.min || x > p.max) {
        throw Error(at + ": " + v.dump() + " is outside [" + fmt(p.min) + ", " + fmt(p.max) + "]");
      }
      if (p.odd && std::fmod(x, 2.0) == 0.0) throw Error(at + ": " + v.dump() + " must be odd");
      break;
    }
    case ParamType::Boolean:
      if (!v.is_boolean()) throw Error(at + ": expected true or false, got " + v.dump());
      break;
    case ParamType::Choice: {
      bool ok = false;
      for (const auto& c : p.choices) ok = ok || (v.is_string() && v.get<std::string>() == c);
      if (!ok) {
        std::string names;
        for (const auto& c : p.choices) names += (names.empty() ? "\"" : ", \"") + c + "\"";
        throw Error(at + ": expected one of " + names + ", got " + v.dump());
      }
      break;
    }
    case ParamType::Points:
      check_points(v, at);
      break;
  }
}

}  // namespace

const std::vector<OpSpec>& op_registry() {
  static const std::vector<OpSpec> ops = build_registry();
  return ops;
}

const OpSpec* find_op(const std::string& name) {
  for (const auto& op : op_registry()) {
    if (op.name == name) return &op;
  }
  return nullptr;
}

std::string op_names() {
  std::string known;
  for (const auto& o : op_registry()) known += (known.empty() ? "" : ", ") + o.name;
  return known;
}

json validate_op_params(const std::string& op, const json& params, const std::string& where) {
  const OpSpec* spec = find_op(op);
  if (!spec) throw Error(where + "/op: unknown op \"" + op + "\" (known: " + op_names() + ")");
  if (!params.is_null() && !params.is_object()) throw Error(where + "/params: expected an object, got " + params.dump());
  json out = json::object();
  if (params.is_object()) {
    for (const auto& [key, value] : params.items()) {
      bool known = false;
      for (const auto& p : spec->params) known = known || p.name == key;
      if (!known) {
        std::string names;
        for (const auto& p : spec->params) names += (names.empty() ? "" : ", ") + p.name;
        throw Error(where + "/params/" + key + ": op \"" + op + "\" has no parameter \"" + key + "\" (parameters: " +
                    names + ")");
      }
    }
  }
  for (const auto& p : spec->params) {
    if (!params.is_object() || !params.contains(p.name)) {
      if (p.required) throw Error(where + "/params/" + p.name + ": missing (" + p.help + ")");
      out[p.name] = p.default_value;
      continue;
    }
    const json& v = params.at(p.name);
    check_value(p, v, where + "/params/" + p.name);
    // Integers are stored as integers even when written 3.0, so the canonical JSON is stable.
    out[p.name] = p.type == ParamType::Integer ? json(static_cast<std::int64_t>(v.get<double>())) : v;
  }
  if (spec->check) spec->check(out, where);
  return out;
}

}  // namespace actmap
