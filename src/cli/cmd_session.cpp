// actmap-cli check and ops: validate sessions; list the edit operations and their parameters.
#include <cstdio>
#include <iostream>
#include <set>

#include <CLI/CLI.hpp>

#include "actmap/edit/ops.h"
#include "actmap/io/error.h"
#include "actmap/session/session.h"
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
      json j = {{"name", p.name}, {"type", type_name(p.type)}, {"help", p.help}};
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
    ops.push_back({{"name", op.name}, {"category", op.category}, {"help", op.help}, {"params", std::move(params)}});
  }
  return ops;
}

json param_schema(const ParamSpec& p) {
  json j = {{"description", p.help}};
  switch (p.type) {
    case ParamType::Number:
    case ParamType::Integer:
      j["type"] = p.type == ParamType::Number ? "number" : "integer";
      j["minimum"] = p.min;
      j["maximum"] = p.max;
      if (p.odd) j["not"] = {{"multipleOf", 2}};
      break;
    case ParamType::Boolean: j["type"] = "boolean"; break;
    case ParamType::Choice: j["enum"] = p.choices; break;
    case ParamType::Points:
      j["type"] = "array";
      j["items"] = {{"type", "array"}, {"items", {{"type", "number"}}}, {"minItems", 2}, {"maxItems", 2}};
      break;
  }
  if (!p.required) j["default"] = p.default_value;
  return j;
}

