#include "actmap/io/safetensors.h"

#include <algorithm>
#include <cmath>
#include <tuple>

#include <nlohmann/json.hpp>

#include "actmap/io/error.h"
#include "actmap/io/files.h"
#include "io/float_bits.h"
#include "io/shape_text.h"

namespace actmap {
namespace {

std::size_t dtype_size(const std::string& dtype) {
  if (dtype == "F32") return 4;
  if (dtype == "F16" || dtype == "BF16") return 2;
  if (dtype == "F64") return 8;
  return 0;
}

bool valid_utf8(const std::string& s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    std::size_t n;
    std::uint32_t cp;
    if (c < 0x80) { ++i; continue; }
    if ((c & 0xe0) == 0xc0) { n = 1; cp = c & 0x1f; }
    else if ((c & 0xf0) == 0xe0) { n = 2; cp = c & 0x0f; }
    else if ((c & 0xf8) == 0xf0) { n = 3; cp = c & 0x07; }
    else return false;
    if (i + n >= s.size()) return false;  // sequence runs past the end
    for (std::size_t k = 1; k <= n; ++k) {
      const unsigned char cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    // Reject overlong forms, surrogates and code points past U+10FFFF.
    if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
        cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
      return false;
    }
    i += n + 1;
  }
  return true;
}


std::string hex_byte(char c) {
  static const char* digits = "0123456789abcdef";
  const auto b = static_cast<unsigned char>(c);
  return {digits[b >> 4], digits[b & 15]};
}

}  // namespace

SafetensorsHeader parse_safetensors_header(const std::uint8_t* bytes, std::size_t size,
                                           const std::string& name) {
  if (size < 8) {
    throw Error(name + ": truncated safetensors file: " + std::to_string(size) +
                " bytes, shorter than the 8-byte header length");
  }
  const std::uint64_t header_len = load_u64(bytes);
  if (header_len > kMaxSafetensorsHeader) {  // the reference reader's limit (MAX_HEADER_SIZE)
    throw Error(name + ": safetensors header length " + std::to_string(header_len) + " is over the format's limit of " +
                std::to_string(kMaxSafetensorsHeader) + " bytes");
  }
  if (header_len > size - 8) {
    throw Error(name + ": safetensors header length " + std::to_string(header_len) +
                " is longer than the file (" + std::to_string(size) + " bytes)");
  }
  const std::string text(reinterpret_cast<const char*>(bytes + 8), header_len);
  if (!valid_utf8(text)) throw Error(name + ": safetensors header is not valid UTF-8");
  // As the reference reader: the header is one JSON object from its first byte (no byte-order
  // mark, no leading space), followed by nothing but JSON whitespace (writers pad with spaces).
  if (text.empty() || text[0] != '{') {
    throw Error(name + ": safetensors header must start with '{', got " +
                (text.empty() ? std::string("an empty header") : "byte 0x" + hex_byte(text[0])));
  }
  if (const std::size_t nul = text.find('\0'); nul != std::string::npos) {
    throw Error(name + ": safetensors header has a NUL byte at offset " + std::to_string(8 + nul) +
                " (pad a header with spaces, not NUL bytes)");
  }
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw Error(name + ": safetensors header is not valid JSON: " + e.what());
  }
  if (!doc.is_object()) throw Error(name + ": safetensors header must be a JSON object");

  SafetensorsHeader header;
  header.data_start = 8 + header_len;
  const std::uint64_t data_size = size - header.data_start;
  for (const auto& [key, value] : doc.items()) {
    const std::string where = name + ": tensor '" + key + "'";
    if (key == "__metadata__") {
      if (!value.is_object()) throw Error(name + ": '__metadata__' must be an object of strings");
      for (const auto& [mk, mv] : value.items()) {
        if (!mv.is_string()) throw Error(name + ": '__metadata__." + mk + "' must be a string");
        header.metadata[mk] = mv.get<std::string>();
      }
      continue;
    }
    if (!value.is_object()) throw Error(where + ": entry must be an object");
    const auto dt = value.find("dtype");
    const auto sh = value.find("shape");
    const auto off = value.find("data_offsets");
    if (dt == value.end() || !dt->is_string()) throw Error(where + ": missing string 'dtype'");
    if (sh == value.end() || !sh->is_array()) throw Error(where + ": missing array 'shape'");
    if (off == value.end() || !off->is_array() || off->size() != 2) {
      throw Error(where + ": 'data_offsets' must be [begin, end]");
    }
    SafetensorsEntry e;
    e.dtype = dt->get<std::string>();
    const std::size_t esize = dtype_size(e.dtype);
    if (esize == 0) {
      throw Error(where + ": dtype '" + e.dtype + "' is not supported (expected F32, F16, BF16 or F64)");
    }
    std::uint64_t count = 1;
    for (const auto& d : *sh) {
      if (!d.is_number_unsigned() && !(d.is_number_integer() && d.get<std::int64_t>() >= 0)) {
        throw Error(where + ": shape entries must be non-negative integers");
      }
      const std::uint64_t v = d.get<std::uint64_t>();
      if (v > 0 && count > (std::uint64_t(1) << 48) / v) throw Error(where + ": shape is too large");
      count *= v;
      e.shape.push_back(static_cast<std::int64_t>(v));
    }
    for (const auto& o : *off) {
      if (!o.is_number_unsigned() && !(o.is_number_integer() && o.get<std::int64_t>() >= 0)) {
        throw Error(where + ": data_offsets must be non-negative integers");
      }
    }
    e.begin = (*off)[0].get<std::uint64_t>();
    e.end = (*off)[1].get<std::uint64_t>();
    if (e.begin > e.end || e.end > data_size) {
      throw Error(where + ": data_offsets [" + std::to_string(e.begin) + ", " + std::to_string(e.end) +
                  "] out of range (the data section is " + std::to_string(data_size) + " bytes)");
    }
    if (e.end - e.begin != count * esize) {
      throw Error(where + ": data_offsets span " + std::to_string(e.end - e.begin) + " bytes but " +
                  e.dtype + " " + shape_string(e.shape) + " needs " + std::to_string(count * esize));
    }
    header.tensors.emplace(key, std::move(e));
  }

  // The tensors tile the data section exactly, as the reference reader requires: no two share
  // bytes, no gap between them, nothing after the last (where a hidden payload could sit).
  std::vector<std::tuple<std::uint64_t, std::uint64_t, const std::string*>> spans;
  for (const auto& [key, e] : header.tensors) spans.emplace_back(e.begin, e.end, &key);
  std::sort(spans.begin(), spans.end());
  std::uint64_t at = 0;
  const std::string* previous = nullptr;
  for (const auto& [begin, end, key] : spans) {
    if (begin < at) {
      throw Error(name + ": tensors '" + *previous + "' and '" + *key + "' overlap in the data section");
    }
    if (begin > at) {
      throw Error(name + ": tensor '" + *key + "' starts at byte " + std::to_string(begin) + " of the data section, leaving " +
                  std::to_string(begin - at) + " unused bytes before it" +
                  (previous ? " (after '" + *previous + "')" : std::string(" (at its start)")) +
                  "; the format allows no gaps");
    }
    at = end;
    previous = key;
  }
  if (at != data_size) {
    throw Error(name + ": " + std::to_string(data_size - at) + " bytes after the last tensor" +
                (previous ? " ('" + *previous + "')" : std::string("")) + " that no tensor describes; the format allows none");
  }
  return header;
}

