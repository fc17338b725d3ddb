// Crafted hostile files for the readers, each with the exact error it must give, built here from
// the formats' definitions (pickle opcodes as Python's pickletools lists them; the zip layout of
// PKWARE's APPNOTE; PNG chunks of the PNG specification; JPEG markers of ITU T.81). Memory stays
// bounded: a reader must refuse before allocating what a file claims, which the tests check with
// the process's peak resident size, and for the bombs also in a child process whose address space
// is limited (RLIMIT_AS, as `ulimit -v` does). No LibTorch here: the fuzz preset runs these under
// ASan + UBSan in every CI run (tests/fuzz/CMakeLists.txt).
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <fstream>
#include <new>
#include <set>

#include "actmap/analysis/bending.h"
#include "actmap/io/checkpoint_import.h"
#include "actmap/io/error.h"
#include "actmap/io/image.h"
#include "actmap/model/model_card.h"
#include "actmap/session/session.h"
#include "test_dirs.h"

namespace actmap {
namespace {

using Bytes = std::vector<std::uint8_t>;

Bytes bytes_of(const std::string& s) { return Bytes(s.begin(), s.end()); }

// Sanitizers multiply memory (shadow memory, redzones): the bounds scale with them. GCC says so
// with __SANITIZE_*__, clang (the fuzz preset) with __has_feature.
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ACTMAP_TEST_ASAN 1
#endif
#if __has_feature(thread_sanitizer)
#define ACTMAP_TEST_TSAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define ACTMAP_TEST_ASAN 1
#endif
#if defined(__SANITIZE_THREAD__)
#define ACTMAP_TEST_TSAN 1
#endif
#if defined(ACTMAP_TEST_TSAN)
constexpr long kMemoryScale = 8;
#elif defined(ACTMAP_TEST_ASAN)
constexpr long kMemoryScale = 3;
#else
constexpr long kMemoryScale = 1;
#endif

long peak_rss_mb() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss / 1024;  // kB on Linux
}

// Runs `f`, expecting an actmap::Error with every part, and a peak resident size that grows by
// less than `mb` megabytes.
template <class F>
void refused_within(F f, const std::vector<std::string>& parts, long mb = 64) {
  const long before = peak_rss_mb();
  test::expect_error(f, parts);
  EXPECT_LT(peak_rss_mb() - before, mb * kMemoryScale) << "peak resident size grew by more than " << mb * kMemoryScale << " MB";
}

// Runs `f` in a child process whose address space may grow by at most `mb` megabytes beyond what
// it has mapped already (RLIMIT_AS: the `ulimit -v` of the child alone). The child must end with
// the actmap::Error holding every part: not a crash, not std::bad_alloc. The sanitizers reserve
// terabytes of shadow address space, so there RLIMIT_AS cannot work and the check skips.
template <class F>
void refused_under_address_limit(F f, const std::vector<std::string>& parts, long mb) {
#if defined(ACTMAP_TEST_ASAN) || defined(ACTMAP_TEST_TSAN)
  (void)f, (void)parts, (void)mb;
#else
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    long vm_kb = 0;
    std::ifstream status("/proc/self/status");
    for (std::string line; std::getline(status, line);) {
      if (line.rfind("VmSize:", 0) == 0) vm_kb = std::stol(line.substr(7));
    }
    const rlimit lim{static_cast<rlim_t>(vm_kb + mb * 1024) * 1024, static_cast<rlim_t>(vm_kb + mb * 1024) * 1024};
    if (vm_kb == 0 || ::setrlimit(RLIMIT_AS, &lim) != 0) ::_exit(10);
    try {
      f();
      ::_exit(11);  // accepted
    } catch (const Error& e) {
      const std::string msg = e.what();
      for (const auto& p : parts) {
        if (msg.find(p) == std::string::npos) {
          std::fprintf(stderr, "child: message lacks '%s': %s\n", p.c_str(), msg.c_str());
          ::_exit(12);
        }
      }
      ::_exit(0);
    } catch (const std::bad_alloc&) {
      ::_exit(13);
    } catch (...) {
      ::_exit(14);
    }
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status)) << "the child died of signal " << (WIFSIGNALED(status) ? WTERMSIG(status) : 0) << " under a "
                                 << mb << " MB address-space limit";
  const int code = WEXITSTATUS(status);
  EXPECT_EQ(code, 0) << (code == 10 ? "setrlimit failed" : code == 11 ? "the input was accepted" : code == 12 ? "wrong message"
                         : code == 13 ? "std::bad_alloc under the " + std::to_string(mb) + " MB address-space limit"
                                      : "another exception");
