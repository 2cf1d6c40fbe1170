#include "formats/temp_file.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

#include "smol/error.hpp"

namespace smol::formats_detail {

TempFile::TempFile(const std::filesystem::path& target) : target_(target) {
  std::string pattern = target.string() + ".tmp-XXXXXX";
  fd_ = ::mkstemp(pattern.data());
  if (fd_ < 0) fail("cannot create a temporary file");
  temp_ = pattern;
  ::fchmod(fd_, 0644);  // mkstemp's 0600 would make models unreadable to other users
}

TempFile::~TempFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_) ::unlink(temp_.c_str());
}

void TempFile::write(const void* bytes, size_t length) {
  const auto* p = static_cast<const char*>(bytes);
  while (length > 0) {
    const ssize_t n = ::write(fd_, p, length);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail("write error");
    p += n;
    length -= static_cast<size_t>(n);
  }
}

void TempFile::commit() {
  if (::fsync(fd_) != 0) fail("cannot flush to disk");
  const int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) fail("cannot close");
  if (::rename(temp_.c_str(), target_.c_str()) != 0) fail("cannot rename the temporary file into place");
  committed_ = true;
}

void TempFile::fail(std::string_view what) const {
  throw Error(fmt::format("{}: {}: {}", target_.string(), what, std::strerror(errno)));
}

}  // namespace smol::formats_detail
