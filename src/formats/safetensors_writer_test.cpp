#include <gtest/gtest.h>

#include <cstring>

#include "test_support/temp_files.hpp"
#include "smol/half.hpp"
#include "smol/safetensors.hpp"

namespace smol {
namespace {

using testing::expect_error;
using testing::read_file;
using testing::TempDir;

TEST(SafetensorsWriter, RoundTripsAllFloatKinds) {
  TempDir dir;
  const std::vector<float> f32 = {1.0f, -2.5f, 3.25f, 0.0f, 1e-20f, -7.0f};
  std::vector<uint16_t> bf16, f16;
  for (const float v : f32) {
    bf16.push_back(f32_to_bf16(v));
    f16.push_back(f32_to_f16(v));
  }
  const std::vector<uint16_t> odd_bf16 = {f32_to_bf16(0.5f)};  // 2 bytes: tests layout order
  const auto path = dir / "t.safetensors";
  write_safetensors(path,
                    {tensor_view("b.odd", DType::BF16, {1}, odd_bf16), tensor_view("a.f32", {2, 3}, f32),
                     tensor_view("c.bf16", DType::BF16, {3, 2}, bf16), tensor_view("d.f16", DType::F16, {6}, f16)},
                    {{"format", "pt"}, {"ids", "[1, 2]"}});

  const SafetensorsFile file = SafetensorsFile::open(path);
  EXPECT_EQ(file.metadata().at("ids"), "[1, 2]");
  EXPECT_EQ(file.tensors().size(), 4u);
  const TensorView& a = file.get("a.f32");
  EXPECT_EQ(a.dtype, DType::F32);
  EXPECT_EQ(a.shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(std::memcmp(a.data, f32.data(), a.nbytes), 0);
  for (size_t i = 0; i < f32.size(); ++i) {
    EXPECT_EQ(file.get("c.bf16").u16()[i], bf16[i]);
    EXPECT_EQ(file.get("d.f16").u16()[i], f16[i]);
  }
  EXPECT_EQ(file.get("c.bf16").shape, (std::vector<int64_t>{3, 2}));
  EXPECT_EQ(bf16_to_f32(file.get("b.odd").u16()[0]), 0.5f);
  for (const auto& [name, t] : file.tensors()) {
    EXPECT_EQ(reinterpret_cast<uintptr_t>(t.data) % dtype_size(t.dtype), 0u) << name;
  }

  // Header padded to 8 bytes; payload contiguous (ends exactly at end of file).
  const std::string bytes = read_file(path);
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  EXPECT_EQ(n % 8, 0u);
  EXPECT_EQ(bytes.size(), 8 + n + 4 * 6 + 2 * 6 + 2 * 6 + 2);
}

TEST(SafetensorsWriter, CopiesLoadedTensorsAndLeavesNoTempFiles) {
  TempDir dir;
  const std::vector<float> v = {1, 2, 3, 4};
  write_safetensors(dir / "a.safetensors", {tensor_view("x", {4}, v)});
  const SafetensorsFile first = SafetensorsFile::open(dir / "a.safetensors");
  std::vector<TensorView> all;
  for (const auto& entry : first.tensors()) all.push_back(entry.second);
  write_safetensors(dir / "b.safetensors", all);
  // Overwrite in place (atomic replace) with different content.
  const std::vector<float> w = {9, 8};
  write_safetensors(dir / "a.safetensors", {tensor_view("y", {2}, w)});
  EXPECT_EQ(SafetensorsFile::open(dir / "b.safetensors").get("x").f32()[3], 4.0f);
  EXPECT_EQ(SafetensorsFile::open(dir / "a.safetensors").get("y").f32()[0], 9.0f);
  // `first` still maps the replaced file's old inode, so its data stays readable.
  EXPECT_EQ(first.get("x").f32()[2], 3.0f);
  int entries = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
    ++entries;
    EXPECT_EQ(entry.path().extension(), ".safetensors") << entry.path();
  }
  EXPECT_EQ(entries, 2);
}

TEST(SafetensorsWriter, EmptyFileRoundTrips) {
  TempDir dir;
  write_safetensors(dir / "e.safetensors", {});
  EXPECT_TRUE(SafetensorsFile::open(dir / "e.safetensors").tensors().empty());
}

TEST(SafetensorsWriter, RejectsBadInput) {
  TempDir dir;
  const auto path = dir / "w.safetensors";
  const std::vector<float> v = {1, 2, 3};
  expect_error([&] { write_safetensors(path, {tensor_view("x", {2, 2}, v)}); },
               {"w.safetensors", "tensor 'x'", "holds 12 bytes but F32 shape needs 16"});
  expect_error([&] { write_safetensors(path, {tensor_view("x", {3}, v), tensor_view("x", {3}, v)}); },
               {"tensor 'x'", "twice"});
  expect_error([&] { write_safetensors(path, {tensor_view("__metadata__", {3}, v)}); }, {"reserved"});
  expect_error([&] { write_safetensors(path, {tensor_view("x", {-3}, v)}); }, {"negative"});
  expect_error([&] { write_safetensors(path, {tensor_view("bad\xff", {3}, v)}); }, {"UTF-8"});
  const std::vector<uint16_t> h = {1};
  expect_error([&] { tensor_view("x", DType::F32, {1}, h); }, {"BF16 or F16"});
  EXPECT_FALSE(std::filesystem::exists(path));
  EXPECT_TRUE(std::filesystem::is_empty(dir.path()));
}

TEST(SafetensorsWriter, UnwritableFolderIsAnError) {
  TempDir dir;
  const std::vector<float> v = {1};
  expect_error([&] { write_safetensors(dir / "missing" / "w.safetensors", {tensor_view("x", {1}, v)}); },
               {"w.safetensors", "cannot create"});
}

}  // namespace
}  // namespace smol
