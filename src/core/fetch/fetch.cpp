// fetch_model: a registry model into the cache, verified before use (docs/models.md).
#include <cstdio>
#include <filesystem>
#include <memory>

#include "actmap/fetch/fetch.h"
#include "actmap/io/checkpoint_import.h"
#include "actmap/io/error.h"
#include "actmap/io/files.h"
#include "actmap/io/progress.h"
#include "actmap/io/safetensors.h"
#include "actmap/model/model_card.h"
#include "actmap/model/registry.h"
#include "fetch/download.h"
#include "fetch/file_lock.h"

namespace fs = std::filesystem;

namespace actmap {
namespace {

// Converted weights record the upstream file they came from, so a later fetch knows them.
const char* kSourceKey = "actmap_source_sha256";

std::string where(const Registry& registry, const RegistryEntry& e) {
  return (registry.path.empty() ? std::string("model registry") : registry.path) + ": " + e.name;
}

// The weights file the card expects, inside the cache (refusing paths that leave it).
fs::path cached_weights_path(const Registry& registry, const RegistryEntry& e, const ModelCard& card,
                             const fs::path& cache) {
  const fs::path rel = fs::path(card.weights_path).lexically_normal();
  if (rel.empty() || rel.is_absolute() || *rel.begin() == "..") {
    throw Error(where(registry, e) + ": its card " + card.path + " names weights '" + card.weights_path +
                "'; a fetched model's weights must be a path inside the cache, relative to the card");
  }
  return cache / rel;
}

// The downloaded file of a pytorch entry: its name in the address, beside the weights.
fs::path download_path(const RegistryEntry& e, const fs::path& weights) {
  if (e.format == RegistryFormat::Safetensors) return weights;
  std::string base = e.url.substr(0, e.url.find_first_of("?#"));
  base = base.substr(base.find_last_of('/') + 1);
  if (base.empty() || base == "." || base == ".." || base == weights.filename().string()) base = e.name + ".download";
  return weights.parent_path() / base;
}

bool present(const RegistryEntry& e, const fs::path& weights) {
  std::error_code ec;
  if (!fs::is_regular_file(weights, ec)) return false;
  try {
    if (e.format == RegistryFormat::Safetensors) {
      return fs::file_size(weights) == e.size && sha256_file(weights.string()) == e.sha256;
    }
    const std::vector<std::uint8_t> bytes = read_file_bytes(weights.string());
    const SafetensorsHeader h = parse_safetensors_header(bytes.data(), bytes.size(), weights.string());
    const auto it = h.metadata.find(kSourceKey);
    return it != h.metadata.end() && it->second == e.sha256;
  } catch (const Error&) {
    return false;  // unreadable or damaged: fetched again
  }
}

void report(const FetchOptions& o, FetchProgress::Stage stage, std::uint64_t bytes, std::uint64_t total) {
  if (!o.progress) return;
  FetchProgress p;
  p.stage = stage;
  p.bytes = bytes;
  p.total = total;
  o.progress(p);
}

}  // namespace

FetchResult fetch_model(const Registry& registry, const std::string& name, const FetchOptions& options) {
  const RegistryEntry& e = registry.find(name);
  const std::string card_source = registry.card_path(e);
  ModelCard card;
  try {
    card = load_model_card(card_source);
  } catch (const Error& err) {
    throw Error(where(registry, e) + ".card: " + err.what());
  }
  if (card.family != e.family) {
    throw Error(where(registry, e) + ".family: '" + e.family + "', but its card " + card_source + " says '" +
                card.family + "'");
  }
  const fs::path cache = model_cache_dir();
  const fs::path weights = cached_weights_path(registry, e, card, cache);
  const fs::path download = download_path(e, weights);
  const std::string part = download.string() + ".part";
  std::error_code ec;
  fs::create_directories(weights.parent_path(), ec);
  if (ec) throw Error(weights.parent_path().string() + ": cannot create the cache directory: " + ec.message());

  FetchResult r;
  // One process downloads a model at a time; another fetching it meanwhile waits, then finds it.
  std::unique_ptr<FileLock> lock;
  try {
    lock = std::make_unique<FileLock>(download.string() + ".lock", "fetching " + e.name, nullptr,
                                      [&] { return options.cancel && options.cancel->load() != 0; });
  } catch (const Cancelled&) {
    r.cancelled = true;
    r.part = part;
    return r;
  }
  r.card = (cache / (e.name + ".json")).string();
  r.weights = weights.string();
  // The card goes beside the weights so the model is found by name with any registry.
  auto write_card = [&] { write_file_atomic(r.card, read_file_text(card_source)); };

  if (options.force) {
    fs::remove(part, ec);
  } else if (present(e, weights)) {
    write_card();
    r.already_present = true;
    return r;
  }

  DownloadRequest req;
  req.url = e.url;
  req.part = part;
  req.expected_size = e.size;
  req.connect_timeout_ms = options.connect_timeout_ms;
  req.cancel = options.cancel;
  if (options.progress) {
    req.progress = [&](std::uint64_t bytes, double bps) {
      FetchProgress p;
      p.bytes = bytes;
      p.total = e.size;
      p.bytes_per_second = bps;
      p.eta_seconds = bps > 0 ? static_cast<double>(e.size - std::min(bytes, e.size)) / bps : -1.0;
      options.progress(p);
    };
  }
  const DownloadOutcome got = download_to_part(req);
  r.resumed_from = got.resumed_from;
  if (got.cancelled) {
    r.cancelled = true;
    r.part = part;
    return r;
  }

  // Nothing is used or renamed into place before its size and sha256 are the registry's.
  report(options, FetchProgress::Stage::Verify, e.size, e.size);
  const std::uint64_t size = fs::file_size(part);
  if (size != e.size) {
    fs::remove(part, ec);
    throw Error(e.url + ": size mismatch: expected " + std::to_string(e.size) + " bytes, got " + std::to_string(size) +
                "; the download was deleted");
  }
  const std::string sha = sha256_file(part);
  if (sha != e.sha256) {
    fs::remove(part, ec);
    throw Error(e.url + ": sha256 mismatch: expected " + e.sha256 + ", got " + sha +
                " (not the file the registry lists); the download was deleted");
  }

  if (e.format == RegistryFormat::Safetensors) {
    if (std::rename(part.c_str(), weights.c_str()) != 0) throw Error(r.weights + ": cannot move the download into place");
  } else {
    report(options, FetchProgress::Stage::Import, e.size, e.size);
    ImportOptions io;
    io.prefix = e.import_prefix;
    ImportResult imported;
    try {
      imported = import_checkpoint(part, io);
    } catch (const Error& err) {
      // The verified download stays: the next fetch checks it again and imports without downloading.
      throw Error(where(registry, e) + ": cannot import " + e.url + ": " + err.what() + "\n(the verified download " +
                  part + " is kept)");
    }
    const std::string bytes = encode_safetensors(imported.tensors, {{kSourceKey, e.sha256}});
    write_file_atomic(r.weights, bytes.data(), bytes.size());
    fs::remove(part, ec);
    card.check_weights_sha256(sha256_hex(bytes.data(), bytes.size()), r.weights + " (imported)");
  }
  write_card();
  return r;
}

}  // namespace actmap
