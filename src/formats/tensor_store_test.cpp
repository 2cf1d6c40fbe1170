// Folder resolution and sharded-index validation.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "test_support/temp_files.hpp"
#include "smol/safetensors.hpp"

namespace smol {
namespace {

using testing::expect_error;
using testing::TempDir;
using testing::write_file;

class ShardedFolder : public ::testing::Test {
 protected:
  void SetUp() override {
    write_safetensors(dir_ / "model-00001-of-00002.safetensors",
                      {tensor_view("a", {2}, a_), tensor_view("b", {2}, b_)});
    write_safetensors(dir_ / "model-00002-of-00002.safetensors", {tensor_view("c", {1}, c_)});
  }
  void write_index(const nlohmann::json& index) { write_file(dir_ / "model.safetensors.index.json", index.dump()); }
  nlohmann::json good_index() const {
    return {{"metadata", {{"total_size", 20}}},
            {"weight_map",
             {{"a", "model-00001-of-00002.safetensors"},
              {"b", "model-00001-of-00002.safetensors"},
              {"c", "model-00002-of-00002.safetensors"}}}};
  }
  std::string index_path() const { return (dir_ / "model.safetensors.index.json").string(); }

  TempDir dir_;
  std::vector<float> a_ = {1, 2}, b_ = {3, 4}, c_ = {5};
};

TEST_F(ShardedFolder, OpensAllShards) {
  write_index(good_index());
  const TensorStore store = TensorStore::open_folder(dir_.path());
  EXPECT_EQ(store.names(), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(store.get("c").f32()[0], 5.0f);
  EXPECT_EQ(store.get("b").f32()[1], 4.0f);
}

TEST_F(ShardedFolder, IndexWinsOverSingleFile) {
  write_index(good_index());
  write_safetensors(dir_ / "model.safetensors", {tensor_view("z", {1}, c_)});
  EXPECT_EQ(TensorStore::open_folder(dir_.path()).find("z"), nullptr);
}

TEST_F(ShardedFolder, MissingShardFile) {
  auto index = good_index();
  index["weight_map"]["c"] = "model-00003-of-00003.safetensors";
  write_index(index);
  expect_error([&] { TensorStore::open_folder(dir_.path()); },
               {index_path(), "shard 'model-00003-of-00003.safetensors' does not exist"});
}

TEST_F(ShardedFolder, TensorNotInNamedShard) {
  auto index = good_index();
  index["weight_map"]["c"] = "model-00001-of-00002.safetensors";
  write_index(index);
  expect_error([&] { TensorStore::open_folder(dir_.path()); },
               {index_path(), "tensor 'c' is mapped to 'model-00001-of-00002.safetensors'", "does not contain it"});
}

TEST_F(ShardedFolder, ShardNameMayNotLeaveTheFolder) {
  auto index = good_index();
  index["weight_map"]["c"] = "../model-00002-of-00002.safetensors";
  write_index(index);
  expect_error([&] { TensorStore::open_folder(dir_.path()); }, {index_path(), "must be a file name in the folder"});
}

TEST_F(ShardedFolder, WeightMapMissingOrWrongType) {
  write_index({{"metadata", {}}});
  expect_error([&] { TensorStore::open_folder(dir_.path()); }, {index_path(), "missing 'weight_map'"});
  write_index({{"weight_map", {1, 2}}});
  expect_error([&] { TensorStore::open_folder(dir_.path()); }, {index_path(), "'weight_map' must be an object"});
  write_index({{"weight_map", {{"a", 3}}}});
  expect_error([&] { TensorStore::open_folder(dir_.path()); }, {index_path(), "shard for tensor 'a' must be a string"});
  write_index({{"weight_map", nlohmann::json::object()}});
  expect_error([&] { TensorStore::open_folder(dir_.path()); }, {index_path(), "empty"});
}

TEST_F(ShardedFolder, IndexNotJson) {
  write_file(dir_ / "model.safetensors.index.json", "{weight_map");
  expect_error([&] { TensorStore::open_folder(dir_.path()); }, {index_path(), "invalid JSON"});
}

TEST_F(ShardedFolder, CorruptShardIsNamed) {
  write_index(good_index());
  write_file(dir_ / "model-00002-of-00002.safetensors", "garbage!garbage!");
  expect_error([&] { TensorStore::open_folder(dir_.path()); }, {"model-00002-of-00002.safetensors"});
}

TEST(TensorStore, EmptyFolder) {
  TempDir dir;
  expect_error([&] { TensorStore::open_folder(dir.path()); },
               {dir.path().string(), "no model.safetensors, model.safetensors.index.json, pytorch_model.bin or pytorch_model.bin.index.json"});
}

TEST(TensorStore, MissingFolder) {
  TempDir dir;
  expect_error([&] { TensorStore::open_folder(dir / "nope"); }, {"nope", "no such model folder"});
}

TEST(TensorStore, SingleFileFolderAndDirectFile) {
  TempDir dir;
  const std::vector<float> v = {1, 2, 3};
  write_safetensors(dir / "model.safetensors", {tensor_view("w", {3}, v)});
  EXPECT_EQ(TensorStore::open_folder(dir.path()).get("w").f32()[2], 3.0f);
  const TensorStore direct = TensorStore::open_folder(dir / "model.safetensors");
  EXPECT_EQ(direct.names(), std::vector<std::string>{"w"});
  expect_error([&] { direct.get("q"); }, {"model.safetensors: tensor 'q' missing"});
}

}  // namespace
}  // namespace smol
