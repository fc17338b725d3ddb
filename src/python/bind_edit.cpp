// The edit area in Python: the op registry with its parameter schemas, and edits (plain dicts)
// checked by the same code that checks session files.
#include <pybind11/stl.h>

#include "actmap/edit/edit.h"
#include "actmap/edit/ops.h"
#include "actmap/io/error.h"
#include "bindings.h"

namespace actmap::python {
namespace {

const char* type_name(ParamType t) {
  switch (t) {
    case ParamType::Number: return "number";
    case ParamType::Integer: return "integer";
    case ParamType::Boolean: return "boolean";
    case ParamType::Choice: return "choice";
    case ParamType::Points: return "points";
  }
  return "?";
}

// One op as `actmap-cli ops --json` lists it, plus its category's meaning in Python terms.
nlohmann::json op_json(const OpSpec& op) {
  nlohmann::json params = nlohmann::json::array();
  for (const auto& p : op.params) {
    nlohmann::json j = {{"name", p.name}, {"type", type_name(p.type)}, {"help", p.help}};
    if (p.required) j["required"] = true;
    else j["default"] = p.default_value;
    if (p.type == ParamType::Number || p.type == ParamType::Integer) {
      j["min"] = p.min;
      j["max"] = p.max;
      if (p.odd) j["odd"] = true;
    }
    if (p.type == ParamType::Choice) j["choices"] = p.choices;
    params.push_back(std::move(j));
  }
  return {{"name", op.name}, {"category", op.category}, {"help", op.help}, {"params", std::move(params)}};
}

}  // namespace

void bind_edit(py::module_& m) {
  m.def(
      "ops",
      [] {
        nlohmann::json list = nlohmann::json::array();
        for (const auto& op : op_registry()) list.push_back(op_json(op));
        return from_json(list);
      },
      "Every edit operation, in the registry's order, as actmap-cli ops --json lists them: dicts with\n"
      "name, category, help and params (each: name, type, help, default or required, min/max, odd, choices).");
  m.def(
      "op",
      [](const std::string& name) {
        const OpSpec* op = find_op(name);
        if (!op) throw Error("unknown op '" + name + "' (known: " + op_names() + ")");
        return from_json(op_json(*op));
      },
      py::arg("name"), "One operation's entry of ops(); actmap.Error for an unknown name.");
  m.def(
      "check_edits",
      [](py::handle edits, const std::string& base_dir) {
        nlohmann::json j = to_json(edits, "edits");
        if (j.is_array()) j = {{"edits", j}};
        std::vector<Edit> list;
        {
          py::gil_scoped_release release;
          list = edits_from_json(j, "", base_dir);  // fills in default parameters too
        }
        return from_json(edits_to_json(list));
      },
      py::arg("edits"), py::arg("base_dir") = "",
      "Checks a list of edits (dicts, or {\"edits\": [...]}) as a session file's are checked, and returns them with\n"
      "ids and default parameters filled in. Errors are actmap.Error with the JSON pointer of the value at fault,\n"
      "e.g. \"/edits/2/params/degrees: expected a number, got \\\"ninety\\\"\". Taps and channels are checked\n"
      "against a model only in a Session or a render.");
}

}  // namespace actmap::python
