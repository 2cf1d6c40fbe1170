#pragma once
// Atomic file replacement for every writer (GGUF, safetensors, checkpoints): bytes go to a
// temporary file beside the target, which is renamed into place only once complete, so a
// crash or a full disk never leaves a half-written model under the real name.
#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>

namespace smol::formats_detail {

// Owns the temporary file until it is renamed into place; removes it on any failure.
class TempFile {
 public:
  explicit TempFile(const std::filesystem::path& target);
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  ~TempFile();

  void write(const void* bytes, size_t length);
  // Flushes to disk, closes and renames over the target.
  void commit();

 private:
  [[noreturn]] void fail(std::string_view what) const;

  std::filesystem::path target_;
  std::string temp_;
  int fd_ = -1;
  bool committed_ = false;
};

}  // namespace smol::formats_detail
