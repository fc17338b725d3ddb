#include <cmath>
#include <cstring>

#include "actmap/io/safetensors.h"
#include "actmap/model/model_card.h"
#include "test_dirs.h"

namespace actmap {
namespace {

// A safetensors file from a header text and raw data bytes.
std::string raw_file(const std::string& header, const std::string& data, std::uint64_t claimed_len = UINT64_MAX) {
  const std::uint64_t len = claimed_len == UINT64_MAX ? header.size() : claimed_len;
  std::string out;
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((len >> (8 * i)) & 0xff));
  return out + header + data;
}

std::map<std::string, FloatTensor> parse(const std::string& bytes) {
  return parse_safetensors(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size(), "w.safetensors");
}

std::string u16s(std::initializer_list<std::uint16_t> v) {
  std::string s;
  for (auto x : v) {
    s.push_back(static_cast<char>(x & 0xff));
    s.push_back(static_cast<char>(x >> 8));
  }
  return s;
}

TEST(Safetensors, RoundTripsFloat32AndMetadata) {
  std::map<std::string, FloatTensor> in;
  in["a.weight"] = {{2, 2}, {1.f, -2.f, 3.5f, 0.f}};
  in["b"] = {{3}, {7.f, 8.f, 9.f}};
  const auto out = parse(encode_safetensors(in));
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out.at("a.weight").shape, in["a.weight"].shape);
  EXPECT_EQ(out.at("a.weight").data, in["a.weight"].data);
  EXPECT_EQ(out.at("b").data, in["b"].data);
  const auto meta = raw_file(R"({"__metadata__":{"format":"pt"},"x":{"dtype":"F32","shape":[],"data_offsets":[0,4]}})",
                             std::string("\x00\x00\x80\x3f", 4));
  const auto h = parse_safetensors_header(reinterpret_cast<const std::uint8_t*>(meta.data()), meta.size(), "m");
  EXPECT_EQ(h.metadata.at("format"), "pt");
  EXPECT_EQ(parse(meta).at("x").data, std::vector<float>{1.f});
}

TEST(Safetensors, ConvertsHalfAndBFloat16Exactly) {
  // F16: 1.0, -2.0, 65504 (largest), 2^-24 (smallest subnormal), 2^-14 (smallest normal)
  const auto f16 = parse(raw_file(R"({"h":{"dtype":"F16","shape":[5],"data_offsets":[0,10]}})",
                                  u16s({0x3c00, 0xc000, 0x7bff, 0x0001, 0x0400})));
  EXPECT_EQ(f16.at("h").data, (std::vector<float>{1.f, -2.f, 65504.f, std::ldexp(1.f, -24), std::ldexp(1.f, -14)}));
  // BF16: 1.0, -3.0, 0.15625 (0x3e20)
  const auto bf16 = parse(raw_file(R"({"b":{"dtype":"BF16","shape":[3],"data_offsets":[0,6]}})", u16s({0x3f80, 0xc040, 0x3e20})));
  EXPECT_EQ(bf16.at("b").data, (std::vector<float>{1.f, -3.f, 0.15625f}));
}

TEST(Safetensors, TruncatedFile) {
  test::expect_error([] { parse("abc"); }, {"w.safetensors", "truncated", "3 bytes"});
}

TEST(Safetensors, HeaderLongerThanFile) {
  test::expect_error([] { parse(raw_file("{}", "", 1000)); }, {"w.safetensors", "header length 1000", "longer than the file"});
}

TEST(Safetensors, InvalidJsonHeader) {
  test::expect_error([] { parse(raw_file("{\"a\": [1, 2", "")); }, {"w.safetensors", "not valid JSON"});
  // Found by fuzz_safetensors: a number too large for a double is an error, not a crash.
  test::expect_error([] { parse(raw_file("{\"a\": 4444e4444}", "")); }, {"w.safetensors", "not valid JSON"});
}

TEST(Safetensors, NonUtf8Header) {
  test::expect_error([] { parse(raw_file("{\"\xff\xfe\": 1}", "")); }, {"w.safetensors", "UTF-8"});
  test::expect_error([] { parse(raw_file("{\"\xc0\xaf\": 1}", "")); }, {"UTF-8"});  // overlong '/'
}

TEST(Safetensors, OffsetsOutOfRange) {
  test::expect_error([] { parse(raw_file(R"({"k":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", "1234")); },
                     {"w.safetensors", "'k'", "[0, 8]", "out of range", "4 bytes"});
}

TEST(Safetensors, OffsetsOverlapping) {
  test::expect_error([] {
    parse(raw_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                   std::string(12, '\0')));
  }, {"w.safetensors", "'a'", "'b'", "overlap"});
}

TEST(Safetensors, SizeDisagreesWithShapeAndDtype) {
  test::expect_error([] { parse(raw_file(R"({"k":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", std::string(8, '\0'))); },
                     {"'k'", "8 bytes", "F32 [3]", "needs 12"});
}

TEST(Safetensors, UnsupportedDtype) {
  test::expect_error([] { parse(raw_file(R"({"k":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}})", std::string(8, '\0'))); },
                     {"'k'", "'I64'", "F32"});
}

