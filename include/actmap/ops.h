// The one registry of edit operations: names and parameter schemas, which the GUI draws its
// controls from and which every edit is validated against. No LibTorch types here.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace actmap {

enum class ParamType { Number, Integer, Boolean, Choice };

struct ParamSpec {
  std::string name;
  ParamType type = ParamType::Number;
  double min = 0.0, max = 0.0;  // inclusive range for Number and Integer
  nlohmann::json default_value;
  std::vector<std::string> choices;  // Choice
  std::string help;
};

struct OpSpec {
  std::string name;
  std::string category;  // "paint", "geometry", "value", "filter", "channel"
  std::string help;
  std::vector<ParamSpec> params;
};

const std::vector<OpSpec>& op_registry();
const OpSpec* find_op(const std::string& name);

// Checks op name and parameters (unknown names, wrong types, out-of-range values) and returns the
// parameters with defaults filled in. `where` labels errors (e.g. "edits[2]").
nlohmann::json validate_op_params(const std::string& op, const nlohmann::json& params, const std::string& where);

}  // namespace actmap
