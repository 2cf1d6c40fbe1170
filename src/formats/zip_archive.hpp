#pragma once
// The zip container of torch.save files, read from bytes already in memory (a mapping) so that
// stored entries can be used in place. Not libzip: libzip (1.7) does not expose where an
// entry's bytes lie in the archive, so every tensor would have to be copied out of it.
// Covered: the end records (with zip64), the central directory, local headers, entries stored
// (what torch writes) or deflated (what zip tools may write when re-packing). Not covered:
// encryption, multi-disk archives, other compression methods — each a clear error.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace smol::formats_detail {

struct ZipEntry {
  std::string name;
  uint16_t method = 0;  // kZipStored or kZipDeflated
  uint32_t crc32 = 0;
  uint64_t compressed_size = 0;
  uint64_t size = 0;         // uncompressed
  uint64_t data_offset = 0;  // of the compressed bytes; [data_offset, +compressed_size) is in the archive
};

inline constexpr uint16_t kZipStored = 0;
inline constexpr uint16_t kZipDeflated = 8;

class ZipArchive {
 public:
  // Validates every record against the bounds of `bytes`, which must outlive the archive.
  // Errors are smol::Error starting with `where`.
  static ZipArchive parse(std::span<const std::byte> bytes, std::string where);

  const std::vector<ZipEntry>& entries() const { return entries_; }
  const ZipEntry* find(std::string_view name) const;  // nullptr if absent

  // A stored entry's bytes, in place (no CRC check: that would read every page of a model).
  std::span<const std::byte> stored_bytes(const ZipEntry& entry) const;
  // The uncompressed bytes into `out` (entry.size bytes): copied or inflated, CRC checked.
  void extract(const ZipEntry& entry, std::byte* out) const;
  // extract() into a string, for small records (data.pkl, version).
  std::string read_small(const ZipEntry& entry, uint64_t max_size) const;

  const std::string& where() const { return where_; }

 private:
  void inflate_into(std::span<const std::byte> in, uint64_t size, std::byte* out, const std::string& name) const;

  std::span<const std::byte> bytes_;
  std::string where_;
  std::vector<ZipEntry> entries_;  // sorted by name
};

}  // namespace smol::formats_detail
