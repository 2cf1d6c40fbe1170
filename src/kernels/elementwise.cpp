#include <algorithm>
#include <cmath>

#include "smol/kernels.hpp"

namespace smol {

void rms_norm(const float* x, const float* weight, float eps, int dim, float* y) {
  float sum_sq = 0.0f;
  for (int i = 0; i < dim; ++i) sum_sq += x[i] * x[i];
  const float scale = 1.0f / std::sqrt(sum_sq / static_cast<float>(dim) + eps);
  for (int i = 0; i < dim; ++i) y[i] = x[i] * scale * weight[i];
}

void rope_rotate_half(float* vec, int n_heads, int head_dim, const float* cos, const float* sin) {
  const int half = head_dim / 2;
  for (int h = 0; h < n_heads; ++h) {
    float* v = vec + h * head_dim;
    for (int i = 0; i < half; ++i) {
      const float x1 = v[i];
      const float x2 = v[i + half];
      v[i] = x1 * cos[i] - x2 * sin[i];
      v[i + half] = x2 * cos[i] + x1 * sin[i];
    }
  }
}

void softmax(float* x, int n) {
  const float max_value = *std::max_element(x, x + n);
  float sum = 0.0f;
  for (int i = 0; i < n; ++i) {
    x[i] = std::exp(x[i] - max_value);
    sum += x[i];
  }
  const float inv = 1.0f / sum;
  for (int i = 0; i < n; ++i) x[i] *= inv;
}

void silu_mul(float* gate, const float* up, int n) {
  for (int i = 0; i < n; ++i) {
    const float g = gate[i];
    gate[i] = g / (1.0f + std::exp(-g)) * up[i];
  }
}

}  // namespace smol
