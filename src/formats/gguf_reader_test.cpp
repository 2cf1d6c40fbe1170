// Reading GGUF files built byte by byte from the specification, and refusing broken ones with
// a one-line smol::Error (never a crash: these tests also run under ASan/UBSan).
#include <gtest/gtest.h>

#include <random>

#include "test_support/gguf_bytes.hpp"
#include "test_support/temp_files.hpp"
#include "smol/gguf.hpp"

namespace smol {
namespace {

using testing::expect_error;
using testing::GgufBytes;
using testing::TempDir;
using testing::write_file;

GgufFile open_bytes(const TempDir& dir, const std::string& bytes) {
  write_file(dir / "m.gguf", bytes);
  return GgufFile::open(dir / "m.gguf");
}

TEST(GgufReader, ReadsHandBuiltFile) {
  TempDir dir;
  const GgufFile f = open_bytes(dir, testing::small_gguf());
  EXPECT_EQ(f.version(), 3u);
  EXPECT_EQ(f.alignment(), 32u);
  EXPECT_EQ(f.metadata().get_string("general.architecture", "x"), "llama");
  EXPECT_EQ(f.metadata().get_ints("test.list", "x"), (std::vector<int64_t>{7, 8, 9}));
  EXPECT_EQ(f.metadata().find("test.list")->array_type, GgufValueType::U32);
  ASSERT_EQ(f.tensors().size(), 2u);
  const TensorView& a = f.tensors()[0];
  EXPECT_EQ(a.name, "a");
  EXPECT_EQ(a.shape, (std::vector<int64_t>{2, 3}));  // ne = {3, 2}: 2 rows of 3
  EXPECT_EQ(a.dtype, DType::F32);
  EXPECT_EQ(a.nbytes, 24u);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(a.f32()[i], static_cast<float>(i));
  const TensorView* b = f.find("b");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->shape, (std::vector<int64_t>{4}));
  EXPECT_EQ(b->f32()[3], 13.0f);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(b->data) % 32, 0u);
  EXPECT_EQ(f.find("c"), nullptr);
}

TEST(GgufReader, ReadsEveryValueTypeAndVersion2) {
  GgufBytes b;
  b.header(2, 0, 14);
  b.key("u8", 0).put<uint8_t>(200);
  b.key("i8", 1).put<int8_t>(-100);
  b.key("u16", 2).put<uint16_t>(60000);
  b.key("i16", 3).put<int16_t>(-30000);
  b.key("u32", 4).put<uint32_t>(4000000000u);
  b.key("i32", 5).put<int32_t>(-2000000000);
  b.key("f32", 6).put<float>(0.25f);
  b.key("bool", 7).put<uint8_t>(1);
  b.key("string", 8).str("héllo");
  b.key("u64", 10).put<uint64_t>(1ull << 40);
  b.key("i64", 11).put<int64_t>(-(1ll << 40));
  b.key("f64", 12).put<double>(1e-300);
  b.key("strings", 9).put<uint32_t>(8).put<uint64_t>(2).str("a b").str("");
  b.key("empty", 9).put<uint32_t>(5).put<uint64_t>(0);
  TempDir dir;
  const GgufFile f = open_bytes(dir, b.bytes());
  const GgufMetadata& m = f.metadata();
  EXPECT_EQ(f.version(), 2u);
  EXPECT_EQ(m.get_int("u8", "x"), 200);
  EXPECT_EQ(m.get_int("i8", "x"), -100);
  EXPECT_EQ(m.get_int("u16", "x"), 60000);
  EXPECT_EQ(m.get_int("i16", "x"), -30000);
  EXPECT_EQ(m.get_int("u32", "x"), 4000000000ll);
  EXPECT_EQ(m.get_int("i32", "x"), -2000000000);
  EXPECT_EQ(m.get_float("f32", "x"), 0.25);
  EXPECT_EQ(m.get_bool("bool", "x"), true);
  EXPECT_EQ(m.get_string("string", "x"), "héllo");
  EXPECT_EQ(m.get_int("u64", "x"), 1ll << 40);
  EXPECT_EQ(m.get_int("i64", "x"), -(1ll << 40));
  EXPECT_EQ(m.get_float("f64", "x"), 1e-300);
  EXPECT_EQ(m.get_strings("strings", "x"), (std::vector<std::string>{"a b", ""}));
  EXPECT_EQ(m.get_ints("empty", "x"), std::vector<int64_t>{});
  EXPECT_EQ(m.entries()[0].first, "u8");  // file order kept
  expect_error([&] { m.get_string("u8", "src.gguf"); }, {"src.gguf", "'u8'", "must be a string", "got u8"});
  expect_error([&] { m.require_int("absent", "src.gguf"); }, {"src.gguf", "'absent'", "missing"});
}

