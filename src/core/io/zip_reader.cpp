#include "io/zip_reader.h"

#include <algorithm>
#include <zlib.h>

#include "actmap/io/error.h"
#include "io/float_bits.h"

namespace actmap {
namespace {

constexpr std::uint32_t kEndOfCentralDir = 0x06054b50;
constexpr std::uint32_t kZip64Locator = 0x07064b50;
constexpr std::uint32_t kZip64EndOfCentralDir = 0x06064b50;
constexpr std::uint32_t kCentralHeader = 0x02014b50;
constexpr std::uint32_t kLocalHeader = 0x04034b50;
constexpr std::size_t kEndSize = 22, kLocatorSize = 20, kZip64EndSize = 56, kCentralSize = 46, kLocalSize = 30;
// DEFLATE cannot expand data by more than about 1032:1; a larger claim is a lie or a bomb.
constexpr std::uint64_t kMaxDeflateRatio = 1032;
constexpr std::uint64_t kMaxInflateRatio = 100;
constexpr std::uint64_t kBombFloor = std::uint64_t{16} << 20;

}  // namespace

void ZipReader::fail(const std::string& what) const { throw Error(name_ + ": " + what); }

ZipReader::ZipReader(const std::uint8_t* bytes, std::size_t size, std::string name)
    : bytes_(bytes), size_(size), name_(std::move(name)) {
  // The end-of-central-directory record is in the last 22 + 65535 bytes (a comment may follow it).
  if (size_ < kEndSize) fail("truncated zip archive (" + std::to_string(size_) + " bytes, no end-of-central-directory record)");
  std::size_t eocd = size_;
  const std::size_t lowest = size_ > kEndSize + 0xffff ? size_ - kEndSize - 0xffff : 0;
  for (std::size_t p = size_ - kEndSize + 1; p-- > lowest;) {
    if (load_u32(bytes_ + p) == kEndOfCentralDir && p + kEndSize + load_u16(bytes_ + p + 20) == size_) {
      eocd = p;
      break;
    }
  }
  if (eocd == size_) fail("truncated or not a zip archive: no end-of-central-directory record");
  std::uint64_t count = load_u16(bytes_ + eocd + 10);
  std::uint64_t dir_size = load_u32(bytes_ + eocd + 12);
  std::uint64_t dir_offset = load_u32(bytes_ + eocd + 16);
  if (count == 0xffff || dir_size == 0xffffffffu || dir_offset == 0xffffffffu) {
    if (eocd < kLocatorSize || load_u32(bytes_ + eocd - kLocatorSize) != kZip64Locator) {
      fail("zip archive needs ZIP64 records but has no ZIP64 locator");
    }
    const std::uint64_t z64 = load_u64(bytes_ + eocd - kLocatorSize + 8);
    if (size_ < kZip64EndSize || z64 > size_ - kZip64EndSize || load_u32(bytes_ + z64) != kZip64EndOfCentralDir) {
      fail("ZIP64 end-of-central-directory record at offset " + std::to_string(z64) + " is missing or outside the file");
    }
    count = load_u64(bytes_ + z64 + 32);
    dir_size = load_u64(bytes_ + z64 + 40);
    dir_offset = load_u64(bytes_ + z64 + 48);
  }
  if (dir_offset > size_ || dir_size > size_ - dir_offset) {
    fail("zip central directory (offset " + std::to_string(dir_offset) + ", " + std::to_string(dir_size) +
         " bytes) lies outside the file (" + std::to_string(size_) + " bytes)");
  }
  if (count > dir_size / kCentralSize) {
    fail("zip central directory claims " + std::to_string(count) + " entries but holds only " + std::to_string(dir_size) + " bytes");
  }
  std::size_t p = dir_offset;
  const std::size_t end = dir_offset + dir_size;
  entries_.reserve(count);
  for (std::uint64_t i = 0; i < count; ++i) {
    if (end - p < kCentralSize || load_u32(bytes_ + p) != kCentralHeader) {
      fail("zip central directory entry " + std::to_string(i) + " is damaged (no header signature at offset " + std::to_string(p) + ")");
    }
    ZipEntry e;
    const std::uint16_t flags = load_u16(bytes_ + p + 8);
    e.method = load_u16(bytes_ + p + 10);
    e.crc32 = load_u32(bytes_ + p + 16);
    e.compressed_size = load_u32(bytes_ + p + 20);
    e.size = load_u32(bytes_ + p + 24);
    const std::size_t name_len = load_u16(bytes_ + p + 28), extra_len = load_u16(bytes_ + p + 30),
                      comment_len = load_u16(bytes_ + p + 32);
    e.local_header = load_u32(bytes_ + p + 42);
    if (end - p - kCentralSize < name_len + extra_len + comment_len) {
      fail("zip central directory entry " + std::to_string(i) + " runs past the directory");
    }
    e.name.assign(reinterpret_cast<const char*>(bytes_ + p + kCentralSize), name_len);
    if (flags & 1) fail("zip entry '" + e.name + "' is encrypted");
    // ZIP64 extra field: 64-bit values for exactly the fields saturated above, in this order.
    const std::uint8_t* x = bytes_ + p + kCentralSize + name_len;
    for (std::size_t k = 0; k + 4 <= extra_len;) {
      const std::uint16_t id = load_u16(x + k), len = load_u16(x + k + 2);
      if (k + 4 + len > extra_len) fail("zip entry '" + e.name + "' has a damaged extra field");
      if (id == 1) {
        std::size_t q = k + 4;
        auto take = [&](std::uint64_t& v) {
          if (q + 8 > k + 4 + len) fail("zip entry '" + e.name + "' has a ZIP64 extra field too short for its sizes");
          v = load_u64(x + q);
          q += 8;
        };
        if (e.size == 0xffffffffu) take(e.size);
        if (e.compressed_size == 0xffffffffu) take(e.compressed_size);
        if (e.local_header == 0xffffffffu) take(e.local_header);
      }
      k += 4 + len;
    }
    entries_.push_back(std::move(e));
    p += kCentralSize + name_len + extra_len + comment_len;
  }
  check_no_overlap();
}

// Entries whose bytes overlap are how the best zip bombs multiply one compressed block (David
// Fifield's overlapping-file construction); a well-formed archive never has them.
void ZipReader::check_no_overlap() const {
  struct Span {
    std::uint64_t begin, end;
    const ZipEntry* e;
  };
  std::vector<Span> spans;
  spans.reserve(entries_.size());
  for (const auto& e : entries_) {
    // An entry that does not fit in the file is reported, more precisely, when it is read.
    if (e.local_header > size_ || size_ - e.local_header < kLocalSize) continue;
    const std::uint64_t data = e.local_header + kLocalSize + load_u16(bytes_ + e.local_header + 26) +
                               std::uint64_t{load_u16(bytes_ + e.local_header + 28)};
    if (data > size_ || e.compressed_size > size_ - data) continue;
    spans.push_back({e.local_header, data + e.compressed_size, &e});
  }
  std::sort(spans.begin(), spans.end(), [](const Span& a, const Span& b) { return a.begin < b.begin; });
  for (std::size_t i = 1; i < spans.size(); ++i) {
    if (spans[i].begin < spans[i - 1].end) {
      fail("zip entries '" + spans[i - 1].e->name + "' and '" + spans[i].e->name + "' overlap (bytes " +
           std::to_string(spans[i].begin) + " to " + std::to_string(std::min(spans[i].end, spans[i - 1].end)) +
           "): a damaged archive or an overlapping-entry zip bomb");
    }
  }
}

const ZipEntry* ZipReader::find(const std::string& entry_name) const {
  for (const auto& e : entries_) {
    if (e.name == entry_name) return &e;
  }
  return nullptr;
}

ZipData ZipReader::read(const ZipEntry& e) const {
  const std::string where = "zip entry '" + e.name + "'";
  if (e.local_header > size_ || size_ - e.local_header < kLocalSize || load_u32(bytes_ + e.local_header) != kLocalHeader) {
    fail(where + ": no local header at offset " + std::to_string(e.local_header) + " (file is " + std::to_string(size_) + " bytes)");
  }
  const std::uint64_t data_start =
      e.local_header + kLocalSize + load_u16(bytes_ + e.local_header + 26) + load_u16(bytes_ + e.local_header + 28);
  if (data_start > size_ || e.compressed_size > size_ - data_start) {
    fail(where + " claims " + std::to_string(e.compressed_size) + " bytes at offset " + std::to_string(data_start) +
         ", past the end of the file (" + std::to_string(size_) + " bytes)");
  }
  ZipData out;
  if (e.method == 0) {
    if (e.compressed_size != e.size) {
      fail(where + " is stored uncompressed but its sizes disagree (" + std::to_string(e.compressed_size) + " vs " +
           std::to_string(e.size) + " bytes)");
    }
    out.data = bytes_ + data_start;
    out.size = e.size;
  } else if (e.method == 8) {
    if (e.size > e.compressed_size * kMaxDeflateRatio + 1024) {
      fail(where + " claims to inflate " + std::to_string(e.compressed_size) + " bytes to " + std::to_string(e.size) +
           ", more than DEFLATE can");
    }
    // torch.save stores its entries uncompressed; a compressed one that grows past 16 MiB at more
    // than 100:1 is a bomb, not weights (float weights compress by a few percent).
    if (e.size > kBombFloor && e.size > e.compressed_size * kMaxInflateRatio) {
      fail(where + " would inflate " + std::to_string(e.compressed_size) + " bytes to " + std::to_string(e.size) + " (" +
           std::to_string(e.size / std::max<std::uint64_t>(e.compressed_size, 1)) + ":1, more than the " +
           std::to_string(kMaxInflateRatio) + ":1 actmap accepts above " + std::to_string(kBombFloor >> 20) +
           " MiB): a zip bomb, not a checkpoint");
    }
    out.owned.resize(e.size);
    z_stream zs{};
    if (inflateInit2(&zs, -MAX_WBITS) != Z_OK) fail(where + ": zlib could not start");
    std::uint64_t in_done = 0, out_done = 0;
    int rc = Z_OK;
    // zlib counts in 32-bit units: feed and drain in chunks.
    while (rc == Z_OK) {
      const std::uint64_t in_left = e.compressed_size - in_done, out_left = e.size - out_done;
      zs.next_in = const_cast<Bytef*>(bytes_ + data_start + in_done);
      zs.avail_in = static_cast<uInt>(std::min<std::uint64_t>(in_left, 1u << 30));
      zs.next_out = out.owned.data() + out_done;
      zs.avail_out = static_cast<uInt>(std::min<std::uint64_t>(out_left, 1u << 30));
      const uInt in0 = zs.avail_in, out0 = zs.avail_out;
      rc = inflate(&zs, Z_NO_FLUSH);
      in_done += in0 - zs.avail_in;
      out_done += out0 - zs.avail_out;
      if (rc == Z_OK && in0 == zs.avail_in && out0 == zs.avail_out) break;  // no progress
    }
    inflateEnd(&zs);
    if (rc != Z_STREAM_END || out_done != e.size) {
      fail(where + ": DEFLATE data is damaged or its size is wrong (inflated " + std::to_string(out_done) + " of " +
           std::to_string(e.size) + " bytes)");
    }
    out.data = out.owned.data();
    out.size = out.owned.size();
  } else {
    fail(where + " uses compression method " + std::to_string(e.method) + " (only stored and DEFLATE are supported)");
  }
  // crc32 counts in uInt units too.
  uLong crc = crc32(0L, Z_NULL, 0);
  for (std::size_t done = 0; done < out.size;) {
    const std::size_t n = std::min<std::size_t>(out.size - done, 1u << 30);
    crc = crc32(crc, out.data + done, static_cast<uInt>(n));
    done += n;
  }
  if (crc != e.crc32) fail(where + ": CRC-32 mismatch (the archive is damaged)");
  return out;
}

}  // namespace actmap
