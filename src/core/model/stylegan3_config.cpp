#include "actmap/model/stylegan3_config.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>

#include "actmap/io/error.h"

using nlohmann::json;

namespace actmap {
namespace {

// Typed lookups in the config object, then in its official sub-dictionary; errors name the key
// where it was found.
class ConfigReader {
 public:
  ConfigReader(const json& top, const json* nested, std::string where, std::string nested_where)
      : top_(top), nested_(nested), where_(std::move(where)), nested_where_(std::move(nested_where)) {}

  bool has(const std::string& key) const { return top_.contains(key) || (nested_ && nested_->contains(key)); }
  [[noreturn]] void fail(const std::string& key, const std::string& what) const {
    throw Error(place(key) + ": " + what);
  }
  std::int64_t integer(const std::string& key, std::int64_t min_value, std::optional<std::int64_t> dflt = {}) const {
    const json* v = find(key);
    if (!v) {
      if (!dflt) fail(key, "missing required key");
      return *dflt;
    }
    if (!v->is_number_integer()) fail(key, "must be an integer, got " + v->dump());
    const auto x = v->get<std::int64_t>();
    if (x < min_value) fail(key, "must be at least " + std::to_string(min_value) + ", got " + v->dump());
    return x;
  }
  double number(const std::string& key, double dflt, bool positive) const {
    const json* v = find(key);
    if (!v) return dflt;
    if (!v->is_number() || !std::isfinite(v->get<double>())) fail(key, "must be a number, got " + v->dump());
    if (positive && !(v->get<double>() > 0)) fail(key, "must be positive, got " + v->dump());
    return v->get<double>();
  }
  bool boolean(const std::string& key, bool dflt) const {
    const json* v = find(key);
    if (!v) return dflt;
    if (!v->is_boolean()) fail(key, "must be true or false, got " + v->dump());
    return v->get<bool>();
  }
  const json* find(const std::string& key) const {
    if (top_.contains(key)) return &top_.at(key);
    if (nested_ && nested_->contains(key)) return &nested_->at(key);
    return nullptr;
  }
  std::string place(const std::string& key) const {
    return (top_.contains(key) || !nested_ || !nested_->contains(key) ? where_ : nested_where_) + "." + key;
  }

