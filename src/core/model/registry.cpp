// The registry of downloadable models: parsing, the cache directory, what is at hand.
// The download itself is in fetch.cpp and download.cpp.
#include "actmap/model/registry.h"

#include <cstdlib>
#include <filesystem>
#include <set>

#include <nlohmann/json.hpp>

#include "actmap/io/error.h"
#include "actmap/io/files.h"
#include "actmap/io/json_text.h"
#include "actmap/model/model_card.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace actmap {
namespace {

bool is_sha256_hex(const std::string& s) {
  return s.size() == 64 && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

// Model names become file names in the cache: keep them to one plain path component.
bool is_plain_name(const std::string& s) {
  return !s.empty() && s != "." && s != ".." &&
         s.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == std::string::npos;
}

RegistryEntry parse_entry(const json& j, const std::string& where) {
  if (!j.is_object()) throw Error(where + ": must be an object, got " + j.dump().substr(0, 80));
  static const std::set<std::string> kKeys = {"name", "family", "description", "card",   "url",    "sha256",
                                              "size", "license", "format",     "import", "source", "comment"};
  for (const auto& item : j.items()) {
    if (!kKeys.count(item.key())) {
      throw Error(where + "." + item.key() + ": unknown key (known: name, family, description, card, url, sha256, "
                  "size, license, format, import, source, comment)");
    }
  }
  std::string at = where;  // gains the model's name once it is known
  auto string = [&](const char* key, bool required) -> std::string {
    if (!j.contains(key)) {
      if (required) throw Error(at + "." + key + ": missing required key");
      return "";
    }
    const json& v = j.at(key);
    if (!v.is_string()) throw Error(at + "." + key + ": must be a string, got " + v.dump().substr(0, 80));
    return v.get<std::string>();
  };
  RegistryEntry e;
  e.name = string("name", true);
  if (!is_plain_name(e.name)) {
    throw Error(where + ".name: '" + e.name + "' must be letters, digits, '.', '_' or '-' (it names files in the cache)");
  }
  at = where + " (" + e.name + ")";
  e.family = string("family", true);
  e.description = string("description", false);
  e.license = string("license", true);
  if (e.license.empty()) throw Error(at + ".license: must name the license that allows listing the model");
  e.card = string("card", true);
  if (e.card.empty()) throw Error(at + ".card: must not be empty");
  e.url = string("url", true);
  if (e.url.rfind("https://", 0) != 0 && e.url.rfind("http://", 0) != 0) {
    throw Error(at + ".url: must be an http:// or https:// address, got '" + e.url + "'");
  }
  e.sha256 = string("sha256", true);
  if (!is_sha256_hex(e.sha256)) throw Error(at + ".sha256: must be 64 lowercase hex digits, got '" + e.sha256 + "'");
  if (!j.contains("size")) throw Error(at + ".size: missing required key");
  const json& size = j.at("size");
  if (!size.is_number_unsigned() || size.get<std::uint64_t>() == 0) {
    throw Error(at + ".size: must be the file's size in bytes (a positive integer), got " + size.dump());
  }
  e.size = size.get<std::uint64_t>();
  const std::string format = string("format", true);
  if (format == "safetensors") e.format = RegistryFormat::Safetensors;
  else if (format == "pytorch") e.format = RegistryFormat::PyTorch;
  else throw Error(at + ".format: must be \"safetensors\" or \"pytorch\", got \"" + format + "\"");
  string("source", false);
  if (j.contains("import")) {
    const json& imp = j.at("import");
    if (e.format != RegistryFormat::PyTorch) throw Error(at + ".import: only \"pytorch\" entries are imported");
    if (!imp.is_object()) throw Error(at + ".import: must be an object like {\"prefix\": \"g_ema\"}");
    for (const auto& item : imp.items()) {
      if (item.key() != "prefix") throw Error(at + ".import." + item.key() + ": unknown key (known: prefix)");
      if (!item.value().is_string()) throw Error(at + ".import.prefix: must be a string, got " + item.value().dump());
      e.import_prefix = item.value().get<std::string>();
    }
  }
  return e;
}

}  // namespace

const char* registry_format_name(RegistryFormat format) {
  return format == RegistryFormat::PyTorch ? "pytorch" : "safetensors";
}

Registry parse_registry(const std::string& json_text, const std::string& path) {
  const std::string where = path.empty() ? std::string("model registry") : path;
  const json doc = parse_json_text(json_text, where);
  if (!doc.is_object()) throw Error(where + ": a model registry must be a JSON object");
  if (!doc.contains("actmap_model_registry")) throw Error(where + ": actmap_model_registry: missing required key (1)");
  const json& version = doc.at("actmap_model_registry");
  if (!version.is_number_integer() || version.get<std::int64_t>() != 1) {
    throw Error(where + ": actmap_model_registry: unsupported version " + version.dump() + " (this build reads 1)");
  }
  for (const auto& item : doc.items()) {
    if (item.key() != "actmap_model_registry" && item.key() != "models" && item.key() != "comment") {
      throw Error(where + ": " + item.key() + ": unknown key (known: actmap_model_registry, models, comment)");
    }
  }
  if (!doc.contains("models") || !doc.at("models").is_array()) {
    throw Error(where + ": models: must be a list of models");
  }
  Registry r;
  r.path = path;
  std::set<std::string> names;
  const json& models = doc.at("models");
  for (std::size_t i = 0; i < models.size(); ++i) {
    RegistryEntry e = parse_entry(models[i], where + ": models[" + std::to_string(i) + "]");
    if (!names.insert(e.name).second) {
      throw Error(where + ": models[" + std::to_string(i) + "].name: '" + e.name + "' is listed twice");
    }
    r.models.push_back(std::move(e));
  }
  return r;
}

Registry load_registry(const std::string& path) { return parse_registry(read_file_text(path), path); }

const RegistryEntry& Registry::find(const std::string& name) const {
  for (const auto& e : models) {
    if (e.name == name) return e;
  }
  std::string known;
  for (const auto& e : models) known += (known.empty() ? "" : ", ") + e.name;
  throw Error((path.empty() ? std::string("model registry") : path) + ": no model named '" + name + "'" +
              (known.empty() ? std::string(" (it lists none)") : " (it lists: " + known + ")"));
}

std::string Registry::card_path(const RegistryEntry& entry) const {
  const fs::path card(entry.card);
  if (card.is_absolute() || path.empty()) return card.string();
  return (fs::path(path).parent_path() / card).lexically_normal().string();
}

std::string default_registry_path() {
  if (const char* env = std::getenv("ACTMAP_REGISTRY"); env && *env) return env;
  std::error_code ec;
  if (const char* own = std::getenv("ACTMAP_MODELS_DIR"); own && *own) {
    const fs::path p = fs::path(own) / "registry.json";
    if (fs::is_regular_file(p, ec)) return p.string();
  }
#ifdef ACTMAP_SOURCE_MODELS_DIR
  return (fs::path(ACTMAP_SOURCE_MODELS_DIR) / "registry.json").string();
#else
  throw Error("no model registry: set ACTMAP_REGISTRY to a registry.json");
#endif
}

std::string model_cache_dir() {
  // The XDG base directory spec: a relative XDG_CACHE_HOME is invalid and ignored.
  const char* xdg = std::getenv("XDG_CACHE_HOME");
  if (xdg && xdg[0] == '/') return (fs::path(xdg) / "actmap" / "models").string();
  const char* home = std::getenv("HOME");
  if (!home || home[0] != '/') {
    throw Error("no cache directory for models: neither XDG_CACHE_HOME nor HOME is set to an absolute path");
  }
  return (fs::path(home) / ".cache" / "actmap" / "models").string();
}

std::vector<RegistryModelStatus> registry_status(const Registry& registry) {
  std::vector<RegistryModelStatus> out;
  std::string cache;
  try {
    cache = fs::path(model_cache_dir()).lexically_normal().string();
  } catch (const Error&) {
    // Without a cache directory, only the search path can hold the weights.
  }
  for (const auto& e : registry.models) {
    RegistryModelStatus s;
    s.entry = e;
    s.card = registry.card_path(e);
    try {
      s.weights = resolve_weights_path(load_model_card(s.card));
      s.in_cache = !cache.empty() && s.weights.rfind(cache + "/", 0) == 0;
    } catch (const Error&) {
      // Absent (or its card is unreadable, which fetch reports): listed as not present.
    }
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace actmap
