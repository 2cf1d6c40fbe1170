// The encoder-decoder layers: LayerNorm, linear with bias, GELU/ReLU/SiLU, dropout,
// padding-masked / causal / cross multi-head attention and label-smoothed cross-entropy,
// each a forward/backward pair (train_layers.hpp).
#include <algorithm>
#include <cmath>
#include <numbers>
#include <type_traits>
#include <vector>

#include "smol/kernels.hpp"
#include "smol/thread_pool.hpp"
#include "smol/train_layers.hpp"
#include "train/mha_float.hpp"
#include "train/vector_ops.hpp"

namespace smol {

namespace {

using train_detail::axpy;
using train_detail::dot;

}  // namespace

template <typename T>
void layernorm_forward(T* out, T* mean, T* rstd, const T* inp, const T* weight, const T* bias, int n_tokens, int dim,
                       double eps) {
  for (int n = 0; n < n_tokens; ++n) {
    const T* x = inp + static_cast<size_t>(n) * dim;
    T* y = out + static_cast<size_t>(n) * dim;
    // Two passes in double, as the inference kernel (kernels/layer_norm_activations.cpp) does.
    double sum = 0.0;
    for (int i = 0; i < dim; ++i) sum += x[i];
    const double mu = sum / dim;
    double sq = 0.0;
    for (int i = 0; i < dim; ++i) sq += (x[i] - mu) * (x[i] - mu);
    const T r = static_cast<T>(1.0 / std::sqrt(sq / dim + eps));
    const T m = static_cast<T>(mu);
    mean[n] = m;
    rstd[n] = r;
    for (int i = 0; i < dim; ++i) y[i] = (x[i] - m) * r * weight[i] + (bias ? bias[i] : T(0));
  }
}

// With x̂ = (x - μ) r and g = dy ∘ w: dx = r (g - mean(g) - x̂ mean(g ∘ x̂)).
template <typename T>
void layernorm_backward(T* dinp, T* dweight, T* dbias, const T* dout, const T* inp, const T* weight, const T* mean,
                        const T* rstd, int n_tokens, int dim) {
  for (int n = 0; n < n_tokens; ++n) {
    const T* x = inp + static_cast<size_t>(n) * dim;
    const T* dy = dout + static_cast<size_t>(n) * dim;
    T* dx = dinp + static_cast<size_t>(n) * dim;
    const T m = mean[n], r = rstd[n];
    double g_sum = 0.0, gx_sum = 0.0;
    for (int i = 0; i < dim; ++i) {
      const double g = static_cast<double>(dy[i]) * weight[i];
      g_sum += g;
      gx_sum += g * ((x[i] - m) * r);
    }
    const T g_mean = static_cast<T>(g_sum / dim), gx_mean = static_cast<T>(gx_sum / dim);
    for (int i = 0; i < dim; ++i) {
      const T xhat = (x[i] - m) * r;
      dx[i] += r * (dy[i] * weight[i] - g_mean - xhat * gx_mean);
      dweight[i] += dy[i] * xhat;
      if (dbias) dbias[i] += dy[i];
    }
  }
}

template <typename T>
void linear_forward(ThreadPool& pool, T* out, const T* inp, const T* weight, const T* bias, int n_tokens, int in_dim,
                    int out_dim, Precision precision) {
  matmul_forward(pool, out, inp, weight, n_tokens, in_dim, out_dim, precision);
  if (!bias) return;
  pool.parallel_for(static_cast<size_t>(n_tokens), [&](size_t begin, size_t end) {
    for (size_t n = begin; n < end; ++n) {
      T* row = out + n * out_dim;
      for (int o = 0; o < out_dim; ++o) row[o] += bias[o];
    }
  });
}

template <typename T>
void linear_backward(ThreadPool& pool, T* dinp, T* dweight, T* dbias, const T* dout, const T* inp, const T* weight,
                     int n_tokens, int in_dim, int out_dim, Precision precision) {
  matmul_backward(pool, dinp, dweight, dout, inp, weight, n_tokens, in_dim, out_dim, precision);
  if (!dbias) return;
  // Blocks of columns walked row by row (contiguous reads); each column is still summed over
  // the rows in order, in double, whatever the block or thread count.
  constexpr size_t kBlock = 64;
  const size_t blocks = (static_cast<size_t>(out_dim) + kBlock - 1) / kBlock;
  pool.parallel_for(blocks, [&](size_t begin, size_t end) {
    double sums[kBlock];
    for (size_t blk = begin; blk < end; ++blk) {
      const size_t o0 = blk * kBlock, width = std::min(kBlock, static_cast<size_t>(out_dim) - o0);
      std::fill(sums, sums + width, 0.0);
      for (int n = 0; n < n_tokens; ++n) {
        const T* row = dout + static_cast<size_t>(n) * out_dim + o0;
        for (size_t i = 0; i < width; ++i) sums[i] += row[i];
      }
      for (size_t i = 0; i < width; ++i) dbias[o0 + i] += static_cast<T>(sums[i]);
    }
  });
}

template <typename T>
void activation_forward(Activation act, T* out, const T* inp, size_t n) {
  if constexpr (std::is_same_v<T, float>) {
    activation_forward_f32(act, out, inp, n);
    return;
  }
  constexpr T inv_sqrt2 = static_cast<T>(0.70710678118654752440);
  constexpr T c = static_cast<T>(0.79788456080286535588);  // sqrt(2/pi)
  for (size_t i = 0; i < n; ++i) {
    const T x = inp[i];
    switch (act) {
      case Activation::GELU: out[i] = T(0.5) * x * (T(1) + std::erf(x * inv_sqrt2)); break;
      case Activation::GELUTanh:
        out[i] = T(0.5) * x * (T(1) + std::tanh(c * (x + T(0.044715) * x * x * x)));
        break;
      case Activation::ReLU: out[i] = x > T(0) ? x : T(0); break;
      case Activation::SiLU: out[i] = x / (T(1) + std::exp(-x)); break;
    }
  }
}

template <typename T>
void activation_backward(Activation act, T* dinp, const T* dout, const T* inp, size_t n) {
  if constexpr (std::is_same_v<T, float>) {
    activation_backward_f32(act, dinp, dout, inp, n);
    return;
  }
  constexpr T inv_sqrt2 = static_cast<T>(0.70710678118654752440);
  constexpr T inv_sqrt_2pi = static_cast<T>(0.39894228040143267794);
  constexpr T c = static_cast<T>(0.79788456080286535588);
  for (size_t i = 0; i < n; ++i) {
    const T x = inp[i];
    T d = 0;
    switch (act) {
      case Activation::GELU:
        d = T(0.5) * (T(1) + std::erf(x * inv_sqrt2)) + x * inv_sqrt_2pi * std::exp(T(-0.5) * x * x);
        break;
      case Activation::GELUTanh: {
        const T th = std::tanh(c * (x + T(0.044715) * x * x * x));
        d = T(0.5) * (T(1) + th) + T(0.5) * x * (T(1) - th * th) * c * (T(1) + T(3 * 0.044715) * x * x);
        break;
      }
      case Activation::ReLU: d = x > T(0) ? T(1) : T(0); break;
      case Activation::SiLU: {
        const T sig = T(1) / (T(1) + std::exp(-x));
        d = sig + x * sig * (T(1) - sig);
        break;
      }
    }
    dinp[i] += dout[i] * d;
  }
}

template <typename T>
void dropout_forward(T* out, const T* inp, const T* mask, size_t n) {
  for (size_t i = 0; i < n; ++i) out[i] = inp[i] * mask[i];
}

template <typename T>
void dropout_backward(T* dinp, const T* dout, const T* mask, size_t n) {
  for (size_t i = 0; i < n; ++i) dinp[i] += dout[i] * mask[i];
}

// Work is split by (batch row, head): dk/dv of one head of one row are written by one thread.
template <typename T>
void mha_forward(ThreadPool& pool, T* out, T* probs, const T* q, const T* k, const T* v, const T* drop_mask,
                 const int32_t* key_lengths, const MhaShape& s) {
  if constexpr (std::is_same_v<T, float>) {
    mha_forward_f32(pool, out, probs, q, k, v, drop_mask, key_lengths, s);
    return;
  }
  const int stride = s.n_heads * s.head_dim;
  const T scale = static_cast<T>(1.0 / std::sqrt(static_cast<double>(s.head_dim)));
  const size_t items = static_cast<size_t>(s.batch) * s.n_heads;
  pool.run([&](int thread, int n_threads) {
    for (size_t item = thread; item < items; item += n_threads) {
      const int b = static_cast<int>(item / s.n_heads), h = static_cast<int>(item % s.n_heads);
      const T* kb = k + static_cast<size_t>(b) * s.kv_len * stride + h * s.head_dim;
      const T* vb = v + static_cast<size_t>(b) * s.kv_len * stride + h * s.head_dim;
      const size_t p_off = (static_cast<size_t>(b) * s.n_heads + h) * s.q_len * s.kv_len;
      for (int t = 0; t < s.q_len; ++t) {
        const int n_keys = mha_visible_keys(s, key_lengths, b, t);
        T* p = probs + p_off + static_cast<size_t>(t) * s.kv_len;
        const size_t row = static_cast<size_t>(b) * s.q_len + t;
        const T* qt = q + row * stride + h * s.head_dim;
        T max_score = -INFINITY;
        for (int j = 0; j < n_keys; ++j) {
          p[j] = dot(qt, kb + static_cast<size_t>(j) * stride, s.head_dim) * scale;
          max_score = std::max(max_score, p[j]);
        }
        T sum = 0;
        for (int j = 0; j < n_keys; ++j) {
          p[j] = std::exp(p[j] - max_score);
          sum += p[j];
        }
        const T inv = T(1) / sum;
        for (int j = 0; j < n_keys; ++j) p[j] *= inv;
        for (int j = n_keys; j < s.kv_len; ++j) p[j] = 0;
        T* o = out + row * stride + h * s.head_dim;
        std::fill(o, o + s.head_dim, T(0));
        const T* m = drop_mask ? drop_mask + p_off + static_cast<size_t>(t) * s.kv_len : nullptr;
        for (int j = 0; j < n_keys; ++j) axpy(o, m ? p[j] * m[j] : p[j], vb + static_cast<size_t>(j) * stride, s.head_dim);
      }
    }
  });
}

// As attention_backward (layers_attention.cpp): dA = dO·Vᵀ, dV = Aᵀ·dO, dP = dA∘M,
// dS = P∘(dP - rowsum(P∘dP)), dQ = dS·K/√d, dK = dSᵀ·Q/√d.
template <typename T>
void mha_backward(ThreadPool& pool, T* dq, T* dk, T* dv, const T* dout, const T* probs, const T* q, const T* k,
                  const T* v, const T* drop_mask, const int32_t* key_lengths, const MhaShape& s) {
  if constexpr (std::is_same_v<T, float>) {
    mha_backward_f32(pool, dq, dk, dv, dout, probs, q, k, v, drop_mask, key_lengths, s);
    return;
  }
  const int stride = s.n_heads * s.head_dim;
  const T scale = static_cast<T>(1.0 / std::sqrt(static_cast<double>(s.head_dim)));
  const size_t items = static_cast<size_t>(s.batch) * s.n_heads;
  pool.run([&](int thread, int n_threads) {
    std::vector<T> dp(s.kv_len);
    for (size_t item = thread; item < items; item += n_threads) {
      const int b = static_cast<int>(item / s.n_heads), h = static_cast<int>(item % s.n_heads);
      const size_t kv0 = static_cast<size_t>(b) * s.kv_len * stride + h * s.head_dim;
      const T* kb = k + kv0;
      const T* vb = v + kv0;
      T* dkb = dk + kv0;
      T* dvb = dv + kv0;
      for (int j = 0; j < s.kv_len; ++j) {
        std::fill(dkb + static_cast<size_t>(j) * stride, dkb + static_cast<size_t>(j) * stride + s.head_dim, T(0));
        std::fill(dvb + static_cast<size_t>(j) * stride, dvb + static_cast<size_t>(j) * stride + s.head_dim, T(0));
      }
      const size_t p_off = (static_cast<size_t>(b) * s.n_heads + h) * s.q_len * s.kv_len;
      for (int t = 0; t < s.q_len; ++t) {
        const int n_keys = mha_visible_keys(s, key_lengths, b, t);
        const T* p = probs + p_off + static_cast<size_t>(t) * s.kv_len;
        const T* m = drop_mask ? drop_mask + p_off + static_cast<size_t>(t) * s.kv_len : nullptr;
        const size_t row = static_cast<size_t>(b) * s.q_len + t;
        const T* dot_t = dout + row * stride + h * s.head_dim;
        const T* qt = q + row * stride + h * s.head_dim;
        T* dqt = dq + row * stride + h * s.head_dim;
        if constexpr (std::is_same_v<T, float>) {
          attention_backward_row({dot_t, qt, p, m, kb, vb, dqt, dkb, dvb, dp.data()}, n_keys, s.head_dim, stride,
                                 scale);
          continue;
        }
        T row_sum = 0;
        for (int j = 0; j < n_keys; ++j) {
          const T mj = m ? m[j] : T(1);
          axpy(dvb + static_cast<size_t>(j) * stride, p[j] * mj, dot_t, s.head_dim);
          dp[j] = dot(dot_t, vb + static_cast<size_t>(j) * stride, s.head_dim) * mj;
          row_sum += p[j] * dp[j];
        }
        std::fill(dqt, dqt + s.head_dim, T(0));
        for (int j = 0; j < n_keys; ++j) {
          const T ds = p[j] * (dp[j] - row_sum) * scale;
          axpy(dqt, ds, kb + static_cast<size_t>(j) * stride, s.head_dim);
          axpy(dkb + static_cast<size_t>(j) * stride, ds, qt, s.head_dim);
        }
      }
    }
  });
}

template <typename T>
double smoothed_cross_entropy_forward(ThreadPool& pool, T* losses, T* probs, const T* logits, const int32_t* targets,
                                      int n_tokens, int vocab, double epsilon) {
  pool.parallel_for(static_cast<size_t>(n_tokens), [&](size_t begin, size_t end) {
    for (size_t n = begin; n < end; ++n) {
      const T* x = logits + n * vocab;
      T* p = probs + n * vocab;
      const T target_logit = targets[n] >= 0 ? x[targets[n]] : T(0);
      T max_logit;
      double sum = 0.0, logit_sum = 0.0;
      if constexpr (std::is_same_v<T, float>) {
        const SoftmaxStats st = softmax_with_stats(x, p, vocab);  // vectorised exp: the scalar one was 7% of a step
        max_logit = st.max;
        sum = st.sum_exp;
        logit_sum = st.sum_shifted;
      } else {
        max_logit = *std::max_element(x, x + vocab);
        for (int i = 0; i < vocab; ++i) logit_sum += static_cast<double>(x[i]) - max_logit;
        for (int i = 0; i < vocab; ++i) {
          p[i] = std::exp(x[i] - max_logit);
          sum += p[i];
        }
        const T inv = static_cast<T>(1.0 / sum);
        for (int i = 0; i < vocab; ++i) p[i] *= inv;
      }
      if (targets[n] < 0) {
        losses[n] = T(0);
        continue;
      }
      const double lse = std::log(sum);  // relative to max_logit
      const double nll = lse - (target_logit - max_logit);
      const double smooth = lse - logit_sum / vocab;  // mean over the vocabulary of -log p[i]
      losses[n] = static_cast<T>((1.0 - epsilon) * nll + epsilon * smooth);
    }
  });
  double total = 0.0;
  for (int n = 0; n < n_tokens; ++n) total += losses[n];
  return total;
}

template <typename T>
void smoothed_cross_entropy_backward(ThreadPool& pool, T* dlogits, const T* probs, const int32_t* targets,
                                     double dloss, int n_tokens, int vocab, double epsilon) {
  const T d = static_cast<T>(dloss);
  const T uniform = static_cast<T>(dloss * epsilon / vocab), hit = static_cast<T>(dloss * (1.0 - epsilon));
  pool.parallel_for(static_cast<size_t>(n_tokens), [&](size_t begin, size_t end) {
    for (size_t n = begin; n < end; ++n) {
      T* g = dlogits + n * vocab;
      const T* p = probs + n * vocab;
      if (targets[n] < 0) {
        std::fill(g, g + vocab, T(0));
        continue;
      }
      for (int i = 0; i < vocab; ++i) g[i] = p[i] * d - uniform;
      g[targets[n]] -= hit;
    }
  });
}

#define SMOL_INSTANTIATE(T)                                                                                     \
  template void layernorm_forward<T>(T*, T*, T*, const T*, const T*, const T*, int, int, double);              \
  template void layernorm_backward<T>(T*, T*, T*, const T*, const T*, const T*, const T*, const T*, int, int); \
  template void linear_forward<T>(ThreadPool&, T*, const T*, const T*, const T*, int, int, int, Precision);    \
  template void linear_backward<T>(ThreadPool&, T*, T*, T*, const T*, const T*, const T*, int, int, int,       \
                                   Precision);                                                                  \
  template void activation_forward<T>(Activation, T*, const T*, size_t);                                        \
  template void activation_backward<T>(Activation, T*, const T*, const T*, size_t);                             \
  template void dropout_forward<T>(T*, const T*, const T*, size_t);                                             \
  template void dropout_backward<T>(T*, const T*, const T*, size_t);                                            \
  template void mha_forward<T>(ThreadPool&, T*, T*, const T*, const T*, const T*, const T*, const int32_t*,     \
                               const MhaShape&);                                                                \
  template void mha_backward<T>(ThreadPool&, T*, T*, T*, const T*, const T*, const T*, const T*, const T*,      \
                                const T*, const int32_t*, const MhaShape&);                                     \
  template double smoothed_cross_entropy_forward<T>(ThreadPool&, T*, T*, const T*, const int32_t*, int, int,    \
                                                    double);                                                    \
  template void smoothed_cross_entropy_backward<T>(ThreadPool&, T*, const T*, const int32_t*, double, int, int, \
                                                   double);
SMOL_INSTANTIATE(float)
SMOL_INSTANTIATE(double)
#undef SMOL_INSTANTIATE

}  // namespace smol
