// Zip records (APPNOTE.TXT 6.3): every offset and length comes from the file, so each is checked
// against the archive's bounds before it is used, with overflow-safe arithmetic.
#include "formats/zip_archive.hpp"

#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <limits>

#include <fmt/format.h>

#include "formats/text_util.hpp"
#include "smol/error.hpp"

namespace smol::formats_detail {
namespace {

constexpr uint32_t kEndSignature = 0x06054b50;
constexpr uint32_t kEnd64LocatorSignature = 0x07064b50;
constexpr uint32_t kEnd64Signature = 0x06064b50;
constexpr uint32_t kCentralSignature = 0x02014b50;
constexpr uint32_t kLocalSignature = 0x04034b50;
constexpr uint64_t kEndBytes = 22;
constexpr uint64_t kEnd64LocatorBytes = 20;
constexpr uint64_t kEnd64Bytes = 56;
constexpr uint64_t kCentralBytes = 46;
constexpr uint64_t kLocalBytes = 30;
constexpr uint16_t kZip64ExtraId = 0x0001;
constexpr uint16_t kEncryptedFlag = 0x0001;
// Deflate cannot expand data more than ~1032:1; a larger claim is a corrupt or hostile size.
constexpr uint64_t kMaxDeflateRatio = 1032;

// Little-endian reads from a range already checked to hold them.
uint64_t le(const std::byte* p, int n) {
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; --i) v = (v << 8) | std::to_integer<uint64_t>(p[i]);
  return v;
}

// A bounds-checked cursor over one record.
class Reader {
 public:
  Reader(std::span<const std::byte> bytes, uint64_t pos, const std::string& where, const char* record)
      : bytes_(bytes), pos_(pos), where_(where), record_(record) {}
  uint64_t u(int n) {
    need(n);
    const uint64_t v = le(bytes_.data() + pos_, n);
    pos_ += n;
    return v;
  }
  std::string_view text(uint64_t n) {
    need(n);
    std::string_view s(reinterpret_cast<const char*>(bytes_.data() + pos_), n);
    pos_ += n;
    return s;
  }
  void skip(uint64_t n) {
    need(n);
    pos_ += n;
  }
  uint64_t pos() const { return pos_; }

