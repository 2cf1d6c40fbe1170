#pragma once
// Helpers for the kernels' tests: deterministic data and float64 references.
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "hwy/targets.h"
#include "smol/quant.hpp"

namespace smol::testing {

inline std::vector<float> gaussian(size_t n, uint32_t seed, float sigma = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, sigma);
  std::vector<float> v(n);
  for (float& f : v) f = dist(rng);
  return v;
}

// A matrix stored as `type`, plus its decoded float32 rows (what the kernels must multiply).
struct StoredMatrix {
  WeightType type;
  int64_t rows, cols;
  std::vector<uint8_t> bytes;
  std::vector<float> decoded;
  MatrixView view() const { return MatrixView{type, bytes.data(), rows, cols}; }
};

inline StoredMatrix make_matrix(WeightType type, int64_t rows, int64_t cols, uint32_t seed) {
  StoredMatrix m{type, rows, cols, {}, {}};
  const int64_t rb = row_bytes(type, cols);
  const std::vector<float> src = gaussian(static_cast<size_t>(rows * cols), seed, 0.05f);
  m.bytes.resize(static_cast<size_t>(rows * rb));
  m.decoded.resize(static_cast<size_t>(rows * cols));
  for (int64_t r = 0; r < rows; ++r) {
    quantize_row(type, src.data() + r * cols, m.bytes.data() + r * rb, cols);
    dequantize_row(type, m.bytes.data() + r * rb, m.decoded.data() + r * cols, cols);
  }
  return m;
}

// Runs fn() once per SIMD target compiled in and supported here (scalar, SSE, AVX2, ...),
// so that the fallbacks are tested too, not just the target this machine dispatches to.
template <class Fn>
void for_each_simd_target(Fn&& fn) {
  for (int64_t target : hwy::SupportedAndGeneratedTargets()) {
    hwy::SetSupportedTargetsForTest(target);
    fn(hwy::TargetName(target));
  }
  hwy::SetSupportedTargetsForTest(0);
}

}  // namespace smol::testing
