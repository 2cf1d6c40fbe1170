// The training forward pass: the inference forward of src/model/forward.cpp over whole
// sequences, keeping what the backward needs (train/model_backward.cpp runs it in reverse).
#include <fmt/format.h>

#include <algorithm>
#include <type_traits>
#include <vector>

#include "smol/error.hpp"
#include "smol/thread_pool.hpp"
#include "smol/train_model.hpp"
#include "train/model_internal.hpp"
#include "train/random.hpp"

namespace smol {

namespace {

// fill_dropout_mask draws float scales; the double model gets the very same values.
template <typename T>
void fill_mask(T* mask, size_t n, float p, uint64_t seed) {
  if constexpr (std::is_same_v<T, float>) {
    fill_dropout_mask(mask, n, p, seed);
  } else {
    std::vector<float> tmp(n);
    fill_dropout_mask(tmp.data(), n, p, seed);
    std::copy(tmp.begin(), tmp.end(), mask);
  }
}

}  // namespace

template <typename T>
void fill_dropout_masks(BasicActivations<T>& acts, int layer, const ForwardOptions& options) {
  typename BasicActivations<T>::Layer& a = acts.layers[layer];
  const size_t B = static_cast<size_t>(acts.batch());
  const size_t attn_row = a.attn_mask.size() / B, res_row = a.res1_mask.size() / B;
  for (size_t b = 0; b < B; ++b) {
    const uint64_t row_seed = mix_seed(options.dropout_seed, static_cast<uint64_t>(options.first_row) + b, layer);
    fill_mask(a.attn_mask.data() + b * attn_row, attn_row, options.dropout, mix_seed(row_seed, 0));
    fill_mask(a.res1_mask.data() + b * res_row, res_row, options.dropout, mix_seed(row_seed, 1));
    fill_mask(a.res2_mask.data() + b * res_row, res_row, options.dropout, mix_seed(row_seed, 2));
  }
}

template <typename Real>
double model_forward(const ModelConfig& c, const BasicParamPtrs<Real>& P, const int32_t* inputs, const int32_t* targets,
                     BasicActivations<Real>& acts, ThreadPool& pool, const ForwardOptions& options) {
  const int B = acts.batch(), T = acts.seq_len(), N = B * T;
  const int H = c.hidden_size, F = c.intermediate_size, V = c.vocab_size, L = c.num_hidden_layers;
  const int q_dim = c.num_attention_heads * c.head_dim, kv_dim = c.num_key_value_heads * c.head_dim;
  const Precision prec = options.precision;
  const bool dropout = options.dropout > 0.0f;
  if (dropout && (L == 0 || acts.layers[0].attn_mask.empty())) {
    throw Error("model_forward: dropout needs activations allocated with dropout");
  }
  if (T > c.max_position_embeddings) {
    throw Error(fmt::format("sequence length {} exceeds the model's max_position_embeddings of {}", T,
                            c.max_position_embeddings));
  }
  for (int n = 0; n < N; ++n) {
    if (inputs[n] < 0 || inputs[n] >= V || targets[n] >= V) {
      throw Error(fmt::format("token id {} is outside the vocabulary of {} ids",
                              inputs[n] < 0 || inputs[n] >= V ? inputs[n] : targets[n], V));
    }
  }
  const AttentionShape shape{B, T, c.num_attention_heads, c.num_key_value_heads, c.head_dim};

  embedding_forward(L > 0 ? acts.layers[0].x.data() : acts.x_final.data(), inputs, P.embed, N, H);
  for (int l = 0; l < L; ++l) {
    const BasicLayerParams<Real>& w = P.layers[l];
    typename BasicActivations<Real>::Layer& a = acts.layers[l];
    Real* x_next = l + 1 < L ? acts.layers[l + 1].x.data() : acts.x_final.data();
    if (dropout) fill_dropout_masks(acts, l, options);
    const Real* attn_mask = dropout ? a.attn_mask.data() : nullptr;
    const Real* res1_mask = dropout ? a.res1_mask.data() : nullptr;
    const Real* res2_mask = dropout ? a.res2_mask.data() : nullptr;

    parallel_rmsnorm_forward(pool, a.norm1.data(), a.rstd1.data(), a.x.data(), w.attn_norm, N, H, c.rms_norm_eps);
    matmul_forward(pool, a.q.data(), a.norm1.data(), w.q, N, H, q_dim, prec);
    matmul_forward(pool, a.k.data(), a.norm1.data(), w.k, N, H, kv_dim, prec);
    matmul_forward(pool, a.v.data(), a.norm1.data(), w.v, N, H, kv_dim, prec);
    rope_forward(a.q.data(), acts.rope_cos.data(), acts.rope_sin.data(), N, T, c.num_attention_heads, c.head_dim);
    rope_forward(a.k.data(), acts.rope_cos.data(), acts.rope_sin.data(), N, T, c.num_key_value_heads, c.head_dim);
    attention_forward(pool, a.attn.data(), a.probs.data(), a.q.data(), a.k.data(), a.v.data(), attn_mask, shape);
    matmul_forward(pool, acts.branch.data(), a.attn.data(), w.o, N, q_dim, H, prec);
    residual_forward(a.h.data(), a.x.data(), acts.branch.data(), res1_mask, static_cast<size_t>(N) * H);

    parallel_rmsnorm_forward(pool, a.norm2.data(), a.rstd2.data(), a.h.data(), w.mlp_norm, N, H, c.rms_norm_eps);
    matmul_forward(pool, a.gate.data(), a.norm2.data(), w.gate, N, H, F, prec);
    matmul_forward(pool, a.up.data(), a.norm2.data(), w.up, N, H, F, prec);
    pool.parallel_for(static_cast<size_t>(N) * F, [&](size_t begin, size_t end) {
      swiglu_forward(a.act.data() + begin, a.gate.data() + begin, a.up.data() + begin, end - begin);
    });
    matmul_forward(pool, acts.branch.data(), a.act.data(), w.down, N, F, H, prec);
    residual_forward(x_next, a.h.data(), acts.branch.data(), res2_mask, static_cast<size_t>(N) * H);
  }
  parallel_rmsnorm_forward(pool, acts.norm_final.data(), acts.rstd_final.data(), acts.x_final.data(), P.final_norm, N,
                           H, c.rms_norm_eps);
  matmul_forward(pool, acts.logits.data(), acts.norm_final.data(), P.lm_head, N, H, V, prec);
  return cross_entropy_forward(pool, acts.losses.data(), acts.logits.data(), acts.logits.data(), targets, N, V);
}

template <typename T>
void parallel_rmsnorm_forward(ThreadPool& pool, T* out, T* rstd, const T* inp, const T* weight, int n_tokens,
                              int dim, double eps) {
  pool.parallel_for(static_cast<size_t>(n_tokens), [&](size_t begin, size_t end) {
    const size_t off = begin * dim;
    rmsnorm_forward(out + off, rstd + begin, inp + off, weight, static_cast<int>(end - begin), dim, eps);
  });
}

#define SMOL_INSTANTIATE(T)                                                                                    \
  template void fill_dropout_masks<T>(BasicActivations<T>&, int, const ForwardOptions&);                      \
  template double model_forward<T>(const ModelConfig&, const BasicParamPtrs<T>&, const int32_t*,              \
                                   const int32_t*, BasicActivations<T>&, ThreadPool&, const ForwardOptions&);  \
  template void parallel_rmsnorm_forward<T>(ThreadPool&, T*, T*, const T*, const T*, int, int, double);
SMOL_INSTANTIATE(float)
SMOL_INSTANTIATE(double)
#undef SMOL_INSTANTIATE

}  // namespace smol
