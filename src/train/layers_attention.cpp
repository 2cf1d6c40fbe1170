// Causal grouped-query attention and the cross-entropy head: forward/backward pairs.
#include <algorithm>
#include <cmath>
#include <type_traits>
#include <vector>

#include "smol/kernels.hpp"
#include "smol/thread_pool.hpp"
#include "smol/train_layers.hpp"
#include "train/vector_ops.hpp"

namespace smol {

namespace {

using train_detail::axpy;
using train_detail::dot;

}  // namespace

// Work is split by (batch row, kv head): every query head of a group lands on the same
// thread, so the backward can accumulate dk/dv of that kv head without races.
template <typename T>
void attention_forward(ThreadPool& pool, T* out, T* probs, const T* q, const T* k, const T* v, const T* drop_mask,
                       const AttentionShape& s) {
  const int group = s.n_heads / s.n_kv_heads;
  const int q_stride = s.n_heads * s.head_dim, kv_stride = s.n_kv_heads * s.head_dim;
  const T scale = static_cast<T>(1.0 / std::sqrt(static_cast<double>(s.head_dim)));
  const size_t items = static_cast<size_t>(s.batch) * s.n_kv_heads;
  pool.run([&](int thread, int n_threads) {
    for (size_t item = thread; item < items; item += n_threads) {
      const int b = static_cast<int>(item / s.n_kv_heads), kvh = static_cast<int>(item % s.n_kv_heads);
      const size_t row0 = static_cast<size_t>(b) * s.seq_len;
      const T* kb = k + row0 * kv_stride + kvh * s.head_dim;
      const T* vb = v + row0 * kv_stride + kvh * s.head_dim;
      for (int h = kvh * group; h < (kvh + 1) * group; ++h) {
        const size_t p_off = (static_cast<size_t>(b) * s.n_heads + h) * s.seq_len * s.seq_len;
        for (int t = 0; t < s.seq_len; ++t) {
          T* p = probs + p_off + static_cast<size_t>(t) * s.seq_len;
          const T* qt = q + (row0 + t) * q_stride + h * s.head_dim;
          T max_score = -INFINITY;
          for (int j = 0; j <= t; ++j) {
            p[j] = dot(qt, kb + static_cast<size_t>(j) * kv_stride, s.head_dim) * scale;
            max_score = std::max(max_score, p[j]);
          }
          T sum = 0;
          for (int j = 0; j <= t; ++j) {
            p[j] = std::exp(p[j] - max_score);
            sum += p[j];
          }
          const T inv = T(1) / sum;
          for (int j = 0; j <= t; ++j) p[j] *= inv;
          for (int j = t + 1; j < s.seq_len; ++j) p[j] = 0;

          T* o = out + (row0 + t) * q_stride + h * s.head_dim;
          std::fill(o, o + s.head_dim, T(0));
          const T* m = drop_mask ? drop_mask + p_off + static_cast<size_t>(t) * s.seq_len : nullptr;
          for (int j = 0; j <= t; ++j) {
            const T pj = m ? p[j] * m[j] : p[j];
            axpy(o, pj, vb + static_cast<size_t>(j) * kv_stride, s.head_dim);
          }
        }
      }
    }
  });
}

// With P = softmax(S), A = P∘M (dropout), O = A·V:
//   dA = dO·Vᵀ, dV = Aᵀ·dO, dP = dA∘M, dS = P∘(dP - rowsum(P∘dP)), dQ = dS·K/√d, dK = dSᵀ·Q/√d.
template <typename T>
void attention_backward(ThreadPool& pool, T* dq, T* dk, T* dv, const T* dout, const T* probs, const T* q,
                        const T* k, const T* v, const T* drop_mask, const AttentionShape& s) {
  const int group = s.n_heads / s.n_kv_heads;
  const int q_stride = s.n_heads * s.head_dim, kv_stride = s.n_kv_heads * s.head_dim;
  const T scale = static_cast<T>(1.0 / std::sqrt(static_cast<double>(s.head_dim)));
  const size_t items = static_cast<size_t>(s.batch) * s.n_kv_heads;
  pool.run([&](int thread, int n_threads) {
    std::vector<T> dp(s.seq_len);
    for (size_t item = thread; item < items; item += n_threads) {
      const int b = static_cast<int>(item / s.n_kv_heads), kvh = static_cast<int>(item % s.n_kv_heads);
      const size_t row0 = static_cast<size_t>(b) * s.seq_len;
      const T* kb = k + row0 * kv_stride + kvh * s.head_dim;
      const T* vb = v + row0 * kv_stride + kvh * s.head_dim;
      T* dkb = dk + row0 * kv_stride + kvh * s.head_dim;
      T* dvb = dv + row0 * kv_stride + kvh * s.head_dim;
      for (int t = 0; t < s.seq_len; ++t) {
        std::fill(dkb + static_cast<size_t>(t) * kv_stride, dkb + static_cast<size_t>(t) * kv_stride + s.head_dim, T(0));
        std::fill(dvb + static_cast<size_t>(t) * kv_stride, dvb + static_cast<size_t>(t) * kv_stride + s.head_dim, T(0));
      }
      for (int h = kvh * group; h < (kvh + 1) * group; ++h) {
        const size_t p_off = (static_cast<size_t>(b) * s.n_heads + h) * s.seq_len * s.seq_len;
        for (int t = 0; t < s.seq_len; ++t) {
          const T* p = probs + p_off + static_cast<size_t>(t) * s.seq_len;
          const T* m = drop_mask ? drop_mask + p_off + static_cast<size_t>(t) * s.seq_len : nullptr;
          const T* dot_t = dout + (row0 + t) * q_stride + h * s.head_dim;
          const T* qt = q + (row0 + t) * q_stride + h * s.head_dim;
          T* dqt = dq + (row0 + t) * q_stride + h * s.head_dim;
          if constexpr (std::is_same_v<T, float>) {
            attention_backward_row({dot_t, qt, p, m, kb, vb, dqt, dkb, dvb, dp.data()}, t + 1, s.head_dim, kv_stride,
                                   scale);
            continue;
          }
          T row_sum = 0;
          for (int j = 0; j <= t; ++j) {
            const T mj = m ? m[j] : T(1);
            axpy(dvb + static_cast<size_t>(j) * kv_stride, p[j] * mj, dot_t, s.head_dim);
            dp[j] = dot(dot_t, vb + static_cast<size_t>(j) * kv_stride, s.head_dim) * mj;
            row_sum += p[j] * dp[j];
          }
          std::fill(dqt, dqt + s.head_dim, T(0));
          for (int j = 0; j <= t; ++j) {
            const T ds = p[j] * (dp[j] - row_sum) * scale;
            axpy(dqt, ds, kb + static_cast<size_t>(j) * kv_stride, s.head_dim);
            axpy(dkb + static_cast<size_t>(j) * kv_stride, ds, qt, s.head_dim);
          }
        }
      }
    }
  });
}

template <typename T>
double cross_entropy_forward(ThreadPool& pool, T* losses, T* probs, const T* logits, const int32_t* targets,
                             int n_tokens, int vocab) {
  pool.parallel_for(static_cast<size_t>(n_tokens), [&](size_t begin, size_t end) {
    for (size_t n = begin; n < end; ++n) {
      const T* x = logits + n * vocab;
      T* p = probs + n * vocab;
      T max_logit = *std::max_element(x, x + vocab);
      const T target_logit = targets[n] >= 0 ? x[targets[n]] : T(0);
      double sum = 0.0;
      for (int i = 0; i < vocab; ++i) {
        p[i] = std::exp(x[i] - max_logit);
        sum += p[i];
      }
      const T inv = static_cast<T>(1.0 / sum);
      for (int i = 0; i < vocab; ++i) p[i] *= inv;
      losses[n] = targets[n] >= 0 ? static_cast<T>(std::log(sum) - (target_logit - max_logit)) : T(0);
    }
  });
  double total = 0.0;
  for (int n = 0; n < n_tokens; ++n) total += losses[n];
  return total;
}

template <typename T>
void cross_entropy_backward(ThreadPool& pool, T* dlogits, const T* probs, const int32_t* targets, double dloss,
                            int n_tokens, int vocab) {
  const T d = static_cast<T>(dloss);
  pool.parallel_for(static_cast<size_t>(n_tokens), [&](size_t begin, size_t end) {
    for (size_t n = begin; n < end; ++n) {
      T* g = dlogits + n * vocab;
      const T* p = probs + n * vocab;
      if (targets[n] < 0) {
        std::fill(g, g + vocab, T(0));
        continue;
      }
      for (int i = 0; i < vocab; ++i) g[i] = p[i] * d;
      g[targets[n]] -= d;
    }
  });
}

#define SMOL_INSTANTIATE(T)                                                                                    \
  template void attention_forward<T>(ThreadPool&, T*, T*, const T*, const T*, const T*, const T*,              \
                                     const AttentionShape&);                                                   \
  template void attention_backward<T>(ThreadPool&, T*, T*, T*, const T*, const T*, const T*, const T*,         \
                                      const T*, const T*, const AttentionShape&);                              \
  template double cross_entropy_forward<T>(ThreadPool&, T*, T*, const T*, const int32_t*, int, int);           \
  template void cross_entropy_backward<T>(ThreadPool&, T*, const T*, const int32_t*, double, int, int);
SMOL_INSTANTIATE(float)
SMOL_INSTANTIATE(double)
#undef SMOL_INSTANTIATE

}  // namespace smol
