// The forward pass, top to bottom, in the order of Hugging Face's LlamaForCausalLM.
#include <cmath>
#include <cstring>

#include <fmt/format.h>

#include "smol/error.hpp"
#include "smol/model.hpp"
#include "smol/thread_pool.hpp"

namespace smol {

namespace {

// cos/sin of pos * theta^(-2i/head_dim), computed in double so that long positions keep
// their precision before rounding to float.
void rope_tables(const ModelConfig& c, int start_pos, int n_tokens, float* cos_out, float* sin_out) {
  const int half = c.head_dim / 2;
  for (int t = 0; t < n_tokens; ++t) {
    const double pos = start_pos + t;
    for (int i = 0; i < half; ++i) {
      const double inv_freq = std::pow(static_cast<double>(c.rope_theta), -2.0 * i / c.head_dim);
      cos_out[t * half + i] = static_cast<float>(std::cos(pos * inv_freq));
      sin_out[t * half + i] = static_cast<float>(std::sin(pos * inv_freq));
    }
  }
}

void add_in_place(float* acc, const float* x, size_t n) {
  for (size_t i = 0; i < n; ++i) acc[i] += x[i];
}

}  // namespace

void Model::attention(int layer, int n_tokens, int start_pos, KvCache& kv, ForwardBuffers& buf,
                      ThreadPool& pool) const {
  const ModelConfig& c = config_;
  const int head_dim = c.head_dim;
  const int group = c.num_attention_heads / c.num_key_value_heads;
  const int q_dim = c.num_attention_heads * head_dim;
  const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
  const size_t items = static_cast<size_t>(n_tokens) * c.num_attention_heads;
  const int max_context = kv.capacity();

  pool.run([&](int thread, int n_threads) {
    float* scores = buf.scores.data() + static_cast<size_t>(thread) * max_context;
    for (size_t item = thread; item < items; item += n_threads) {
      const int t = static_cast<int>(item / c.num_attention_heads);
      const int h = static_cast<int>(item % c.num_attention_heads);
      const int kv_head = h / group;
      const int n_keys = start_pos + t + 1;  // causal: this token and every earlier one
      const float* q = buf.q.data() + static_cast<size_t>(t) * q_dim + h * head_dim;
      for (int j = 0; j < n_keys; ++j) {
        scores[j] = dot_f32(q, kv.keys(layer, j) + kv_head * head_dim, head_dim) * scale;
      }
      softmax(scores, n_keys);
      float* out = buf.attn_out.data() + static_cast<size_t>(t) * q_dim + h * head_dim;
      std::memset(out, 0, head_dim * sizeof(float));
      for (int j = 0; j < n_keys; ++j) {
        const float* v = kv.values(layer, j) + kv_head * head_dim;
        const float p = scores[j];
        for (int d = 0; d < head_dim; ++d) out[d] += p * v[d];
      }
    }
  });
}

void Model::forward(std::span<const int32_t> tokens, KvCache& kv, ForwardBuffers& buf, ThreadPool& pool,
                    Logits which) const {
  const ModelConfig& c = config_;
  const int n = static_cast<int>(tokens.size());
  const int start = kv.size();
  if (n == 0) throw Error("forward: no tokens to process");
  if (n > buf.max_tokens) {
    throw Error(fmt::format("forward: batch of {} tokens exceeds the buffer size {}", n, buf.max_tokens));
  }
  if (start + n > kv.capacity()) {
    throw Error(fmt::format("context is full: {} tokens do not fit a context of {} tokens", start + n,
                            kv.capacity()));
  }
  if (start + n > c.max_position_embeddings) {
    throw Error(fmt::format("{} tokens exceed the model's max_position_embeddings of {}", start + n,
                            c.max_position_embeddings));
  }
  for (int32_t id : tokens) {
    if (id < 0 || id >= c.vocab_size) {
      throw Error(fmt::format("token id {} is outside the vocabulary of {} ids", id, c.vocab_size));
    }
  }
  if (static_cast<size_t>(kv.capacity()) * pool.size() > buf.scores.size()) {
    throw Error("forward: buffers were sized for a smaller context or fewer threads");
  }

  const int hidden = c.hidden_size;
  const int q_dim = c.num_attention_heads * c.head_dim;
  const int kv_dim = c.num_key_value_heads * c.head_dim;
  const int ffn = c.intermediate_size;

  for (int t = 0; t < n; ++t) widen_row(weights_.embed, tokens[t], buf.residual.data() + t * hidden);
  rope_tables(c, start, n, buf.rope_cos.data(), buf.rope_sin.data());
  const int half = c.head_dim / 2;

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
      std::memcpy(kv.keys(l, start + t), buf.k.data() + t * kv_dim, kv_dim * sizeof(float));
      std::memcpy(kv.values(l, start + t), buf.v.data() + t * kv_dim, kv_dim * sizeof(float));
    }
    attention(l, n, start, kv, buf, pool);
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
  kv.size_ = start + n;

  const int first = which == Logits::All ? 0 : n - 1;
  const int rows = n - first;
  for (int t = first; t < n; ++t) {
    rms_norm(buf.residual.data() + t * hidden, weights_.final_norm.data(), c.rms_norm_eps, hidden,
             buf.normed.data() + (t - first) * hidden);
  }
  matmul(pool, buf.normed.data(), rows, weights_.lm_head, buf.logits.data());
}

}  // namespace smol
