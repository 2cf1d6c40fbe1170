// The forward pass, top to bottom, in the order of Hugging Face's LlamaForCausalLM. A batch
// may mix tokens of several sequences (each with its own KV cache); the matmuls see one
// matrix of activations either way.
#include <cmath>
#include <cstring>
#include <map>

#include <fmt/format.h>

#include "smol/error.hpp"
#include "smol/model.hpp"
#include "smol/thread_pool.hpp"

namespace smol {

namespace {

// cos/sin of pos * theta^(-2i/head_dim), computed in double so that long positions keep
// their precision before rounding to float.
void rope_row(const ModelConfig& c, int pos, float* cos_out, float* sin_out) {
  const int half = c.head_dim / 2;
  for (int i = 0; i < half; ++i) {
    const double inv_freq = std::pow(static_cast<double>(c.rope_theta), -2.0 * i / c.head_dim);
    cos_out[i] = static_cast<float>(std::cos(pos * inv_freq));
    sin_out[i] = static_cast<float>(std::sin(pos * inv_freq));
  }
}

void add_in_place(float* acc, const float* x, size_t n) {
  for (size_t i = 0; i < n; ++i) acc[i] += x[i];
}

}  // namespace

void Model::attention(int layer, std::span<const TokenSlot> slots, ForwardBuffers& buf, ThreadPool& pool) const {
  const ModelConfig& c = config_;
  const int head_dim = c.head_dim;
  const int group = c.num_attention_heads / c.num_key_value_heads;
  const int q_dim = c.num_attention_heads * head_dim;
  const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
  const size_t items = slots.size() * c.num_attention_heads;

  pool.run([&](int thread, int n_threads) {
    float* scores = buf.scores.data() + static_cast<size_t>(thread) * buf.max_context;
    for (size_t item = thread; item < items; item += n_threads) {
      const size_t t = item / c.num_attention_heads;
      const int h = static_cast<int>(item % c.num_attention_heads);
      KvCache& kv = *slots[t].kv;
      const size_t kv_offset = static_cast<size_t>(h / group) * head_dim;
      const int n_keys = slots[t].pos + 1;  // causal: this token and every earlier one
      const float* q = buf.q.data() + t * q_dim + h * head_dim;
      const float* keys = kv.keys(layer, 0) + kv_offset;
      const float* values = kv.values(layer, 0) + kv_offset;
      const size_t stride = kv.kv_dim();
      for (int j = 0; j < n_keys; ++j) scores[j] = dot_f32(q, keys + j * stride, head_dim) * scale;
      softmax(scores, n_keys);
      float* out = buf.attn_out.data() + t * q_dim + h * head_dim;
      std::memset(out, 0, head_dim * sizeof(float));
      for (int j = 0; j < n_keys; ++j) {
        const float* v = values + j * stride;
        const float p = scores[j];
        for (int d = 0; d < head_dim; ++d) out[d] += p * v[d];
      }
    }
  });
}

void Model::check_batch(std::span<const int32_t> tokens, std::span<const TokenSlot> slots, const ForwardBuffers& buf,
                        const ThreadPool& pool) const {
  const ModelConfig& c = config_;
  const int n = static_cast<int>(tokens.size());
  if (n == 0) throw Error("forward: no tokens to process");
  if (slots.size() != tokens.size()) throw Error("forward: one slot per token is required");
  if (n > buf.max_tokens) {
    throw Error(fmt::format("forward: batch of {} tokens exceeds the buffer size {}", n, buf.max_tokens));
  }
  if (static_cast<size_t>(buf.max_context) * pool.size() > buf.scores.size()) {
    throw Error("forward: buffers were sized for fewer threads");
  }
  std::map<const KvCache*, int> next_pos;
  for (int t = 0; t < n; ++t) {
    const TokenSlot& s = slots[t];
    if (tokens[t] < 0 || tokens[t] >= c.vocab_size) {
      throw Error(fmt::format("token id {} is outside the vocabulary of {} ids", tokens[t], c.vocab_size));
    }
    auto [it, inserted] = next_pos.try_emplace(s.kv, s.kv->size());
    if (s.pos != it->second) {
      throw Error(fmt::format("forward: token at position {} does not follow its sequence (expected {})", s.pos,
                              it->second));
    }
    ++it->second;
    if (s.pos >= s.kv->capacity()) {
      throw Error(fmt::format("context is full: {} tokens do not fit a context of {} tokens", s.pos + 1,
                              s.kv->capacity()));
    }
    if (s.pos >= c.max_position_embeddings) {
      throw Error(fmt::format("{} tokens exceed the model's max_position_embeddings of {}", s.pos + 1,
                              c.max_position_embeddings));
    }
    if (s.kv->capacity() > buf.max_context) {
      throw Error("forward: buffers were sized for a smaller context than the cache");
    }
  }
}

void Model::forward_batch(std::span<const int32_t> tokens, std::span<const TokenSlot> slots,
                          std::span<const int> logit_rows, ForwardBuffers& buf, ThreadPool& pool) const {
  check_batch(tokens, slots, buf, pool);
  const ModelConfig& c = config_;
  const int n = static_cast<int>(tokens.size());
  const int hidden = c.hidden_size;
  const int q_dim = c.num_attention_heads * c.head_dim;
  const int kv_dim = c.num_key_value_heads * c.head_dim;
  const int ffn = c.intermediate_size;
  const int half = c.head_dim / 2;

  for (int t = 0; t < n; ++t) {
    widen_row(weights_.embed, tokens[t], buf.residual.data() + t * hidden);
    rope_row(c, slots[t].pos, buf.rope_cos.data() + t * half, buf.rope_sin.data() + t * half);
  }

  for (int l = 0; l < c.num_hidden_layers; ++l) {
    const LayerWeights& w = weights_.layers[l];
    for (int t = 0; t < n; ++t) {
      rms_norm(buf.residual.data() + t * hidden, w.attn_norm.data(), c.rms_norm_eps, hidden,
               buf.normed.data() + t * hidden);
    }
    matmul(pool, buf.normed.data(), n, w.q, buf.q.data());
    matmul(pool, buf.normed.data(), n, w.k, buf.k.data());
    matmul(pool, buf.normed.data(), n, w.v, buf.v.data());
    for (int t = 0; t < n; ++t) {
      const float* cos = buf.rope_cos.data() + t * half;
      const float* sin = buf.rope_sin.data() + t * half;
      rope_rotate_half(buf.q.data() + t * q_dim, c.num_attention_heads, c.head_dim, cos, sin);
      rope_rotate_half(buf.k.data() + t * kv_dim, c.num_key_value_heads, c.head_dim, cos, sin);
      std::memcpy(slots[t].kv->keys(l, slots[t].pos), buf.k.data() + t * kv_dim, kv_dim * sizeof(float));
      std::memcpy(slots[t].kv->values(l, slots[t].pos), buf.v.data() + t * kv_dim, kv_dim * sizeof(float));
    }
    attention(l, slots, buf, pool);
    matmul(pool, buf.attn_out.data(), n, w.o, buf.proj.data());
    add_in_place(buf.residual.data(), buf.proj.data(), static_cast<size_t>(n) * hidden);

    for (int t = 0; t < n; ++t) {
      rms_norm(buf.residual.data() + t * hidden, w.mlp_norm.data(), c.rms_norm_eps, hidden,
               buf.normed.data() + t * hidden);
    }
    matmul(pool, buf.normed.data(), n, w.gate, buf.gate.data());
    matmul(pool, buf.normed.data(), n, w.up, buf.up.data());
    silu_mul(buf.gate.data(), buf.up.data(), n * ffn);
    matmul(pool, buf.gate.data(), n, w.down, buf.proj.data());
    add_in_place(buf.residual.data(), buf.proj.data(), static_cast<size_t>(n) * hidden);
  }
  for (const TokenSlot& s : slots) s.kv->size_ = std::max(s.kv->size_, s.pos + 1);

  const int rows = static_cast<int>(logit_rows.size());
  if (rows == 0) return;
  for (int i = 0; i < rows; ++i) {
    rms_norm(buf.residual.data() + static_cast<size_t>(logit_rows[i]) * hidden, weights_.final_norm.data(),
             c.rms_norm_eps, hidden, buf.normed.data() + static_cast<size_t>(i) * hidden);
  }
  matmul(pool, buf.normed.data(), rows, weights_.lm_head, buf.logits.data());
}

void Model::forward(std::span<const int32_t> tokens, KvCache& kv, ForwardBuffers& buf, ThreadPool& pool,
                    Logits which) const {
  const int n = static_cast<int>(tokens.size());
  if (n > buf.max_tokens) {
    throw Error(fmt::format("forward: batch of {} tokens exceeds the buffer size {}", n, buf.max_tokens));
  }
  buf.slots.clear();
  buf.rows.clear();
  for (int t = 0; t < n; ++t) {
    buf.slots.push_back({&kv, kv.size() + t});
    if (which == Logits::All || t == n - 1) buf.rows.push_back(t);
  }
  forward_batch(tokens, buf.slots, buf.rows, buf, pool);
}

}  // namespace smol
