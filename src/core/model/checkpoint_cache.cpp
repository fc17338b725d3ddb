// The cache of converted checkpoint files: where a file's conversion lives and how its sha256 is
// remembered. Conversion is in src/core/fetch/model_file.cpp.
#include "actmap/model/checkpoint_cache.h"

#include <algorithm>
#include <cctype>
#include <filesystem>

#include <nlohmann/json.hpp>
#include <sys/stat.h>

#include "actmap/io/files.h"
#include "actmap/model/registry.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace actmap {

CheckpointNotConverted::CheckpointNotConverted(std::string checkpoint)
    : Error(checkpoint + ": this checkpoint has not been converted for actmap yet; open it once with actmap "
            "(File > Open model) or actmap-cli (--model " + checkpoint + "), which converts it into the cache"),
      checkpoint_(std::move(checkpoint)) {}

bool is_checkpoint_path(const std::string& path) {
  std::string ext = fs::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return ext == ".pkl" || ext == ".pt" || ext == ".pth" || ext == ".ckpt" || ext == ".safetensors";
}

std::string converted_models_dir() {
  return (fs::path(model_cache_dir()) / "converted" / ("v" + std::to_string(kConverterVersion))).string();
}

std::string converted_model_dir(const std::string& source_sha256) {
  return (fs::path(converted_models_dir()) / source_sha256).string();
}

std::string find_converted_card(const std::string& source_sha256) {
  const fs::path card = fs::path(converted_model_dir(source_sha256)) / "card.json";
  std::error_code ec;
  return fs::is_regular_file(card, ec) ? card.string() : std::string();
}

namespace {

// The identity of a file as it is now, and where its remembered hash is kept ("" without a cache).
struct FileKey {
  json key;
  std::string index;
};

FileKey file_key(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) throw Error(path + ": no such checkpoint file");
  FileKey k;
  k.key = {{"device", static_cast<std::uint64_t>(st.st_dev)},
           {"inode", static_cast<std::uint64_t>(st.st_ino)},
           {"size", static_cast<std::uint64_t>(st.st_size)},
           {"mtime_ns", static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec}};
  try {
    const std::string id = k.key["device"].dump() + ":" + k.key["inode"].dump();
    k.index = (fs::path(converted_models_dir()) / "index" / (sha256_hex(id.data(), id.size()) + ".json")).string();
  } catch (const Error&) {
    // No cache directory: nothing to remember the hash in.
  }
  return k;
}

void write_memo(const FileKey& k, const std::string& sha) {
  if (k.index.empty()) return;
  try {
    fs::create_directories(fs::path(k.index).parent_path());
    write_file_atomic(k.index, json{{"key", k.key}, {"sha256", sha}}.dump() + "\n");
  } catch (const std::exception&) {
    // A read-only cache only costs hashing again next time.
  }
}

}  // namespace

std::string checkpoint_sha256(const std::string& path, const ProgressFn& progress) {
  const FileKey k = file_key(path);
  if (!k.index.empty()) {
    try {
      const json memo = json::parse(read_file_text(k.index));
      if (memo.at("key") == k.key) return memo.at("sha256").get<std::string>();
    } catch (const std::exception&) {
      // Absent or damaged: hashed again below.
    }
  }
  const std::string sha = sha256_file(path, progress);
  write_memo(k, sha);
  return sha;
}

void remember_sha256(const std::string& path, const std::string& sha256) { write_memo(file_key(path), sha256); }

bool in_model_cache(const std::string& path) {
  try {
    std::error_code ec;
    const std::string cache = fs::absolute(model_cache_dir(), ec).lexically_normal().string() + "/";
    return fs::absolute(path, ec).lexically_normal().string().rfind(cache, 0) == 0;
  } catch (const Error&) {
    return false;
  }
}

std::string converted_card_for(const std::string& checkpoint_path) {
  const std::string card = find_converted_card(checkpoint_sha256(checkpoint_path));
  if (card.empty()) throw CheckpointNotConverted(checkpoint_path);
  return card;
}

}  // namespace actmap
