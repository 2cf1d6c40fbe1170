// Every class of malformed safetensors file is refused with a one-line smol::Error naming the
// file (and the tensor, where one is at fault).
#include <gtest/gtest.h>

#include <cstring>

#include "test_support/temp_files.hpp"
#include "smol/safetensors.hpp"

namespace smol {
namespace {

using testing::expect_error;
using testing::safetensors_bytes;
using testing::TempDir;
using testing::write_file;

class SafetensorsErrors : public ::testing::Test {
 protected:
  // Writes the crafted bytes and expects open() to fail naming the file plus `parts`.
  std::string expect_rejected(const std::string& bytes, std::initializer_list<std::string_view> parts) {
    const auto path = dir_ / "bad.safetensors";
    write_file(path, bytes);
    const std::string message = expect_error([&] { SafetensorsFile::open(path); }, parts);
    EXPECT_NE(message.find(path.string() + ": "), std::string::npos) << message;
    return message;
  }
  std::string expect_rejected(const std::string& header, const std::string& data,
                              std::initializer_list<std::string_view> parts) {
    return expect_rejected(safetensors_bytes(header, data), parts);
  }
  SafetensorsFile open_ok(const std::string& header, const std::string& data) {
    const auto path = dir_ / "good.safetensors";
    write_file(path, safetensors_bytes(header, data));
    return SafetensorsFile::open(path);
  }

  TempDir dir_;
};

const std::string k16Bytes(16, '\x01');

TEST_F(SafetensorsErrors, ValidMinimalFileOpens) {
  const SafetensorsFile f = open_ok(R"({"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}})", k16Bytes);
  ASSERT_NE(f.find("a"), nullptr);
  EXPECT_EQ(f.find("a")->numel(), 4);
  EXPECT_EQ(f.find("a")->nbytes, 16u);
  EXPECT_TRUE(f.metadata().empty());
}

TEST_F(SafetensorsErrors, MissingFile) {
  expect_error([&] { SafetensorsFile::open(dir_ / "none.safetensors"); }, {"none.safetensors", "not found"});
}

TEST_F(SafetensorsErrors, EmptyFile) { expect_rejected(std::string(), {"too small"}); }

TEST_F(SafetensorsErrors, FileShorterThanLengthPrefix) { expect_rejected(std::string("\x10\0\0", 3), {"too small"}); }

TEST_F(SafetensorsErrors, HeaderLengthLargerThanFile) {
  expect_rejected(safetensors_bytes("{}", "", 1000), {"header length 1000 exceeds the file size"});
}

TEST_F(SafetensorsErrors, HeaderLengthNearUint64Max) {
  expect_rejected(safetensors_bytes("{}", "", ~uint64_t{0}), {"exceeds the file size"});
}

TEST_F(SafetensorsErrors, HeaderNotJson) { expect_rejected("{\"a\": nope}", "", {"header is not valid JSON"}); }

TEST_F(SafetensorsErrors, HeaderEmpty) { expect_rejected("", "", {"not valid JSON"}); }

TEST_F(SafetensorsErrors, HeaderNotObject) { expect_rejected("[1, 2, 3]", "", {"header must be a JSON object, got array"}); }

TEST_F(SafetensorsErrors, EntryNotObject) { expect_rejected(R"({"w": 5})", "", {"tensor 'w'", "must be an object"}); }

TEST_F(SafetensorsErrors, UnknownDtype) {
  expect_rejected(R"({"w":{"dtype":"F8_E4M3","shape":[16],"data_offsets":[0,16]}})", k16Bytes,
                  {"tensor 'w'", "unknown dtype 'F8_E4M3'"});
}

TEST_F(SafetensorsErrors, DtypeMissing) {
  expect_rejected(R"({"w":{"shape":[4],"data_offsets":[0,16]}})", k16Bytes, {"tensor 'w'", "missing 'dtype'"});
}

TEST_F(SafetensorsErrors, DtypeNotString) {
  expect_rejected(R"({"w":{"dtype":4,"shape":[4],"data_offsets":[0,16]}})", k16Bytes, {"tensor 'w'", "'dtype' must be a string"});
}

