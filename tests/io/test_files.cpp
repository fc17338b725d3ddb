#include <filesystem>
#include <string>

#include "test_util.h"

namespace actmap {
namespace {

TEST(Sha256, MatchesFips180Vectors) {
  EXPECT_EQ(sha256_hex("", 0), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc", 3), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  const std::string two_blocks = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  EXPECT_EQ(sha256_hex(two_blocks.data(), two_blocks.size()),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  const std::string million(1000000, 'a');
  EXPECT_EQ(sha256_hex(million.data(), million.size()),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256, FileMatchesBuffer) {
  const std::string dir = test::temp_dir("sha");
  const std::string text(70000, 'x');  // spans several read buffers' worth of blocks
  write_file_atomic(dir + "/f", text);
  EXPECT_EQ(sha256_file(dir + "/f"), sha256_hex(text.data(), text.size()));
}

// Lengths around the block and padding boundaries and split updates, against Python's hashlib
// (on CPUs with the SHA extensions this checks that path; ACTMAP_NO_SHA_EXTENSIONS=1 checks the
// portable one).
TEST(Sha256, AgreesWithHashlibAtEveryBoundary) {
  const std::string dir = test::temp_dir("sha_lengths");
  std::string expected_cmd = "/usr/bin/python3 -c \"import hashlib, sys\nfor p in sys.argv[1:]: "
                             "print(hashlib.sha256(open(p, 'rb').read()).hexdigest())\"";
  std::vector<std::string> ours;
  std::uint32_t x = 12345;
  int n = 0;
  for (std::size_t len : {0, 1, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 129, 1000, 4096, 65599, 1048579}) {
    std::string data(len, '\0');
    for (char& c : data) {
      x = x * 1664525u + 1013904223u;
      c = static_cast<char>(x >> 24);
    }
    const std::string path = dir + "/d" + std::to_string(n++);
    write_file_atomic(path, data);
    expected_cmd += " " + path;
    ours.push_back(sha256_hex(data.data(), data.size()));
    EXPECT_EQ(sha256_file(path), ours.back()) << len;
  }
  const test::CliRun py = test::cli_shell(expected_cmd);
  ASSERT_EQ(py.code, 0) << py.out;
  std::string want;
  for (const auto& h : ours) want += h + "\n";
  EXPECT_EQ(py.out, want);
}

TEST(AtomicWrite, ReplacesAndLeavesNoTemporaryFiles) {
  const std::string dir = test::temp_dir("atomic");
  write_file_atomic(dir + "/out.txt", std::string("first"));
  write_file_atomic(dir + "/out.txt", std::string("second"));
  EXPECT_EQ(read_file_text(dir + "/out.txt"), "second");
  int files = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir)) ++files;
  EXPECT_EQ(files, 1);
}

TEST(AtomicWrite, ErrorNamesThePath) {
  test::expect_error([] { write_file_atomic("/nonexistent-dir/x.png", std::string("x")); },
                     {"/nonexistent-dir/x.png"});
  test::expect_error([] { read_file_bytes("/nonexistent-dir/y.json"); }, {"/nonexistent-dir/y.json", "cannot open"});
}

}  // namespace
}  // namespace actmap
