#pragma once
// A packed, register-blocked float32 GEMM for the training matmuls (forward, input gradient,
// weight gradient), with the three operand layouts expressed as strides.
#include <cstdint>

#include "smol/train_layers.hpp"

namespace smol {

class ThreadPool;

// Element (r, c) of a matrix lives at data[r * row_stride + c * col_stride].
struct GemmOperand {
  const float* data;
  int64_t row_stride;
  int64_t col_stride;
};

// C (m x n, row stride ldc) = [C +] A (m x k) · B (k x n).
// Each element of C is summed over k in a fixed blocked order that does not depend on the
// number of threads, so results are reproducible across thread counts. With a reduced
// precision, A and B are rounded to it as they are packed, and C too unless accumulating.
void gemm(ThreadPool& pool, int64_t m, int64_t n, int64_t k, GemmOperand a, GemmOperand b, float* c, int64_t ldc,
          bool accumulate, Precision precision);

// The instruction set gemm() dispatched to on this machine ("avx512", "avx2", "generic").
const char* gemm_isa();

}  // namespace smol
