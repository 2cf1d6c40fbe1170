// Sizes of the saved activations and backward scratch.
#include "smol/train_model.hpp"

namespace smol {

template <typename T>
BasicActivations<T>::BasicActivations(const ModelConfig& c, int batch, int seq_len, bool with_dropout)
    : batch_(batch), seq_len_(seq_len) {
  const size_t n = static_cast<size_t>(batch) * seq_len;
  const size_t hidden = c.hidden_size, ffn = c.intermediate_size;
  const size_t q_dim = static_cast<size_t>(c.num_attention_heads) * c.head_dim;
  const size_t kv_dim = static_cast<size_t>(c.num_key_value_heads) * c.head_dim;
  const size_t probs = static_cast<size_t>(batch) * c.num_attention_heads * seq_len * seq_len;
  layers.resize(c.num_hidden_layers);
  for (Layer& l : layers) {
    l.x.resize(n * hidden);
    l.rstd1.resize(n);
    l.norm1.resize(n * hidden);
    l.q.resize(n * q_dim);
    l.k.resize(n * kv_dim);
    l.v.resize(n * kv_dim);
    l.probs.resize(probs);
    l.attn.resize(n * q_dim);
    l.h.resize(n * hidden);
    l.rstd2.resize(n);
    l.norm2.resize(n * hidden);
    l.gate.resize(n * ffn);
    l.up.resize(n * ffn);
    l.act.resize(n * ffn);
    if (with_dropout) {
      l.attn_mask.resize(probs);
      l.res1_mask.resize(n * hidden);
      l.res2_mask.resize(n * hidden);
    }
  }
  x_final.resize(n * hidden);
  rstd_final.resize(n);
  norm_final.resize(n * hidden);
  logits.resize(n * static_cast<size_t>(c.vocab_size));
  losses.resize(n);
  rope_cos.resize(static_cast<size_t>(seq_len) * (c.head_dim / 2));
  rope_sin.resize(rope_cos.size());
  rope_tables(rope_cos.data(), rope_sin.data(), seq_len, c.head_dim, c.rope_theta);
  for (auto* v : {&dres, &dres_prev, &dbranch, &dnorm, &branch}) v->resize(n * hidden);
  dq.resize(n * q_dim);
  dattn.resize(n * q_dim);
  dk.resize(n * kv_dim);
  dv.resize(n * kv_dim);
  for (auto* v : {&dact, &dgate, &dup}) v->resize(n * ffn);
}

template <typename T>
size_t BasicActivations<T>::bytes() const {
  size_t floats = 0;
  for (const Layer& l : layers) {
    for (const auto* v : {&l.x, &l.rstd1, &l.norm1, &l.q, &l.k, &l.v, &l.probs, &l.attn, &l.h, &l.rstd2, &l.norm2,
                          &l.gate, &l.up, &l.act, &l.attn_mask, &l.res1_mask, &l.res2_mask}) {
      floats += v->size();
    }
  }
  for (const auto* v : {&x_final, &rstd_final, &norm_final, &logits, &losses, &rope_cos, &rope_sin, &dres, &dres_prev,
                        &dbranch, &dnorm, &dq, &dk, &dv, &dattn, &dact, &dgate, &dup, &branch}) {
    floats += v->size();
  }
  return floats * sizeof(T);
}

template class BasicActivations<float>;
template class BasicActivations<double>;

}  // namespace smol
