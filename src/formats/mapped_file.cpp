#include "smol/mapped_file.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <future>
#include <thread>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "smol/error.hpp"

namespace smol {

namespace {
constexpr size_t kHugePage = size_t{2} << 20;
}  // namespace

namespace {

// Closes the descriptor on every path out of open()/read_copy().
class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  FileDescriptor(FileDescriptor&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  FileDescriptor& operator=(FileDescriptor&&) = delete;
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  ~FileDescriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

[[noreturn]] void fail(const std::filesystem::path& path, std::string_view what, int err) {
  throw Error(fmt::format("{}: {}: {}", path.string(), what, std::strerror(err)));
}

// Opens a regular file and returns its descriptor and size.
std::pair<FileDescriptor, size_t> open_regular(const std::filesystem::path& path) {
  FileDescriptor fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    const int err = errno;
    if (err == ENOENT) throw Error(fmt::format("{}: file not found", path.string()));
    fail(path, "cannot open", err);
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) fail(path, "cannot stat", errno);
  if (!S_ISREG(st.st_mode)) throw Error(fmt::format("{}: not a regular file", path.string()));
  return {std::move(fd), static_cast<size_t>(st.st_size)};
}

}  // namespace

MappedFile MappedFile::open(const std::filesystem::path& path) {
  auto [fd, size] = open_regular(path);
  MappedFile file;
  file.path_ = path;
  file.size_ = size;
  if (size == 0) return file;  // mmap rejects empty lengths; an empty view is enough
  void* base = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd.get(), 0);
  if (base == MAP_FAILED) fail(path, "cannot map", errno);
  file.map_base_ = base;
  file.map_length_ = size;
  file.data_ = static_cast<const std::byte*>(base);
  return file;
}

namespace {

// Reads bytes [begin, end) of the file into out + begin.
void read_range(int fd, const std::filesystem::path& path, std::byte* out, size_t begin, size_t end) {
  for (size_t done = begin; done < end;) {
    const ssize_t n = ::pread(fd, out + done, end - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail(path, "read error", errno);
    if (n == 0) throw Error(fmt::format("{}: file shrank while being read", path.string()));
    done += static_cast<size_t>(n);
  }
}

}  // namespace

MappedFile MappedFile::read_copy(const std::filesystem::path& path, size_t lead) {
  auto [fd, size] = open_regular(path);
  MappedFile file;
  file.path_ = path;
  file.size_ = size;
  // Reserved with a huge page of slack so the copy can start on a 2 MB boundary; the slack is
  // never touched, so it costs address space only.
  const size_t length = lead + size + 1 + kHugePage;  // never zero
  void* base = ::mmap(nullptr, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (base == MAP_FAILED) fail(path, "cannot allocate memory for a copy", errno);
  file.map_base_ = base;
  file.map_length_ = length;
  const uintptr_t aligned = (reinterpret_cast<uintptr_t>(base) + kHugePage - 1) / kHugePage * kHugePage;
  auto* start = reinterpret_cast<std::byte*>(aligned);
#ifdef MADV_HUGEPAGE
  ::madvise(start, lead + size + 1, MADV_HUGEPAGE);  // advice only: ordinary pages where THP is off
#endif
  auto* out = start + lead;
  file.data_ = out;
  // Pieces read by several threads: most of a copy's time is the kernel faulting in and
  // zeroing fresh pages, which runs in parallel.
  const size_t n_threads = std::clamp<size_t>(std::thread::hardware_concurrency(), 1, 8);
  // At least one huge page: a file smaller than n_threads bytes made a zero piece, and the loop
  // below started threads forever (found by fuzzing a 1-byte file).
  const size_t piece = std::max(kHugePage, (size / n_threads + kHugePage - 1) / kHugePage * kHugePage);
  std::vector<std::future<void>> readers;
  const int descriptor = fd.get();  // clang 14 cannot capture a structured binding
  for (size_t begin = 0; begin < size; begin += piece) {
    const size_t end = std::min(size, begin + piece);
    readers.push_back(std::async(std::launch::async, [&, begin, end] { read_range(descriptor, path, out, begin, end); }));
  }
  for (auto& r : readers) r.get();  // rethrows the first failure
  ::mprotect(base, length, PROT_READ);  // same guarantees as a mapped file; failure is harmless
  return file;
}

MappedFile MappedFile::load(const std::filesystem::path& path, LoadMode mode) {
  return mode == LoadMode::Read ? read_copy(path, 0) : open(path);
}

MappedFile::MappedFile(MappedFile&& other) noexcept
    : path_(std::move(other.path_)),
      map_base_(std::exchange(other.map_base_, nullptr)),
      map_length_(std::exchange(other.map_length_, 0)),
      data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)) {}

MappedFile& MappedFile::operator=(MappedFile&& other) noexcept {
  if (this != &other) {
    release();
    path_ = std::move(other.path_);
    map_base_ = std::exchange(other.map_base_, nullptr);
    map_length_ = std::exchange(other.map_length_, 0);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

MappedFile::~MappedFile() { release(); }

void MappedFile::release() noexcept {
  if (map_base_ != nullptr) ::munmap(map_base_, map_length_);
  map_base_ = nullptr;
  map_length_ = 0;
  data_ = nullptr;
  size_ = 0;
}

}  // namespace smol