 private:
  void need(uint64_t n) const {
    if (pos_ > bytes_.size() || n > bytes_.size() - pos_) {
      throw Error(fmt::format("{}: zip {} at byte {} runs past the end of the file ({} bytes; truncated?)", where_,
                              record_, pos_, bytes_.size()));
    }
  }
  std::span<const std::byte> bytes_;
  uint64_t pos_;
  const std::string& where_;
  const char* record_;
};

struct Directory {
  uint64_t entries = 0;
  uint64_t offset = 0;
  uint64_t size = 0;
  uint64_t end = 0;  // where the directory must stop: the first end record
};

// The end-of-central-directory record sits in the last 22 + 65535 bytes (a trailing comment).
uint64_t find_end_record(std::span<const std::byte> bytes, const std::string& where) {
  if (bytes.size() >= kEndBytes) {
    const uint64_t last = bytes.size() - kEndBytes;
    const uint64_t first = last > 0xffff ? last - 0xffff : 0;
    for (uint64_t pos = last + 1; pos-- > first;) {
      if (le(bytes.data() + pos, 4) == kEndSignature && pos + kEndBytes + le(bytes.data() + pos + 20, 2) == bytes.size()) {
        return pos;
      }
    }
  }
  throw Error(fmt::format("{}: no zip end record in its last bytes: not a zip archive, or truncated ({} bytes)",
                          where, bytes.size()));
}

Directory read_directory(std::span<const std::byte> bytes, const std::string& where) {
  const uint64_t end_pos = find_end_record(bytes, where);
  Reader end(bytes, end_pos + 4, where, "end record");
  const uint64_t disk = end.u(2), directory_disk = end.u(2), disk_entries = end.u(2);
  Directory dir;
  dir.entries = end.u(2);
  dir.size = end.u(4);
  dir.offset = end.u(4);
  dir.end = end_pos;
  if (disk != 0 || directory_disk != 0 || disk_entries != dir.entries) {
    throw Error(fmt::format("{}: multi-disk zip archives are not supported", where));
  }
  // torch writes zip64 records always; other writers only when a field overflows.
  if (end_pos >= kEnd64LocatorBytes && le(bytes.data() + end_pos - kEnd64LocatorBytes, 4) == kEnd64LocatorSignature) {
    Reader locator(bytes, end_pos - kEnd64LocatorBytes + 4, where, "zip64 locator");
    locator.skip(4);
    const uint64_t end64_pos = locator.u(8);
    if (end64_pos > end_pos - kEnd64LocatorBytes || end_pos - kEnd64LocatorBytes - end64_pos < kEnd64Bytes) {
      throw Error(fmt::format("{}: zip64 end record offset {} is out of bounds", where, end64_pos));
    }
    Reader end64(bytes, end64_pos, where, "zip64 end record");
    if (end64.u(4) != kEnd64Signature) {
      throw Error(fmt::format("{}: no zip64 end record at byte {}", where, end64_pos));
    }
    end64.skip(8 + 2 + 2 + 4 + 4 + 8);
    dir.entries = end64.u(8);
    dir.size = end64.u(8);
    dir.offset = end64.u(8);
    dir.end = end64_pos;
  } else if (dir.entries == 0xffff || dir.size == 0xffffffff || dir.offset == 0xffffffff) {
    throw Error(fmt::format("{}: zip end record asks for zip64 records, which are missing", where));
  }
  if (dir.offset > dir.end || dir.size > dir.end - dir.offset) {
    throw Error(fmt::format("{}: zip central directory (byte {}, {} bytes) lies outside the file", where,
                            dir.offset, dir.size));
  }
  if (dir.entries > dir.size / kCentralBytes) {
    throw Error(fmt::format("{}: zip central directory claims {} entries in {} bytes", where, dir.entries, dir.size));
  }
  return dir;
}

// The zip64 extra field holds, in this order, whichever of the three are 0xffffffff above.
void apply_zip64_extra(std::string_view extra, ZipEntry& e, uint64_t& local_offset, const std::string& where) {
  const bool need_size = e.size == 0xffffffff, need_compressed = e.compressed_size == 0xffffffff,
             need_offset = local_offset == 0xffffffff;
  if (!need_size && !need_compressed && !need_offset) return;
  const auto* p = reinterpret_cast<const std::byte*>(extra.data());
  for (size_t pos = 0; pos + 4 <= extra.size();) {
    const uint64_t id = le(p + pos, 2), len = le(p + pos + 2, 2);
    pos += 4;
    if (len > extra.size() - pos) break;
    if (id == kZip64ExtraId) {
      size_t at = pos;
      const auto take = [&](uint64_t& field) {
        if (at + 8 > pos + len) {
          throw Error(fmt::format("{}: zip entry '{}': zip64 extra field is too short", where, printable(e.name)));
        }
        field = le(p + at, 8);
        at += 8;
      };
      if (need_size) take(e.size);
      if (need_compressed) take(e.compressed_size);
      if (need_offset) take(local_offset);
      return;
    }
    pos += len;
  }
  throw Error(fmt::format("{}: zip entry '{}' needs a zip64 extra field, which is missing", where, printable(e.name)));
}

ZipEntry read_entry(std::span<const std::byte> bytes, Reader& central, const Directory& dir, const std::string& where) {
  if (central.u(4) != kCentralSignature) {
    throw Error(fmt::format("{}: zip central directory entry at byte {} has a bad signature", where, central.pos() - 4));
  }
  ZipEntry e;
  central.skip(4);
  const uint64_t flags = central.u(2);
  e.method = static_cast<uint16_t>(central.u(2));
  central.skip(4);
  e.crc32 = static_cast<uint32_t>(central.u(4));
  e.compressed_size = central.u(4);
  e.size = central.u(4);
  const uint64_t name_len = central.u(2), extra_len = central.u(2), comment_len = central.u(2);
  central.skip(2 + 2 + 4);
  uint64_t local = central.u(4);
  e.name = std::string(central.text(name_len));
  const std::string_view extra = central.text(extra_len);
  central.skip(comment_len);
  apply_zip64_extra(extra, e, local, where);

  const std::string name = printable(e.name);
  if (flags & kEncryptedFlag) throw Error(fmt::format("{}: zip entry '{}' is encrypted", where, name));
  if (e.method != kZipStored && e.method != kZipDeflated) {
    throw Error(fmt::format("{}: zip entry '{}' uses compression method {} (only stored and deflated are supported)",
                            where, name, e.method));
  }
  if (e.method == kZipStored && e.compressed_size != e.size) {
    throw Error(fmt::format("{}: stored zip entry '{}' has compressed size {} but size {}", where, name,
                            e.compressed_size, e.size));
  }
  if (e.method == kZipDeflated && e.size / kMaxDeflateRatio > e.compressed_size) {
    throw Error(fmt::format("{}: zip entry '{}' claims {} bytes from {} deflated bytes", where, name, e.size,
                            e.compressed_size));
  }
  // Entries lie before the central directory.
  if (local > dir.offset) throw Error(fmt::format("{}: zip entry '{}' header offset {} is out of bounds", where, name, local));
  Reader header(bytes.first(dir.offset), local, where, "local header");
  if (header.u(4) != kLocalSignature) {
    throw Error(fmt::format("{}: zip entry '{}' has no local header at byte {}", where, name, local));
  }
  header.skip(kLocalBytes - 4 - 4);  // to the name and extra field lengths
  const uint64_t local_name_len = header.u(2), local_extra_len = header.u(2);
  if (header.text(local_name_len) != e.name) {
    throw Error(fmt::format("{}: zip entry '{}' has another name in its local header", where, name));
  }
  header.skip(local_extra_len);
  e.data_offset = header.pos();
  if (e.compressed_size > dir.offset - e.data_offset) {
    throw Error(fmt::format("{}: zip entry '{}' ({} bytes at byte {}) runs past its end (truncated?)", where, name,
                            e.compressed_size, e.data_offset));
  }
  return e;
}

}  // namespace

