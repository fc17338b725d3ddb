#include <cstring>

#include "test_util.h"

namespace actmap {
namespace {

std::string npy_with_header(const std::string& dict, const std::string& data) {
  std::string header = dict;
  while ((10 + header.size() + 1) % 64) header += ' ';
  header += '\n';
  std::string out("\x93NUMPY\x01\x00", 8);
  out.push_back(static_cast<char>(header.size() & 0xff));
  out.push_back(static_cast<char>(header.size() >> 8));
  return out + header + data;
}

FloatArray parse(const std::string& bytes) {
  return parse_npy(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size(), "t.npy");
}

TEST(Npy, ReadsArraysWrittenByNumPy) {
  // Written by numpy.save in tests/reference/reference.py.
  const FloatArray z = read_npy(test::fixture("dcgan64/z.npy"));
  ASSERT_EQ(z.shape, (std::vector<std::int64_t>{2, 16}));
  EXPECT_EQ(z.data.size(), 32u);
}

TEST(Npy, RoundTripsFloat32) {
  const std::vector<float> v = {1.5f, -2.f, 0.f, 3.25f, 1e-7f, -1e7f};
  const FloatArray a = parse(encode_npy({2, 3}, v.data()));
  EXPECT_EQ(a.shape, (std::vector<std::int64_t>{2, 3}));
  EXPECT_EQ(a.data, v);
}

TEST(Npy, ConvertsFloat64AndFortranOrder) {
  double d[6] = {1, 2, 3, 4, 5, 6};  // Fortran order of [[1, 3, 5], [2, 4, 6]]
  const FloatArray a = parse(npy_with_header("{'descr': '<f8', 'fortran_order': True, 'shape': (2, 3), }",
                                             std::string(reinterpret_cast<char*>(d), sizeof d)));
  EXPECT_EQ(a.data, (std::vector<float>{1, 3, 5, 2, 4, 6}));
}

TEST(Npy, ErrorsNameTheFault) {
  test::expect_error([] { parse("not an npy file at all"); }, {"t.npy", "magic"});
  test::expect_error([] { parse(npy_with_header("{'descr': '<i4', 'fortran_order': False, 'shape': (2,), }", "12345678")); },
                     {"t.npy", "'<i4'"});
  test::expect_error([] { parse(npy_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", "12345678")); },
                     {"t.npy", "8 bytes", "need 12"});
  test::expect_error([] { parse(npy_with_header("{'descr': '<f4', 'shape': (3,", "")); }, {"t.npy", "header"});
}

}  // namespace
}  // namespace actmap