TEST_F(SafetensorsErrors, ShapeNegative) {
  expect_rejected(R"({"w":{"dtype":"F32","shape":[-4],"data_offsets":[0,16]}})", k16Bytes,
                  {"tensor 'w'", "shape entry -4 is negative"});
}

TEST_F(SafetensorsErrors, ShapeNotInteger) {
  expect_rejected(R"({"w":{"dtype":"F32","shape":[4.0],"data_offsets":[0,16]}})", k16Bytes,
                  {"tensor 'w'", "shape entry must be a non-negative integer"});
  expect_rejected(R"({"w":{"dtype":"F32","shape":["4"],"data_offsets":[0,16]}})", k16Bytes,
                  {"tensor 'w'", "shape entry must be a non-negative integer, got string"});
}

TEST_F(SafetensorsErrors, ShapeNotArray) {
  expect_rejected(R"({"w":{"dtype":"F32","shape":4,"data_offsets":[0,16]}})", k16Bytes, {"tensor 'w'", "'shape' must be an array"});
}

TEST_F(SafetensorsErrors, ShapeProductOverflows) {
  expect_rejected(R"({"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,16]}})", k16Bytes,
                  {"tensor 'w'", "overflows"});
  // numel fits in 64 bits but numel * 4 bytes does not.
  expect_rejected(R"({"w":{"dtype":"F32","shape":[4611686018427387904],"data_offsets":[0,16]}})", k16Bytes,
                  {"tensor 'w'", "overflows"});
  expect_rejected(R"({"w":{"dtype":"U8","shape":[18446744073709551615],"data_offsets":[0,16]}})", k16Bytes,
                  {"tensor 'w'", "overflows"});
}

TEST_F(SafetensorsErrors, OffsetsPastEnd) {
  expect_rejected(R"({"w":{"dtype":"F32","shape":[8],"data_offsets":[0,32]}})", k16Bytes,
                  {"tensor 'w'", "data_offsets end 32 is past the end of the data (16 bytes)"});
}

TEST_F(SafetensorsErrors, OffsetsHugeDoNotWrap) {
  expect_rejected(R"({"w":{"dtype":"U8","shape":[16],"data_offsets":[18446744073709551600,0]}})", k16Bytes,
                  {"tensor 'w'", "begin 18446744073709551600 is after end 0"});
  expect_rejected(R"({"w":{"dtype":"U8","shape":[16],"data_offsets":[18446744073709551600,18446744073709551615]}})",
                  k16Bytes, {"tensor 'w'", "past the end"});
}

TEST_F(SafetensorsErrors, BeginAfterEnd) {
  expect_rejected(R"({"w":{"dtype":"F32","shape":[0],"data_offsets":[8,4]}})", k16Bytes,
                  {"tensor 'w'", "begin 8 is after end 4"});
}

TEST_F(SafetensorsErrors, OffsetsNegative) {
  expect_rejected(R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[-16,0]}})", k16Bytes,
                  {"tensor 'w'", "data_offsets begin -16 is negative"});
}

TEST_F(SafetensorsErrors, OffsetsWrongArity) {
  expect_rejected(R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16,32]}})", k16Bytes,
                  {"tensor 'w'", "'data_offsets' must be an array [begin, end]"});
  expect_rejected(R"({"w":{"dtype":"F32","shape":[4]}})", k16Bytes, {"tensor 'w'", "missing 'data_offsets'"});
}

TEST_F(SafetensorsErrors, ByteCountDoesNotMatchShape) {
  expect_rejected(R"({"w":{"dtype":"BF16","shape":[4],"data_offsets":[0,16]}})", k16Bytes,
                  {"tensor 'w'", "holds 16 bytes but BF16 shape [4] needs 8"});
}

TEST_F(SafetensorsErrors, OverlappingRanges) {
  expect_rejected(
      R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,12]},"b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})",
      k16Bytes, {"'a' [0, 12)", "'b' [8, 16)", "overlap"});
}