#endif
}

// --- Pickles -------------------------------------------------------------------------------------

std::string proto2(const std::string& body) { return std::string("\x80\x02", 2) + body; }

std::string u64le(std::uint64_t v) {
  std::string s;
  for (int i = 0; i < 8; ++i) s.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  return s;
}

TEST(HostilePickles, EachIsRefusedWithItsReason) {
  const std::string allow = "which is not on the allow-list of tensor/container types; actmap never runs code from a model file";
  struct Case {
    std::string name, bytes;
    std::vector<std::string> says;
  };
  const std::vector<Case> cases = {
      {"memo reference to nothing", proto2("h\x05."), {"memo entry 5 is used before it is defined"}},
      {"a million MARKs deep", proto2(std::string(1000000, '(') + "."), {"nested deeper than 1000 levels (a nesting bomb)"}},
      {"a million empty lists on the stack", proto2(std::string(1000000, ']') + "."), {"the stack grows past 131072 values"}},
      {"a 10 GB BINBYTES8", proto2("\x8e" + u64le(10000000000ULL) + "abc."), {"truncated: needs 10000000000 more bytes, 4 left"}},
      {"a 10 GB BINUNICODE8", proto2("\x8d" + u64le(10000000000ULL) + "abc."), {"truncated: needs 10000000000 more bytes, 4 left"}},
      {"a 2^64-1 byte FRAME", proto2("\x95" + u64le(~0ULL) + "N."), {"FRAME of 18446744073709551615 bytes runs past the end"}},
      // copyreg._reconstructor(cls, base, state) is how protocol 0 and 1 rebuild objects: allowed,
      // but the class it is given must itself be allowed.
      {"os.system behind copyreg._reconstructor", proto2("ccopyreg\n_reconstructor\n(cos\nsystem\nc__builtin__\nobject\nNtR."),
       {"the global 'os.system', " + allow}},
      {"os.system behind copyreg by STACK_GLOBAL",
       proto2("\x8c\x07" "copyreg\x8c\x0e_reconstructor\x93\x8c\x02os\x8c\x06system\x93\x8c\x08" "builtins\x8c\x06object\x93N\x87R."),
       {"the global 'os.system', " + allow}},
      {"getattr by __reduce__", proto2("c__builtin__\ngetattr\n(cos\nenviron\nS'x'\ntR."), {"the global '__builtin__.getattr', " + allow}},
      {"builtins.__import__", proto2("cbuiltins\n__import__\n(S'os'\ntR."), {"the global 'builtins.__import__', " + allow}},
      {"subprocess.Popen by INST", proto2("(S'id'\nisubprocess\nPopen\n."), {"the global 'subprocess.Popen', " + allow}},
      {"an EXT1 registry reference", proto2("\x82\x01."), {"extension-registry opcodes (EXT1/2/4) are not supported"}},
      {"an out-of-band buffer", proto2("\x97."), {"out-of-band buffers (NEXT_BUFFER) are not supported"}},
      {"a persistent id outside torch.save", proto2("S'x'\nQ."), {"persistent ids are not expected here"}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    refused_within([&] { import_checkpoint_bytes(bytes_of(c.bytes), "hostile.pkl"); }, {"hostile.pkl", c.says[0]});
  }
  // A million lists, each memoised and popped: 3 MB that builds a million values. Bounded by the
  // value budget (2 per byte, at most 4M values: under 1 GB); this one stays well under it.
  std::string memo;
  for (int i = 0; i < 1000000; ++i) memo += "]\x94" "0";
  const long before = peak_rss_mb();
  test::expect_error([&] { import_checkpoint_bytes(bytes_of(proto2(memo + "N.")), "memo.pkl"); }, {"memo.pkl", "not a state dict"});
  EXPECT_LT(peak_rss_mb() - before, 400 * kMemoryScale);
}

// Every byte that is not an opcode of pickle protocols 0 to 5 is refused by name; every byte that
// is one either works or fails with an actmap::Error (never a crash), with garbage after it.
TEST(HostilePickles, EveryOpcodeOutsideTheProtocolIsRefused) {
  const std::string opcodes = std::string("().012BCFGIJKLMNPQRSTUVX]abcdeghijlopqrstu}") +
                              "\x80\x81\x82\x83\x84\x85\x86\x87\x88\x89\x8a\x8b\x8c\x8d\x8e\x8f\x90\x91\x92\x93\x94\x95\x96\x97\x98";
  const std::set<unsigned char> known(opcodes.begin(), opcodes.end());
  int unknown = 0;
  for (int b = 0; b < 256; ++b) {
    SCOPED_TRACE(b);
    const std::string body = std::string(1, static_cast<char>(b)) + std::string("\x01\x02\x03\n\x00\xff.", 7);
    if (known.count(static_cast<unsigned char>(b))) {
      try {
        import_checkpoint_bytes(bytes_of(proto2(body)), "op.pkl");
      } catch (const Error&) {
      }
      continue;
    }
    ++unknown;
    static const char hex[] = "0123456789abcdef";
    test::expect_error([&] { import_checkpoint_bytes(bytes_of(proto2(body)), "op.pkl"); },
                       {std::string("unknown opcode 0x") + hex[b >> 4] + hex[b & 15]});
  }
  EXPECT_EQ(unknown, 256 - 68);
}

// --- Zips ----------------------------------------------------------------------------------------

void put16(std::string& s, std::uint32_t v) { s += static_cast<char>(v & 0xff), s += static_cast<char>((v >> 8) & 0xff); }
void put32(std::string& s, std::uint32_t v) { put16(s, v & 0xffff), put16(s, v >> 16); }

struct ZipPart {
  std::string name, data;  // data as stored (compressed for method 8)
  std::uint16_t method = 0;
  std::uint32_t crc = 0, size = 0, csize = 0;
  std::string extra;       // central directory extra field
};

ZipPart stored(const std::string& name, const std::string& data) {
  ZipPart p;
  p.name = name;
  p.data = data;
  p.crc = static_cast<std::uint32_t>(crc32(0, reinterpret_cast<const Bytef*>(data.data()), static_cast<uInt>(data.size())));
  p.size = p.csize = static_cast<std::uint32_t>(data.size());
  return p;
}

// `n` zero bytes deflated in chunks (never all in memory): a raw deflate stream for `window_bits`
// -MAX_WBITS (zip entries), a zlib stream for MAX_WBITS (PNG pixel data).
std::string deflate_zeros(std::uint64_t n, int window_bits) {
  z_stream zs{};
  deflateInit2(&zs, 9, Z_DEFLATED, window_bits, 9, Z_DEFAULT_STRATEGY);
  const std::string zeros(1 << 20, '\0');
  std::string out, buf(1 << 16, '\0');
  for (std::uint64_t done = 0;;) {
    const std::uint64_t chunk = std::min<std::uint64_t>(zeros.size(), n - done);
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(zeros.data()));
    zs.avail_in = static_cast<uInt>(chunk);
    done += chunk;
    const int flush = done == n ? Z_FINISH : Z_NO_FLUSH;
    do {
      zs.next_out = reinterpret_cast<Bytef*>(buf.data());
      zs.avail_out = static_cast<uInt>(buf.size());
      deflate(&zs, flush);
      out.append(buf.data(), buf.size() - zs.avail_out);
    } while (zs.avail_out == 0);
    if (flush == Z_FINISH) break;
  }
  deflateEnd(&zs);
  return out;
}

