#include <algorithm>

#include <fmt/format.h>

#include "smol/error.hpp"
#include "smol/model.hpp"
#include "smol/quant.hpp"

namespace smol {

namespace {

// The row size of one position's keys (or values) in `type`, after checking that a cache can
// be stored that way.
size_t kv_row_bytes(int kv_dim, WeightType type) {
  if (type != WeightType::F32 && type != WeightType::F16 && type != WeightType::BF16 && type != WeightType::Q8_0) {
    throw Error(fmt::format("a KV cache cannot be stored as {}: use f32, f16, bf16 or q8_0", weight_type_name(type)));
  }
  if (type == WeightType::Q8_0 && kv_dim % 32 != 0) {
    throw Error(fmt::format("--cache-type q8_0 needs the keys of a position (num_key_value_heads * head_dim) to be a "
                            "multiple of 32 values, but this model has {}: use f16 or bf16",
                            kv_dim));
  }
  return static_cast<size_t>(row_bytes(type, kv_dim));
}

}  // namespace

KvCache::KvCache(const ModelConfig& config, int capacity, WeightType type)
    : KvCache(config.num_hidden_layers, config.num_key_value_heads * config.head_dim, capacity, type) {}

KvCache::KvCache(int n_layers, int kv_dim, int capacity, WeightType type)
    : type_(type), capacity_(capacity), kv_dim_(kv_dim), row_bytes_(kv_row_bytes(kv_dim, type)) {
  if (capacity <= 0) throw Error(fmt::format("context size must be positive, got {}", capacity));
  data_.resize(static_cast<size_t>(n_layers) * 2 * capacity * row_bytes_);
}

size_t KvCache::bytes_per_token(const ModelConfig& config, WeightType type) {
  return static_cast<size_t>(config.num_hidden_layers) * 2 *
         kv_row_bytes(config.num_key_value_heads * config.head_dim, type);
}

void KvCache::store(int layer, int pos, const float* keys, const float* values) {
  quantize_row(type_, keys, row(layer, pos, 0), kv_dim_);
  quantize_row(type_, values, row(layer, pos, 1), kv_dim_);
}

void KvCache::truncate(int n) {
  if (n < 0 || n > size_) throw Error(fmt::format("cannot rewind the KV cache to {} of {} tokens", n, size_));
  size_ = n;
}

void KvCache::copy_from(const KvCache& other) {
  if (other.type_ != type_ || other.capacity_ != capacity_ || other.kv_dim_ != kv_dim_ ||
      other.data_.size() != data_.size()) {
    throw Error("cannot copy a KV cache into one of another shape, type or capacity");
  }
  if (&other == this) return;
  const size_t layers_x2 = data_.size() / (static_cast<size_t>(capacity_) * row_bytes_);
  const size_t used = static_cast<size_t>(other.size_) * row_bytes_;
  for (size_t block = 0; block < layers_x2; ++block) {
    const size_t offset = block * capacity_ * row_bytes_;
    std::copy_n(other.data_.data() + offset, used, data_.data() + offset);
  }
  size_ = other.size_;
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
  logits.resize(c.vocab_size);  // one row; forward_batch grows it to the most rows asked for
  rope_cos.resize(t * c.head_dim / 2);
  rope_sin.resize(t * c.head_dim / 2);
  scores.resize(static_cast<size_t>(n_threads) * max_context);
  slots.reserve(t);
  rows.reserve(t);
}

}  // namespace smol
