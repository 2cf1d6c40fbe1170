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

// The instruction set gemm() dispatches float32 products to ("avx512", "avx2", "generic").
const char* gemm_isa();

// gemm() on the calling thread only, for products small enough to run inside one task of the
// pool (one attention head). `scratch` holds kGemmScratchWordsPerThread floats of its own.
void gemm_serial(int64_t m, int64_t n, int64_t k, GemmOperand a, GemmOperand b, float* c, int64_t ldc,
                 bool accumulate, Precision precision, float* scratch);

// Internals shared with the bf16 kernel (train/gemm_bf16.cpp).
struct GemmArgs {
  int64_t m, n, k;
  GemmOperand a, b;
  float* c;
  int64_t ldc;
  bool accumulate;
  Precision precision;
  // Packing buffers from ThreadPool::scratch, kScratchWordsPerThread 4-byte words per thread,
  // so the hot path neither allocates nor faults in fresh pages.
  void* scratch;
};
// Enough for packed A (2048 rows x 256 k) and B (256 k x 512 columns) in float32, or the bf16
// kernel's pairs (2048 x 256 pairs and 512 x 256 pairs).
constexpr size_t kGemmScratchWordsPerThread = 2048 * 256 + 512 * 256;
struct GemmRange {
  int64_t m0, m1, n0, n1;
};
// This thread's block of C: the larger dimension split in whole MR/NR tiles.
GemmRange gemm_thread_range(const GemmArgs& g, int thread, int n_threads, int mr, int nr);
// AVX512-BF16 (vdpbf16ps): bf16 operands, float32 accumulation, when the CPU has it.
bool gemm_bf16_supported();
void gemm_thread_avx512bf16(const GemmArgs& g, int thread, int n_threads);

}  // namespace smol
