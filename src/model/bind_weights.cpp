#include "model/bind_weights.hpp"

#include <fmt/format.h>

#include "smol/error.hpp"

namespace smol {

namespace {

WeightType weight_type(const TensorView& t, const std::string& source) {
  switch (t.dtype) {
    case DType::F32: return WeightType::F32;
    case DType::BF16: return WeightType::BF16;
    case DType::F16: return WeightType::F16;
    case DType::Q8_0: return WeightType::Q8_0;
    case DType::Q4_0: return WeightType::Q4_0;
    case DType::Q4_K: return WeightType::Q4_K;
    case DType::Q6_K: return WeightType::Q6_K;
    default:
      throw Error(fmt::format("{}: tensor {} has dtype {}, but only F32, BF16, F16, Q8_0, Q4_0, Q4_K and Q6_K weights are supported",
                              source, t.name, dtype_name(t.dtype)));
  }
}

std::string shape_string(const std::vector<int64_t>& shape) {
  return fmt::format("[{}]", fmt::join(shape, ", "));
}

const TensorView& get_checked(const TensorLookup& store, const std::string& name,
                              const std::vector<int64_t>& shape, const std::string& source) {
  const TensorView* t = store(name);
  if (!t) throw Error(fmt::format("{}: tensor {} is missing", source, name));
  if (t->shape != shape) {
    throw Error(fmt::format("{}: tensor {} has shape {}, but the model config implies {}", source, name,
                            shape_string(t->shape), shape_string(shape)));
  }
  weight_type(*t, source);
  return *t;
}

}  // namespace

MatrixView bind_matrix(const TensorLookup& store, const std::string& name, int64_t rows, int64_t cols,
                  const std::string& source) {
  const TensorView& t = get_checked(store, name, {rows, cols}, source);
  return MatrixView{weight_type(t, source), t.data, rows, cols};
}

std::vector<float> bind_vector(const TensorLookup& store, const std::string& name, int64_t n,
                              const std::string& source) {
  const TensorView& t = get_checked(store, name, {n}, source);
  std::vector<float> out(n);
  widen_row(MatrixView{weight_type(t, source), t.data, 1, n}, 0, out.data());
  return out;
}

ModelWeights bind_weights(const ModelConfig& config, const TensorStore& store, const std::string& source) {
  return bind_weights(config, [&store](const std::string& name) { return store.find(name); }, source);
}

ModelWeights bind_weights(const ModelConfig& c, const TensorLookup& store, const std::string& source) {
  const int64_t hidden = c.hidden_size;
  const int64_t q_dim = static_cast<int64_t>(c.num_attention_heads) * c.head_dim;
  const int64_t kv_dim = static_cast<int64_t>(c.num_key_value_heads) * c.head_dim;
  const int64_t ffn = c.intermediate_size;

  ModelWeights w;
  w.embed = bind_matrix(store, "model.embed_tokens.weight", c.vocab_size, hidden, source);
  for (int l = 0; l < c.num_hidden_layers; ++l) {
    const std::string p = fmt::format("model.layers.{}.", l);
    LayerWeights layer;
    layer.attn_norm = bind_vector(store, p + "input_layernorm.weight", hidden, source);
    layer.q = bind_matrix(store, p + "self_attn.q_proj.weight", q_dim, hidden, source);
    layer.k = bind_matrix(store, p + "self_attn.k_proj.weight", kv_dim, hidden, source);
    layer.v = bind_matrix(store, p + "self_attn.v_proj.weight", kv_dim, hidden, source);
    layer.o = bind_matrix(store, p + "self_attn.o_proj.weight", hidden, q_dim, source);
    layer.mlp_norm = bind_vector(store, p + "post_attention_layernorm.weight", hidden, source);
    layer.gate = bind_matrix(store, p + "mlp.gate_proj.weight", ffn, hidden, source);
    layer.up = bind_matrix(store, p + "mlp.up_proj.weight", ffn, hidden, source);
    layer.down = bind_matrix(store, p + "mlp.down_proj.weight", hidden, ffn, source);
    w.layers.push_back(std::move(layer));
  }
  w.final_norm = bind_vector(store, "model.norm.weight", hidden, source);
  // Hugging Face ignores a stored lm_head when the embeddings are tied.
  w.lm_head = c.tie_word_embeddings ? w.embed : bind_matrix(store, "lm_head.weight", c.vocab_size, hidden, source);
  return w;
}

}  // namespace smol