// The cases of the reference reader's own tests (huggingface/safetensors, safetensors/src/tensor.rs,
// `mod tests`: test_deserialization ... test_validation_overflow), rebuilt here as bytes from the
// format, with the reference's verdict. actmap agrees on each, except where it is stricter on
// purpose (integer dtypes: the reference's cases use I32, so each is also run as F32, the same
// bytes, where actmap must give the reference's verdict).
TEST(Safetensors, AgreesWithTheReferenceReadersTests) {
  const std::string zeros16(16, '\0');
  struct Case {
    std::string name, bytes;
    bool reference_accepts;
    std::vector<std::string> actmap_says;  // empty: accepted
  };
  auto header = [](const std::string& dtype, const std::string& shape, const std::string& offsets) {
    return R"({"test":{"dtype":")" + dtype + R"(","shape":)" + shape + R"(,"data_offsets":)" + offsets + "}}";
  };
  std::vector<Case> cases;
  for (const std::string dtype : {"I32", "F32"}) {
    const bool i32 = dtype == "I32";
    const std::vector<std::string> int_refused = {"'test'", "dtype 'I32' is not supported"};
    auto verdict = [&](std::vector<std::string> says) { return i32 ? int_refused : says; };
    cases.push_back({dtype + " deserialization", raw_file(header(dtype, "[2,2]", "[0,16]"), zeros16), true, verdict({})});
    cases.push_back({dtype + " empty shape", raw_file(header(dtype, "[]", "[0,4]"), std::string(4, '\0')), true, verdict({})});
    cases.push_back({dtype + " zero-sized tensor", raw_file(header(dtype, "[2,0]", "[0, 0]"), ""), true, verdict({})});
    cases.push_back({dtype + " polyglot: bytes after the last tensor",
                     raw_file(header(dtype, "[2,2]", "[0,16]"), zeros16 + "extra_bogus_data_for_polyglot_file"), false,
                     verdict({"34 bytes after the last tensor ('test')", "the format allows none"})});
    cases.push_back({dtype + " missing data", raw_file(header(dtype, "[2,2]", "[0,16]"), std::string(14, '\0')), false,
                     verdict({"'test'", "[0, 16] out of range", "14 bytes"})});
    cases.push_back({dtype + " invalid info", raw_file(header(dtype, "[2,2]", "[0, 4]"), std::string(4, '\0')), false,
                     verdict({"'test'", "span 4 bytes", "needs 16"})});
    cases.push_back({dtype + " shape overflow", raw_file(header(dtype, "[2,18446744073709551614]", "[0,16]"), zeros16), false,
                     verdict({"'test'", "shape is too large"})});
    cases.push_back({dtype + " bytes overflow", raw_file(header(dtype, "[2,9223372036854775807]", "[0,16]"), zeros16), false,
                     verdict({"'test'", "shape is too large"})});
    cases.push_back({dtype + " header too large", raw_file(header(dtype, "[2,2]", "[0,16]"), zeros16, 0xffffff000000003cULL), false,
                     {"header length 18446742974197923900 is over the format's limit of 100000000 bytes"}});
  }
  // test_json_attack: ten tensors all at [0, 16].
  std::string attack = "{";
  for (int i = 0; i < 10; ++i) {
    attack += std::string(i ? "," : "") + "\"weight_" + std::to_string(i) + R"(":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]})";
  }
  cases.push_back({"json attack", raw_file(attack + "}", zeros16), false, {"overlap in the data section"}});
  cases.push_back({"header too small", "", false, {"truncated", "0 bytes"}});
  cases.push_back({"invalid header length", raw_file("", "", 60), false, {"header length 60", "longer than the file"}});
  cases.push_back({"non-UTF-8 header", raw_file("\xff", ""), false, {"not valid UTF-8"}});
  cases.push_back({"header not JSON", raw_file("{", ""), false, {"not valid JSON"}});
  cases.push_back({"whitespace after the header", raw_file("{}\r \t\n", ""), true, {}});
  // The reference's InvalidHeaderStart (safetensors 0.4 on): the header starts with '{'.
  cases.push_back({"whitespace before the header", raw_file("\t\n{}\r ", ""), false, {"must start with '{', got byte 0x09"}});
  cases.push_back({"byte-order mark", raw_file("\xef\xbb\xbf{}", ""), false, {"must start with '{', got byte 0xef"}});
  cases.push_back({"NUL padding", raw_file(std::string("{}\0\0\0\0\0\0", 8), ""), false, {"NUL byte at offset 10"}});
  cases.push_back({"a gap between tensors",
                   raw_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})",
                            std::string(12, '\0')),
                   false, {"'b' starts at byte 8", "4 unused bytes before it (after 'a')", "no gaps"}});
  cases.push_back({"a gap at the start", raw_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", std::string(8, '\0')),
                   false, {"'a' starts at byte 4", "(at its start)"}});
  cases.push_back({"no tensors, trailing bytes", raw_file("{}", "xyz"), false, {"3 bytes after the last tensor"}});
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    if (c.actmap_says.empty()) {
      EXPECT_NO_THROW(parse(c.bytes));
    } else {
      test::expect_error([&] { parse(c.bytes); }, c.actmap_says);
    }
    // Where actmap and the reference differ, it is only the integer dtypes (documented).
    if (c.reference_accepts == c.actmap_says.empty()) continue;
    EXPECT_NE(c.name.rfind("I32", 0), std::string::npos) << "disagrees with the reference reader";
  }
}

// The 100,000,000-byte limit is checked before anything is allocated for the header.
TEST(Safetensors, AHeaderOverTheLimitIsRefusedBeforeItIsRead) {
  test::expect_error([] { parse(raw_file("{}", "", 100000001)); }, {"header length 100000001 is over the format's limit"});
  test::expect_error([] { parse(raw_file("{}", "", 1ULL << 60)); }, {"over the format's limit"});
}

TEST(Safetensors, NonFiniteValuesWarnWithCount) {
  std::map<std::string, FloatTensor> in;
  in["w"] = {{4}, {1.f, NAN, INFINITY, 2.f}};
  std::vector<std::string> warnings;
  set_warning_sink([&](const std::string& m) { warnings.push_back(m); });
  parse(encode_safetensors(in));
  set_warning_sink(nullptr);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("'w' (2 of 4)"), std::string::npos) << warnings[0];
}

}  // namespace
}  // namespace actmap
