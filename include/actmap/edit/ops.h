// The one registry of edit operations: names and parameter schemas, which the GUI draws its
// controls from and which every edit is validated against. No LibTorch types here.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace actmap {

// Number and Integer carry an inclusive range; Choice a list of names; Points is a list of
// [x, y] pairs in tap coordinates (the centre of the pixel in row r, column c is (c, r)).
enum class ParamType { Number, Integer, Boolean, Choice, Points };

struct ParamSpec {
  std::string name;
  ParamType type = ParamType::Number;
  double min = 0.0, max = 0.0;        // inclusive range for Number and Integer
  nlohmann::json default_value;
  std::vector<std::string> choices;   // Choice
  std::string help;
  double ui_min = 0.0, ui_max = 0.0;  // a slider's natural range (inside [min, max])
  bool odd = false;                   // Integer: must be odd (filter sizes)
  bool required = false;              // no default: an edit must give it (a brush's stroke)
};

struct OpSpec {
  std::string name;
  std::string category;  // "paint", "geometry", "value", "filter", "channel", "latent" (W+ only),
                         // "weight" (the kernels of the layer producing the tap)
  std::string help;
  std::vector<ParamSpec> params;  // every op also lists "renormalize" last
  // Checks among parameters (e.g. clamp's lo <= hi); throws actmap::Error naming the key.
  std::function<void(const nlohmann::json& params, const std::string& where)> check;
};

const std::vector<OpSpec>& op_registry();
const OpSpec* find_op(const std::string& name);
std::string op_names();  // "fill, multiply, ..." for messages

// Checks op name and parameters (unknown names, wrong types, out-of-range values) and returns the
// parameters with defaults filled in. `where` is the edit's JSON pointer (e.g. "/edits/2");
// errors read "/edits/2/params/degrees: expected a number, got \"ninety\"".
nlohmann::json validate_op_params(const std::string& op, const nlohmann::json& params, const std::string& where);

}  // namespace actmap
