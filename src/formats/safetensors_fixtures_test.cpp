// Loading the reference fixtures: every tensor the config implies, nothing else, right types.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "smol/error.hpp"
#include "smol/half.hpp"
#include "smol/json_file.hpp"
#include "smol/model_config.hpp"
#include "smol/safetensors.hpp"
#include "test_support/fixtures.hpp"

namespace smol {
namespace {

using Shapes = std::map<std::string, std::vector<int64_t>>;

// The Hugging Face LlamaForCausalLM state dict for a config.
Shapes expected_shapes(const ModelConfig& c) {
  const int64_t h = c.hidden_size, q = int64_t{c.num_attention_heads} * c.head_dim,
                kv = int64_t{c.num_key_value_heads} * c.head_dim, f = c.intermediate_size;
  Shapes s{{"model.embed_tokens.weight", {c.vocab_size, h}}, {"model.norm.weight", {h}}};
  if (!c.tie_word_embeddings) s["lm_head.weight"] = {c.vocab_size, h};
  for (int l = 0; l < c.num_hidden_layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    s[p + "input_layernorm.weight"] = {h};
    s[p + "post_attention_layernorm.weight"] = {h};
    s[p + "self_attn.q_proj.weight"] = {q, h};
    s[p + "self_attn.k_proj.weight"] = {kv, h};
    s[p + "self_attn.v_proj.weight"] = {kv, h};
    s[p + "self_attn.o_proj.weight"] = {h, q};
    s[p + "mlp.gate_proj.weight"] = {f, h};
    s[p + "mlp.up_proj.weight"] = {f, h};
    s[p + "mlp.down_proj.weight"] = {h, f};
  }
  return s;
}

DType dtype_for(const std::string& torch_dtype) {
  if (torch_dtype == "float32") return DType::F32;
  if (torch_dtype == "bfloat16") return DType::BF16;
  if (torch_dtype == "float16") return DType::F16;
  ADD_FAILURE() << "unexpected torch_dtype " << torch_dtype;
  return DType::F32;
}

float element(const TensorView& t, int64_t i) {
  switch (t.dtype) {
    case DType::F32: return t.f32()[i];
    case DType::BF16: return bf16_to_f32(t.u16()[i]);
    case DType::F16: return f16_to_f32(t.u16()[i]);
    default: ADD_FAILURE() << "unexpected dtype"; return 0;
  }
}

class Fixture : public ::testing::TestWithParam<const char*> {};

TEST_P(Fixture, TensorsMatchConfig) {
  const auto dir = testing::fixtures_dir() / GetParam();
  const ModelConfig config = ModelConfig::from_folder(dir);
  const TensorStore store = TensorStore::open_folder(dir);
  const Shapes want = expected_shapes(config);
  std::vector<std::string> want_names;
  for (const auto& entry : want) want_names.push_back(entry.first);
  EXPECT_EQ(store.names(), want_names);
  for (const auto& [name, shape] : want) {
    const TensorView& t = store.get(name);
    EXPECT_EQ(t.name, name);
    EXPECT_EQ(t.shape, shape) << name;
    EXPECT_EQ(t.dtype, dtype_for(config.torch_dtype)) << name;
    EXPECT_EQ(t.nbytes, static_cast<size_t>(t.numel()) * dtype_size(t.dtype)) << name;
    EXPECT_EQ(reinterpret_cast<uintptr_t>(t.data) % dtype_size(t.dtype), 0u) << name;
  }
  EXPECT_EQ(store.find("model.layers.99.mlp.up_proj.weight"), nullptr);
  try {
    store.get("nope.weight");
    ADD_FAILURE() << "missing tensor accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(dir.string() + ": tensor 'nope.weight' missing"), std::string::npos) << e.what();
  }
}

// Random-weight fixtures: norms drawn around 1, matrices around 0 with std ~0.4-0.6. Wrong byte
// order, wrong widening or wrong offsets would give garbage, NaN or huge values.
TEST_P(Fixture, ValuesDecodeSensibly) {
  const auto dir = testing::fixtures_dir() / GetParam();
  const TensorStore store = TensorStore::open_folder(dir);
  for (const std::string& name : store.names()) {
    const TensorView& t = store.get(name);
    double sum = 0, sum_sq = 0;
    for (int64_t i = 0; i < t.numel(); ++i) {
      const float v = element(t, i);
      ASSERT_TRUE(std::isfinite(v)) << name << "[" << i << "]";
      ASSERT_LT(std::fabs(v), 10.0f) << name << "[" << i << "]";
      sum += v;
      sum_sq += static_cast<double>(v) * v;
    }
    const double mean = sum / t.numel();
    const double stddev = std::sqrt(std::max(0.0, sum_sq / t.numel() - mean * mean));
    if (name.find("norm") != std::string::npos) {
      EXPECT_NEAR(mean, 1.0, 0.3) << name;
    } else {
      EXPECT_NEAR(mean, 0.0, 0.1) << name;
      EXPECT_GT(stddev, 0.05) << name;
      EXPECT_LT(stddev, 2.0) << name;
    }
  }
}

TEST_P(Fixture, ExpectedLogitsCarryIds) {
  const auto dir = testing::fixtures_dir() / GetParam();
  const SafetensorsFile logits = SafetensorsFile::open(dir / "expected_logits.safetensors");
  const TensorView& t = logits.get("logits");
  ASSERT_EQ(t.dtype, DType::F32);
  ASSERT_EQ(t.shape.size(), 2u);
  EXPECT_EQ(t.shape[1], 49152);
  const auto it = logits.metadata().find("ids");
  ASSERT_NE(it, logits.metadata().end());
  const nlohmann::json ids = parse_json_text(it->second, "ids");
  ASSERT_TRUE(ids.is_array());
  EXPECT_EQ(static_cast<int64_t>(ids.size()), t.shape[0]);
  // The prompt part of `ids` is prompt 0 of expected.json.
  const nlohmann::json expected = read_json_file(dir / "expected.json");
  const auto& prompt = expected["prompts"][0]["ids"];
  ASSERT_LE(prompt.size(), ids.size());
  for (size_t i = 0; i < prompt.size(); ++i) EXPECT_EQ(ids[i], prompt[i]);
  for (int64_t i = 0; i < t.numel(); ++i) ASSERT_TRUE(std::isfinite(t.f32()[i]));
}

INSTANTIATE_TEST_SUITE_P(All, Fixture, ::testing::Values("tiny-f32", "tiny-bf16", "tiny-f16-untied-sharded"),
                         [](const auto& info) {
                           std::string name = info.param;
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

TEST(Fixtures, ShardedStoreUsesBothShards) {
  const auto dir = testing::fixtures_dir() / "tiny-f16-untied-sharded";
  const TensorStore store = TensorStore::open_folder(dir);
  ASSERT_EQ(store.files().size(), 2u);
  EXPECT_EQ(store.get("lm_head.weight").data, store.files()[0].get("lm_head.weight").data);
  EXPECT_EQ(store.get("model.norm.weight").data, store.files()[1].get("model.norm.weight").data);
  // First values of model.norm.weight, decoded independently with Python's struct module.
  const TensorView& norm = store.get("model.norm.weight");
  EXPECT_EQ(f16_to_f32(norm.u16()[0]), 1.2021484375f);
  EXPECT_EQ(f16_to_f32(norm.u16()[3]), 0.8359375f);
}

TEST(Fixtures, Bf16ValuesMatchIndependentDecode) {
  const TensorStore store = TensorStore::open_folder(testing::fixtures_dir() / "tiny-bf16");
  const TensorView& q = store.get("model.layers.0.self_attn.q_proj.weight");
  EXPECT_EQ(bf16_to_f32(q.u16()[0]), -0.1611328125f);
  EXPECT_EQ(bf16_to_f32(q.u16()[1]), 0.1787109375f);
  EXPECT_EQ(bf16_to_f32(q.u16()[2]), -0.0267333984375f);
  EXPECT_EQ(bf16_to_f32(q.u16()[3]), -0.330078125f);
}

TEST(Fixtures, ViewsPointIntoTheMapping) {
  const SafetensorsFile file = SafetensorsFile::open(testing::fixtures_dir() / "tiny-f32" / "model.safetensors");
  EXPECT_EQ(file.metadata().at("format"), "pt");
  const std::byte* begin = file.mapping().data();
  const std::byte* end = begin + file.mapping().size();
  for (const auto& [name, t] : file.tensors()) {
    EXPECT_GE(t.data, begin) << name;
    EXPECT_LE(t.data + t.nbytes, end) << name;
  }
  // A moved-from store keeps its views valid.
  TensorStore store = TensorStore::open_folder(testing::fixtures_dir() / "tiny-f32");
  const TensorView* before = store.find("model.norm.weight");
  const float first = before->f32()[0];
  TensorStore moved = std::move(store);
  EXPECT_EQ(moved.find("model.norm.weight"), before);
  EXPECT_EQ(moved.get("model.norm.weight").f32()[0], first);
}

TEST(Fixtures, TrainingFilesLoad) {
  const auto dir = testing::fixtures_dir() / "train";
  for (const char* name : {"grads_step0.safetensors", "after_steps.safetensors"}) {
    const SafetensorsFile file = SafetensorsFile::open(dir / name);
    EXPECT_EQ(file.get("model.embed_tokens.weight").shape, (std::vector<int64_t>{49152, 64})) << name;
  }
}

}  // namespace
}  // namespace smol