TEST_F(SafetensorsErrors, IdenticalRangesOverlap) {
  expect_rejected(
      R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"b":{"dtype":"I32","shape":[4],"data_offsets":[0,16]}})",
      k16Bytes, {"overlap"});
}

TEST_F(SafetensorsErrors, MisalignedForDtype) {
  expect_rejected(R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[2,14]}})", k16Bytes,
                  {"tensor 'w'", "begin 2 is not a multiple of the F32 element size 4"});
  expect_rejected(R"({"w":{"dtype":"BF16","shape":[2],"data_offsets":[1,5]}})", k16Bytes,
                  {"tensor 'w'", "not a multiple of the BF16 element size 2"});
}

TEST_F(SafetensorsErrors, MetadataNotStrings) {
  expect_rejected(R"({"__metadata__":{"format":1}})", "", {"'__metadata__' value 'format' must be a string"});
  expect_rejected(R"({"__metadata__":[1]})", "", {"'__metadata__' must be an object"});
}

TEST_F(SafetensorsErrors, DuplicateTensorName) {
  expect_rejected(
      R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"a":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})",
      k16Bytes, {"tensor 'a' appears twice"});
}

TEST_F(SafetensorsErrors, ControlCharactersInNamesAreEscaped) {
  expect_rejected(R"({"bad\nname":{"dtype":"F32","shape":[-1],"data_offsets":[0,0]}})", "", {"bad\\x0aname"});
}

TEST_F(SafetensorsErrors, NonModelDtypesAreKnown) {
  const SafetensorsFile f = open_ok(
      R"({"i":{"dtype":"I64","shape":[1],"data_offsets":[0,8]},"b":{"dtype":"BOOL","shape":[2],"data_offsets":[8,10]},)"
      R"("u":{"dtype":"U8","shape":[2],"data_offsets":[10,12]},"h":{"dtype":"F16","shape":[2],"data_offsets":[12,16]}})",
      k16Bytes);
  EXPECT_EQ(f.get("i").dtype, DType::I64);
  EXPECT_EQ(f.get("b").dtype, DType::BOOL);
  EXPECT_EQ(f.get("u").dtype, DType::U8);
  EXPECT_EQ(f.get("h").dtype, DType::F16);
}

TEST_F(SafetensorsErrors, EmptyTensorsAndMetadataAreFine) {
  const SafetensorsFile f = open_ok(
      R"({"__metadata__":{"format":"pt"},"e":{"dtype":"F32","shape":[0,5],"data_offsets":[4,4]},"s":{"dtype":"F32","shape":[],"data_offsets":[0,4]}})",
      std::string(4, '\0'));
  EXPECT_EQ(f.get("e").numel(), 0);
  EXPECT_EQ(f.get("s").numel(), 1);  // a scalar
  EXPECT_EQ(f.metadata().at("format"), "pt");
  expect_error([&] { f.get("zzz"); }, {"good.safetensors", "tensor 'zzz' missing"});
}

TEST_F(SafetensorsErrors, UnpaddedHeaderStillGivesAlignedData) {
  // A 61-byte header puts the payload at file offset 69: the loader must not hand out a
  // misaligned float pointer.
  const std::string header = R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}      )";
  ASSERT_NE((8 + header.size()) % 8, 0u);
  const float values[2] = {1.5f, -2.25f};
  const SafetensorsFile f = open_ok(header, std::string(reinterpret_cast<const char*>(values), 8));
  const TensorView& w = f.get("w");
  EXPECT_EQ(reinterpret_cast<uintptr_t>(w.data) % 8, 0u);
  EXPECT_EQ(w.f32()[0], 1.5f);
  EXPECT_EQ(w.f32()[1], -2.25f);
}

TEST_F(SafetensorsErrors, DirectoryIsNotAFile) {
  expect_error([&] { SafetensorsFile::open(dir_.path()); }, {dir_.path().string(), "not a regular file"});
}

}  // namespace
}  // namespace smol