ZipArchive ZipArchive::parse(std::span<const std::byte> bytes, std::string where) {
  ZipArchive zip;
  zip.bytes_ = bytes;
  zip.where_ = std::move(where);
  const Directory dir = read_directory(bytes, zip.where_);
  zip.entries_.reserve(dir.entries);
  // Bounded by the directory's own size, so no entry can run past it.
  Reader central(bytes.first(dir.offset + dir.size), dir.offset, zip.where_, "central directory");
  for (uint64_t i = 0; i < dir.entries; ++i) zip.entries_.push_back(read_entry(bytes, central, dir, zip.where_));
  std::sort(zip.entries_.begin(), zip.entries_.end(), [](const ZipEntry& a, const ZipEntry& b) { return a.name < b.name; });
  for (size_t i = 1; i < zip.entries_.size(); ++i) {
    if (zip.entries_[i].name == zip.entries_[i - 1].name) {
      throw Error(fmt::format("{}: zip entry '{}' appears twice", zip.where_, printable(zip.entries_[i].name)));
    }
  }
  return zip;
}

const ZipEntry* ZipArchive::find(std::string_view name) const {
  const auto it = std::lower_bound(entries_.begin(), entries_.end(), name,
                                   [](const ZipEntry& e, std::string_view n) { return e.name < n; });
  return it != entries_.end() && it->name == name ? &*it : nullptr;
}

std::span<const std::byte> ZipArchive::stored_bytes(const ZipEntry& entry) const {
  if (entry.method != kZipStored) {
    throw Error(fmt::format("{}: zip entry '{}' is compressed", where_, printable(entry.name)));
  }
  return bytes_.subspan(entry.data_offset, entry.size);
}

void ZipArchive::extract(const ZipEntry& entry, std::byte* out) const {
  const std::string name = printable(entry.name);
  const std::span<const std::byte> in = bytes_.subspan(entry.data_offset, entry.compressed_size);
  if (entry.method == kZipStored) {
    if (entry.size > 0) std::memcpy(out, in.data(), entry.size);
  } else {
    inflate_into(in, entry.size, out, name);
  }
  uLong crc = crc32(0L, Z_NULL, 0);
  for (uint64_t done = 0; done < entry.size;) {
    const uint64_t n = std::min<uint64_t>(entry.size - done, uint64_t{1} << 30);
    crc = crc32(crc, reinterpret_cast<const Bytef*>(out + done), static_cast<uInt>(n));
    done += n;
  }
  if (crc != entry.crc32) throw Error(fmt::format("{}: zip entry '{}' fails its CRC-32 check (corrupt)", where_, name));
}

void ZipArchive::inflate_into(std::span<const std::byte> in, uint64_t size, std::byte* out, const std::string& name) const {
  z_stream z{};
  if (inflateInit2(&z, -MAX_WBITS) != Z_OK) throw Error(fmt::format("{}: zlib cannot start inflating", where_));
  std::byte unused{};  // zlib refuses a null output pointer even for zero bytes
  z.next_out = reinterpret_cast<Bytef*>(size > 0 ? out : &unused);
  // zlib counts in uInt (32 bits): feed and drain in chunks so entries over 4 GB work too.
  constexpr uint64_t kChunk = uint64_t{1} << 30;
  uint64_t in_given = 0, out_given = 0;
  int rc = Z_OK;
  while (rc == Z_OK) {
    if (z.avail_in == 0 && in_given < in.size()) {
      z.next_in = reinterpret_cast<Bytef*>(const_cast<std::byte*>(in.data() + in_given));
      z.avail_in = static_cast<uInt>(std::min(kChunk, in.size() - in_given));
      in_given += z.avail_in;
    }
    if (z.avail_out == 0 && out_given < size) {
      z.next_out = reinterpret_cast<Bytef*>(out + out_given);
      z.avail_out = static_cast<uInt>(std::min(kChunk, size - out_given));
      out_given += z.avail_out;
    }
    // Z_OK means progress was made; no progress (Z_BUF_ERROR) means the input ran out or the
    // stream holds more than the entry claims.
    rc = inflate(&z, Z_NO_FLUSH);
  }
  const uint64_t produced = out_given - z.avail_out;
  inflateEnd(&z);
  if (rc != Z_STREAM_END || produced != size) {
    throw Error(fmt::format("{}: zip entry '{}' does not inflate to its {} bytes (corrupt)", where_, name, size));
  }
}

std::string ZipArchive::read_small(const ZipEntry& entry, uint64_t max_size) const {
  if (entry.size > max_size) {
    throw Error(fmt::format("{}: zip entry '{}' is {} bytes, over the {} byte limit", where_, printable(entry.name),
                            entry.size, max_size));
  }
  std::string out(entry.size, '\0');
  extract(entry, reinterpret_cast<std::byte*>(out.data()));
  return out;
}

}  // namespace smol::formats_detail
