#include "actmap/model/synthesis.h"

#include <cmath>

#include "actmap/io/error.h"

using nlohmann::json;

namespace actmap {

const char* noise_mode_name(NoiseMode mode) {
  switch (mode) {
    case NoiseMode::Const: return "const";
    case NoiseMode::Random: return "random";
    case NoiseMode::None: return "none";
  }
  return "const";
}

std::optional<NoiseMode> noise_mode_from_name(const std::string& name) {
  if (name == "const") return NoiseMode::Const;
  if (name == "random") return NoiseMode::Random;
  if (name == "none") return NoiseMode::None;
  return std::nullopt;
}

SynthesisOptions SynthesisOptions::from_json(const json& j, const std::string& where) {
  if (!j.is_object()) throw Error(where + ": expected {\"truncation_psi\": ..., \"noise_mode\": ...}, got " + j.dump().substr(0, 80));
  SynthesisOptions o;
  for (const auto& [key, v] : j.items()) {
    const std::string at = where + "/" + key;
    if (key == "truncation_psi") {
      if (!v.is_number() || !std::isfinite(v.get<double>()) || std::abs(v.get<double>()) > 100.0) {
        throw Error(at + ": expected a number between -100 and 100 (1 = no truncation), got " + v.dump());
      }
      o.truncation_psi = v.get<double>();
    } else if (key == "truncation_cutoff") {
      if (v.is_null()) continue;
      if (!v.is_number_integer() || v.get<std::int64_t>() < 0 || v.get<std::int64_t>() > 100000) {
        throw Error(at + ": expected a number of W+ rows (a non-negative integer) or null, got " + v.dump());
      }
      o.truncation_cutoff = v.get<std::int64_t>();
    } else if (key == "noise_mode") {
      const auto mode = v.is_string() ? noise_mode_from_name(v.get<std::string>()) : std::nullopt;
      if (!mode) throw Error(at + ": expected \"const\", \"random\" or \"none\", got " + v.dump());
      o.noise_mode = *mode;
    } else if (key == "noise_seed") {
      if (!v.is_number_integer() || (!v.is_number_unsigned() && v.get<std::int64_t>() < 0)) {
        throw Error(at + ": expected a non-negative integer, got " + v.dump());
      }
      o.noise_seed = v.get<std::uint64_t>();
    } else if (key == "input_rotate") {
      if (!v.is_number() || !std::isfinite(v.get<double>()) || std::abs(v.get<double>()) > 1e6) {
        throw Error(at + ": expected an angle in degrees (a number, at most 1e6 in size), got " + v.dump());
      }
      o.input_rotate = v.get<double>();
    } else if (key == "input_translate") {
      const bool ok = v.is_array() && v.size() == 2 && v[0].is_number() && v[1].is_number() &&
                      std::isfinite(v[0].get<double>()) && std::isfinite(v[1].get<double>()) &&
                      std::abs(v[0].get<double>()) <= 1e6 && std::abs(v[1].get<double>()) <= 1e6;
      if (!ok) throw Error(at + ": expected [x, y], two numbers at most 1e6 in size, got " + v.dump().substr(0, 80));
      o.input_translate = {v[0].get<double>(), v[1].get<double>()};
    } else if (key == "class") {
      if (v.is_null()) continue;
      if (!v.is_number_integer() || v.get<std::int64_t>() < 0 || v.get<std::int64_t>() > 1000000) {
        throw Error(at + ": expected a class index (a non-negative integer), got " + v.dump());
      }
      o.class_index = v.get<std::int64_t>();
    } else if (key == "c") {
      if (!v.is_array() || v.empty() || v.size() > 1000000) {
        throw Error(at + ": expected the label vector c (a list of numbers, one per class), got " + v.dump().substr(0, 80));
      }
      for (std::size_t i = 0; i < v.size(); ++i) {
        if (!v[i].is_number() || !std::isfinite(v[i].get<double>())) {
          throw Error(at + "/" + std::to_string(i) + ": expected a finite number, got " + v[i].dump());
        }
        o.c.push_back(v[i].get<float>());
      }
    } else {
      throw Error(at + ": unknown key (known here: truncation_psi, truncation_cutoff, noise_mode, noise_seed, "
                  "input_rotate, input_translate, class, c)");
    }
  }
  if (o.class_index && !o.c.empty()) {
    throw Error(where + ": give either \"class\" (an index) or \"c\" (a vector), not both");
  }
  return o;
}

json SynthesisOptions::to_json() const {
  json j = {{"truncation_psi", truncation_psi}, {"noise_mode", noise_mode_name(noise_mode)}};
  j["truncation_cutoff"] = truncation_cutoff ? json(*truncation_cutoff) : json(nullptr);
  if (noise_mode == NoiseMode::Random) j["noise_seed"] = noise_seed;
  if (has_input_transform()) {
    j["input_rotate"] = input_rotate;
    j["input_translate"] = {input_translate[0], input_translate[1]};
  }
  if (class_index) j["class"] = *class_index;
  if (!c.empty()) j["c"] = c;
  return j;
}

}  // namespace actmap
