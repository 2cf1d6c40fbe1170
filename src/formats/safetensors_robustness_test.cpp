// Damaged copies of a real checkpoint must only ever produce smol::Error: no crash, no hang,
// no out-of-bounds view. Also built with AddressSanitizer + UBSan (test_formats_sanitized).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <random>

#include "test_support/temp_files.hpp"
#include "smol/safetensors.hpp"
#include "test_support/fixtures.hpp"

namespace smol {
namespace {

using testing::read_file;
using testing::safetensors_bytes;
using testing::TempDir;
using testing::write_file;

enum class Outcome { Opened, Rejected };

// Opens `path`; any exception other than smol::Error fails the test. When the file opens, every
// view must lie inside the mapping, agree with its shape and be readable end to end.
Outcome open_checked(const std::filesystem::path& path) {
  try {
    const SafetensorsFile file = SafetensorsFile::open(path);
    const std::byte* begin = file.mapping().data();
    const std::byte* end = begin + file.mapping().size();
    for (const auto& [name, t] : file.tensors()) {
      EXPECT_EQ(t.nbytes, static_cast<size_t>(t.numel()) * dtype_size(t.dtype)) << name;
      if (t.nbytes == 0) continue;
      EXPECT_TRUE(t.data >= begin && t.data + t.nbytes <= end) << name;
      EXPECT_EQ(reinterpret_cast<uintptr_t>(t.data) % dtype_size(t.dtype), 0u) << name;
      volatile std::byte first = t.data[0];
      volatile std::byte last = t.data[t.nbytes - 1];
      (void)first;
      (void)last;
    }
    return Outcome::Opened;
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find(path.string()), std::string::npos) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
    return Outcome::Rejected;
  }
}

class Robustness : public ::testing::Test {
 protected:
  void SetUp() override {
    original_ = read_file(testing::fixtures_dir() / "tiny-f32" / "model.safetensors");
    ASSERT_GT(original_.size(), 4096u);
    uint64_t n = 0;
    for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(original_[i]);
    header_end_ = 8 + n;
    ASSERT_LT(header_end_, original_.size());
    path_ = dir_ / "damaged.safetensors";
    write_file(path_, original_);
    fd_ = ::open(path_.c_str(), O_RDWR | O_CLOEXEC);
    ASSERT_GE(fd_, 0);
  }
  void TearDown() override {
    if (fd_ >= 0) ::close(fd_);
  }

  // Patches one byte in place; the next open() maps the new contents.
  void write_byte(size_t offset, char value) {
    ASSERT_EQ(::pwrite(fd_, &value, 1, static_cast<off_t>(offset)), 1);
  }

  TempDir dir_;
  std::string original_;
  size_t header_end_ = 0;
  std::filesystem::path path_;
  int fd_ = -1;
};

TEST_F(Robustness, IntactCopyOpens) { EXPECT_EQ(open_checked(path_), Outcome::Opened); }

TEST_F(Robustness, EveryTruncationIsRejected) {
  // Every length through the header and a little past it, then a spread over the data; the file
  // is shrunk in place from the longest length down, which avoids rewriting 12 MB each time.
  std::vector<size_t> lengths;
  for (size_t len = 0; len <= header_end_ + 64; ++len) lengths.push_back(len);
  const size_t full = original_.size();
  for (size_t k = 1; k <= 200; ++k) lengths.push_back(header_end_ + (full - header_end_) * k / 201);
  for (size_t k = 1; k <= 16; ++k) lengths.push_back(full - k);
  std::sort(lengths.rbegin(), lengths.rend());
  lengths.erase(std::unique(lengths.begin(), lengths.end()), lengths.end());
  for (const size_t len : lengths) {
    std::filesystem::resize_file(path_, len);
    ASSERT_EQ(open_checked(path_), Outcome::Rejected) << "truncated to " << len;
  }
}

TEST_F(Robustness, BitFlipsInHeader) {
  std::vector<size_t> bits;
  for (size_t bit = 0; bit < 64; ++bit) bits.push_back(bit);  // the length prefix, exhaustively
  std::mt19937 rng(1234);
  const size_t region = std::min<size_t>(header_end_, 1024) * 8;
  for (int i = 0; i < 2500; ++i) bits.push_back(64 + rng() % (region - 64));
  for (int i = 0; i < 1000; ++i) bits.push_back(64 + rng() % (header_end_ * 8 - 64));  // the rest of the header
  int opened = 0;
  for (const size_t bit : bits) {
    const size_t offset = bit / 8;
    const char flipped = static_cast<char>(original_[offset] ^ (1 << (bit % 8)));
    write_byte(offset, flipped);
    opened += open_checked(path_) == Outcome::Opened;
    write_byte(offset, original_[offset]);
    if (::testing::Test::HasFailure()) FAIL() << "after flipping bit " << bit;
  }
  // Flips inside names or digits of unrelated offsets may still give a valid file; flips in the
  // JSON structure must not. Both outcomes have to occur or the test is not exercising anything.
  EXPECT_GT(opened, 0);
  EXPECT_LT(opened, static_cast<int>(bits.size()));
}

TEST_F(Robustness, RandomByteOverwritesInHeader) {
  std::mt19937 rng(99);
  for (int i = 0; i < 1500; ++i) {
    const size_t offset = rng() % header_end_;
    write_byte(offset, static_cast<char>(rng() & 0xff));
    open_checked(path_);
    write_byte(offset, original_[offset]);
    if (::testing::Test::HasFailure()) FAIL() << "after overwriting byte " << offset;
  }
}

TEST(RobustnessHostile, CraftedHeaders) {
  TempDir dir;
  const auto path = dir / "hostile.safetensors";
  const std::string deep_arrays = std::string(200000, '[') + std::string(200000, ']');
  const std::string deep_objects = [] {
    std::string s;
    for (int i = 0; i < 50000; ++i) s += "{\"a\":";
    s += "1";
    s += std::string(50000, '}');
    return s;
  }();
  const std::vector<std::string> headers = {
      deep_arrays,
      deep_objects,
      R"({"w":{"dtype":"F32","shape":[1e400],"data_offsets":[0,4]}})",
      R"({"w":{"dtype":"F32","shape":[99999999999999999999999],"data_offsets":[0,4]}})",
      R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,-0]}})",
      R"({"w":{"dtype":"F32","shape":null,"data_offsets":null}})",
      R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"__metadata__":null})",
      R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"__metadata__":"x"})",
      std::string("{\"w\x00\":1}", 9),
      "{\"\xff\xfe\":1}",
      "{\"\\ud800\":1}",
      "\xef\xbb\xbf{}",
      "{}garbage",
      "null",
  };
  for (const std::string& header : headers) {
    write_file(path, safetensors_bytes(header, std::string(4, '\0')));
    open_checked(path);
    ASSERT_FALSE(::testing::Test::HasFailure()) << "header starting " << header.substr(0, 40);
  }
}

}  // namespace
}  // namespace smol
