#pragma once
// Arithmetic on arrays, nothing about models. Weights stay in their stored type (bf16/f16
// are widened inside the kernels, never copied into a float32 model).
#include <cstddef>
#include <cstdint>

namespace smol {

class ThreadPool;

enum class WeightType { F32, BF16, F16 };

// A row-major matrix of `rows` outputs by `cols` inputs, as Hugging Face stores Linear weights.
struct MatrixView {
  WeightType type = WeightType::F32;
  const void* data = nullptr;
  int64_t rows = 0;
  int64_t cols = 0;
};

// Dot products of a float32 vector with a stored row, accumulated in float32.
float dot_f32(const float* x, const float* w, size_t n);
float dot_bf16(const float* x, const uint16_t* w, size_t n);
float dot_f16(const float* x, const uint16_t* w, size_t n);

// Widens one stored row to float32 (embedding lookups, norm weights).
void widen_row(const MatrixView& m, int64_t row, float* out);

// y[t][r] = sum_k x[t][k] * W[r][k] for t < n_tokens (x: n_tokens x cols, y: n_tokens x rows).
void matmul(ThreadPool& pool, const float* x, int n_tokens, const MatrixView& w, float* y);

// y = x * rsqrt(mean(x^2) + eps) * weight, in float32.
void rms_norm(const float* x, const float* weight, float eps, int dim, float* y);

// Rotates each head of `vec` (n_heads x head_dim) in Hugging Face's rotate_half layout:
// dim i pairs with dim i + head_dim/2, using cos/sin of length head_dim/2.
void rope_rotate_half(float* vec, int n_heads, int head_dim, const float* cos, const float* sin);

// In-place numerically stable softmax.
void softmax(float* x, int n);

// gate[i] = silu(gate[i]) * up[i]
void silu_mul(float* gate, const float* up, int n);

}  // namespace smol
