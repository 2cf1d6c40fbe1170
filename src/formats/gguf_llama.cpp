// The Llama architecture as llama.cpp's converter writes it into GGUF: metadata keys, tensor
// names and the Q/K row order.
#include <array>
#include <charconv>
#include <cstring>
#include <limits>

#include <fmt/format.h>

#include "formats/text_util.hpp"
#include "smol/error.hpp"
#include "smol/gguf.hpp"

namespace smol {
namespace {

using formats_detail::printable;

struct NamePair {
  std::string_view hf;
  std::string_view gguf;
};

constexpr std::array<NamePair, 3> kGlobalNames{{
    {"model.embed_tokens.weight", "token_embd.weight"},
    {"model.norm.weight", "output_norm.weight"},
    {"lm_head.weight", "output.weight"},
}};

// Per layer: "model.layers.N." + hf  <->  "blk.N." + gguf.
constexpr std::array<NamePair, 9> kLayerNames{{
    {"input_layernorm.weight", "attn_norm.weight"},
    {"self_attn.q_proj.weight", "attn_q.weight"},
    {"self_attn.k_proj.weight", "attn_k.weight"},
    {"self_attn.v_proj.weight", "attn_v.weight"},
    {"self_attn.o_proj.weight", "attn_output.weight"},
    {"post_attention_layernorm.weight", "ffn_norm.weight"},
    {"mlp.gate_proj.weight", "ffn_gate.weight"},
    {"mlp.up_proj.weight", "ffn_up.weight"},
    {"mlp.down_proj.weight", "ffn_down.weight"},
}};

// Splits "<prefix>N.<rest>" into N and rest; nullopt unless N is a plain decimal number.
std::optional<std::pair<std::string_view, std::string_view>> split_layer(std::string_view name,
                                                                         std::string_view prefix) {
  if (!name.starts_with(prefix)) return std::nullopt;
  name.remove_prefix(prefix.size());
  const size_t dot = name.find('.');
  if (dot == 0 || dot == std::string_view::npos) return std::nullopt;
  const std::string_view number = name.substr(0, dot);
  if (number.find_first_not_of("0123456789") != std::string_view::npos) return std::nullopt;
  if (number.size() > 1 && number[0] == '0') return std::nullopt;
  return std::pair{number, name.substr(dot + 1)};
}

std::optional<std::string> map_name(std::string_view name, bool to_gguf) {
  for (const auto& p : kGlobalNames) {
    if (name == (to_gguf ? p.hf : p.gguf)) return std::string(to_gguf ? p.gguf : p.hf);
  }
  const auto parts = split_layer(name, to_gguf ? "model.layers." : "blk.");
  if (!parts) return std::nullopt;
  for (const auto& p : kLayerNames) {
    if (parts->second == (to_gguf ? p.hf : p.gguf)) {
      return fmt::format("{}{}.{}", to_gguf ? "blk." : "model.layers.", parts->first, to_gguf ? p.gguf : p.hf);
    }
  }
  return std::nullopt;
}

// A positive count that fits an int, from a llama.* key.
int positive_int(const GgufMetadata& m, const std::string& key, const std::string& source, std::optional<int> fallback) {
  const auto v = m.get_int(key, source);
  if (!v) {
    if (fallback) return *fallback;
    throw Error(fmt::format("{}: metadata '{}' is missing", source, key));
  }
  if (*v <= 0 || *v > std::numeric_limits<int>::max()) {
    throw Error(fmt::format("{}: metadata '{}' is {}, expected a positive count", source, key, *v));
  }
  return static_cast<int>(*v);
}

std::optional<int> token_id(const GgufMetadata& m, const std::string& key, const std::string& source) {
  const auto v = m.get_int(key, source);
  if (!v) return std::nullopt;
  // llama.cpp writes -1 (as u32 0xffffffff in some converters) for "none".
  if (*v < 0 || *v >= std::numeric_limits<int32_t>::max()) return std::nullopt;
  return static_cast<int>(*v);
}

}  // namespace

std::optional<std::string> gguf_tensor_name(std::string_view hf_name) { return map_name(hf_name, true); }

std::optional<std::string> hf_tensor_name(std::string_view gguf_name) { return map_name(gguf_name, false); }

void permute_qk_rows(const std::byte* src, std::byte* dst, int64_t n_heads, int64_t head_dim, size_t row_bytes,
                     QkOrder order) {
  if (head_dim % 2 != 0) throw Error(fmt::format("Q/K permutation: head_dim {} is odd", head_dim));
  const int64_t half = head_dim / 2;
  for (int64_t h = 0; h < n_heads; ++h) {
    for (int64_t i = 0; i < 2; ++i) {
      for (int64_t j = 0; j < half; ++j) {
        const int64_t hf_row = h * head_dim + i * half + j;
        const int64_t gguf_row = h * head_dim + 2 * j + i;
        const int64_t from = order == QkOrder::HfToGguf ? hf_row : gguf_row;
        const int64_t to = order == QkOrder::HfToGguf ? gguf_row : hf_row;
        std::memcpy(dst + to * row_bytes, src + from * row_bytes, row_bytes);
      }
    }
  }
}

ModelConfig llama_config_from_gguf(const GgufFile& file) {
  const GgufMetadata& m = file.metadata();
  const std::string source = file.path().string();
  const std::string arch = m.require_string("general.architecture", source);
  if (arch != "llama") {
    throw Error(fmt::format("{}: architecture '{}' is not supported (smol runs llama-architecture models)", source,
                            printable(arch)));
  }
  if (const auto scaling = m.get_string("llama.rope.scaling.type", source); scaling && *scaling != "none") {
    throw Error(fmt::format("{}: rope scaling '{}' is not supported", source, printable(*scaling)));
  }

  nlohmann::json j;
  j["model_type"] = "llama";
  j["hidden_size"] = positive_int(m, "llama.embedding_length", source, std::nullopt);
  j["intermediate_size"] = positive_int(m, "llama.feed_forward_length", source, std::nullopt);
  j["num_hidden_layers"] = positive_int(m, "llama.block_count", source, std::nullopt);
  const int heads = positive_int(m, "llama.attention.head_count", source, std::nullopt);
  j["num_attention_heads"] = heads;
  j["num_key_value_heads"] = positive_int(m, "llama.attention.head_count_kv", source, heads);
  if (j["hidden_size"].get<int>() % heads != 0 && !m.find("llama.attention.key_length")) {
    throw Error(fmt::format("{}: llama.attention.head_count {} does not divide llama.embedding_length {}", source,
                            heads, j["hidden_size"].get<int>()));
  }
  const int head_dim = positive_int(m, "llama.attention.key_length", source, j["hidden_size"].get<int>() / heads);
  if (positive_int(m, "llama.attention.value_length", source, head_dim) != head_dim) {
    throw Error(fmt::format("{}: llama.attention.value_length differs from key_length, which smol does not support",
                            source));
  }
  if (const int rot = positive_int(m, "llama.rope.dimension_count", source, head_dim); rot != head_dim) {
    throw Error(fmt::format("{}: llama.rope.dimension_count {} is not the head size {} (partial rotary is not supported)",
                            source, rot, head_dim));
  }
  j["head_dim"] = head_dim;

  int vocab = 0;
  if (m.find("llama.vocab_size")) {
    vocab = positive_int(m, "llama.vocab_size", source, std::nullopt);
  } else if (const GgufValue* tokens = m.find("tokenizer.ggml.tokens"); tokens && !tokens->array.empty()) {
    vocab = static_cast<int>(std::min<size_t>(tokens->array.size(), std::numeric_limits<int>::max()));
  } else if (const TensorView* embd = file.find("token_embd.weight"); embd && embd->shape.size() == 2) {
    vocab = static_cast<int>(std::min<int64_t>(embd->shape[0], std::numeric_limits<int>::max()));
  } else {
    throw Error(fmt::format("{}: cannot tell the vocabulary size (no llama.vocab_size, tokens or token_embd)", source));
  }
  j["vocab_size"] = vocab;
  j["max_position_embeddings"] = positive_int(m, "llama.context_length", source, 2048);
  const auto eps = m.get_float("llama.attention.layer_norm_rms_epsilon", source);
  if (!eps) throw Error(fmt::format("{}: metadata 'llama.attention.layer_norm_rms_epsilon' is missing", source));
  j["rms_norm_eps"] = *eps;
  j["rope_theta"] = m.get_float("llama.rope.freq_base", source).value_or(10000.0);
  j["tie_word_embeddings"] = file.find("output.weight") == nullptr;

  if (const auto bos = token_id(m, "tokenizer.ggml.bos_token_id", source); bos && *bos < vocab) j["bos_token_id"] = *bos;
  nlohmann::json eos = nlohmann::json::array();
  for (const char* key : {"tokenizer.ggml.eos_token_id", "tokenizer.ggml.eot_token_id"}) {
    const auto id = token_id(m, key, source);
    if (id && *id < vocab && std::find(eos.begin(), eos.end(), *id) == eos.end()) eos.push_back(*id);
  }
  if (!eos.empty()) j["eos_token_id"] = eos;
  return ModelConfig::from_json(j, source);
}

void set_llama_metadata(GgufMetadata& m, const ModelConfig& c) {
  m.set("general.architecture", GgufValue::string("llama"));
  m.set("llama.vocab_size", GgufValue::u32(c.vocab_size));
  m.set("llama.context_length", GgufValue::u32(c.max_position_embeddings));
  m.set("llama.embedding_length", GgufValue::u32(c.hidden_size));
  m.set("llama.block_count", GgufValue::u32(c.num_hidden_layers));
  m.set("llama.feed_forward_length", GgufValue::u32(c.intermediate_size));
  m.set("llama.rope.dimension_count", GgufValue::u32(c.head_dim));
  m.set("llama.attention.head_count", GgufValue::u32(c.num_attention_heads));
  m.set("llama.attention.head_count_kv", GgufValue::u32(c.num_key_value_heads));
  m.set("llama.attention.key_length", GgufValue::u32(c.head_dim));
  m.set("llama.attention.value_length", GgufValue::u32(c.head_dim));
  m.set("llama.rope.freq_base", GgufValue::f32(c.rope_theta));
  m.set("llama.attention.layer_norm_rms_epsilon", GgufValue::f32(c.rms_norm_eps));
}

}  // namespace smol
