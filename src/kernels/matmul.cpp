#include <algorithm>
#include <cstring>

#include "smol/half.hpp"
#include "smol/kernels.hpp"
#include "smol/thread_pool.hpp"

namespace smol {

namespace {

float dot_row(const MatrixView& w, const float* x, int64_t row) {
  const size_t n = static_cast<size_t>(w.cols);
  switch (w.type) {
    case WeightType::F32: return dot_f32(x, static_cast<const float*>(w.data) + row * w.cols, n);
    case WeightType::BF16: return dot_bf16(x, static_cast<const uint16_t*>(w.data) + row * w.cols, n);
    case WeightType::F16: return dot_f16(x, static_cast<const uint16_t*>(w.data) + row * w.cols, n);
  }
  return 0.0f;
}

}  // namespace

void widen_row(const MatrixView& m, int64_t row, float* out) {
  const int64_t n = m.cols;
  switch (m.type) {
    case WeightType::F32:
      std::memcpy(out, static_cast<const float*>(m.data) + row * n, n * sizeof(float));
      return;
    case WeightType::BF16: {
      const auto* src = static_cast<const uint16_t*>(m.data) + row * n;
      for (int64_t i = 0; i < n; ++i) out[i] = bf16_to_f32(src[i]);
      return;
    }
    case WeightType::F16: {
      const auto* src = static_cast<const uint16_t*>(m.data) + row * n;
      for (int64_t i = 0; i < n; ++i) out[i] = f16_to_f32(src[i]);
      return;
    }
  }
}

// Rows are split across threads; for a block of rows, every token's dot product is taken
// while the row is still in L1, so prefill reads each weight once.
void matmul(ThreadPool& pool, const float* x, int n_tokens, const MatrixView& w, float* y) {
  const int64_t rows = w.rows;
  const int64_t cols = w.cols;
  pool.parallel_for(static_cast<size_t>(rows), [&](size_t begin, size_t end) {
    for (size_t r = begin; r < end; ++r) {
      for (int t = 0; t < n_tokens; ++t) {
        y[static_cast<int64_t>(t) * rows + r] = dot_row(w, x + static_cast<int64_t>(t) * cols, r);
      }
    }
  });
}

}  // namespace smol