// A zip entry of `n` zero bytes, deflated.
ZipPart deflated_zeros(const std::string& name, std::uint64_t n) {
  ZipPart p;
  p.name = name;
  p.method = 8;
  p.data = deflate_zeros(n, -MAX_WBITS);
  const std::string zeros(1 << 20, '\0');
  uLong crc = crc32(0L, Z_NULL, 0);
  for (std::uint64_t done = 0; done < n;) {
    const std::uint64_t chunk = std::min<std::uint64_t>(zeros.size(), n - done);
    crc = crc32(crc, reinterpret_cast<const Bytef*>(zeros.data()), static_cast<uInt>(chunk));
    done += chunk;
  }
  p.crc = static_cast<std::uint32_t>(crc);
  p.size = static_cast<std::uint32_t>(n);
  p.csize = static_cast<std::uint32_t>(p.data.size());
  return p;
}

struct ZipLies {
  bool second_entry_reuses_first = false;  // both central entries point at the first local header
  std::uint32_t dir_offset_add = 0;        // moves the central directory's claimed offset
  bool count_says_zip64 = false;           // 0xffff entries, no ZIP64 locator
};

std::string zip_of(const std::vector<ZipPart>& parts, const ZipLies& lies = {}) {
  std::string out, dir;
  std::vector<std::uint32_t> offsets;
  for (const ZipPart& p : parts) {
    offsets.push_back(static_cast<std::uint32_t>(out.size()));
    put32(out, 0x04034b50), put16(out, 20), put16(out, 0), put16(out, p.method), put32(out, 0);
    put32(out, p.crc), put32(out, p.csize), put32(out, p.size), put16(out, static_cast<std::uint32_t>(p.name.size())), put16(out, 0);
    out += p.name + p.data;
  }
  for (std::size_t i = 0; i < parts.size(); ++i) {
    const ZipPart& p = parts[i];
    put32(dir, 0x02014b50), put16(dir, 20), put16(dir, 20), put16(dir, 0), put16(dir, p.method), put32(dir, 0);
    put32(dir, p.crc), put32(dir, p.csize), put32(dir, p.size);
    put16(dir, static_cast<std::uint32_t>(p.name.size())), put16(dir, static_cast<std::uint32_t>(p.extra.size())), put16(dir, 0);
    put16(dir, 0), put16(dir, 0), put32(dir, 0);
    put32(dir, lies.second_entry_reuses_first && i > 0 ? offsets[0] : offsets[i]);
    dir += p.name + p.extra;
  }
  const auto dir_offset = static_cast<std::uint32_t>(out.size());
  out += dir;
  put32(out, 0x06054b50), put16(out, 0), put16(out, 0);
  const std::uint32_t count = lies.count_says_zip64 ? 0xffff : static_cast<std::uint32_t>(parts.size());
  put16(out, count), put16(out, count), put32(out, static_cast<std::uint32_t>(dir.size()));
  put32(out, dir_offset + lies.dir_offset_add), put16(out, 0);
  return out;
}

