#include "actmap/io/npy.h"

#include <cctype>
#include <cstring>

#include "actmap/io/error.h"
#include "actmap/io/files.h"
#include "io/float_bits.h"

namespace actmap {

std::int64_t FloatArray::numel() const {
  std::int64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

namespace {

// The header is a Python dict literal such as
// {'descr': '<f4', 'fortran_order': False, 'shape': (2, 64), }
struct HeaderReader {
  const std::string& text;
  const std::string& name;
  std::size_t pos = 0;

  [[noreturn]] void fail(const std::string& what) const {
    throw Error(name + ": invalid .npy header (" + what + "): " + text);
  }
  void skip_space() {
    while (pos < text.size() && std::isspace(static_cast<unsigned char>(text[pos]))) ++pos;
  }
  bool consume(char c) {
    skip_space();
    if (pos < text.size() && text[pos] == c) {
      ++pos;
      return true;
    }
    return false;
  }
  void expect(char c) {
    if (!consume(c)) fail(std::string("expected '") + c + "'");
  }
  std::string quoted() {
    skip_space();
    if (pos >= text.size() || (text[pos] != '\'' && text[pos] != '"')) fail("expected a string");
    const char q = text[pos++];
    const std::size_t end = text.find(q, pos);
    if (end == std::string::npos) fail("unterminated string");
    std::string s = text.substr(pos, end - pos);
    pos = end + 1;
    return s;
  }
  std::string word() {
    skip_space();
    const std::size_t start = pos;
    while (pos < text.size() && std::isalnum(static_cast<unsigned char>(text[pos]))) ++pos;
    if (start == pos) fail("expected a value");
    return text.substr(start, pos - start);
  }
};

}  // namespace

FloatArray parse_npy(const std::uint8_t* bytes, std::size_t size, const std::string& name) {
  static const char magic[] = "\x93NUMPY";
  if (size < 10 || std::memcmp(bytes, magic, 6) != 0) {
    throw Error(name + ": not a .npy file (missing the \\x93NUMPY magic)");
  }
  const int major = bytes[6];
  std::size_t header_len = 0, header_start = 0;
  if (major == 1) {
    header_len = bytes[8] | (std::size_t(bytes[9]) << 8);
    header_start = 10;
  } else if (major == 2 || major == 3) {
    if (size < 12) throw Error(name + ": truncated .npy header");
    header_len = bytes[8] | (std::size_t(bytes[9]) << 8) | (std::size_t(bytes[10]) << 16) |
                 (std::size_t(bytes[11]) << 24);
    header_start = 12;
  } else {
    throw Error(name + ": unsupported .npy format version " + std::to_string(major));
  }
  if (header_len > size - header_start) {
    throw Error(name + ": .npy header length " + std::to_string(header_len) +
                " is longer than the file (" + std::to_string(size) + " bytes)");
  }
  const std::string header(reinterpret_cast<const char*>(bytes + header_start), header_len);

  HeaderReader r{header, name};
  std::string descr;
  bool fortran = false, have_descr = false, have_shape = false;
  std::vector<std::int64_t> shape;
  r.expect('{');
  while (!r.consume('}')) {
    const std::string key = r.quoted();
    r.expect(':');
    if (key == "descr") {
      descr = r.quoted();
      have_descr = true;
    } else if (key == "fortran_order") {
      const std::string v = r.word();
      if (v != "True" && v != "False") r.fail("fortran_order must be True or False");
      fortran = v == "True";
    } else if (key == "shape") {
      r.expect('(');
      while (!r.consume(')')) {
        const std::string v = r.word();
        for (char c : v) {
          if (!std::isdigit(static_cast<unsigned char>(c))) r.fail("shape entries must be integers");
        }
        if (v.size() > 12) r.fail("shape entry too large");
        shape.push_back(std::stoll(v));
        if (!r.consume(',')) {
          r.expect(')');
          break;
        }
      }
      have_shape = true;
    } else {
      r.fail("unknown key '" + key + "'");
    }
    if (!r.consume(',')) {
      r.expect('}');
      break;
    }
  }
  if (!have_descr || !have_shape) r.fail("needs 'descr' and 'shape'");

  std::size_t elem = 0;
  if (descr == "<f4" || descr == "f4") elem = 4;
  else if (descr == "<f8" || descr == "f8") elem = 8;
  else if (descr == "<f2" || descr == "f2") elem = 2;
  else throw Error(name + ": .npy dtype '" + descr + "' is not supported (use float32, float64 or float16, little-endian)");

  FloatArray out;
  out.shape = shape;
  std::uint64_t count = 1;
  for (auto d : shape) {
    if (d > 0 && count > (std::uint64_t(1) << 40) / std::uint64_t(d)) {
      throw Error(name + ": .npy shape is too large");
    }
    count *= std::uint64_t(d);
  }
  const std::size_t data_start = header_start + header_len;
  const std::uint64_t need = count * elem;
  if (need != size - data_start) {
    throw Error(name + ": .npy data is " + std::to_string(size - data_start) + " bytes but shape and dtype '" +
                descr + "' need " + std::to_string(need));
  }
  out.data.resize(count);
  const std::uint8_t* p = bytes + data_start;
  for (std::uint64_t i = 0; i < count; ++i) {
    if (elem == 4) out.data[i] = load_f32(p + 4 * i);
    else if (elem == 8) out.data[i] = static_cast<float>(load_f64(p + 8 * i));
    else out.data[i] = half_to_float(load_u16(p + 2 * i));
  }
  if (fortran && shape.size() > 1) {
    // Fortran order: the first index varies fastest. Transpose into C order.
    std::vector<float> c(count);
    std::vector<std::int64_t> idx(shape.size(), 0);
    for (std::uint64_t f = 0; f < count; ++f) {
      std::int64_t c_off = 0;
      for (std::size_t d = 0; d < shape.size(); ++d) c_off = c_off * shape[d] + idx[d];
      c[c_off] = out.data[f];
      for (std::size_t d = 0; d < shape.size(); ++d) {
        if (++idx[d] < shape[d]) break;
        idx[d] = 0;
      }
    }
    out.data.swap(c);
  }
  return out;
}

FloatArray read_npy(const std::string& path) {
  const auto bytes = read_file_bytes(path);
  return parse_npy(bytes.data(), bytes.size(), path);
}

std::string encode_npy(const std::vector<std::int64_t>& shape, const float* data) {
  std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (";
  std::int64_t count = 1;
  for (std::size_t i = 0; i < shape.size(); ++i) {
    dict += std::to_string(shape[i]);
    dict += (shape.size() == 1 || i + 1 < shape.size()) ? ", " : "";
    count *= shape[i];
  }
  if (!shape.empty() && dict.back() == ' ') dict.pop_back();
  dict += "), }";
  // Pad with spaces so the data starts on a 64-byte boundary, newline last (as NumPy does).
  std::size_t total = 10 + dict.size() + 1;
  dict.append((64 - total % 64) % 64, ' ');
  dict += '\n';
  std::string out("\x93NUMPY\x01\x00", 8);
  out.push_back(static_cast<char>(dict.size() & 0xff));
  out.push_back(static_cast<char>((dict.size() >> 8) & 0xff));
  out += dict;
  for (std::int64_t i = 0; i < count; ++i) store_f32(out, data[i]);
  return out;
}

void write_npy(const std::string& path, const std::vector<std::int64_t>& shape, const float* data) {
  write_file_atomic(path, encode_npy(shape, data));
}

}  // namespace actmap
