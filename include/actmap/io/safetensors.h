// A safetensors reader: the header is validated completely before any tensor is read, and every
// fault names the file and the key. F32, F16, BF16 and F64 tensors are returned as float32.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace actmap {

struct SafetensorsEntry {
  std::string dtype;                 // as written: "F32", "F16", "BF16", "F64"
  std::vector<std::int64_t> shape;
  std::uint64_t begin = 0, end = 0;  // byte offsets into the data section
};

struct SafetensorsHeader {
  std::map<std::string, SafetensorsEntry> tensors;
  std::map<std::string, std::string> metadata;
  std::uint64_t data_start = 0;  // file offset of the data section
};

struct FloatTensor {
  std::vector<std::int64_t> shape;
  std::vector<float> data;
};

// The reference reader's (huggingface/safetensors) largest header.
inline constexpr std::uint64_t kMaxSafetensorsHeader = 100000000;

// Validates as the reference reader does: the 8-byte length (at most kMaxSafetensorsHeader), the
// UTF-8 JSON header (starting with '{', no NUL bytes), dtypes, shapes and offsets (sized to match,
// the tensors tiling the data section exactly: no overlap, no gap, nothing after the last).
// `name` labels errors (usually the file path).
SafetensorsHeader parse_safetensors_header(const std::uint8_t* bytes, std::size_t size,
                                           const std::string& name);

// Parses and converts every tensor to float32. Non-finite values produce one warning per file
// naming the tensors and their counts.
std::map<std::string, FloatTensor> parse_safetensors(const std::uint8_t* bytes, std::size_t size,
                                                     const std::string& name);
std::map<std::string, FloatTensor> read_safetensors(const std::string& path);

// Writes float32 tensors and optional `__metadata__` strings (tests, exported and trained weights,
// training checkpoints).
std::string encode_safetensors(const std::map<std::string, FloatTensor>& tensors,
                               const std::map<std::string, std::string>& metadata = {});

}  // namespace actmap