TEST(HostileZips, EachIsRefusedWithItsReason) {
  const std::string pkl = proto2("}.");
  {
    SCOPED_TRACE("a 1000:1 bomb");
    const std::string bomb = zip_of({deflated_zeros("archive/data.pkl", 200u << 20)});  // 200 MB of zeros in about 200 kB
    ASSERT_LT(bomb.size(), 400000u);
    refused_within([&] { import_checkpoint_bytes(bytes_of(bomb), "bomb.pt"); },
                   {"bomb.pt", "zip entry 'archive/data.pkl' would inflate", "to 209715200", "more than the 100:1 actmap accepts",
                    "a zip bomb, not a checkpoint"},
                   32);
  }
  {
    SCOPED_TRACE("overlapping entries");
    ZipLies lies;
    lies.second_entry_reuses_first = true;
    const std::string z = zip_of({stored("archive/data.pkl", pkl), stored("archive/data/0", pkl)}, lies);
    refused_within([&] { import_checkpoint_bytes(bytes_of(z), "overlap.pt"); },
                   {"overlap.pt", "zip entries 'archive/data.pkl' and 'archive/data/0' overlap", "overlapping-entry zip bomb"});
  }
  {
    SCOPED_TRACE("the central directory past the end");
    ZipLies lies;
    lies.dir_offset_add = 1000;
    const std::string z = zip_of({stored("archive/data.pkl", pkl)}, lies);
    refused_within([&] { import_checkpoint_bytes(bytes_of(z), "past.pt"); },
                   {"past.pt", "zip central directory (offset", "lies outside the file"});
  }
  {
    SCOPED_TRACE("ZIP64 claimed without its records");
    ZipLies lies;
    lies.count_says_zip64 = true;
    const std::string z = zip_of({stored("archive/data.pkl", pkl)}, lies);
    refused_within([&] { import_checkpoint_bytes(bytes_of(z), "z64.pt"); }, {"z64.pt", "needs ZIP64 records but has no ZIP64 locator"});
  }
  {
    SCOPED_TRACE("a ZIP64 extra field claiming a terabyte");
    ZipPart p = stored("archive/data.pkl", pkl);
    p.csize = p.size = 0xffffffffu;
    p.extra.clear();
    put16(p.extra, 1), put16(p.extra, 16);
    p.extra += u64le(1ULL << 40) + u64le(1ULL << 40);
    refused_within([&] { import_checkpoint_bytes(bytes_of(zip_of({p})), "tb.pt"); },
                   {"tb.pt", "zip entry 'archive/data.pkl' claims 1099511627776 bytes at offset", "past the end of the file"});
  }
}

