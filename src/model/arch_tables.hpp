#pragma once
// Tensor names per architecture family, in one place (as llama.cpp's llama-arch.cpp keeps
// them): the binding code asks for "the query projection of encoder layer 3", the table says
// what the checkpoint calls it.
#include <string>

#include <fmt/format.h>

namespace smol::arch {

// LlamaForCausalLM (SmolLM2).
struct LlamaNames {
  static constexpr const char* embed = "model.embed_tokens.weight";
  static constexpr const char* final_norm = "model.norm.weight";
  static constexpr const char* lm_head = "lm_head.weight";
  static std::string layer(int l, const char* tensor) { return fmt::format("model.layers.{}.{}", l, tensor); }
  static constexpr const char* attn_norm = "input_layernorm.weight";
  static constexpr const char* q = "self_attn.q_proj.weight";
  static constexpr const char* k = "self_attn.k_proj.weight";
  static constexpr const char* v = "self_attn.v_proj.weight";
  static constexpr const char* o = "self_attn.o_proj.weight";
  static constexpr const char* mlp_norm = "post_attention_layernorm.weight";
  static constexpr const char* gate = "mlp.gate_proj.weight";
  static constexpr const char* up = "mlp.up_proj.weight";
  static constexpr const char* down = "mlp.down_proj.weight";
};

// BartForConditionalGeneration, MBartForConditionalGeneration and MarianMTModel: the same
// module tree (modeling_marian and modeling_mbart are derived from modeling_bart).
struct BartNames {
  static constexpr const char* shared = "model.shared.weight";
  static constexpr const char* lm_head = "lm_head.weight";
  static constexpr const char* final_logits_bias = "final_logits_bias";
  static std::string stack(bool encoder, const char* tensor) {
    return fmt::format("model.{}.{}", encoder ? "encoder" : "decoder", tensor);
  }
  static std::string layer(bool encoder, int l, const std::string& tensor) {
    return fmt::format("model.{}.layers.{}.{}", encoder ? "encoder" : "decoder", l, tensor);
  }
  // Per stack.
  static constexpr const char* embed = "embed_tokens.weight";
  static constexpr const char* positions = "embed_positions.weight";
  static constexpr const char* embedding_norm = "layernorm_embedding";
  static constexpr const char* final_norm = "layer_norm";
  // Per layer: modules whose .weight/.bias are bound.
  static constexpr const char* self_attn = "self_attn";
  static constexpr const char* cross_attn = "encoder_attn";
  static constexpr const char* self_norm = "self_attn_layer_norm";
  static constexpr const char* cross_norm = "encoder_attn_layer_norm";
  static constexpr const char* ffn_norm = "final_layer_norm";
  static constexpr const char* fc1 = "fc1";
  static constexpr const char* fc2 = "fc2";
  static constexpr const char* q = "q_proj";
  static constexpr const char* k = "k_proj";
  static constexpr const char* v = "v_proj";
  static constexpr const char* o = "out_proj";
};

}  // namespace smol::arch
