// The registry of downloadable models (models/registry.json): models published by others whose
// license allows listing them, where their files are, and how to check and convert them. Fetched
// models live in the user's cache directory, which the card and weights lookups search too.
// No network types here: the download itself is in src/core/fetch/download.cpp (libcurl).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace actmap {

enum class RegistryFormat { Safetensors, PyTorch };  // "safetensors" | "pytorch" (imported)
const char* registry_format_name(RegistryFormat format);

struct RegistryEntry {
  std::string name, family, description, license;
  std::string card;    // card file as written, relative to the registry file
  std::string url;     // upstream address of the file
  std::string sha256;  // of the upstream file, lowercase hex
  std::uint64_t size = 0;  // of the upstream file, bytes
  RegistryFormat format = RegistryFormat::Safetensors;
  std::string import_prefix;  // pytorch: the state dict's key ("" = the importer's choice)
};

struct Registry {
  std::string path;  // the registry file ("" when parsed from memory)
  std::vector<RegistryEntry> models;

  // The entry named `name`; the error lists the names there are.
  const RegistryEntry& find(const std::string& name) const;
  // The entry's card file (relative paths resolve from the registry file's directory).
  std::string card_path(const RegistryEntry& entry) const;
};

// Parses and validates a registry; errors name the file, the entry and the key at fault.
Registry parse_registry(const std::string& json_text, const std::string& path);
Registry load_registry(const std::string& path);

// ACTMAP_REGISTRY when set, else registry.json in ACTMAP_MODELS_DIR or in actmap's own models/.
std::string default_registry_path();

// Where fetched models go: $XDG_CACHE_HOME/actmap/models, else ~/.cache/actmap/models (not created).
std::string model_cache_dir();

// Whether a registry model's weights are at hand, and where.
struct RegistryModelStatus {
  RegistryEntry entry;
  std::string card;     // the card file (from the registry)
  std::string weights;  // the weights file found ("" when absent)
  bool in_cache = false;  // found in model_cache_dir()
};
std::vector<RegistryModelStatus> registry_status(const Registry& registry);

}  // namespace actmap