// --- Sessions ------------------------------------------------------------------------------------

std::string session_with(const std::string& edits) {
  return R"({"actmap_session": 1, "model": ")" + test::fixture("dcgan32/card.json") + R"(", "latent": {"seed": 0}, "edits": [)" +
         edits + "]}";
}

TEST(HostileSessions, EachIsRefusedWithItsPlace) {
  refused_within([] { parse_session(session_with(R"({"id": "a", "tap": "main.2", "op": "multiply", "params": {"factor": NaN}})"), "nan.json"); },
                 {"nan.json:1:", "invalid JSON", "invalid literal"});
  refused_within([] { parse_session(session_with(R"({"id": "a", "tap": "main.2", "op": "multiply", "params": {"factor": 1e308}})"), "big.json"); },
                 {"big.json", "/edits/0/params/factor"});
  refused_within([] { parse_session(std::string(100000, '[') + std::string(100000, ']'), "deep.json"); }, {"deep.json"});
  {
    // A brush stroke of 10^7 points (60 MB): refused by the file's size before it is parsed (as
    // JSON it would take 2 GB).
    std::string points = "[0,0]";
    points.reserve(10000000 * 6);
    for (int i = 1; i < 10000000; ++i) points += ",[1,1]";
    const std::string text =
        session_with(R"({"id": "a", "tap": "main.2", "op": "brush", "params": {"points": [)" + points + "]}}");
    refused_within([&] { parse_session(text, "stroke.json"); },
                   {"stroke.json: 60000", "bytes, more than the 16 MB a session file may be"}, 16);
  }
}

TEST(HostileSessions, AMillionEditsAreRefusedAndAHundredThousandRead) {
  std::string edits;
  edits.reserve(1000000 * 80);
  for (int i = 0; i < 1000000; ++i) {
    edits += std::string(i ? "," : "") + R"({"id": "e)" + std::to_string(i) + R"(", "tap": "main.2", "op": "multiply", "params": {"factor": 2}})";
  }
  const std::string text = session_with(edits);
  refused_within([&] { parse_session(text, "million.json"); }, {"million.json: ", "bytes, more than the 16 MB"}, 16);
  // 100,000 edits (8 MB) are read, in bounded memory.
  const std::string smaller = session_with(edits.substr(0, edits.find(R"({"id": "e100000")") - 1));
  const long before = peak_rss_mb();
  EXPECT_EQ(parse_session(smaller, "lakh.json").edits.size(), 100000u);
  EXPECT_LT(peak_rss_mb() - before, 400 * kMemoryScale);
}

// --- Images --------------------------------------------------------------------------------------

void put32be(std::string& s, std::uint32_t v) {
  for (int i = 3; i >= 0; --i) s += static_cast<char>((v >> (8 * i)) & 0xff);
}

std::string png_chunk(const std::string& type, const std::string& data) {
  std::string out;
  put32be(out, static_cast<std::uint32_t>(data.size()));
  const std::string body = type + data;
  out += body;
  put32be(out, static_cast<std::uint32_t>(crc32(0, reinterpret_cast<const Bytef*>(body.data()), static_cast<uInt>(body.size()))));
  return out;
}

