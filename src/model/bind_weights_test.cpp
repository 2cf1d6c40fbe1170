// A checkpoint whose tensors don't fit its config must fail with a message naming the tensor.
#include <gtest/gtest.h>

#include <fstream>

#include "smol/error.hpp"
#include "smol/model.hpp"
#include "smol/safetensors.hpp"
#include "test_support/fixtures.hpp"

namespace smol {
namespace {

// Builds a copy of tiny-f32 in a temp folder with its tensors edited by `edit`.
class EditedCheckpoint : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("smol-bind-" + std::to_string(getpid()) + "-" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
    std::filesystem::copy_file(testing::fixtures_dir() / "tiny-f32" / "config.json", dir_ / "config.json");
    source_ = SafetensorsFile::open(testing::fixtures_dir() / "tiny-f32" / "model.safetensors");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string load_error(const std::function<void(std::vector<TensorView>&)>& edit) {
    std::vector<TensorView> tensors;
    for (const auto& [name, view] : source_.tensors()) tensors.push_back(view);
    edit(tensors);
    write_safetensors(dir_ / "model.safetensors", tensors);
    try {
      Model::load(dir_);
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  }

  std::filesystem::path dir_;
  SafetensorsFile source_;
};

TEST_F(EditedCheckpoint, UnchangedCopyLoads) {
  EXPECT_EQ(load_error([](auto&) {}), "");
}

TEST_F(EditedCheckpoint, MissingTensorIsNamed) {
  const std::string err = load_error([](std::vector<TensorView>& t) {
    std::erase_if(t, [](const TensorView& v) { return v.name == "model.layers.1.mlp.up_proj.weight"; });
  });
  EXPECT_NE(err.find("model.layers.1.mlp.up_proj.weight"), std::string::npos) << err;
  EXPECT_NE(err.find("missing"), std::string::npos) << err;
}

TEST_F(EditedCheckpoint, WrongShapeIsNamed) {
  const std::string err = load_error([](std::vector<TensorView>& t) {
    for (auto& v : t) {
      if (v.name == "model.layers.0.self_attn.k_proj.weight") v.shape = {v.shape[1], v.shape[0]};
    }
  });
  EXPECT_NE(err.find("model.layers.0.self_attn.k_proj.weight"), std::string::npos) << err;
  EXPECT_NE(err.find("shape"), std::string::npos) << err;
}

TEST_F(EditedCheckpoint, UnsupportedDtypeIsNamed) {
  const std::string err = load_error([](std::vector<TensorView>& t) {
    for (auto& v : t) {
      if (v.name == "model.norm.weight") v.dtype = DType::I32;
    }
  });
  EXPECT_NE(err.find("model.norm.weight"), std::string::npos) << err;
  EXPECT_NE(err.find("I32"), std::string::npos) << err;
}

TEST_F(EditedCheckpoint, UntiedModelWithoutLmHeadFails) {
  auto config = nlohmann::json::parse(std::ifstream(dir_ / "config.json"));
  config["tie_word_embeddings"] = false;
  std::ofstream(dir_ / "config.json") << config.dump();
  const std::string err = load_error([](auto&) {});
  EXPECT_NE(err.find("lm_head.weight"), std::string::npos) << err;
}

}  // namespace
}  // namespace smol
