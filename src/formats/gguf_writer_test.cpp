// GGUF writing: byte-exact against a file built by hand from the specification, and read back
// with every metadata type.
#include <gtest/gtest.h>

#include "test_support/gguf_bytes.hpp"
#include "test_support/temp_files.hpp"
#include "smol/gguf.hpp"

namespace smol {
namespace {

using testing::expect_error;
using testing::TempDir;

TEST(GgufWriter, MatchesHandBuiltBytes) {
  // The same content as small_gguf(), whose bytes follow the specification literally.
  const std::vector<float> a = {0, 1, 2, 3, 4, 5}, b = {10, 11, 12, 13};
  GgufMetadata m;
  m.set("general.architecture", GgufValue::string("llama"));
  GgufValue list{GgufValueType::ARRAY, GgufValueType::U32, uint64_t{0}, {}};
  list.array = {uint64_t{7}, uint64_t{8}, uint64_t{9}};
  m.set("test.list", list);
  std::vector<GgufTensorToWrite> tensors = {gguf_tensor_from_view(tensor_view("a", {2, 3}, a), "a"),
                                            gguf_tensor_from_view(tensor_view("b", {4}, b), "b")};
  TempDir dir;
  write_gguf(dir / "w.gguf", m, tensors);
  EXPECT_EQ(testing::read_file(dir / "w.gguf"), testing::small_gguf().append(16, '\0'));  // the last tensor padded too
}

TEST(GgufWriter, RoundTripsEveryValueType) {
  GgufMetadata m;
  m.set("u8", {GgufValueType::U8, GgufValueType::U8, uint64_t{255}, {}});
  m.set("i8", {GgufValueType::I8, GgufValueType::U8, int64_t{-128}, {}});
  m.set("u16", {GgufValueType::U16, GgufValueType::U8, uint64_t{65535}, {}});
  m.set("i16", {GgufValueType::I16, GgufValueType::U8, int64_t{-32768}, {}});
  m.set("u32", GgufValue::u32(4294967295u));
  m.set("i32", GgufValue::i32(-5));
  m.set("f32", GgufValue::f32(1e-5f));
  m.set("bool", GgufValue::boolean(false));
  m.set("str", GgufValue::string(std::string("a\0b", 3)));
  m.set("u64", {GgufValueType::U64, GgufValueType::U8, uint64_t{~0ull}, {}});
  m.set("i64", {GgufValueType::I64, GgufValueType::U8, int64_t{-1}, {}});
  m.set("f64", {GgufValueType::F64, GgufValueType::U8, 3.141592653589793, {}});
  m.set("strs", GgufValue::strings({"x", "", "Ġ t"}));
  m.set("i32s", GgufValue::i32s({1, -2, 3}));
  m.set("general.alignment", GgufValue::u32(128));
  m.set("u32", GgufValue::u32(7));  // replaced in place
  const std::vector<uint16_t> half(64, 0x3c00);
  TempDir dir;
  write_gguf(dir / "v.gguf", m, {gguf_tensor_from_view(tensor_view("h", DType::F16, {2, 32}, half), "h")});
  const GgufFile f = GgufFile::open(dir / "v.gguf");
  EXPECT_EQ(f.metadata(), m);
  EXPECT_EQ(f.metadata().entries()[4].first, "u32");
  EXPECT_EQ(f.alignment(), 128u);
  EXPECT_EQ(f.data_offset() % 128, 0u);
  EXPECT_EQ(f.tensors()[0].dtype, DType::F16);
  EXPECT_EQ(std::memcmp(f.tensors()[0].data, half.data(), 128), 0);
  EXPECT_EQ(std::get<double>(f.metadata().find("f32")->scalar), static_cast<double>(1e-5f));
}

TEST(GgufWriter, RefusesWhatReadersWouldMisread) {
  TempDir dir;
  const std::vector<float> v(48, 1.0f);
  GgufMetadata m;
  m.set("x", {GgufValueType::U8, GgufValueType::U8, uint64_t{256}, {}});
  expect_error([&] { write_gguf(dir / "a.gguf", m, {}); }, {"'x'", "does not fit type u8"});
  GgufMetadata ok;
  GgufTensorToWrite q;
  q.name = "q";
  q.dtype = DType::Q8_0;
  q.shape = {48};
  q.fill = [](std::span<std::byte>) {};
  expect_error([&] { write_gguf(dir / "b.gguf", ok, {q}); }, {"'q'", "Q8_0"});
  auto t = gguf_tensor_from_view(tensor_view("t", {48}, v), std::string(64, 'n'));
  expect_error([&] { write_gguf(dir / "c.gguf", ok, {t}); }, {"longer than 63"});
  EXPECT_FALSE(std::filesystem::exists(dir / "c.gguf"));
  ok.set("general.alignment", GgufValue::u32(3));
  expect_error([&] { write_gguf(dir / "d.gguf", ok, {}); }, {"general.alignment"});
}

TEST(GgufWriter, TensorBytesFollowBlockSizes) {
  EXPECT_EQ(tensor_bytes(DType::F32, std::vector<int64_t>{3, 5}), 60u);
  EXPECT_EQ(tensor_bytes(DType::BF16, std::vector<int64_t>{7}), 14u);
  EXPECT_EQ(tensor_bytes(DType::Q8_0, std::vector<int64_t>{2, 64}), 136u);
  EXPECT_EQ(tensor_bytes(DType::Q4_0, std::vector<int64_t>{32}), 18u);
  EXPECT_EQ(tensor_bytes(DType::Q4_K, std::vector<int64_t>{3, 512}), 864u);
  EXPECT_EQ(tensor_bytes(DType::Q6_K, std::vector<int64_t>{256}), 210u);
  EXPECT_EQ(tensor_bytes(DType::Q4_K, std::vector<int64_t>{576}), std::nullopt);
  EXPECT_EQ(tensor_bytes(DType::F32, std::vector<int64_t>{-1}), std::nullopt);
  EXPECT_EQ(tensor_bytes(DType::F32, std::vector<int64_t>{1ll << 62, 8}), std::nullopt);
  EXPECT_EQ(ggml_type_name(6), "Q5_0");
  EXPECT_EQ(dtype_from_ggml(30), DType::BF16);
  EXPECT_EQ(static_cast<uint32_t>(ggml_type_from_dtype(DType::Q6_K)), 14u);
  EXPECT_THROW(ggml_type_from_dtype(DType::I64), Error);
  EXPECT_EQ(parse_dtype("Q8_0"), std::nullopt);  // not a safetensors dtype
}

}  // namespace
}  // namespace smol