// An 8-bit RGB PNG whose header says `w` x `h` and whose pixel data is `idat` (a zlib stream).
std::string png_of(std::uint32_t w, std::uint32_t h, const std::string& idat) {
  std::string ihdr;
  put32be(ihdr, w), put32be(ihdr, h);
  ihdr += std::string("\x08\x02\x00\x00\x00", 5);  // depth 8, RGB, deflate, no filter method, not interlaced
  return std::string("\x89PNG\r\n\x1a\n", 8) + png_chunk("IHDR", ihdr) + png_chunk("IDAT", idat) + png_chunk("IEND", "");
}

// A baseline JPEG's start: SOI, then a frame header (SOF0) for `w` x `h`, 3 components.
std::string jpeg_claiming(std::uint16_t w, std::uint16_t h) {
  std::string j("\xff\xd8\xff\xc0\x00\x11\x08", 7);
  j += static_cast<char>(h >> 8), j += static_cast<char>(h & 0xff), j += static_cast<char>(w >> 8), j += static_cast<char>(w & 0xff);
  j += std::string("\x03\x01\x11\x00\x02\x11\x00\x03\x11\x00", 10);
  return j + std::string(64, '\0');
}

TEST(HostileImages, EachIsRefusedWithItsReason) {
  const std::string dir = test::temp_dir("hostile_images");
  Image ok;
  ok.width = ok.height = 16, ok.channels = 3;
  for (int i = 0; i < 16 * 16 * 3; ++i) ok.pixels.push_back(static_cast<std::uint8_t>(i * 37));
  const std::string good = encode_png(ok);
  const std::string limits = "larger than actmap reads (at most 32768 on a side and 67108864 pixels)";
  struct Case {
    std::string name, bytes;
    std::vector<std::string> says;
    bool bomb;  // also run under an address-space limit
  };
  const std::vector<Case> cases = {
      {"huge.png", png_of(100000, 100000, deflate_zeros(1000, MAX_WBITS)), {": an image of 100000x100000 pixels, " + limits}, true},
      // 16000 x 16000 x 3 is 768 MB: under stb's own limit (1 GB), so stb alone would allocate it.
      {"large.png", png_of(16000, 16000, deflate_zeros(1000, MAX_WBITS)), {": an image of 16000x16000 pixels, " + limits}, true},
      {"huge.jpg", jpeg_claiming(60000, 60000), {": an image of 60000x60000 pixels, " + limits}, true},
      // 200 MB of zeros behind a 1x1 header (4 bytes: a filter byte and one RGB pixel).
      {"bomb.png", png_of(1, 1, deflate_zeros(200u << 20, MAX_WBITS)),
       {": PNG pixel data inflates to more than the 4 bytes its 1x1 header implies (a decompression bomb); refused"}, true},
      {"cut.png", good.substr(0, good.size() / 2), {": cannot decode image: outofdata"}, false},
      {"bad-markers.jpg", std::string("\xff\xd8\xff\x01\xff\xff\xff\x99\x00\x04zzzz", 14), {": cannot decode image: unknown marker"}, false},
      {"empty.png", "", {": cannot decode image: the file is empty"}, false},
      {"text.png", "not an image at all\n", {": cannot decode image: unknown image type"}, false},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const std::string path = dir + "/" + c.name;
    write_file_atomic(path, c.bytes);
    refused_within([&] { read_image(path); }, {path + c.says[0]}, 32);
    if (c.bomb) refused_under_address_limit([&] { read_image(path); }, {path + c.says[0]}, 128);
  }
  // Where images come in: a mask named by a session edit.
  const std::string session = R"({"actmap_session": 1, "model": ")" + test::fixture("dcgan32/card.json") +
                              R"(", "latent": {"seed": 0}, "edits": [{"id": "m", "tap": "main.2", "op": "multiply", )"
                              R"("params": {"factor": 2}, "mask": {"file": ")" + dir + R"(/huge.png"}}]})";
  refused_within([&] { parse_session(session, "masked.json"); }, {"/edits/0/mask", dir + "/huge.png: an image of 100000x100000 pixels"});
  EXPECT_EQ(read_image((write_file_atomic(dir + "/ok.png", good), dir + "/ok.png")).pixels, ok.pixels);  // and a good one reads
}

