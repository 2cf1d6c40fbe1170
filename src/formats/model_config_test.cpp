#include "smol/model_config.hpp"

#include <gtest/gtest.h>

#include <functional>

#include "test_support/temp_files.hpp"
#include "smol/json_file.hpp"
#include "test_support/fixtures.hpp"

namespace smol {
namespace {

using nlohmann::json;
using testing::expect_error;
using testing::TempDir;
using testing::write_file;

json tiny_config() { return read_json_file(testing::fixtures_dir() / "tiny-f32" / "config.json"); }

TEST(ModelConfig, ParsesTinyF32) {
  const ModelConfig c = ModelConfig::from_folder(testing::fixtures_dir() / "tiny-f32");
  EXPECT_EQ(c.architecture, "LlamaForCausalLM");
  EXPECT_EQ(c.hidden_size, 64);
  EXPECT_EQ(c.intermediate_size, 128);
  EXPECT_EQ(c.num_hidden_layers, 2);
  EXPECT_EQ(c.num_attention_heads, 4);
  EXPECT_EQ(c.num_key_value_heads, 2);
  EXPECT_EQ(c.head_dim, 16);
  EXPECT_EQ(c.vocab_size, 49152);
  EXPECT_EQ(c.max_position_embeddings, 8192);
  EXPECT_FLOAT_EQ(c.rms_norm_eps, 1e-5f);
  EXPECT_FLOAT_EQ(c.rope_theta, 1e5f);
  EXPECT_TRUE(c.tie_word_embeddings);
  EXPECT_EQ(c.bos_token_id, 1);
  EXPECT_EQ(c.eos_token_ids, std::vector<int>{2});
  EXPECT_EQ(c.torch_dtype, "float32");
}

TEST(ModelConfig, ParsesShardedFixture) {
  const ModelConfig c = ModelConfig::from_folder(testing::fixtures_dir() / "tiny-f16-untied-sharded");
  EXPECT_EQ(c.hidden_size, 96);
  EXPECT_EQ(c.num_hidden_layers, 3);
  EXPECT_EQ(c.num_attention_heads, 6);
  EXPECT_EQ(c.num_key_value_heads, 2);
  EXPECT_EQ(c.head_dim, 16);
  EXPECT_EQ(c.intermediate_size, 160);
  EXPECT_FLOAT_EQ(c.rope_theta, 1e4f);
  EXPECT_FALSE(c.tie_word_embeddings);
  EXPECT_EQ(c.torch_dtype, "float16");
}

TEST(ModelConfig, ParsesRealSmolLM2Configs) {
  struct Want {
    const char* folder;
    int hidden, ffn, layers, heads, kv;
    float theta;
  };
  for (const Want& w : {Want{"SmolLM2-135M-Instruct", 576, 1536, 30, 9, 3, 1e5f},
                        Want{"SmolLM2-360M-Instruct", 960, 2560, 32, 15, 5, 1e5f},
                        Want{"SmolLM2-1.7B-Instruct", 2048, 8192, 24, 32, 32, 1.3e5f}}) {
    SCOPED_TRACE(w.folder);
    const ModelConfig c = ModelConfig::from_folder(testing::shared_dir() / "models" / w.folder);
    EXPECT_EQ(c.hidden_size, w.hidden);
    EXPECT_EQ(c.intermediate_size, w.ffn);
    EXPECT_EQ(c.num_hidden_layers, w.layers);
    EXPECT_EQ(c.num_attention_heads, w.heads);
    EXPECT_EQ(c.num_key_value_heads, w.kv);
    EXPECT_EQ(c.head_dim, w.hidden / w.heads);
    EXPECT_EQ(c.rope_theta, w.theta);
    EXPECT_TRUE(c.tie_word_embeddings);
    EXPECT_EQ(c.torch_dtype, "bfloat16");
    EXPECT_EQ(c.eos_token_ids, std::vector<int>{2});
  }
}

TEST(ModelConfig, JsonRoundTrip) {
  for (const char* folder : {"tiny-f32", "tiny-bf16", "tiny-f16-untied-sharded"}) {
    const ModelConfig c = ModelConfig::from_folder(testing::fixtures_dir() / folder);
    const json j = c.to_json();
    EXPECT_EQ(ModelConfig::from_json(j, "roundtrip"), c) << folder;
    EXPECT_EQ(j["rms_norm_eps"].dump(), "1e-05");
  }
}

TEST(ModelConfig, EosMayBeAListAndGenerationConfigAddsStops) {
  TempDir dir;
  json config = tiny_config();
  config["eos_token_id"] = json::array({2, 0});
  write_file(dir / "config.json", config.dump());
  write_file(dir / "generation_config.json", R"({"eos_token_id": [0, 5], "bos_token_id": 1})");
  const ModelConfig c = ModelConfig::from_folder(dir.path());
  EXPECT_EQ(c.eos_token_ids, (std::vector<int>{2, 0, 5}));
  EXPECT_EQ(ModelConfig::from_json(c.to_json(), "x").eos_token_ids, c.eos_token_ids);
}

TEST(ModelConfig, DefaultsApplyWhenOptionalKeysAreAbsent) {
  const json minimal = {{"model_type", "llama"}, {"hidden_size", 32}, {"intermediate_size", 64},
                        {"num_hidden_layers", 1}, {"num_attention_heads", 4}, {"vocab_size", 100}};
  const ModelConfig c = ModelConfig::from_json(minimal, "config.json");
  EXPECT_EQ(c.num_key_value_heads, 4);
  EXPECT_EQ(c.head_dim, 8);
  EXPECT_EQ(c.bos_token_id, -1);
  EXPECT_TRUE(c.eos_token_ids.empty());
  EXPECT_FALSE(c.tie_word_embeddings);
}

TEST(ModelConfig, RopeScalingDefaultIsAccepted) {
  json config = tiny_config();
  config["rope_scaling"] = {{"type", "default"}};
  EXPECT_NO_THROW(ModelConfig::from_json(config, "config.json"));
}

// Each entry: a modification of the valid tiny config and words the error must contain.
struct BadCase {
  const char* name;
  std::function<void(json&)> edit;
  std::vector<std::string_view> words;
};

class ModelConfigRejects : public ::testing::TestWithParam<BadCase> {};

TEST_P(ModelConfigRejects, WithMessageNamingFileAndKey) {
  TempDir dir;
  json config = tiny_config();
  GetParam().edit(config);
  write_file(dir / "config.json", config.dump());
  try {
    ModelConfig::from_folder(dir.path());
    ADD_FAILURE() << "accepted";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find((dir / "config.json").string() + ": "), std::string::npos) << message;
    for (const std::string_view word : GetParam().words) {
      EXPECT_NE(message.find(word), std::string::npos) << message << " lacks " << word;
    }
  }
}

const BadCase kBadCases[] = {
    {"Mistral", [](json& c) { c["architectures"] = {"MistralForCausalLM"}; c["model_type"] = "mistral"; },
     {"unsupported architecture 'MistralForCausalLM'"}},
    {"ModelTypeOnly", [](json& c) { c.erase("architectures"); c["model_type"] = "gpt2"; }, {"unsupported architecture 'gpt2'"}},
    {"NoArchitecture", [](json& c) { c.erase("architectures"); c.erase("model_type"); }, {"architectures", "missing"}},
    {"Yarn", [](json& c) { c["rope_scaling"] = {{"rope_type", "yarn"}, {"factor", 4.0}}; },
     {"rope_scaling", "type 'yarn' is not supported"}},
    {"Linear", [](json& c) { c["rope_scaling"] = {{"type", "linear"}, {"factor", 2.0}}; }, {"'linear' is not supported"}},
    {"RopeScalingNotObject", [](json& c) { c["rope_scaling"] = 2; }, {"rope_scaling"}},
    {"AttentionBias", [](json& c) { c["attention_bias"] = true; }, {"attention_bias", "not supported"}},
    {"MlpBias", [](json& c) { c["mlp_bias"] = true; }, {"mlp_bias", "not supported"}},
    {"Gelu", [](json& c) { c["hidden_act"] = "gelu"; }, {"hidden_act", "'gelu' is not supported"}},
    {"HeadsNotDividingHidden", [](json& c) { c["num_attention_heads"] = 5; c["num_key_value_heads"] = 5; },
     {"num_attention_heads", "does not divide hidden_size"}},
    {"KvNotDividingHeads", [](json& c) { c["num_key_value_heads"] = 3; }, {"num_key_value_heads", "does not divide"}},
    {"ZeroLayers", [](json& c) { c["num_hidden_layers"] = 0; }, {"num_hidden_layers", "positive"}},
    {"NegativeHidden", [](json& c) { c["hidden_size"] = -64; }, {"hidden_size", "positive"}},
    {"MissingHidden", [](json& c) { c.erase("hidden_size"); }, {"'hidden_size' is missing"}},
    {"MissingVocab", [](json& c) { c.erase("vocab_size"); }, {"'vocab_size' is missing"}},
    {"StringHidden", [](json& c) { c["hidden_size"] = "64"; }, {"hidden_size", "must be an integer", "string"}},
    {"FloatLayers", [](json& c) { c["num_hidden_layers"] = 2.5; }, {"num_hidden_layers", "integer"}},
    {"HugeVocab", [](json& c) { c["vocab_size"] = 1ull << 40; }, {"vocab_size", "out of range"}},
    {"StringEps", [](json& c) { c["rms_norm_eps"] = "1e-5"; }, {"rms_norm_eps", "number"}},
    {"ZeroEps", [](json& c) { c["rms_norm_eps"] = 0; }, {"rms_norm_eps", "positive"}},
    {"NegativeTheta", [](json& c) { c["rope_theta"] = -1.0; }, {"rope_theta", "positive"}},
    {"TieNotBool", [](json& c) { c["tie_word_embeddings"] = 1; }, {"tie_word_embeddings", "true or false"}},
    {"EosString", [](json& c) { c["eos_token_id"] = "2"; }, {"eos_token_id"}},
    {"EosNegative", [](json& c) { c["eos_token_id"] = -2; }, {"eos_token_id", "negative"}},
    {"EosOutOfVocab", [](json& c) { c["eos_token_id"] = 49152; }, {"eos_token_id", "vocab_size"}},
    {"OddHeadDim", [](json& c) { c["head_dim"] = 15; }, {"head_dim", "even"}},
    {"ArchitecturesNotList", [](json& c) { c["architectures"] = "LlamaForCausalLM"; }, {"architectures"}},
};

INSTANTIATE_TEST_SUITE_P(Bad, ModelConfigRejects, ::testing::ValuesIn(kBadCases),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(ModelConfig, NonObjectConfig) {
  TempDir dir;
  write_file(dir / "config.json", "[1, 2]");
  expect_error([&] { ModelConfig::from_folder(dir.path()); }, {"config.json", "object"});
}

TEST(ModelConfig, MissingConfigFile) {
  TempDir dir;
  expect_error([&] { ModelConfig::from_folder(dir.path()); }, {"config.json", "not found"});
}

TEST(ModelConfig, BadGenerationConfigNamesThatFile) {
  TempDir dir;
  write_file(dir / "config.json", tiny_config().dump());
  write_file(dir / "generation_config.json", R"({"eos_token_id": "x"})");
  expect_error([&] { ModelConfig::from_folder(dir.path()); }, {"generation_config.json", "eos_token_id"});
}

}  // namespace
}  // namespace smol
