#include "actmap/ops.h"

#include <cmath>

#include "actmap/error.h"

using nlohmann::json;

namespace actmap {
namespace {

ParamSpec number(const char* name, double min, double max, double dflt, const char* help) {
  return ParamSpec{name, ParamType::Number, min, max, dflt, {}, help};
}

}  // namespace

const std::vector<OpSpec>& op_registry() {
  static const std::vector<OpSpec> ops = {
      {"fill", "paint", "Set every selected value to a constant.",
       {number("value", -1e6, 1e6, 0.0, "The value to write")}},
      {"multiply", "value", "Scale the selected activations.",
       {number("factor", -1e6, 1e6, 1.0, "Multiplier; 0 ablates, negative flips the sign")}},
      {"add", "value", "Add a constant to the selected activations.",
       {number("value", -1e6, 1e6, 0.0, "The value to add")}},
      {"ablate", "value", "Zero the selected channels (switch the units off).", {}},
  };
  return ops;
}

const OpSpec* find_op(const std::string& name) {
  for (const auto& op : op_registry()) {
    if (op.name == name) return &op;
  }
  return nullptr;
}

json validate_op_params(const std::string& op, const json& params, const std::string& where) {
  const OpSpec* spec = find_op(op);
  if (!spec) {
    std::string known;
    for (const auto& o : op_registry()) known += (known.empty() ? "" : ", ") + o.name;
    throw Error(where + ": unknown op '" + op + "' (known: " + known + ")");
  }
  if (!params.is_null() && !params.is_object()) throw Error(where + ".params: must be an object");
  json out = json::object();
  if (params.is_object()) {
    for (const auto& [key, value] : params.items()) {
      bool known = false;
      for (const auto& p : spec->params) known = known || p.name == key;
      if (!known) {
        std::string names;
        for (const auto& p : spec->params) names += (names.empty() ? "" : ", ") + p.name;
        throw Error(where + ".params." + key + ": op '" + op + "' has no parameter '" + key + "'" +
                    (names.empty() ? " (it takes none)" : " (parameters: " + names + ")"));
      }
    }
  }
  for (const auto& p : spec->params) {
    const std::string at = where + ".params." + p.name;
    if (!params.is_object() || !params.contains(p.name)) {
      out[p.name] = p.default_value;
      continue;
    }
    const json& v = params.at(p.name);
    switch (p.type) {
      case ParamType::Number:
      case ParamType::Integer: {
        if (!v.is_number() || (p.type == ParamType::Integer && !v.is_number_integer())) {
          throw Error(at + ": must be " + (p.type == ParamType::Integer ? "an integer" : "a number") + ", got " + v.dump());
        }
        const double x = v.get<double>();
        if (!std::isfinite(x) || x < p.min || x > p.max) {
          throw Error(at + ": " + v.dump() + " is outside [" + json(p.min).dump() + ", " + json(p.max).dump() + "]");
        }
        break;
      }
      case ParamType::Boolean:
        if (!v.is_boolean()) throw Error(at + ": must be true or false, got " + v.dump());
        break;
      case ParamType::Choice: {
        bool ok = false;
        for (const auto& c : p.choices) ok = ok || (v.is_string() && v.get<std::string>() == c);
        if (!ok) {
          std::string names;
          for (const auto& c : p.choices) names += (names.empty() ? "" : ", ") + c;
          throw Error(at + ": must be one of " + names + ", got " + v.dump());
        }
        break;
      }
    }
    out[p.name] = v;
  }
  return out;
}

}  // namespace actmap