// --- YAML (Network Bending configs and cluster dictionaries) -------------------------------------

TEST(HostileYaml, EachIsRefusedWithItsReason) {
  const ModelCard card = load_model_card(test::fixture("stylegan2/skip16.json"));
  std::string laughs = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n";
  for (char p = 'a'; p < 'i'; ++p) {
    const char n = static_cast<char>(p + 1);
    laughs += std::string(1, n) + ": &" + n + " [";
    for (int j = 0; j < 10; ++j) laughs += std::string(j ? ", " : "") + "*" + p;
    laughs += "]\n";
  }
  laughs += "transforms: *i\n";  // 10^9 values through aliases, in 400 bytes
  std::string million = "transforms: [1";
  for (int i = 1; i < 1000000; ++i) million += ",1";
  million += "]\n";
  struct Case {
    std::string name, text;
    std::vector<std::string> says;
  };
  const std::vector<Case> cases = {
      {"deep.yaml", std::string(100000, '[') + std::string(100000, ']'), {"deep.yaml: line 1: nested deeper than 64 levels"}},
      {"laughs.yaml", laughs, {"laughs.yaml: line ", ": more than 200000 values (counting what each alias repeats)"}},
      {"million.yaml", million, {"million.yaml: line 1: more than 200000 values"}},
      {"big.yaml", "# " + std::string(17u << 20, 'x') + "\n", {"big.yaml: 17825795 bytes, more than the 16 MB a Network Bending file may be"}},
      {"not-a-list.yaml", "transforms: {layer: 2}\n", {"not-a-list.yaml: line 1: transforms: expected a list of {layer, transform, params"}},
      {"unclosed.yaml", "transforms: [{layer: 2\n", {"unclosed.yaml: line ", ": not YAML: "}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    refused_within([&] { import_bending(c.text, c.name, card); }, c.says, 32);
    if (c.name == "laughs.yaml" || c.name == "million.yaml" || c.name == "deep.yaml") {
      refused_under_address_limit([&] { import_bending(c.text, c.name, card); }, c.says, 128);
    }
  }
  // The same bounds guard the cluster dictionary.
  refused_within([&] { import_bending("transforms: []\n", "c.yaml", card, laughs, "clusters.yaml"); },
                 {"clusters.yaml: line ", "more than 200000 values"}, 32);
  refused_within([&] { read_bending_clusters(million, "dict.yaml", card, nullptr); }, {"dict.yaml: line 1: more than 200000 values"}, 32);
  refused_within([&] { read_bending_clusters("- 1\n- 2\n", "list.yaml", card, nullptr); }, {"list.yaml: line 1: (document): expected a map"}, 32);
  // NaN and infinity where parameters go: refused by key when strict (a note otherwise, and no edit).
  BendingOptions strict;
  strict.strict = true;
  for (const std::string v : {".nan", ".inf", "-.inf"}) {
    SCOPED_TRACE(v);
    const std::string text = "transforms:\n- {layer: 2, transform: scalar-multiply, params: [" + v + "], features: all}\n";
    test::expect_error([&] { import_bending(text, "nan.yaml", card, "", "", strict); }, {"nan.yaml: line 2: transforms[0].params", "(--strict)"});
    EXPECT_TRUE(import_bending(text, "nan.yaml", card).edits.empty());
  }
  // Wrong types: a text where a number goes, a map where a layer goes.
  test::expect_error(
      [&] { import_bending("transforms:\n- {layer: 2, transform: rotate, params: [ten], features: all}\n", "t.yaml", card, "", "", strict); },
      {"t.yaml: line 2: transforms[0].params[0]: the text 'ten' is not a number to PyYAML"});
  test::expect_error(
      [&] { import_bending("transforms:\n- {layer: {a: 1}, transform: rotate, params: [1], features: all}\n", "l.yaml", card, "", "", strict); },
      {"l.yaml: line 2: transforms[0].layer"});
}

}  // namespace
}  // namespace actmap
