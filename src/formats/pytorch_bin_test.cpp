// pytorch_model.bin files written by torch.save (tests/fixtures/pytorch_bin/make_fixtures.py)
// load to exactly the tensors of their safetensors twins, and hostile ones are refused.
#include <gtest/gtest.h>

#include <cstring>
#include <set>

#include "test_support/temp_files.hpp"
#include "smol/pytorch_bin.hpp"
#include "smol/safetensors.hpp"

namespace smol {
namespace {

using testing::expect_error;
using testing::TempDir;

std::filesystem::path fixture(const std::string& name) {
  return std::filesystem::path(SMOL_SOURCE_DIR) / "tests" / "fixtures" / "pytorch_bin" / name;
}

// Same names, dtypes, shapes and bytes (bit-exact).
void expect_same_tensors(const std::map<std::string, const TensorView*>& got, const SafetensorsFile& twin) {
  std::set<std::string> got_names, want_names;
  for (const auto& entry : got) got_names.insert(entry.first);
  for (const auto& entry : twin.tensors()) want_names.insert(entry.first);
  EXPECT_EQ(got_names, want_names);
  for (const auto& [name, want] : twin.tensors()) {
    const auto it = got.find(name);
    if (it == got.end()) continue;
    const TensorView& t = *it->second;
    EXPECT_EQ(t.dtype, want.dtype) << name;
    EXPECT_EQ(t.shape, want.shape) << name;
    ASSERT_EQ(t.nbytes, want.nbytes) << name;
    EXPECT_EQ(t.nbytes == 0 || std::memcmp(t.data, want.data, t.nbytes) == 0, true) << name << ": bytes differ";
    EXPECT_EQ(reinterpret_cast<uintptr_t>(t.data) % dtype_size(t.dtype), 0u) << name << " is misaligned";
  }
}

std::map<std::string, const TensorView*> views_of(const std::map<std::string, TensorView>& tensors) {
  std::map<std::string, const TensorView*> out;
  for (const auto& [name, view] : tensors) out.emplace(name, &view);
  return out;
}

std::map<std::string, const TensorView*> views_of(const TensorStore& store) {
  std::map<std::string, const TensorView*> out;
  for (const std::string& name : store.names()) out.emplace(name, &store.get(name));
  return out;
}

bool in_mapping(const TensorView& t, const MappedFile& file) {
  return t.data >= file.data() && t.data + t.nbytes <= file.data() + file.size();
}

TEST(PytorchBin, TorchSaveFileMatchesItsSafetensorsTwin) {
  const PytorchBinFile bin = PytorchBinFile::open(fixture("single/pytorch_model.bin"));
  const SafetensorsFile twin = SafetensorsFile::open(fixture("single.safetensors"));
  ASSERT_EQ(bin.tensors().size(), 20u);
  expect_same_tensors(views_of(bin.tensors()), twin);
  EXPECT_EQ(bin.get("half.weight").dtype, DType::F16);
  EXPECT_EQ(bin.get("bf16.weight").dtype, DType::BF16);
  EXPECT_EQ(bin.get("position_ids").dtype, DType::I64);
  EXPECT_EQ(bin.get("mask").dtype, DType::BOOL);
}

TEST(PytorchBin, ReadModeMatchesToo) {
  const PytorchBinFile bin = PytorchBinFile::open(fixture("single/pytorch_model.bin"), LoadMode::Read);
  expect_same_tensors(views_of(bin.tensors()), SafetensorsFile::open(fixture("single.safetensors")));
}

TEST(PytorchBin, TiedWeightsAndOffsetsShareOneStorageInPlace) {
  const PytorchBinFile bin = PytorchBinFile::open(fixture("single/pytorch_model.bin"));
  const TensorView& embed = bin.get("embed.weight");
  EXPECT_EQ(embed.data, bin.get("lm_head.weight").data);
  EXPECT_TRUE(in_mapping(embed, bin.mapping()));
  // base[5:9] and base[9:]: offsets 5 and 9 into one 12-element storage.
  const TensorView& middle = bin.get("offset.middle");
  const TensorView& tail = bin.get("offset.tail");
  EXPECT_EQ(middle.shape, std::vector<int64_t>{4});
  EXPECT_EQ(tail.shape, std::vector<int64_t>{3});
  EXPECT_EQ(tail.data - middle.data, 4 * 4);
  EXPECT_TRUE(in_mapping(middle, bin.mapping()));
}

TEST(PytorchBin, OnlyNonContiguousTensorsAreCopied) {
  const PytorchBinFile bin = PytorchBinFile::open(fixture("single/pytorch_model.bin"));
  const TensorView& transposed = bin.get("transposed");
  EXPECT_EQ(transposed.shape, (std::vector<int64_t>{5, 3}));
  EXPECT_FALSE(in_mapping(transposed, bin.mapping()));
  EXPECT_FALSE(in_mapping(bin.get("strided"), bin.mapping()));
  // (5x3 + 3x3) floats; position_ids' stride (0, 1) over shape (1, 5) is contiguous.
  EXPECT_EQ(bin.copied_bytes(), (15u + 9u) * 4u);
  for (const auto& [name, t] : bin.tensors()) {
    if (name != "transposed" && name != "strided") {
      EXPECT_TRUE(in_mapping(t, bin.mapping())) << name;
    }
  }
}

TEST(PytorchBin, ZeroDimensionalAndEmptyTensors) {
  const PytorchBinFile bin = PytorchBinFile::open(fixture("single/pytorch_model.bin"));
  const TensorView& scalar = bin.get("scalar");
  EXPECT_TRUE(scalar.shape.empty());
  ASSERT_EQ(scalar.nbytes, 4u);
  EXPECT_EQ(scalar.f32()[0], 2.5f);
  EXPECT_EQ(bin.get("empty").shape, (std::vector<int64_t>{0, 3}));
  EXPECT_EQ(bin.get("empty").nbytes, 0u);
}

TEST(PytorchBin, DeflatedArchiveMatchesTwin) {
  const PytorchBinFile bin = PytorchBinFile::open(fixture("deflated.bin"));
  expect_same_tensors(views_of(bin.tensors()), SafetensorsFile::open(fixture("single.safetensors")));
  EXPECT_GT(bin.copied_bytes(), 0u);
}

TEST(PytorchBin, BigEndianArchiveIsSwappedToTwin) {
  const PytorchBinFile bin = PytorchBinFile::open(fixture("big_endian.bin"));
  expect_same_tensors(views_of(bin.tensors()), SafetensorsFile::open(fixture("single.safetensors")));
}

TEST(PytorchBin, LegacyFormatIsRefusedClearly) {
  expect_error([] { PytorchBinFile::open(fixture("legacy.bin")); },
               {"legacy.bin", "legacy torch.save format", "safetensors"});
}

TEST(PytorchBin, MissingTensorIsNamed) {
  const PytorchBinFile bin = PytorchBinFile::open(fixture("small.bin"));
  EXPECT_EQ(bin.find("nope"), nullptr);
  expect_error([&] { bin.get("nope"); }, {"small.bin", "tensor 'nope' missing"});
}

// Each tries to run `echo pwned > /tmp/smol-pytorch-bin-pwned` when unpickled by Python.
TEST(PytorchBin, ForbiddenGlobalsAreRefusedWithoutRunningAnything) {
  const std::filesystem::path marker = "/tmp/smol-pytorch-bin-pwned";
  std::filesystem::remove(marker);
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"evil_os_system.bin", "os.system"},
      {"evil_builtins_eval.bin", "builtins.eval"},
      {"evil_subprocess_popen.bin", "subprocess.Popen"},
      {"evil_reduce_object.bin", "posix.system"},  // os.system as pickle names it on Linux
      {"evil_plain_object.bin", "__main__.Plain"},
  };
  for (const auto& [file, global] : cases) {
    SCOPED_TRACE(file);
    const std::string message = expect_error([&] { PytorchBinFile::open(fixture(file)); },
                                             {file, "pickle global " + global + " is not allowed",
                                              "(only tensor storage is loaded)"});
    EXPECT_EQ(message, fixture(file).string() + ": pickle global " + global +
                           " is not allowed (only tensor storage is loaded)");
  }
  EXPECT_FALSE(std::filesystem::exists(marker));
}

