#pragma once
// A whole file mapped read-only into memory, unmapped when the owner goes away.
#include <cstddef>
#include <filesystem>

namespace smol {

class MappedFile {
 public:
  // Maps `path` read-only (private mapping). Throws smol::Error if it cannot be opened/mapped.
  static MappedFile open(const std::filesystem::path& path);
  // Reads `path` into fresh page-aligned memory, placed `lead` bytes after the start of the
  // allocation. Used when the file's payload would otherwise land misaligned.
  static MappedFile read_copy(const std::filesystem::path& path, size_t lead);

  MappedFile() = default;
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  const std::byte* data() const { return data_; }
  size_t size() const { return size_; }
  const std::filesystem::path& path() const { return path_; }

 private:
  void release() noexcept;

  std::filesystem::path path_;
  void* map_base_ = nullptr;  // what munmap needs; data_ may sit after it
  size_t map_length_ = 0;
  const std::byte* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace smol