// The JSON Schema of session files (assets/session.schema.json is this, written out), generated
// from the op registry so the two never drift.
json session_schema() {
  const json index = {{"type", "integer"}, {"minimum", 0}};
  json defs = json::object();
  defs["channels"] = {
      {"description", "Which channels of the tap: one index, a list, an inclusive range, all, a cluster, or a seeded random fraction"},
      {"oneOf",
       {index,
        {{"type", "array"}, {"items", index}, {"minItems", 1}},
        {{"const", "all"}},
        {{"type", "object"}, {"required", {"range"}}, {"additionalProperties", false},
         {"properties", {{"range", {{"type", "array"}, {"items", index}, {"minItems", 2}, {"maxItems", 2}}}}}},
        {{"type", "object"}, {"required", {"cluster"}}, {"additionalProperties", false}, {"properties", {{"cluster", index}}}},
        {{"type", "object"}, {"required", {"random"}}, {"additionalProperties", false},
         {"properties", {{"random", {{"type", "number"}, {"exclusiveMinimum", 0}, {"maximum", 1}}}, {"seed", index},
                         {"rule", {{"const", "actmap"}}}}}},
        {{"type", "object"}, {"required", {"random", "rule"}}, {"additionalProperties", false},
         {"description", "Network Bending's draw: int(fraction C) channels, Python's random.sample after random.seed(seed) "
                         "and the draws [C, k] before it"},
         {"properties",
          {{"random", {{"type", "number"}, {"minimum", 0}, {"maximum", 1}}},
           {"seed", index},
           {"rule", {{"const", "network_bending"}}},
           {"draws_before",
            {{"type", "array"},
             {"items", {{"type", "array"}, {"items", index}, {"minItems", 2}, {"maxItems", 2}}}}}}}}}}};
  const json four = {{"type", "array"}, {"items", {{"type", "number"}}}, {"minItems", 4}, {"maxItems", 4}};
  defs["mask"] = {
      {"description", "Where the edit acts, in tap pixels (the centre of row r, column c is (c, r)); result = mask * edited + (1 - mask) * unedited"},
      {"type", "object"},
      {"properties",
       {{"rect", {{"description", "[x0, y0, x1, y1], inclusive"}, {"allOf", {four}}}},
        {"ellipse", {{"description", "[cx, cy, rx, ry]"}, {"allOf", {four}}}},
        {"values", {{"type", "array"}, {"items", {{"type", "array"}, {"items", {{"type", "number"}, {"minimum", 0}, {"maximum", 1}}}}}}},
        {"file", {{"type", "string"}, {"description", "A grey image, white = 1, relative to the session file"}}},
        {"invert", {{"type", "boolean"}}}}},
      {"additionalProperties", false},
      {"oneOf", {{{"required", {"rect"}}}, {{"required", {"ellipse"}}}, {{"required", {"values"}}}, {{"required", {"file"}}}}}};
  json op_names = json::array(), per_op = json::array();
  for (const auto& op : op_registry()) {
    op_names.push_back(op.name);
    json props = json::object(), required = json::array();
    for (const auto& p : op.params) {
      props[p.name] = param_schema(p);
      if (p.required) required.push_back(p.name);
    }
    json params = {{"type", "object"}, {"description", op.help}, {"properties", props}, {"additionalProperties", false}};
    if (!required.empty()) params["required"] = required;
    defs["params_" + op.name] = params;
    json then = {{"properties", {{"params", {{"$ref", "#/$defs/params_" + op.name}}}}}};
    if (!required.empty()) then["required"] = {"params"};
    per_op.push_back({{"if", {{"properties", {{"op", {{"const", op.name}}}}}}}, {"then", then}});
  }
  defs["edit"] = {{"type", "object"},
                  {"required", {"tap", "op"}},
                  {"additionalProperties", false},
                  {"properties",
                   {{"id", {{"type", "string"}, {"minLength", 1}, {"description", "Unique in the session; filled in (e1, e2, ...) when missing"}}},
                    {"tap", {{"type", "string"}, {"description", "The tap's name (actmap-cli layers lists them)"}}},
                    {"channels", {{"$ref", "#/$defs/channels"}, {"default", "all"}}},
                    {"op", {{"enum", op_names}}},
                    {"params", {{"type", "object"}}},
                    {"enabled", {{"type", "boolean"}, {"default", true}}},
                    {"mask", {{"$ref", "#/$defs/mask"}}}}},
                  {"allOf", per_op}};
  return {
      {"$schema", "https://json-schema.org/draft/2020-12/schema"},
      {"title", "actmap session, schema version 1"},
      {"description", "Generated by 'actmap-cli ops --schema' from the op registry; see docs/sessions.md"},
      {"type", "object"},
      {"required", {"actmap_session", "model", "latent", "edits"}},
      {"additionalProperties", false},
      {"properties",
       {{"actmap_session", {{"const", 1}}},
        {"model",
         {{"oneOf",
           {{{"type", "string"},
             {"description", "A card path (relative to the session file), a model name, or a checkpoint file "
                             "(.pkl, .pt, .pth, .ckpt, .safetensors) opened through the cache of converted models"}},
            {{"type", "object"},
             {"required", {"card"}},
             {"additionalProperties", false},
             {"properties",
              {{"card", {{"type", "string"}, {"minLength", 1}}},
               {"sha256", {{"type", "string"}, {"pattern", "^[0-9a-f]{64}$"}, {"description", "Of the weights (of the checkpoint file itself when the model is one); a mismatch is a warning"}}}}}}}}}},
        {"latent",
         {{"oneOf",
           {{{"type", "object"}, {"required", {"seed"}}, {"additionalProperties", false}, {"properties", {{"seed", index}}}},
            {{"type", "object"}, {"required", {"z"}}, {"additionalProperties", false},
             {"properties", {{"z", {{"type", "array"}, {"items", {{"type", "number"}}}}}}}},
            {{"type", "object"}, {"required", {"z_file"}}, {"additionalProperties", false},
             {"properties", {{"z_file", {{"type", "string"}, {"description", "A float32 .npy, relative to the session file"}}}}}},
            {{"type", "object"}, {"required", {"ws"}}, {"additionalProperties", false},
             {"properties",
              {{"ws", {{"type", "array"}, {"items", {{"type", "array"}, {"items", {{"type", "number"}}}}},
                       {"description", "StyleGAN2: W+ itself, num_ws rows of w_dim numbers (skips the mapping)"}}}}}},
            {{"type", "object"}, {"required", {"ws_file"}}, {"additionalProperties", false},
             {"properties",
              {{"ws_file", {{"type", "string"},
                            {"description", "StyleGAN2: W+ as a float32 .npy [num_ws, w_dim] or [1, num_ws, w_dim], relative to the session file"}}}}}}}}}},
        {"synthesis",
         {{"type", "object"}, {"additionalProperties", false},
          {"description", "StyleGAN2 and StyleGAN3: truncation and noise; StyleGAN3: the input transform; conditional "
                          "StyleGAN2: the class. Omitted: psi 1 (none), every row, const noise, no transform, class 0"},
          {"not", {{"required", {"class", "c"}}}},
          {"properties",
           {{"truncation_psi", {{"type", "number"}, {"minimum", -100}, {"maximum", 100}}},
            {"truncation_cutoff", {{"type", {"integer", "null"}}, {"minimum", 0}}},
            {"noise_mode", {{"enum", {"const", "random", "none"}}}},
            {"noise_seed", index},
            {"input_rotate", {{"type", "number"}, {"minimum", -1e6}, {"maximum", 1e6},
                              {"description", "StyleGAN3: rotate the image by this many degrees (gen_images.py --rotate)"}}},
            {"input_translate", {{"type", "array"}, {"items", {{"type", "number"}, {"minimum", -1e6}, {"maximum", 1e6}}},
                                 {"minItems", 2}, {"maxItems", 2},
                                 {"description", "StyleGAN3: move the image by [x, y] image widths (gen_images.py --translate)"}}},
            {"class", {{"type", {"integer", "null"}}, {"minimum", 0},
                       {"description", "Conditional models (c_dim > 0): the class, c one-hot at this index"}}},
            {"c", {{"type", "array"}, {"minItems", 1}, {"items", {{"type", "number"}}},
                   {"description", "Conditional models: the label vector c itself (c_dim numbers), instead of class"}}}}}}},
        {"edits", {{"type", "array"}, {"items", {{"$ref", "#/$defs/edit"}}}, {"description", "Applied in order; at one tap, in list order"}}},
        {"clusters",
         {{"type", "object"},
          {"additionalProperties", {{"type", "array"}, {"items", {{"type", "integer"}, {"minimum", -1}}}}},
          {"description", "tap -> cluster label per channel (-1: in no cluster)"}}},
        {"view", {{"type", "object"}, {"description", "Editor state; kept, not interpreted"}}},
        {"notes", {{"type", "string"}}},
        {"recovery",
         {{"type", "object"}, {"description", "Only in autosaved recovery files"},
          {"properties", {{"session_path", {{"type", "string"}}}, {"saved_unix", {{"type", "integer"}}}}}}}}},
      {"$defs", defs}};
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
      const Session s = load_session_file(path);
      const auto gen = open_session_model(s, *model);  // weights present, keys and shapes right
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

  auto as_json = std::make_shared<bool>(false), as_schema = std::make_shared<bool>(false);
  CLI::App* ops = app.add_subcommand("ops", "List the edit operations with their parameters, ranges and defaults");
  ops->add_flag("--json", *as_json, "As JSON (the registry the editor draws its controls from)");
  ops->add_flag("--schema", *as_schema, "Print the JSON Schema of session files (assets/session.schema.json)");
  ops->callback([as_json, as_schema] {
    if (*as_schema) {
      std::cout << session_schema().dump(2) << "\n";
      return;
    }
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
                  << (p.contains("required") ? ", required" : ", default " + p["default"].dump()) << "): "
                  << p["help"].get<std::string>() << "\n";
      }
    }
  });
}

}  // namespace actmap::cli
