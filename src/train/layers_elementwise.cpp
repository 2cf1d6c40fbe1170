// Embedding, RMSNorm, RoPE, SwiGLU and residual layers: forward/backward pairs.
#include <cmath>
#include <cstring>

#include "smol/half.hpp"
#include "smol/train_layers.hpp"

namespace smol {

float round_to_precision(float x, Precision p) {
  switch (p) {
    case Precision::FP32: return x;
    case Precision::BF16: return bf16_to_f32(f32_to_bf16(x));
    case Precision::FP16: return f16_to_f32(f32_to_f16(x));
  }
  return x;
}

template <typename T>
void embedding_forward(T* out, const int32_t* tokens, const T* table, int n_tokens, int dim) {
  for (int n = 0; n < n_tokens; ++n) {
    std::memcpy(out + static_cast<size_t>(n) * dim, table + static_cast<size_t>(tokens[n]) * dim, dim * sizeof(T));
  }
}

template <typename T>
void embedding_backward(T* dtable, const T* dout, const int32_t* tokens, int n_tokens, int dim) {
  for (int n = 0; n < n_tokens; ++n) {
    T* row = dtable + static_cast<size_t>(tokens[n]) * dim;
    const T* d = dout + static_cast<size_t>(n) * dim;
    for (int i = 0; i < dim; ++i) row[i] += d[i];
  }
}

template <typename T>
void rmsnorm_forward(T* out, T* rstd, const T* inp, const T* weight, int n_tokens, int dim, double eps) {
  for (int n = 0; n < n_tokens; ++n) {
    const T* x = inp + static_cast<size_t>(n) * dim;
    T* y = out + static_cast<size_t>(n) * dim;
    double ss = 0.0;  // double: the mean of squares is the one reduction whose error is visible
    for (int i = 0; i < dim; ++i) ss += static_cast<double>(x[i]) * x[i];
    const T r = static_cast<T>(1.0 / std::sqrt(ss / dim + eps));
    rstd[n] = r;
    for (int i = 0; i < dim; ++i) y[i] = x[i] * r * weight[i];
  }
}

// With y_i = x_i r w_i and r = (mean(x²)+eps)^(-1/2): dr/dx_j = -r³ x_j / dim, so
// dx_j = r w_j dy_j - x_j r³/dim · Σ_i dy_i w_i x_i.
template <typename T>
void rmsnorm_backward(T* dinp, T* dweight, const T* dout, const T* inp, const T* weight, const T* rstd,
                      int n_tokens, int dim) {
  for (int n = 0; n < n_tokens; ++n) {
    const T* x = inp + static_cast<size_t>(n) * dim;
    const T* dy = dout + static_cast<size_t>(n) * dim;
    T* dx = dinp + static_cast<size_t>(n) * dim;
    const T r = rstd[n];
    double dot = 0.0;
    for (int i = 0; i < dim; ++i) dot += static_cast<double>(dy[i]) * weight[i] * x[i];
    const T coef = static_cast<T>(dot * r * r * r / dim);
    for (int i = 0; i < dim; ++i) {
      dx[i] += r * weight[i] * dy[i] - x[i] * coef;
      dweight[i] += dy[i] * x[i] * r;
    }
  }
}

template <typename T>
void rope_tables(T* cos_out, T* sin_out, int seq_len, int head_dim, double theta) {
  const int half = head_dim / 2;
  for (int t = 0; t < seq_len; ++t) {
    for (int i = 0; i < half; ++i) {
      const double inv_freq = std::pow(theta, -2.0 * i / head_dim);
      cos_out[t * half + i] = static_cast<T>(std::cos(t * inv_freq));
      sin_out[t * half + i] = static_cast<T>(std::sin(t * inv_freq));
    }
  }
}

namespace {

// Rotates each head's (x_i, x_{i+half}) pair by the angle whose cos/sin are given; sign -1
// rotates backwards, which is the transpose (and the inverse) of the forward rotation.
template <typename T>
void rope_apply(T* x, const T* cos, const T* sin, int n_tokens, int seq_len, int n_heads, int head_dim, T sign) {
  const int half = head_dim / 2;
  for (int n = 0; n < n_tokens; ++n) {
    const T* c = cos + static_cast<size_t>(n % seq_len) * half;
    const T* s = sin + static_cast<size_t>(n % seq_len) * half;
    for (int h = 0; h < n_heads; ++h) {
      T* v = x + (static_cast<size_t>(n) * n_heads + h) * head_dim;
      for (int i = 0; i < half; ++i) {
        const T a = v[i], b = v[i + half];
        v[i] = a * c[i] - sign * b * s[i];
        v[i + half] = b * c[i] + sign * a * s[i];
      }
    }
  }
}

}  // namespace

template <typename T>
void rope_forward(T* x, const T* cos, const T* sin, int n_tokens, int seq_len, int n_heads, int head_dim) {
  rope_apply(x, cos, sin, n_tokens, seq_len, n_heads, head_dim, T(1));
}

template <typename T>
void rope_backward(T* dx, const T* cos, const T* sin, int n_tokens, int seq_len, int n_heads, int head_dim) {
  rope_apply(dx, cos, sin, n_tokens, seq_len, n_heads, head_dim, T(-1));
}

template <typename T>
void swiglu_forward(T* out, const T* gate, const T* up, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    const T g = gate[i];
    out[i] = g / (T(1) + std::exp(-g)) * up[i];
  }
}

template <typename T>
void swiglu_backward(T* dgate, T* dup, const T* dout, const T* gate, const T* up, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    const T g = gate[i];
    const T sig = T(1) / (T(1) + std::exp(-g));
    const T silu = g * sig;
    dgate[i] += dout[i] * up[i] * (sig + silu * (T(1) - sig));
    dup[i] += dout[i] * silu;
  }
}

template <typename T>
void residual_forward(T* out, const T* x, const T* branch, const T* mask, size_t n) {
  if (mask) {
    for (size_t i = 0; i < n; ++i) out[i] = x[i] + branch[i] * mask[i];
  } else {
    for (size_t i = 0; i < n; ++i) out[i] = x[i] + branch[i];
  }
}

template <typename T>
void residual_backward(T* dx, T* dbranch, const T* dout, const T* mask, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    dx[i] += dout[i];
    dbranch[i] += mask ? dout[i] * mask[i] : dout[i];
  }
}

#define SMOL_INSTANTIATE(T)                                                                                    \
  template void embedding_forward<T>(T*, const int32_t*, const T*, int, int);                                  \
  template void embedding_backward<T>(T*, const T*, const int32_t*, int, int);                                 \
  template void rmsnorm_forward<T>(T*, T*, const T*, const T*, int, int, double);                              \
  template void rmsnorm_backward<T>(T*, T*, const T*, const T*, const T*, const T*, int, int);                 \
  template void rope_tables<T>(T*, T*, int, int, double);                                                      \
  template void rope_forward<T>(T*, const T*, const T*, int, int, int, int);                                   \
  template void rope_backward<T>(T*, const T*, const T*, int, int, int, int);                                  \
  template void swiglu_forward<T>(T*, const T*, const T*, size_t);                                             \
  template void swiglu_backward<T>(T*, T*, const T*, const T*, const T*, size_t);                              \
  template void residual_forward<T>(T*, const T*, const T*, const T*, size_t);                                 \
  template void residual_backward<T>(T*, T*, const T*, const T*, size_t);
SMOL_INSTANTIATE(float)
SMOL_INSTANTIATE(double)
#undef SMOL_INSTANTIATE

}  // namespace smol
