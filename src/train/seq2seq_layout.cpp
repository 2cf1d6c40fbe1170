// The encoder-decoder's flat parameter buffer: its tensors under transformers' names and
// shapes (modeling_bart.py / modeling_mbart.py / modeling_marian.py), and binding them.
#include <fmt/format.h>

#include <cmath>

#include "smol/error.hpp"
#include "smol/train_model.hpp"
#include "train/seq2seq_internal.hpp"

namespace smol {

namespace {

constexpr const char* kShared = "model.shared.weight";

std::string stack_name(bool encoder, const std::string& tensor) {
  return fmt::format("model.{}.{}", encoder ? "encoder" : "decoder", tensor);
}
std::string layer_name(bool encoder, int l, const std::string& tensor) {
  return fmt::format("model.{}.layers.{}.{}", encoder ? "encoder" : "decoder", l, tensor);
}

}  // namespace

ParamLayout::ParamLayout(const Seq2SeqConfig& c)
    : arch_(TrainArch::EncoderDecoder), tied_(c.tie_word_embeddings), seq2seq_(c) {
  const int64_t d = c.d_model;
  const int Le = c.encoder.layers, Ld = c.decoder.layers;
  n_layers_ = Le + Ld;
  add("final_logits_bias", {1, c.decoder_vocab_size}, Le + Ld, /*trainable=*/false);
  if (c.share_embeddings) {
    add(kShared, {c.vocab_size, d}, -1);
  } else {
    add(stack_name(true, "embed_tokens.weight"), {c.vocab_size, d}, -1);
    add(stack_name(false, "embed_tokens.weight"), {c.decoder_vocab_size, d}, -1);
  }
  auto norm = [&](const std::string& module, int depth) {
    add(module + ".weight", {d}, depth);
    add(module + ".bias", {d}, depth);
  };
  auto linear = [&](const std::string& module, int64_t out, int64_t in, int depth) {
    add(module + ".weight", {out, in}, depth);
    add(module + ".bias", {out}, depth);
  };
  for (const bool encoder : {true, false}) {
    const Seq2SeqStack& s = encoder ? c.encoder : c.decoder;
    if (c.arch.positions == PositionKind::Learned) {
      add(stack_name(encoder, "embed_positions.weight"), {c.max_position_embeddings + c.arch.position_offset, d}, -1);
    }
    for (int l = 0; l < s.layers; ++l) {
      const int depth = encoder ? l : Le + l;
      for (const char* proj : {"k_proj", "v_proj", "q_proj", "out_proj"}) {
        linear(layer_name(encoder, l, fmt::format("self_attn.{}", proj)), d, d, depth);
      }
      norm(layer_name(encoder, l, "self_attn_layer_norm"), depth);
      if (!encoder) {
        for (const char* proj : {"k_proj", "v_proj", "q_proj", "out_proj"}) {
          linear(layer_name(encoder, l, fmt::format("encoder_attn.{}", proj)), d, d, depth);
        }
        norm(layer_name(encoder, l, "encoder_attn_layer_norm"), depth);
      }
      linear(layer_name(encoder, l, "fc1"), s.ffn, d, depth);
      linear(layer_name(encoder, l, "fc2"), d, s.ffn, depth);
      norm(layer_name(encoder, l, "final_layer_norm"), depth);
    }
    if (c.arch.embedding_norm) norm(stack_name(encoder, "layernorm_embedding"), -1);
    if (c.arch.final_norm) norm(stack_name(encoder, "layer_norm"), encoder ? Le - 1 : Le + Ld);
  }
  if (!c.tie_word_embeddings) add("lm_head.weight", {c.decoder_vocab_size, d}, Le + Ld);
}

template <typename T>
BasicSeq2SeqParams<T> ParamLayout::bind_seq2seq(T* base) const {
  const Seq2SeqConfig& c = seq2seq_;
  auto at = [&](const std::string& name) -> T* {
    const ParamTensor* t = find(name);
    if (!t) throw Error(fmt::format("internal: the parameter layout has no tensor {}", name));
    return base + t->offset;
  };
  auto linear = [&](const std::string& module) { return BasicLinearParams<T>{at(module + ".weight"), at(module + ".bias")}; };
  auto norm = [&](const std::string& module) { return BasicNormParams<T>{at(module + ".weight"), at(module + ".bias")}; };
  auto attention = [&](const std::string& module) {
    return BasicAttentionParams<T>{linear(module + ".q_proj"), linear(module + ".k_proj"), linear(module + ".v_proj"),
                                   linear(module + ".out_proj")};
  };
  BasicSeq2SeqParams<T> p;
  for (const bool encoder : {true, false}) {
    BasicSeq2SeqStackParams<T>& s = encoder ? p.encoder : p.decoder;
    s.embed = c.share_embeddings ? at(kShared) : at(stack_name(encoder, "embed_tokens.weight"));
    if (c.arch.positions == PositionKind::Learned) s.positions = at(stack_name(encoder, "embed_positions.weight"));
    if (c.arch.embedding_norm) s.embedding_norm = norm(stack_name(encoder, "layernorm_embedding"));
    const int layers = encoder ? c.encoder.layers : c.decoder.layers;
    for (int l = 0; l < layers; ++l) {
      BasicSeq2SeqLayerParams<T> L;
      L.self_norm = norm(layer_name(encoder, l, "self_attn_layer_norm"));
      L.self_attn = attention(layer_name(encoder, l, "self_attn"));
      if (!encoder) {
        L.cross_norm = norm(layer_name(encoder, l, "encoder_attn_layer_norm"));
        L.cross_attn = attention(layer_name(encoder, l, "encoder_attn"));
      }
      L.ffn_norm = norm(layer_name(encoder, l, "final_layer_norm"));
      L.fc1 = linear(layer_name(encoder, l, "fc1"));
      L.fc2 = linear(layer_name(encoder, l, "fc2"));
      s.layers.push_back(L);
    }
    if (c.arch.final_norm) s.final_norm = norm(stack_name(encoder, "layer_norm"));
  }
  p.lm_head = c.tie_word_embeddings ? p.decoder.embed : at("lm_head.weight");
  p.final_logits_bias = at("final_logits_bias");
  return p;
}
template BasicSeq2SeqParams<float> ParamLayout::bind_seq2seq<float>(float*) const;
template BasicSeq2SeqParams<double> ParamLayout::bind_seq2seq<double>(double*) const;

std::vector<std::string> seq2seq_stored_names(const Seq2SeqConfig& c, const std::string& name) {
  const std::string enc = stack_name(true, "embed_tokens.weight"), dec = stack_name(false, "embed_tokens.weight");
  if (name == kShared) {
    std::vector<std::string> names = {kShared, enc, dec};
    if (c.tie_word_embeddings) names.push_back("lm_head.weight");
    return names;
  }
  if (name == enc) return {enc, kShared};
  if (name == dec && c.tie_word_embeddings) return {dec, "lm_head.weight"};
  return {name};
}

void sinusoidal_position_row(int pos, int dim, float* out) {
  const int half = dim / 2;
  const int sin_dims = dim % 2 == 0 ? half : half + 1;
  for (int i = 0; i < sin_dims; ++i) out[i] = static_cast<float>(std::sin(pos / std::pow(10000.0, 2.0 * i / dim)));
  for (int i = 0; i < half; ++i) out[sin_dims + i] = static_cast<float>(std::cos(pos / std::pow(10000.0, 2.0 * i / dim)));
}

}  // namespace smol