TEST(GgufReader, QuantizedTypesAndCustomAlignment) {
  GgufBytes b;
  b.header(3, 3, 1);
  b.key("general.alignment", 4).put<uint32_t>(64);
  b.tensor("q8", {64, 2}, 8, 0);     // 2 rows x 2 blocks x 34 bytes = 136
  b.tensor("q4k", {256}, 12, 192);   // 144 bytes
  b.tensor("q6k", {512}, 14, 384);   // 420 bytes
  b.pad(64);
  b.raw(std::string(384 + 420, '\x01'));
  TempDir dir;
  const GgufFile f = open_bytes(dir, b.bytes());
  EXPECT_EQ(f.alignment(), 64u);
  EXPECT_EQ(f.tensors()[0].dtype, DType::Q8_0);
  EXPECT_EQ(f.tensors()[0].nbytes, 136u);
  EXPECT_EQ(f.tensors()[1].dtype, DType::Q4_K);
  EXPECT_EQ(f.tensors()[1].nbytes, 144u);
  EXPECT_EQ(f.tensors()[2].dtype, DType::Q6_K);
  EXPECT_EQ(f.tensors()[2].nbytes, 420u);
  EXPECT_EQ(f.tensors()[2].data - f.mapping().data(), static_cast<ptrdiff_t>(f.data_offset() + 384));
}

// Each broken file and a fragment of the message it must produce.
struct BadFile {
  std::string name;
  std::string bytes;
  std::vector<std::string> message;
};

std::vector<BadFile> bad_files() {
  std::vector<BadFile> cases;
  auto tensor_file = [](auto&& add_tensors, uint64_t n_tensors, size_t data_bytes, uint32_t alignment = 32) {
    GgufBytes b;
    b.header(3, n_tensors, 1);
    b.key("general.alignment", 4).put<uint32_t>(alignment);
    add_tensors(b);
    b.pad(alignment);
    b.raw(std::string(data_bytes, '\0'));
    return b.bytes();
  };
  cases.push_back({"magic", "GGUX" + testing::small_gguf().substr(4), {"not a GGUF file"}});
  {
    std::string v = testing::small_gguf();
    v[4] = 1;
    cases.push_back({"version1", v, {"version 1", "not supported"}});
  }
  cases.push_back({"empty", "", {"file ends"}});
  cases.push_back({"absurd kv count", GgufBytes().header(3, 0, 1ull << 60).bytes(), {"metadata count", "impossible"}});
  cases.push_back({"absurd tensor count", GgufBytes().header(3, 1ull << 62, 0).bytes(), {"tensor count", "impossible"}});
  {
    GgufBytes b;
    b.header(3, 0, 1).put<uint64_t>(1ull << 50).raw(std::string(64, 'k'));
    cases.push_back({"huge key length", b.bytes(), {"past the end"}});
  }
  {
    GgufBytes b;
    b.header(3, 0, 1).key("x", 9).put<uint32_t>(4).put<uint64_t>(1ull << 40);
    cases.push_back({"huge array", b.bytes(), {"'x'", "impossible"}});
  }
  {
    GgufBytes b;
    b.header(3, 0, 1).key("x", 9).put<uint32_t>(9).put<uint64_t>(0);
    cases.push_back({"nested array", b.bytes(), {"array of arrays"}});
  }
  {
    GgufBytes b;
    b.header(3, 0, 1).key("x", 13).put<uint32_t>(0);
    cases.push_back({"unknown value type", b.bytes(), {"'x'", "unknown value type 13"}});
  }
  {
    GgufBytes b;
    b.header(3, 0, 1).key("x", 7).put<uint8_t>(2);
    cases.push_back({"bool 2", b.bytes(), {"bool", "2"}});
  }
  {
    GgufBytes b;
    b.header(3, 0, 2).key("x", 4).put<uint32_t>(1).key("x", 4).put<uint32_t>(2);
    cases.push_back({"duplicate key", b.bytes(), {"'x'", "twice"}});
  }
  {
    GgufBytes b;
    b.header(3, 0, 1).key("general.alignment", 4).put<uint32_t>(48);
    cases.push_back({"alignment", b.bytes(), {"general.alignment", "48", "power of two"}});
  }
  {
    GgufBytes b;
    b.header(3, 0, 1).key("general.alignment", 8).str("32");
    cases.push_back({"alignment type", b.bytes(), {"general.alignment", "must be u32"}});
  }
  cases.push_back({"past end", tensor_file([](GgufBytes& b) { b.tensor("w", {8}, 0, 0); }, 1, 16),
                   {"'w'", "past the end"}});
  cases.push_back({"overlap", tensor_file([](GgufBytes& b) { b.tensor("w", {16}, 0, 0).tensor("v", {8}, 0, 32); }, 2, 96),
                   {"'w'", "'v'", "overlap"}});
  cases.push_back({"unaligned", tensor_file([](GgufBytes& b) { b.tensor("w", {4}, 0, 16); }, 1, 64),
                   {"'w'", "offset 16", "alignment 32"}});
  cases.push_back({"Q5_1", tensor_file([](GgufBytes& b) { b.tensor("w", {32}, 7, 0); }, 1, 64),
                   {"'w'", "Q5_1", "does not support"}});
  cases.push_back({"unknown type", tensor_file([](GgufBytes& b) { b.tensor("w", {32}, 99, 0); }, 1, 64),
                   {"'w'", "type 99"}});
  cases.push_back({"partial block", tensor_file([](GgufBytes& b) { b.tensor("w", {48, 2}, 8, 0); }, 1, 128),
                   {"'w'", "Q8_0", "48", "32-element blocks"}});
  cases.push_back({"five dims", tensor_file([](GgufBytes& b) { b.tensor("w", {1, 1, 1, 1, 1}, 0, 0); }, 1, 32),
                   {"'w'", "5 dimensions"}});
  cases.push_back({"overflow", tensor_file([](GgufBytes& b) { b.tensor("w", {1ull << 40, 1ull << 40}, 0, 0); }, 1, 32),
                   {"'w'", "overflows"}});
  cases.push_back({"duplicate tensor", tensor_file([](GgufBytes& b) { b.tensor("w", {8}, 0, 0).tensor("w", {8}, 0, 32); }, 2, 64),
                   {"'w'", "twice"}});
  return cases;
}