TEST(TensorStore, FolderWithOnlyPytorchBinLoadsLikeSafetensors) {
  const TensorStore store = TensorStore::open_folder(fixture("single"));
  EXPECT_EQ(store.bin_files().size(), 1u);
  EXPECT_TRUE(store.files().empty());
  expect_same_tensors(views_of(store), SafetensorsFile::open(fixture("single.safetensors")));
}

TEST(TensorStore, ShardedPytorchBinFolder) {
  const TensorStore store = TensorStore::open_folder(fixture("sharded"));
  EXPECT_EQ(store.bin_files().size(), 2u);
  expect_same_tensors(views_of(store), SafetensorsFile::open(fixture("sharded.safetensors")));
}

TEST(TensorStore, DirectPytorchBinPath) {
  const TensorStore store = TensorStore::open_folder(fixture("small.bin"));
  EXPECT_EQ(store.names(), std::vector<std::string>{"w"});
  EXPECT_EQ(store.get("w").f32()[2], 2.0f);
}

TEST(TensorStore, SafetensorsWinOverPytorchBin) {
  TempDir dir;
  std::filesystem::copy_file(fixture("single/pytorch_model.bin"), dir / "pytorch_model.bin");
  const std::vector<float> v = {1, 2};
  write_safetensors(dir / "model.safetensors", {tensor_view("from_safetensors", {2}, v)});
  const TensorStore store = TensorStore::open_folder(dir.path());
  EXPECT_EQ(store.names(), std::vector<std::string>{"from_safetensors"});
  EXPECT_TRUE(store.bin_files().empty());
}

TEST(TensorStore, BrokenPytorchBinShardIsNamed) {
  TempDir dir;
  for (const char* name : {"pytorch_model-00001-of-00002.bin", "pytorch_model.bin.index.json"}) {
    std::filesystem::copy_file(fixture(std::string("sharded/") + name), dir / name);
  }
  testing::write_file(dir / "pytorch_model-00002-of-00002.bin", "PK but not really a zip");
  expect_error([&] { TensorStore::open_folder(dir.path()); }, {"pytorch_model-00002-of-00002.bin", "zip"});
}

}  // namespace
}  // namespace smol
