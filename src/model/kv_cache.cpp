#include <fmt/format.h>

#include "smol/error.hpp"
#include "smol/model.hpp"

namespace smol {

KvCache::KvCache(const ModelConfig& config, int capacity)
    : capacity_(capacity), kv_dim_(config.num_key_value_heads * config.head_dim) {
  if (capacity <= 0) throw Error(fmt::format("context size must be positive, got {}", capacity));
  data_.resize(static_cast<size_t>(config.num_hidden_layers) * 2 * capacity * kv_dim_);
}

void KvCache::truncate(int n) {
  if (n < 0 || n > size_) throw Error(fmt::format("cannot rewind the KV cache to {} of {} tokens", n, size_));
  size_ = n;
}

ForwardBuffers::ForwardBuffers(const ModelConfig& c, int max_tokens_, int n_threads, int max_context)
    : max_tokens(max_tokens_), max_context(max_context) {
  const size_t t = static_cast<size_t>(max_tokens);
  const size_t q_dim = static_cast<size_t>(c.num_attention_heads) * c.head_dim;
  const size_t kv_dim = static_cast<size_t>(c.num_key_value_heads) * c.head_dim;
  residual.resize(t * c.hidden_size);
  normed.resize(t * c.hidden_size);
  q.resize(t * q_dim);
  k.resize(t * kv_dim);
  v.resize(t * kv_dim);
  attn_out.resize(t * q_dim);
  proj.resize(t * c.hidden_size);
  gate.resize(t * c.intermediate_size);
  up.resize(t * c.intermediate_size);
  logits.resize(t * c.vocab_size);
  rope_cos.resize(t * c.head_dim / 2);
  rope_sin.resize(t * c.head_dim / 2);
  scores.resize(static_cast<size_t>(n_threads) * max_context);
  slots.reserve(t);
  rows.reserve(t);
}

}  // namespace smol
