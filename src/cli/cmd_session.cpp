// actmap-cli check and ops: validate sessions; list the edit operations and their parameters.
#include <cstdio>
#include <iostream>
#include <set>

#include <CLI/CLI.hpp>

#include "actmap/error.h"
#include "actmap/ops.h"
#include "actmap/session.h"
#include "cli_common.h"

using nlohmann::json;

namespace actmap::cli {
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

json registry_json() {
  json ops = json::array();
  for (const auto& op : op_registry()) {
    json params = json::array();
    for (const auto& p : op.params) {
      json j = {{"name", p.name}, {"type", type_name(p.type)}, {"default", p.default_value}, {"help", p.help}};
      if (p.type == ParamType::Number || p.type == ParamType::Integer) {
        j["min"] = p.min;
        j["max"] = p.max;
        if (p.odd) j["odd"] = true;
      }
      if (p.type == ParamType::Choice) j["choices"] = p.choices;
      params.push_back(std::move(j));
    }
    ops.push_back({{"name", op.name}, {"category", op.category}, {"help", op.help}, {"params", std::move(params)}});
  }
  return ops;
}

}  // namespace

void register_session_tools(CLI::App& app) {
  auto files = std::make_shared<std::vector<std::string>>();
  auto model = std::make_shared<ModelOptions>();
  CLI::App* check = app.add_subcommand("check", "Check session files: JSON, ops, parameters, model, taps, channels, files "
                                                "(exit status 1 on the first fault)");
  check->add_option("sessions", *files, "Session files")->required();
  check->add_option("--device", model->device, "Also load the weights on this device");
  check->callback([files, model] {
    for (const auto& path : *files) {
      const Session s = load_session(path);
      ModelOptions m = *model;
      m.model = s.card_path;
      const auto gen = open_model(m);  // weights present, keys and shapes right
      std::set<std::string> taps;
      std::size_t enabled = 0;
      for (const auto& e : s.edits) {
        taps.insert(e.tap);
        enabled += e.enabled ? 1 : 0;
      }
      std::string tap_list;
      for (const auto& t : taps) tap_list += (tap_list.empty() ? " at " : ", ") + t;
      std::cout << "ok: " << path << ": model " << gen->card().name << ", " << s.latent.describe() << ", " << s.edits.size()
                << " edit" << (s.edits.size() == 1 ? "" : "s") << " (" << enabled << " enabled)" << tap_list << "\n";
    }
  });

  auto as_json = std::make_shared<bool>(false);
  CLI::App* ops = app.add_subcommand("ops", "List the edit operations with their parameters, ranges and defaults");
  ops->add_flag("--json", *as_json, "As JSON (the registry the editor draws its controls from)");
  ops->callback([as_json] {
    const json reg = registry_json();
    if (*as_json) {
      std::cout << reg.dump(2) << "\n";
      return;
    }
    std::string category;
    for (const auto& op : reg) {
      if (op["category"] != category) {
        category = op["category"];
        std::cout << (category == reg[0]["category"] ? "" : "\n") << category << ":\n";
      }
      std::cout << "  " << op["name"].get<std::string>() << ": " << op["help"].get<std::string>() << "\n";
      for (const auto& p : op["params"]) {
        std::string range;
        if (p.contains("min")) range = " in [" + p["min"].dump() + ", " + p["max"].dump() + "]" + (p.contains("odd") ? ", odd" : "");
        if (p.contains("choices")) {
          range = " one of";
          for (const auto& c : p["choices"]) range += " " + c.get<std::string>();
        }
        std::cout << "      " << p["name"].get<std::string>() << " (" << p["type"].get<std::string>() << range
                  << ", default " << p["default"].dump() << "): " << p["help"].get<std::string>() << "\n";
      }
    }
  });
}

}  // namespace actmap::cli
