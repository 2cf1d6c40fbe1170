// The forward pass, top to bottom, in the order of Hugging Face's LlamaForCausalLM. A batch
// may mix tokens of several sequences (each with its own KV cache); the matmuls see one
// matrix of activations either way.
#include <algorithm>
#include <cmath>
#include <map>

#include <fmt/format.h>

#include "model/blocks.hpp"
#include "smol/error.hpp"
#include "smol/model.hpp"
#include "smol/thread_pool.hpp"

namespace smol {

namespace {

// Every token of the batch belongs to one sequence (every prompt and decode step outside the
// server's continuous batching).
bool one_sequence(std::span<const TokenSlot> slots) {
  return std::all_of(slots.begin(), slots.end(), [&](const TokenSlot& s) { return s.kv == slots[0].kv; });
}

}  // namespace

void Model::attention(int layer, std::span<const TokenSlot> slots, ForwardBuffers& buf, ThreadPool& pool) const {
  const ModelConfig& c = config_;
  const int head_dim = c.head_dim;
  const int q_dim = c.num_attention_heads * head_dim;
  const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim));

  // One sequence's consecutive tokens (a prompt, or a single decode step) go to the kernels'
  // causal attention: tiled like a GEMM for many tokens, per head for few.
  if (one_sequence(slots)) {
    KvCache* first_kv = slots[0].kv;
    AttentionArgs args;
    args.q = buf.q.data();
    const KvView keys = first_kv->keys(layer);
    args.keys = keys.data;
    args.values = first_kv->values(layer).data;
    args.kv_type = keys.type;
    args.kv_stride = keys.stride;
    args.out = buf.attn_out.data();
    args.n_tokens = static_cast<int>(slots.size());
    args.start_pos = slots[0].pos;
    args.n_heads = c.num_attention_heads;
    args.n_kv_heads = c.num_key_value_heads;
    args.head_dim = head_dim;
    args.scale = scale;
    args.per_token = buf.per_token_kernels;
    causal_attention(pool, args);
    return;
  }

  // Tokens of several sequences (continuous batching): every (token, head) in one dispatch,
  // each over its own sequence's cache.
  std::vector<KeyRange>& ranges = buf.key_ranges;
  ranges.clear();
  for (const TokenSlot& s : slots) ranges.push_back({s.kv->keys(layer), s.kv->values(layer), s.pos + 1});
  blocks::attend(pool, buf.q.data(), ranges, c.num_attention_heads, c.num_key_value_heads, head_dim, scale,
                 buf.scores.data(), buf.max_context, buf.attn_out.data());
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
  // One sequence needs no map: the check then allocates nothing per token.
  const bool single = one_sequence(slots);
  std::map<const KvCache*, int> next_pos;
  for (int t = 0; t < n; ++t) {
    const TokenSlot& s = slots[t];
    if (tokens[t] < 0 || tokens[t] >= c.vocab_size) {
      throw Error(fmt::format("token id {} is outside the vocabulary of {} ids", tokens[t], c.vocab_size));
    }
    int expected = slots[0].kv->size() + t;
    if (!single) {
      auto [it, inserted] = next_pos.try_emplace(s.kv, s.kv->size());
      expected = it->second++;
    }
    if (s.pos != expected) {
      throw Error(fmt::format("forward: token at position {} does not follow its sequence (expected {})", s.pos,
                              expected));
    }
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
  const MatmulPath path = buf.per_token_kernels ? MatmulPath::BatchInvariant : MatmulPath::ByBatchSize;

  for (int t = 0; t < n; ++t) {
    widen_row(weights_.embed, tokens[t], buf.residual.data() + t * hidden);
    blocks::rope_row(c.rope_theta, c.head_dim, slots[t].pos, buf.rope_cos.data() + t * half,
                     buf.rope_sin.data() + t * half);
  }

  // Rows are normed one at a time for a decode step (far cheaper than waking the pool); a
  // prompt's rows are split over the threads.
  auto for_rows = [&](auto&& fn) { blocks::for_rows(pool, n, fn); };
  float* residual = buf.residual.data();
  float* normed = buf.normed.data();

  for (int l = 0; l < c.num_hidden_layers; ++l) {
    const LayerWeights& w = weights_.layers[l];
    if (l == 0) {
      for_rows([&](int begin, int end) {
        for (int t = begin; t < end; ++t) {
          rms_norm(residual + t * hidden, w.attn_norm.data(), c.rms_norm_eps, hidden, normed + t * hidden);
        }
      });
    }
    // Q, K and V share their input: one dispatch, activations prepared once.
    const MatmulOutput qkv[] = {{w.q, buf.q.data()}, {w.k, buf.k.data()}, {w.v, buf.v.data()}};
    matmul_multi(pool, normed, n, qkv, path);
    for_rows([&](int begin, int end) {
      for (int t = begin; t < end; ++t) {
        const float* cos = buf.rope_cos.data() + t * half;
        const float* sin = buf.rope_sin.data() + t * half;
        rope_rotate_half(buf.q.data() + t * q_dim, c.num_attention_heads, c.head_dim, cos, sin);
        rope_rotate_half(buf.k.data() + t * kv_dim, c.num_key_value_heads, c.head_dim, cos, sin);
        slots[t].kv->store(l, slots[t].pos, buf.k.data() + t * kv_dim, buf.v.data() + t * kv_dim);
      }
    });
    attention(l, slots, buf, pool);
    matmul(pool, buf.attn_out.data(), n, w.o, buf.proj.data(), path);
    // Residual add and the next norm in one pass over each row, while it is in cache.
    for_rows([&](int begin, int end) {
      for (int t = begin; t < end; ++t) {
        blocks::add_in_place(residual + t * hidden, buf.proj.data() + t * hidden, hidden);
        rms_norm(residual + t * hidden, w.mlp_norm.data(), c.rms_norm_eps, hidden, normed + t * hidden);
      }
    });
    const MatmulOutput gate_up[] = {{w.gate, buf.gate.data()}, {w.up, buf.up.data()}};
    matmul_multi(pool, normed, n, gate_up, path);
    for_rows([&](int begin, int end) {
      silu_mul(buf.gate.data() + static_cast<size_t>(begin) * ffn, buf.up.data() + static_cast<size_t>(begin) * ffn,
               (end - begin) * ffn);
    });
    matmul(pool, buf.gate.data(), n, w.down, buf.proj.data(), path);
    // The residual add, fused with the next layer's attention norm.
    const std::vector<float>* next_norm =
        l + 1 < c.num_hidden_layers ? &weights_.layers[l + 1].attn_norm : nullptr;
    for_rows([&](int begin, int end) {
      for (int t = begin; t < end; ++t) {
        blocks::add_in_place(residual + t * hidden, buf.proj.data() + t * hidden, hidden);
        if (next_norm) rms_norm(residual + t * hidden, next_norm->data(), c.rms_norm_eps, hidden, normed + t * hidden);
      }
    });
  }
  for (const TokenSlot& s : slots) s.kv->size_ = std::max(s.kv->size_, s.pos + 1);

  const int rows = static_cast<int>(logit_rows.size());
  if (rows == 0) return;
  for (int i = 0; i < rows; ++i) {
    rms_norm(buf.residual.data() + static_cast<size_t>(logit_rows[i]) * hidden, weights_.final_norm.data(),
             c.rms_norm_eps, hidden, buf.normed.data() + static_cast<size_t>(i) * hidden);
  }
  // Sized by the logit rows actually asked for, not the batch: a 512-token prompt that wants
  // only its last token's logits would otherwise hold 512 x 49152 floats (100 MB).
  const size_t logit_floats = static_cast<size_t>(rows) * c.vocab_size;
  if (buf.logits.size() < logit_floats) buf.logits.resize(logit_floats);
  matmul(pool, buf.normed.data(), rows, weights_.lm_head, buf.logits.data(), path);
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
