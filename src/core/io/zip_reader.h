// A reader for the zip archives torch.save writes (since PyTorch 1.6): STORED and DEFLATE entries,
// ZIP64 records. Every offset and size is checked against the archive before it is used; errors
// name the archive and the entry.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace actmap {

struct ZipEntry {
  std::string name;
  std::uint16_t method = 0;            // 0 stored, 8 deflate
  std::uint64_t compressed_size = 0;
  std::uint64_t size = 0;              // uncompressed
  std::uint64_t local_header = 0;      // offset of the local file header
  std::uint32_t crc32 = 0;
};

// The bytes of an entry: a view into the archive for STORED entries, or into `owned` after
// inflating a DEFLATE one.
struct ZipData {
  const std::uint8_t* data = nullptr;
  std::size_t size = 0;
  std::vector<std::uint8_t> owned;
};

class ZipReader {
 public:
  // Parses the central directory. `bytes` must outlive the reader. `name` labels errors.
  ZipReader(const std::uint8_t* bytes, std::size_t size, std::string name);

  const std::vector<ZipEntry>& entries() const { return entries_; }
  const ZipEntry* find(const std::string& entry_name) const;
  // Reads one entry, checking its local header, its sizes and its CRC-32.
  ZipData read(const ZipEntry& entry) const;

 private:
  [[noreturn]] void fail(const std::string& what) const;
  void check_no_overlap() const;

  const std::uint8_t* bytes_;
  std::size_t size_;
  std::string name_;
  std::vector<ZipEntry> entries_;
};

}  // namespace actmap