std::map<std::string, FloatTensor> parse_safetensors(const std::uint8_t* bytes, std::size_t size,
                                                     const std::string& name) {
  const SafetensorsHeader header = parse_safetensors_header(bytes, size, name);
  std::map<std::string, FloatTensor> out;
  std::string non_finite;
  for (const auto& [key, e] : header.tensors) {
    FloatTensor t;
    t.shape = e.shape;
    const std::uint8_t* p = bytes + header.data_start + e.begin;
    const std::size_t esize = dtype_size(e.dtype);
    const std::size_t count = (e.end - e.begin) / esize;
    t.data.resize(count);
    std::size_t bad = 0;
    for (std::size_t i = 0; i < count; ++i) {
      float v;
      if (e.dtype == "F32") v = load_f32(p + 4 * i);
      else if (e.dtype == "F16") v = half_to_float(load_u16(p + 2 * i));
      else if (e.dtype == "BF16") v = bf16_to_float(load_u16(p + 2 * i));
      else v = static_cast<float>(load_f64(p + 8 * i));
      if (!std::isfinite(v)) ++bad;
      t.data[i] = v;
    }
    if (bad > 0) {
      non_finite += (non_finite.empty() ? "" : ", ") + std::string("'") + key + "' (" +
                    std::to_string(bad) + " of " + std::to_string(count) + ")";
    }
    out.emplace(key, std::move(t));
  }
  if (!non_finite.empty()) warn(name + ": non-finite values (NaN or Inf) in " + non_finite);
  return out;
}

std::map<std::string, FloatTensor> read_safetensors(const std::string& path) {
  const auto bytes = read_file_bytes(path);
  return parse_safetensors(bytes.data(), bytes.size(), path);
}

std::string encode_safetensors(const std::map<std::string, FloatTensor>& tensors,
                               const std::map<std::string, std::string>& metadata) {
  nlohmann::json header = nlohmann::json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::uint64_t offset = 0;
  for (const auto& [key, t] : tensors) {
    const std::uint64_t bytes = t.data.size() * 4;
    header[key] = {{"dtype", "F32"}, {"shape", t.shape}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // keep the data 8-byte aligned
  std::string out;
  const std::uint64_t len = text.size();
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((len >> (8 * i)) & 0xff));
  out += text;
  for (const auto& [key, t] : tensors) {
    for (float v : t.data) store_f32(out, v);
  }
  return out;
}

}  // namespace actmap
