// LayerNorm and the plain-FFN activations (GELU, ReLU, SiLU) of the encoder-decoder families,
// and a bias add for projections that carry one. Scalar code: these run once per activation
// row, far less often than the matmuls they sit between, and std::erf keeps GELU exactly the
// erf form PyTorch uses.
#include <cmath>

#include "smol/kernels.hpp"

namespace smol {

void layer_norm(const float* x, const float* weight, const float* bias, float eps, int dim, float* y) {
  // Two passes in double, as the variance of a row with a large mean loses digits in float.
  double sum = 0.0;
  for (int i = 0; i < dim; ++i) sum += x[i];
  const double mean = sum / dim;
  double sq = 0.0;
  for (int i = 0; i < dim; ++i) {
    const double d = x[i] - mean;
    sq += d * d;
  }
  const float inv = static_cast<float>(1.0 / std::sqrt(sq / dim + eps));
  const float m = static_cast<float>(mean);
  for (int i = 0; i < dim; ++i) y[i] = (x[i] - m) * inv * weight[i] + (bias ? bias[i] : 0.0f);
}

void activate(Activation act, float* x, size_t n) {
  switch (act) {
    case Activation::GELU:
      for (size_t i = 0; i < n; ++i) x[i] = 0.5f * x[i] * (1.0f + std::erf(x[i] * 0.70710678118654752f));
      return;
    case Activation::GELUTanh:
      for (size_t i = 0; i < n; ++i) {
        const float v = x[i];
        x[i] = 0.5f * v * (1.0f + std::tanh(0.79788456080286536f * (v + 0.044715f * v * v * v)));
      }
      return;
    case Activation::ReLU:
      for (size_t i = 0; i < n; ++i) x[i] = x[i] > 0.0f ? x[i] : 0.0f;
      return;
    case Activation::SiLU:
      for (size_t i = 0; i < n; ++i) x[i] = x[i] / (1.0f + std::exp(-x[i]));
      return;
  }
}

void add_bias_rows(float* y, const float* bias, int n_rows, int dim) {
  for (int t = 0; t < n_rows; ++t) {
    float* row = y + static_cast<size_t>(t) * dim;
    for (int i = 0; i < dim; ++i) row[i] += bias[i];
  }
}

const char* activation_name(Activation act) {
  switch (act) {
    case Activation::GELU: return "gelu";
    case Activation::GELUTanh: return "gelu_new";
    case Activation::ReLU: return "relu";
    case Activation::SiLU: return "silu";
  }
  return "?";
}

}  // namespace smol
