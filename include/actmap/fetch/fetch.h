// Downloads of registry models into the cache of fetched models (libcurl stays inside the fetch
// area). The registry itself (what can be fetched, what is at hand) is model/registry.h.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>

#include "actmap/model/registry.h"

namespace actmap {

struct FetchProgress {
  enum class Stage { Download, Verify, Import } stage = Stage::Download;
  std::uint64_t bytes = 0, total = 0;  // of the upstream file, resumed bytes included
  double bytes_per_second = 0;         // of this run's transfer
  double eta_seconds = -1;             // -1 while unknown
};

struct FetchOptions {
  bool force = false;                                   // download again even when present
  std::function<void(const FetchProgress&)> progress;   // called from the fetching thread
  const std::atomic<int>* cancel = nullptr;             // nonzero: stop, keeping the partial file
  long connect_timeout_ms = 5000;
};

struct FetchResult {
  std::string card;     // the card written beside the weights in the cache
  std::string weights;  // the verified (and, for pytorch, converted) weights file
  bool already_present = false;  // nothing was downloaded
  bool cancelled = false;        // stopped by `cancel`: `part` holds what came, fetch again resumes
  std::uint64_t resumed_from = 0;  // bytes of an earlier partial download that were kept
  std::string part;                // the partial file (cancelled runs)
};

// Downloads a registry model into model_cache_dir() (see docs/models.md): into FILE.part, resuming
// an earlier partial file with an HTTP Range request; checks size and sha256 before anything is
// used (a mismatch deletes the file and names both hashes); converts "pytorch" files with the
// safe checkpoint importer; writes the weights where the card expects them and a copy of the card.
// Offline it fails at once with a message naming the address.
FetchResult fetch_model(const Registry& registry, const std::string& name, const FetchOptions& options = {});

}  // namespace actmap
