// Damaged pytorch_model.bin files (every truncation, random bit flips) only ever produce
// smol::Error: no crash, no hang, no view outside the file or the reader's own copies. Also
// built with AddressSanitizer + UBSan (test_formats_sanitized).
#include <gtest/gtest.h>

#include <random>

#include "formats/pickle_reader.hpp"
#include "test_support/temp_files.hpp"
#include "formats/zip_archive.hpp"
#include "smol/pytorch_bin.hpp"

namespace smol {
namespace {

std::string fixture_bytes(const std::string& name) {
  return testing::read_file(std::filesystem::path(SMOL_SOURCE_DIR) / "tests" / "fixtures" / "pytorch_bin" / name);
}

std::span<const std::byte> bytes_of(const std::string& s) { return std::as_bytes(std::span(s.data(), s.size())); }

enum class Outcome { Loaded, Rejected };

bool inside(const TensorView& t, const std::byte* begin, size_t size) {
  return t.data >= begin && t.data + t.nbytes <= begin + size;
}

// Parses `bytes`; anything but success or smol::Error fails the test. Loaded views must lie in
// the input or in one of the reader's buffers, and are read end to end (ASan checks each byte).
Outcome parse_checked(const std::string& bytes) {
  try {
    const PytorchBinTensors out = parse_pytorch_bin(bytes_of(bytes), "damaged.bin");
    for (const auto& [name, t] : out.tensors) {
      EXPECT_EQ(t.nbytes, static_cast<size_t>(t.numel()) * dtype_size(t.dtype)) << name;
      if (t.nbytes == 0) continue;
      bool ok = inside(t, reinterpret_cast<const std::byte*>(bytes.data()), bytes.size());
      for (const auto& buffer : out.buffers) ok = ok || inside(t, buffer.bytes.get(), buffer.size);
      EXPECT_TRUE(ok) << name << " points outside the file and the copies";
      unsigned sum = 0;
      for (size_t i = 0; i < t.nbytes; ++i) sum += std::to_integer<unsigned>(t.data[i]);
      volatile unsigned sink = sum;
      (void)sink;
    }
    return Outcome::Loaded;
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << e.what();
    return Outcome::Rejected;
  }
}

std::string data_pkl(const std::string& file) {
  const auto zip = formats_detail::ZipArchive::parse(bytes_of(file), "x");
  for (const auto& e : zip.entries()) {
    if (e.name.ends_with("/data.pkl")) return zip.read_small(e, 1 << 20);
  }
  ADD_FAILURE() << "no data.pkl";
  return {};
}

TEST(PytorchBinRobustness, EveryTruncationIsAnError) {
  for (const char* name : {"small.bin", "deflated.bin"}) {
    const std::string file = fixture_bytes(name);
    ASSERT_EQ(parse_checked(file), Outcome::Loaded) << name;
    for (size_t n = 0; n < file.size(); ++n) {
      EXPECT_EQ(parse_checked(file.substr(0, n)), Outcome::Rejected) << name << " cut to " << n << " bytes";
    }
  }
}

TEST(PytorchBinRobustness, EveryTruncatedPickleIsAnError) {
  const std::string pickle = data_pkl(fixture_bytes("single/pytorch_model.bin"));
  ASSERT_GT(pickle.size(), 1000u);
  for (size_t n = 0; n < pickle.size(); ++n) {
    EXPECT_THROW(formats_detail::read_state_dict_pickle(bytes_of(pickle.substr(0, n)), "data.pkl"), Error) << n;
  }
}

TEST(PytorchBinRobustness, BitFlippedFilesNeverCrash) {
  std::mt19937 rng(1234);
  for (const char* name : {"single/pytorch_model.bin", "deflated.bin", "big_endian.bin", "small.bin"}) {
    const std::string file = fixture_bytes(name);
    int rejected = 0, loaded = 0;
    for (int trial = 0; trial < 1500; ++trial) {
      std::string damaged = file;
      const int flips = 1 + static_cast<int>(rng() % 4);
      for (int f = 0; f < flips; ++f) damaged[rng() % damaged.size()] ^= static_cast<char>(1u << (rng() % 8));
      (parse_checked(damaged) == Outcome::Rejected ? rejected : loaded)++;
    }
    // Flips in tensor bytes go unnoticed (no CRC over in-place data); flips elsewhere do not.
    EXPECT_GT(rejected, 100) << name;
    EXPECT_GT(loaded, 0) << name;
  }
}

// The zip CRC guards data.pkl, so flip the pickle itself to reach the unpickler's checks.
TEST(PytorchBinRobustness, BitFlippedPicklesNeverCrash) {
  const std::string pickle = data_pkl(fixture_bytes("single/pytorch_model.bin"));
  std::mt19937 rng(99);
  int rejected = 0;
  for (int trial = 0; trial < 5000; ++trial) {
    std::string damaged = pickle;
    const int flips = 1 + static_cast<int>(rng() % 3);
    for (int f = 0; f < flips; ++f) damaged[rng() % damaged.size()] ^= static_cast<char>(1u << (rng() % 8));
    try {
      formats_detail::read_state_dict_pickle(bytes_of(damaged), "data.pkl");
    } catch (const Error& e) {
      ++rejected;
      EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << e.what();
    }
  }
  EXPECT_GT(rejected, 1000);
}

}  // namespace
}  // namespace smol
