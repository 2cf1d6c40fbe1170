// The Llama conventions of GGUF: names, the Q/K row permutation (against hand-worked
// examples of llama.cpp's reshape/swapaxes), config and tokenizer metadata against the
// fixtures' Hugging Face files.
#include <gtest/gtest.h>

#include <numeric>

#include "test_support/temp_files.hpp"
#include "smol/gguf.hpp"
#include "smol/json_file.hpp"
#include "test_support/fixtures.hpp"

namespace smol {
namespace {

using testing::expect_error;
using testing::TempDir;

TEST(GgufLlama, TensorNamesMapBothWays) {
  const std::vector<std::pair<std::string, std::string>> pairs = {
      {"model.embed_tokens.weight", "token_embd.weight"},
      {"model.norm.weight", "output_norm.weight"},
      {"lm_head.weight", "output.weight"},
      {"model.layers.0.input_layernorm.weight", "blk.0.attn_norm.weight"},
      {"model.layers.12.self_attn.q_proj.weight", "blk.12.attn_q.weight"},
      {"model.layers.3.self_attn.k_proj.weight", "blk.3.attn_k.weight"},
      {"model.layers.3.self_attn.v_proj.weight", "blk.3.attn_v.weight"},
      {"model.layers.3.self_attn.o_proj.weight", "blk.3.attn_output.weight"},
      {"model.layers.29.post_attention_layernorm.weight", "blk.29.ffn_norm.weight"},
      {"model.layers.1.mlp.gate_proj.weight", "blk.1.ffn_gate.weight"},
      {"model.layers.1.mlp.up_proj.weight", "blk.1.ffn_up.weight"},
      {"model.layers.1.mlp.down_proj.weight", "blk.1.ffn_down.weight"},
  };
  for (const auto& [hf, gguf] : pairs) {
    EXPECT_EQ(gguf_tensor_name(hf), gguf);
    EXPECT_EQ(hf_tensor_name(gguf), hf);
  }
  for (const char* bad : {"blk.01.attn_q.weight", "blk..attn_q.weight", "blk.x.attn_q.weight", "rope_freqs.weight",
                          "blk.1.attn_q.bias", "token_embd"}) {
    EXPECT_EQ(hf_tensor_name(bad), std::nullopt) << bad;
  }
}

std::vector<int32_t> permuted(int64_t heads, int64_t head_dim, QkOrder order, std::vector<int32_t> rows) {
  std::vector<int32_t> out(rows.size());
  permute_qk_rows(reinterpret_cast<const std::byte*>(rows.data()), reinterpret_cast<std::byte*>(out.data()), heads,
                  head_dim, sizeof(int32_t), order);
  return out;
}

TEST(GgufLlama, QkPermutationMatchesLlamaCppReshape) {
  // w.reshape(heads, 2, hd/2).swapaxes(1, 2): row labels worked out by hand.
  EXPECT_EQ(permuted(2, 4, QkOrder::HfToGguf, {0, 1, 2, 3, 4, 5, 6, 7}),
            (std::vector<int32_t>{0, 2, 1, 3, 4, 6, 5, 7}));
  EXPECT_EQ(permuted(1, 8, QkOrder::HfToGguf, {0, 1, 2, 3, 4, 5, 6, 7}),
            (std::vector<int32_t>{0, 4, 1, 5, 2, 6, 3, 7}));
  EXPECT_EQ(permuted(1, 8, QkOrder::GgufToHf, {0, 4, 1, 5, 2, 6, 3, 7}),
            (std::vector<int32_t>{0, 1, 2, 3, 4, 5, 6, 7}));
  std::vector<int32_t> rows(3 * 64);
  std::iota(rows.begin(), rows.end(), 0);
  EXPECT_EQ(permuted(3, 64, QkOrder::GgufToHf, permuted(3, 64, QkOrder::HfToGguf, rows)), rows);
  EXPECT_NE(permuted(3, 64, QkOrder::HfToGguf, rows), rows);
}

GgufFile write_and_open(const TempDir& dir, const GgufMetadata& m, bool with_output) {
  std::vector<float> values(64 * 4, 0.0f);
  std::vector<GgufTensorToWrite> tensors;
  if (with_output) tensors.push_back(gguf_tensor_from_view(tensor_view("o", {4, 64}, values), "output.weight"));
  write_gguf(dir / "c.gguf", m, tensors);
  return GgufFile::open(dir / "c.gguf");
}

TEST(GgufLlama, ConfigRoundTripsThroughMetadata) {
  for (const char* fixture : {"tiny-f32", "tiny-f16-untied-sharded"}) {
    SCOPED_TRACE(fixture);
    const auto dir = testing::fixtures_dir() / fixture;
    const ModelConfig config = ModelConfig::from_folder(dir);
    GgufMetadata m;
    set_llama_metadata(m, config);
    set_gguf_tokenizer(m, read_json_file(dir / "tokenizer.json"), read_json_file(dir / "tokenizer_config.json"),
                       config, dir.string());
    EXPECT_EQ(m.find("llama.block_count")->type, GgufValueType::U32);  // llama.cpp checks the types
    EXPECT_EQ(m.find("llama.attention.layer_norm_rms_epsilon")->type, GgufValueType::F32);
    EXPECT_EQ(m.find("tokenizer.ggml.token_type")->array_type, GgufValueType::I32);
    TempDir tmp;
    ModelConfig back = llama_config_from_gguf(write_and_open(tmp, m, !config.tie_word_embeddings));
    EXPECT_EQ(back.hidden_size, config.hidden_size);
    EXPECT_EQ(back.intermediate_size, config.intermediate_size);
    EXPECT_EQ(back.num_hidden_layers, config.num_hidden_layers);
    EXPECT_EQ(back.num_attention_heads, config.num_attention_heads);
    EXPECT_EQ(back.num_key_value_heads, config.num_key_value_heads);
    EXPECT_EQ(back.head_dim, config.head_dim);
    EXPECT_EQ(back.vocab_size, config.vocab_size);
    EXPECT_EQ(back.max_position_embeddings, config.max_position_embeddings);
    EXPECT_EQ(back.rms_norm_eps, config.rms_norm_eps);
    EXPECT_EQ(back.rope_theta, config.rope_theta);
    EXPECT_EQ(back.tie_word_embeddings, config.tie_word_embeddings);
    EXPECT_EQ(back.bos_token_id, config.bos_token_id);
    EXPECT_EQ(back.eos_token_ids, config.eos_token_ids);
  }
}

TEST(GgufLlama, BadLlamaMetadataIsNamed) {
  const ModelConfig config = ModelConfig::from_folder(testing::fixtures_dir() / "tiny-f32");
  TempDir tmp;
  auto check = [&](auto&& edit, std::initializer_list<std::string_view> parts) {
    GgufMetadata m;
    set_llama_metadata(m, config);
    edit(m);
    expect_error([&] { llama_config_from_gguf(write_and_open(tmp, m, false)); }, parts);
  };
  check([](GgufMetadata& m) { m.set("general.architecture", GgufValue::string("gpt2")); }, {"c.gguf", "'gpt2'"});
  check([](GgufMetadata& m) { m.erase("llama.attention.layer_norm_rms_epsilon"); }, {"layer_norm_rms_epsilon", "missing"});
  check([](GgufMetadata& m) { m.set("llama.block_count", GgufValue::string("2")); }, {"llama.block_count", "integer"});
  check([](GgufMetadata& m) { m.set("llama.embedding_length", GgufValue::i32(-1)); }, {"llama.embedding_length", "-1"});
  check([](GgufMetadata& m) { m.set("llama.rope.dimension_count", GgufValue::u32(8)); }, {"partial rotary"});
  check([](GgufMetadata& m) { m.set("llama.rope.scaling.type", GgufValue::string("yarn")); }, {"'yarn'"});
}

TEST(GgufLlama, TokenizerMetadataMatchesTokenizerJson) {
  const auto dir = testing::fixtures_dir() / "tiny-f32";
  const ModelConfig config = ModelConfig::from_folder(dir);
  const nlohmann::json tok = read_json_file(dir / "tokenizer.json");
  const nlohmann::json tok_config = read_json_file(dir / "tokenizer_config.json");
  GgufMetadata m;
  set_gguf_tokenizer(m, tok, tok_config, config, dir.string());
  const std::string src = "x";
  EXPECT_EQ(m.get_string("tokenizer.ggml.model", src), "gpt2");
  EXPECT_EQ(m.get_string("tokenizer.ggml.pre", src), "smollm");
  const auto tokens = *m.get_strings("tokenizer.ggml.tokens", src);
  const auto types = *m.get_ints("tokenizer.ggml.token_type", src);
  ASSERT_EQ(tokens.size(), 49152u);
  ASSERT_EQ(types.size(), 49152u);
  for (const auto& [text, id] : tok["model"]["vocab"].items()) ASSERT_EQ(tokens[id.get<size_t>()], text);
  for (const auto& added : tok["added_tokens"]) EXPECT_EQ(types[added["id"].get<size_t>()], 3);  // all special
  EXPECT_EQ(types[100], 1);
  const auto merges = *m.get_strings("tokenizer.ggml.merges", src);
  ASSERT_EQ(merges.size(), tok["model"]["merges"].size());
  EXPECT_EQ(merges[0], "Ġ t");
  EXPECT_EQ(m.get_int("tokenizer.ggml.bos_token_id", src), 1);  // <|im_start|>
  EXPECT_EQ(m.get_int("tokenizer.ggml.eos_token_id", src), 2);  // <|im_end|>
  EXPECT_EQ(m.get_int("tokenizer.ggml.unknown_token_id", src), 0);
  EXPECT_EQ(m.get_int("tokenizer.ggml.padding_token_id", src), 2);
  EXPECT_EQ(m.get_bool("tokenizer.ggml.add_bos_token", src), false);
  EXPECT_EQ(m.get_string("tokenizer.chat_template", src), tok_config["chat_template"].get<std::string>());

  // And back: the same vocabulary, merges, special tokens and pre-tokenizer.
  const nlohmann::json back = tokenizer_json_from_gguf(m, src);
  EXPECT_EQ(back["model"]["vocab"], tok["model"]["vocab"]);
  EXPECT_EQ(back["model"]["merges"].size(), merges.size());
  EXPECT_EQ(back["model"]["merges"][5], tok["model"]["merges"][5]);
  EXPECT_EQ(back["pre_tokenizer"], tok["pre_tokenizer"]);
  ASSERT_EQ(back["added_tokens"].size(), tok["added_tokens"].size());
  for (size_t i = 0; i < back["added_tokens"].size(); ++i) {
    EXPECT_EQ(back["added_tokens"][i]["id"], tok["added_tokens"][i]["id"]);
    EXPECT_EQ(back["added_tokens"][i]["content"], tok["added_tokens"][i]["content"]);
    EXPECT_EQ(back["added_tokens"][i]["special"], true);
  }
}

TEST(GgufLlama, UnsupportedTokenizersAreRefused) {
  const auto dir = testing::fixtures_dir() / "tiny-f32";
  const ModelConfig config = ModelConfig::from_folder(dir);
  nlohmann::json tok = read_json_file(dir / "tokenizer.json");
  GgufMetadata m;
  set_gguf_tokenizer(m, tok, nullptr, config, "t");
  m.set("tokenizer.ggml.pre", GgufValue::string("llama3"));
  expect_error([&] { tokenizer_json_from_gguf(m, "f.gguf"); }, {"f.gguf", "'llama3'", "not supported"});
  m.set("tokenizer.ggml.model", GgufValue::string("llama"));
  expect_error([&] { tokenizer_json_from_gguf(m, "f.gguf"); }, {"'llama'", "not supported"});
  tok["pre_tokenizer"] = {{"type", "Whitespace"}};
  expect_error([&] { set_gguf_tokenizer(m, tok, nullptr, config, "dir"); }, {"dir", "no GGUF equivalent"});
}

}  // namespace
}  // namespace smol
