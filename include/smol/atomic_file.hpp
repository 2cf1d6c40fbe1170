#pragma once
// Crash-safe files for every writer (GGUF, safetensors, checkpoints, converted folders, Hub
// refs and blobs): bytes go to a temporary file beside the target, are flushed to disk, and
// the file is renamed into place and the folder flushed too. So `kill -9` or a power cut
// leaves either the old file or the new one under the real name, never a half-written one,
// and a full disk is an error that names the file, not a truncated model.
// Header-only (core): the Hub client, which links no other layer, uses it as well.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <filesystem>
#include <string>
#include <string_view>

#include "smol/error.hpp"

namespace smol {

// One line naming the file, what failed and why (errno `err`); a full disk says so.
[[noreturn]] inline void throw_io_error(const std::filesystem::path& path, std::string_view what, int err) {
  std::string reason = std::strerror(err);
  if (err == ENOSPC || err == EDQUOT) reason += " (the disk is full: free space and try again)";
  throw Error(path.string() + ": " + std::string(what) + ": " + reason);
}

// Writes all of `bytes` to `fd`, retrying short writes; a write that cannot go on (ENOSPC,
// EFBIG, EIO) throws naming `path`.
inline void write_all(int fd, const void* bytes, size_t length, const std::filesystem::path& path) {
  const auto* p = static_cast<const char*>(bytes);
  while (length > 0) {
    const ssize_t n = ::write(fd, p, length);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw_io_error(path, "write error", errno);
    if (n == 0) throw_io_error(path, "write error", ENOSPC);  // no progress: nowhere to put the bytes
    p += n;
    length -= static_cast<size_t>(n);
  }
}

// Flushes a folder's entries (a rename is durable only once its folder is).
inline void sync_dir(const std::filesystem::path& dir) {
  const int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) throw_io_error(dir, "cannot open the folder to flush it", errno);
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  // Some file systems cannot fsync a folder (EINVAL): their renames are as durable as they get.
  if (rc != 0 && err != EINVAL) throw_io_error(dir, "cannot flush the folder to disk", err);
}

// Flushes a complete file at `from` to disk and renames it to `to` (same folder), then
// flushes the folder: for files written elsewhere, such as a download's partial file.
inline void rename_durably(const std::filesystem::path& from, const std::filesystem::path& to) {
  const int fd = ::open(from.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw_io_error(from, "cannot open", errno);
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0) throw_io_error(from, "cannot flush to disk", err);
  if (::rename(from.c_str(), to.c_str()) != 0) throw_io_error(to, "cannot rename into place", errno);
  sync_dir(to.parent_path());
}

// Owns a temporary file beside `target` until commit() renames it into place; removes it on
// any failure (the destructor runs when an exception leaves the writer).
class AtomicFile {
 public:
  explicit AtomicFile(const std::filesystem::path& target) : target_(target) {
    std::string pattern = target.string() + ".tmp-XXXXXX";
    fd_ = ::mkstemp(pattern.data());
    if (fd_ < 0) throw_io_error(target, "cannot create a temporary file", errno);
    temp_ = pattern;
    ::fchmod(fd_, 0644);  // mkstemp's 0600 would make models unreadable to other users
  }
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  ~AtomicFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!committed_) ::unlink(temp_.c_str());
  }

  void write(const void* bytes, size_t length) { write_all(fd_, bytes, length, target_); }
  void write(std::string_view text) { write(text.data(), text.size()); }

  // Flushes to disk, closes, renames over the target and flushes the folder.
  void commit() {
    if (::fsync(fd_) != 0) throw_io_error(target_, "cannot flush to disk", errno);
    const int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) throw_io_error(target_, "cannot close", errno);
    if (::rename(temp_.c_str(), target_.c_str()) != 0) {
      throw_io_error(target_, "cannot rename the temporary file into place", errno);
    }
    committed_ = true;
    sync_dir(target_.parent_path());
  }

 private:
  std::filesystem::path target_;
  std::string temp_;
  int fd_ = -1;
  bool committed_ = false;
};

inline void write_file_atomic(const std::filesystem::path& path, std::string_view bytes) {
  AtomicFile out(path);
  out.write(bytes);
  out.commit();
}

// Copies `from` to `to` through a temporary file, so `to` is the old file or the whole copy.
inline void copy_file_atomic(const std::filesystem::path& from, const std::filesystem::path& to) {
  const int in = ::open(from.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0) throw_io_error(from, "cannot open", errno);
  try {
    AtomicFile out(to);
    char buf[1 << 16];
    for (;;) {
      const ssize_t n = ::read(in, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) throw_io_error(from, "read error", errno);
      if (n == 0) break;
      out.write(buf, static_cast<size_t>(n));
    }
    out.commit();
  } catch (...) {
    ::close(in);
    throw;
  }
  ::close(in);
}

}  // namespace smol
