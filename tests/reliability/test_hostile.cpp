// Crafted hostile files for the readers, each with the exact error it must give, built here from
// the formats' definitions (pickle opcodes as Python's pickletools lists them; the zip layout of
// PKWARE's APPNOTE). Memory stays bounded: a reader must refuse before allocating what a file
// claims, which the tests check with the process's peak resident size.
#include <sys/resource.h>
#include <zlib.h>

#include <set>

#include "actmap/io/checkpoint_import.h"
#include "actmap/io/error.h"
#include "actmap/session/session.h"
#include "test_util.h"

namespace actmap {
namespace {

using Bytes = std::vector<std::uint8_t>;

Bytes bytes_of(const std::string& s) { return Bytes(s.begin(), s.end()); }

// Sanitizers multiply memory (shadow memory, redzones): the bounds scale with them.
#if defined(__SANITIZE_THREAD__)
constexpr long kMemoryScale = 8;
#elif defined(__SANITIZE_ADDRESS__)
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

// `n` zero bytes, deflated in chunks (never all in memory).
ZipPart deflated_zeros(const std::string& name, std::uint64_t n) {
  ZipPart p;
  p.name = name;
  p.method = 8;
  z_stream zs{};
  deflateInit2(&zs, 9, Z_DEFLATED, -MAX_WBITS, 9, Z_DEFAULT_STRATEGY);
  const std::string zeros(1 << 20, '\0');
  std::string out(1 << 16, '\0');
  uLong crc = crc32(0L, Z_NULL, 0);
  for (std::uint64_t done = 0; done <= n;) {
    const std::uint64_t chunk = std::min<std::uint64_t>(zeros.size(), n - done);
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(zeros.data()));
    zs.avail_in = static_cast<uInt>(chunk);
    crc = crc32(crc, reinterpret_cast<const Bytef*>(zeros.data()), static_cast<uInt>(chunk));
    done += chunk;
    const int flush = done == n ? Z_FINISH : Z_NO_FLUSH;
    do {
      zs.next_out = reinterpret_cast<Bytef*>(out.data());
      zs.avail_out = static_cast<uInt>(out.size());
      deflate(&zs, flush);
      p.data.append(out.data(), out.size() - zs.avail_out);
    } while (zs.avail_out == 0);
    if (flush == Z_FINISH) break;
  }
  deflateEnd(&zs);
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

}  // namespace
}  // namespace actmap