TEST(GgufReader, BrokenFilesAreOneLineErrors) {
  TempDir dir;
  for (const BadFile& c : bad_files()) {
    SCOPED_TRACE(c.name);
    write_file(dir / "bad.gguf", c.bytes);
    const std::string message = expect_error([&] { GgufFile::open(dir / "bad.gguf"); }, {});
    EXPECT_NE(message.find((dir / "bad.gguf").string()), std::string::npos) << message;
    for (const auto& part : c.message) EXPECT_NE(message.find(part), std::string::npos) << message << " / " << part;
  }
}

// Any prefix of a valid file opens or fails with smol::Error, and the only prefixes that open
// are those that hold every tensor byte.
TEST(GgufReader, EveryTruncationIsAnError) {
  TempDir dir;
  const std::string full = testing::small_gguf();
  for (size_t n = 0; n < full.size(); ++n) {
    write_file(dir / "t.gguf", full.substr(0, n));
    EXPECT_THROW(GgufFile::open(dir / "t.gguf"), Error) << "prefix of " << n << " bytes";
  }
}

TEST(GgufReader, BitFlipsNeverCrash) {
  TempDir dir;
  const std::string full = testing::small_gguf();
  std::mt19937 rng(7);
  int opened = 0;
  for (int trial = 0; trial < 600; ++trial) {  // each trial writes a file: ~5 ms
    std::string bytes = full;
    const int flips = 1 + trial % 3;
    for (int i = 0; i < flips; ++i) {
      const size_t pos = rng() % bytes.size();
      bytes[pos] = static_cast<char>(bytes[pos] ^ (1 << (rng() % 8)));
    }
    write_file(dir / "f.gguf", bytes);
    try {
      const GgufFile f = GgufFile::open(dir / "f.gguf");
      ++opened;
      for (const TensorView& t : f.tensors()) {  // every view must lie inside the file
        EXPECT_GE(t.data, f.mapping().data());
        EXPECT_LE(t.data + t.nbytes, f.mapping().data() + f.mapping().size());
      }
    } catch (const Error&) {
    }
  }
  EXPECT_GT(opened, 0);  // flips in tensor data are harmless
}

}  // namespace
}  // namespace smol