 private:
  const json& top_;
  const json* nested_;
  std::string where_, nested_where_;
};

constexpr std::array<const char*, 5> kTopKeys = {"z_dim", "c_dim", "w_dim", "img_resolution", "img_channels"};
constexpr std::array<const char*, 3> kMappingKeys = {"num_layers", "lr_multiplier", "w_avg_beta"};
constexpr std::array<const char*, 16> kSynthesisKeys = {
    "channel_base",      "channel_max", "num_layers",   "num_critical", "first_cutoff", "first_stopband",
    "last_stopband_rel", "margin_size", "output_scale", "num_fp16_res", "conv_kernel",  "filter_size",
    "lrelu_upsampling",  "use_radial_filters", "conv_clamp", "magnitude_ema_beta"};

template <std::size_t N>
bool listed(const std::array<const char*, N>& keys, const std::string& key) {
  return std::any_of(keys.begin(), keys.end(), [&](const char* k) { return key == k; });
}

template <std::size_t N>
std::string list_text(const std::array<const char*, N>& keys) {
  std::string out;
  for (const char* k : keys) out += (out.empty() ? "" : ", ") + std::string(k);
  return out;
}

}  // namespace

StyleGAN3Config parse_stylegan3_config(const json& config, const std::string& where) {
  if (!config.is_object()) throw Error(where + ": must be an object with the Generator's arguments");
  auto sub = [&](const char* key) -> const json* {
    if (!config.contains(key)) return nullptr;
    if (!config.at(key).is_object()) throw Error(where + "." + key + ": must be an object");
    return &config.at(key);
  };
  const json* mapping = sub("mapping_kwargs");
  const json* synthesis = sub("synthesis_kwargs");
  // Unknown keys could change what the network computes: refuse them by name.
  for (const auto& [key, v] : config.items()) {
    if (key != "mapping_kwargs" && key != "synthesis_kwargs" && !listed(kTopKeys, key) && !listed(kSynthesisKeys, key)) {
      throw Error(where + "." + key + ": unknown key (known: " + list_text(kTopKeys) +
                  ", mapping_kwargs, synthesis_kwargs, and the synthesis arguments " + list_text(kSynthesisKeys) + ")");
    }
  }
  if (mapping) {
    for (const auto& [key, v] : mapping->items()) {
      if (!listed(kMappingKeys, key)) throw Error(where + ".mapping_kwargs." + key + ": unknown key (known: " + list_text(kMappingKeys) + ")");
    }
  }
  if (synthesis) {
    for (const auto& [key, v] : synthesis->items()) {
      if (!listed(kSynthesisKeys, key)) {
        throw Error(where + ".synthesis_kwargs." + key + ": unknown key (known: " + list_text(kSynthesisKeys) + ")");
      }
    }
  }
  const ConfigReader top(config, nullptr, where, where);
  const ConfigReader s(config, synthesis, where, where + ".synthesis_kwargs");

  StyleGAN3Config c;
  c.z_dim = top.integer("z_dim", 1);
  c.w_dim = top.integer("w_dim", 1);
  c.c_dim = top.integer("c_dim", 0, 0);
  if (c.c_dim != 0) top.fail("c_dim", "conditional StyleGAN3 generators (c_dim > 0) are not supported yet");
  c.img_resolution = top.integer("img_resolution", 4);
  if (c.img_resolution > 8192) top.fail("img_resolution", "must be at most 8192, got " + std::to_string(c.img_resolution));
  c.img_channels = top.integer("img_channels", 1);
  // The mapping's num_layers lives only in mapping_kwargs (a flat num_layers is the synthesis').
  static const json kNone = json::object();
  const ConfigReader mk(kNone, mapping, where, where + ".mapping_kwargs");
  c.mapping_layers = mk.integer("num_layers", 1, 2);
  c.mapping_lr_multiplier = mk.number("lr_multiplier", 0.01, true);

  c.channel_base = s.integer("channel_base", 1, 32768);
  c.channel_max = s.integer("channel_max", 1, 512);
  c.num_layers = s.integer("num_layers", 1, 14);
  c.num_critical = s.integer("num_critical", 0, 2);
  if (c.num_critical >= c.num_layers) {
    s.fail("num_critical", "must be smaller than num_layers (" + std::to_string(c.num_layers) + "), got " +
                               std::to_string(c.num_critical));
  }
  c.first_cutoff = s.number("first_cutoff", c.first_cutoff, true);
  c.first_stopband = s.number("first_stopband", c.first_stopband, true);
  c.last_stopband_rel = s.number("last_stopband_rel", c.last_stopband_rel, true);
  c.margin_size = s.integer("margin_size", 0, 10);
  c.output_scale = s.number("output_scale", 0.25, false);
  c.num_fp16_res = s.integer("num_fp16_res", 0, 4);
  c.conv_kernel = s.integer("conv_kernel", 1, 3);
  if (c.conv_kernel > 15) s.fail("conv_kernel", "must be at most 15, got " + std::to_string(c.conv_kernel));
  c.filter_size = s.integer("filter_size", 1, 6);
  if (c.filter_size > 64) s.fail("filter_size", "must be at most 64, got " + std::to_string(c.filter_size));
  c.lrelu_upsampling = s.number("lrelu_upsampling", 2.0, true);
  c.use_radial_filters = s.boolean("use_radial_filters", false);
  if (const json* clamp = s.find("conv_clamp")) {
    if (clamp->is_null()) {
      c.conv_clamp.reset();
    } else {
      const double v = s.number("conv_clamp", 0.0, false);
      if (!(v >= 0)) s.fail("conv_clamp", "must be a non-negative number or null, got " + clamp->dump());
      c.conv_clamp = v;
    }
  }
  try {
    c.layers();  // the geometry must work out now, before any weights are read
  } catch (const Error& e) {
    throw Error(where + ": " + e.what());
  }
  return c;
}

StyleGAN3Input StyleGAN3Config::input() const {
  const auto layers_ = layers();
  StyleGAN3Input in;
  in.channels = layers_.front().in_channels;
  in.size = layers_.front().in_size;
  in.sampling_rate = layers_.front().in_rate;
  in.bandwidth = layers_.front().in_cutoff;
  return in;
}

std::vector<StyleGAN3Layer> StyleGAN3Config::layers() const {
  // SynthesisNetwork.__init__: geometric progressions of cutoffs and stopbands, then the rates,
  // transition bands, sizes and channels per layer, all in double as NumPy computes them.
  const std::int64_t n = num_layers;
  const double last_cutoff = static_cast<double>(img_resolution) / 2;
  const double last_stopband = last_cutoff * last_stopband_rel;
  const auto count = static_cast<std::size_t>(n + 1);
  std::vector<double> cutoffs(count), stopbands(count), rates(count), half_widths(count), sizes(count), channels(count);
  for (std::size_t i = 0; i < count; ++i) {
    const double e = std::min(static_cast<double>(i) / static_cast<double>(n - num_critical), 1.0);
    cutoffs[i] = first_cutoff * std::pow(last_cutoff / first_cutoff, e);
    stopbands[i] = first_stopband * std::pow(last_stopband / first_stopband, e);
    rates[i] = std::exp2(std::ceil(std::log2(std::min(stopbands[i] * 2, static_cast<double>(img_resolution)))));
    half_widths[i] = std::max(stopbands[i], rates[i] / 2) - cutoffs[i];
    sizes[i] = rates[i] + static_cast<double>(margin_size) * 2;
    channels[i] = std::nearbyint(std::min((static_cast<double>(channel_base) / 2) / cutoffs[i], static_cast<double>(channel_max)));
  }
  sizes[count - 1] = sizes[count - 2] = static_cast<double>(img_resolution);
  channels[count - 1] = static_cast<double>(img_channels);

  std::vector<StyleGAN3Layer> out;
  for (std::size_t i = 0; i < count; ++i) {
    const std::size_t p = i == 0 ? 0 : i - 1;
    StyleGAN3Layer l;
    l.torgb = i + 1 == count;
    l.critically_sampled = static_cast<std::int64_t>(i) >= n - num_critical;
    l.in_channels = static_cast<std::int64_t>(channels[p]);
    l.out_channels = static_cast<std::int64_t>(channels[i]);
    l.in_size = static_cast<std::int64_t>(sizes[p]);
    l.out_size = static_cast<std::int64_t>(sizes[i]);
    if (l.in_channels < 1 || l.out_channels < 1) {
      throw Error("channel_base " + std::to_string(channel_base) + " leaves no channels in layer " + std::to_string(i));
    }
    // The layer takes its rates as ints.
    l.in_rate = std::trunc(rates[p]);
    l.out_rate = std::trunc(rates[i]);
    l.tmp_rate = std::max(l.in_rate, l.out_rate) * (l.torgb ? 1.0 : lrelu_upsampling);
    l.in_cutoff = cutoffs[p];
    l.out_cutoff = cutoffs[i];
    l.in_half_width = half_widths[p];
    l.out_half_width = half_widths[i];
    l.kernel = l.torgb ? 1 : conv_kernel;
    l.up = static_cast<std::int64_t>(std::nearbyint(l.tmp_rate / l.in_rate));
    l.down = static_cast<std::int64_t>(std::nearbyint(l.tmp_rate / l.out_rate));
    if (l.up < 1 || l.down < 1 || l.in_rate * static_cast<double>(l.up) != l.tmp_rate ||
        l.out_rate * static_cast<double>(l.down) != l.tmp_rate) {
      throw Error("lrelu_upsampling " + std::to_string(lrelu_upsampling) + " gives layer " + std::to_string(i) +
                  " a rate that is not a whole multiple of its input and output rates (" + std::to_string(l.in_rate) +
                  ", " + std::to_string(l.out_rate) + ")");
    }
    l.up_taps = l.up > 1 && !l.torgb ? filter_size * l.up : 1;
    l.down_taps = l.down > 1 && !l.torgb ? filter_size * l.down : 1;
    l.radial = use_radial_filters && !l.critically_sampled;
    std::int64_t total = (l.out_size - 1) * l.down + 1;
    total -= (l.in_size + l.kernel - 1) * l.up;
    total += l.up_taps + l.down_taps - 2;
    const std::int64_t sum = total + l.up;  // Python's floor division
    l.pad0 = sum >= 0 ? sum / 2 : -((-sum + 1) / 2);
    l.pad1 = total - l.pad0;
    const std::int64_t tmp = (l.in_size + l.kernel - 1) * l.up + l.pad0 + l.pad1 - l.up_taps + 1;
    if (tmp < l.down_taps || l.in_size + l.kernel - 1 < 1) {
      throw Error("layer " + std::to_string(i) + " would be empty (" + std::to_string(l.in_size) + " -> " +
                  std::to_string(l.out_size) + " pixels)");
    }
    l.name = "L" + std::to_string(i) + "_" + std::to_string(l.out_size) + "_" + std::to_string(l.out_channels);
    out.push_back(l);
  }
  return out;
}

nlohmann::json infer_stylegan3_config(const std::map<std::string, FloatTensor>& tensors, std::vector<std::string>* notes) {
  auto shape = [&](const std::string& key, std::size_t rank) -> const std::vector<std::int64_t>& {
    const auto it = tensors.find(key);
    if (it == tensors.end()) throw Error("StyleGAN3 state dict lacks '" + key + "'");
    if (it->second.shape.size() != rank) {
      throw Error("StyleGAN3 tensor '" + key + "' has " + std::to_string(it->second.shape.size()) + " dimensions, expected " +
                  std::to_string(rank));
    }
    return it->second.shape;
  };
  std::int64_t mapping_layers = 0;
  while (tensors.count("mapping.fc" + std::to_string(mapping_layers) + ".weight")) ++mapping_layers;
  if (mapping_layers == 0) throw Error("not an official StyleGAN3 generator state dict (no mapping.fc0.weight)");
  const std::int64_t z_dim = shape("mapping.fc0.weight", 2)[1];
  const std::int64_t w_dim = shape("mapping.fc" + std::to_string(mapping_layers - 1) + ".weight", 2)[0];
  if (tensors.count("mapping.embed.weight")) throw Error("conditional StyleGAN3 generators (mapping.embed) are not supported yet");
  const std::int64_t input_channels = shape("synthesis.input.weight", 2)[0];
  // The layers by index: "synthesis.L{i}_{size}_{channels}.weight".
  std::map<std::int64_t, std::string> names;
  bool radial = false;
  for (const auto& [key, t] : tensors) {
    if (key.rfind("synthesis.L", 0) != 0) continue;
    const std::string rest = key.substr(10);
    const std::string name = rest.substr(0, rest.find('.'));
    long long index = 0;
    if (std::sscanf(name.c_str(), "L%lld_", &index) != 1) continue;
    names[index] = name;
    if (rest == name + ".down_filter" && t.shape.size() == 2) radial = true;
  }
  if (names.size() < 2 || names.rbegin()->first + 1 != static_cast<std::int64_t>(names.size())) {
    throw Error("StyleGAN3 state dict: synthesis layers L0 ... L{n} not found in order");
  }
  long long last_size = 0, last_channels = 0, dummy = 0;
  std::sscanf(names.rbegin()->second.c_str(), "L%lld_%lld_%lld", &dummy, &last_size, &last_channels);
  const std::int64_t conv_kernel = shape("synthesis." + names.begin()->second + ".weight", 4)[3];
  std::int64_t channel_max = 0;
  for (const auto& [i, name] : names) {
    if (i + 1 < static_cast<std::int64_t>(names.size())) channel_max = std::max(channel_max, shape("synthesis." + name + ".weight", 4)[0]);
  }
  StyleGAN3Config c;
  c.z_dim = z_dim;
  c.w_dim = w_dim;
  c.img_resolution = last_size;
  c.img_channels = last_channels;
  c.mapping_layers = mapping_layers;
  c.num_layers = static_cast<std::int64_t>(names.size()) - 1;
  c.conv_kernel = conv_kernel;
  c.use_radial_filters = radial;
  c.channel_max = channel_max;
  std::vector<std::int64_t> bases;
  for (std::int64_t b = 64; b <= (std::int64_t(1) << 22); b *= 2) bases.push_back(b);
  for (std::int64_t d = -3; d <= 3; ++d) bases.push_back(input_channels * 4 + d);  // L0's cutoff is 2: base / 4 channels
  for (std::int64_t base : bases) {
    for (std::int64_t margin = 0; margin <= 64; ++margin) {
      c.channel_base = base;
      c.margin_size = margin;
      std::vector<StyleGAN3Layer> layers;
      try {
        layers = c.layers();
      } catch (const Error&) {
        continue;
      }
      bool same = c.input().channels == input_channels;
      for (std::size_t i = 0; same && i < layers.size(); ++i) same = layers[i].name == names[static_cast<std::int64_t>(i)];
      if (!same) continue;
      if (notes) {
        notes->push_back("StyleGAN3 config read off the layer names and shapes; assumed the defaults for the rest "
                         "(mapping lr_multiplier 0.01, conv_clamp 256, first_cutoff 2, filter_size 6, output_scale 0.25, ...): "
                         "check them against the training options");
      }
      return {{"z_dim", z_dim}, {"c_dim", 0}, {"w_dim", w_dim}, {"img_resolution", c.img_resolution},
              {"img_channels", c.img_channels}, {"mapping_kwargs", {{"num_layers", mapping_layers}}},
              {"synthesis_kwargs", {{"channel_base", base}, {"channel_max", channel_max}, {"num_layers", c.num_layers},
                                    {"margin_size", margin}, {"conv_kernel", conv_kernel}, {"use_radial_filters", radial}}}};
    }
  }
  throw Error("StyleGAN3 state dict: no config with the default cutoffs, stopbands and filter sizes gives its layers (" +
              names.begin()->second + " ... " + names.rbegin()->second + "); import the network pickle, whose kwargs say, or "
              "write the card's config by hand (docs/stylegan3.md)");
}

std::vector<double> stylegan3_input_transform(double rotate_degrees, double translate_x, double translate_y) {
  // make_transform: [[c, s, tx], [-s, c, ty], [0, 0, 1]] with the angle in degrees; its inverse
  // rotates back and undoes the translation: [[c, -s, -(c tx - s ty)], [s, c, -(s tx + c ty)]].
  const double a = rotate_degrees / 360.0 * 3.14159265358979323846 * 2;
  const double s = std::sin(a), c = std::cos(a);
  return {c, -s, -(c * translate_x - s * translate_y), s, c, -(s * translate_x + c * translate_y), 0.0, 0.0, 1.0};
}

}  // namespace actmap
