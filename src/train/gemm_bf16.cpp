// The bf16 GEMM for --precision bf16 on CPUs with AVX512-BF16: operands are rounded to bf16
// (nearest even) while packed, and vdpbf16ps multiplies pairs of them into float32
// accumulators, twice the multiply-adds per instruction of the float32 kernel and half its
// packed bytes. Products of two bf16 are exact in float32; each instruction adds the pair
// (k, k+1) to the accumulator, so sums group k in pairs but keep a fixed, thread-independent
// order. Same loop structure as gemm.cpp.
//
// Everything below the pragma is compiled for AVX512-BF16 and only called after the CPU check;
// the headers come first so that no inline function they define is compiled for it.
#include <algorithm>
#include <cstdint>
#include <cstring>

#include <immintrin.h>

#include "smol/half.hpp"
#include "train/gemm.hpp"

namespace smol {

bool gemm_bf16_supported() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bf16");
}

#pragma GCC push_options
#pragma GCC target("avx512f,avx512bf16")

namespace {

constexpr int kMR = 8;
constexpr int kNR = 32;
constexpr int64_t kKc = 512;  // in k, so 256 pairs: the same bytes per sliver as float32
constexpr int64_t kMc = 96;
constexpr int64_t kNc = 512;
constexpr int64_t kMChunk = 2048;

inline uint32_t bf16_bits(float x) { return f32_to_bf16(x); }

// dst[s][kp][r] = bf16 pair (X(r, 2kp), X(r, 2kp+1)) of rows r0 + s*W + r, zero-padded; the
// element with the even k sits in the low half, as vdpbf16ps pairs them.
template <int W>
inline void pack_pairs(const float* x, int64_t stride_r, int64_t stride_k, int64_t r0, int64_t rows, int64_t k0,
                       int64_t kc, uint32_t* dst) {
  const int64_t kp_count = (kc + 1) / 2;
  for (int64_t s = 0; s < rows; s += W) {
    const int64_t valid = std::min<int64_t>(W, rows - s);
    uint32_t* out = dst + s * kp_count;
    if (valid < W || (kc & 1) || stride_k != 1) std::memset(out, 0, sizeof(uint32_t) * kp_count * W);
    if (stride_k == 1) {  // rows contiguous in k: walk each row
      for (int64_t r = 0; r < valid; ++r) {
        const float* src = x + (r0 + s + r) * stride_r + k0;
        for (int64_t kk = 0; kk + 1 < kc; kk += 2) out[(kk / 2) * W + r] = bf16_bits(src[kk]) | (bf16_bits(src[kk + 1]) << 16);
        if (kc & 1) out[(kc / 2) * W + r] = bf16_bits(src[kc - 1]);
      }
    } else {  // rows contiguous across r: walk k, reading W neighbours at a time
      for (int64_t kk = 0; kk < kc; ++kk) {
        const float* src = x + (k0 + kk) * stride_k + (r0 + s) * stride_r;
        uint32_t* o = out + (kk / 2) * W;
        const int shift = (kk & 1) * 16;
        for (int64_t r = 0; r < valid; ++r) o[r] |= bf16_bits(src[r * stride_r]) << shift;
      }
    }
  }
}

inline float round_bf16(float x) { return bf16_to_f32(f32_to_bf16(x)); }

inline void micro_kernel(int64_t kp_count, const uint32_t* ap, const uint32_t* bp, float* c, int64_t ldc, int rows,
                         int cols, bool overwrite, bool round_out) {
  __m512 acc0[kMR], acc1[kMR];
  for (int i = 0; i < kMR; ++i) acc0[i] = acc1[i] = _mm512_setzero_ps();
  for (int64_t kp = 0; kp < kp_count; ++kp) {
    const __m512bh b0 = (__m512bh)_mm512_load_si512(bp + kp * kNR);
    const __m512bh b1 = (__m512bh)_mm512_load_si512(bp + kp * kNR + 16);
#pragma GCC unroll 8
    for (int i = 0; i < kMR; ++i) {
      const __m512bh a = (__m512bh)_mm512_set1_epi32(static_cast<int>(ap[kp * kMR + i]));
      acc0[i] = _mm512_dpbf16_ps(acc0[i], a, b0);
      acc1[i] = _mm512_dpbf16_ps(acc1[i], a, b1);
    }
  }
  if (rows == kMR && cols == kNR && !round_out) {
    for (int i = 0; i < kMR; ++i) {
      float* row = c + i * ldc;
      if (!overwrite) {
        acc0[i] = _mm512_add_ps(acc0[i], _mm512_loadu_ps(row));
        acc1[i] = _mm512_add_ps(acc1[i], _mm512_loadu_ps(row + 16));
      }
      _mm512_storeu_ps(row, acc0[i]);
      _mm512_storeu_ps(row + 16, acc1[i]);
    }
    return;
  }
  alignas(64) float tile[kMR][kNR];
  for (int i = 0; i < kMR; ++i) {
    _mm512_store_ps(&tile[i][0], acc0[i]);
    _mm512_store_ps(&tile[i][16], acc1[i]);
  }
  for (int i = 0; i < rows; ++i) {
    float* row = c + i * ldc;
    for (int j = 0; j < cols; ++j) {
      const float v = overwrite ? tile[i][j] : row[j] + tile[i][j];
      row[j] = round_out ? round_bf16(v) : v;
    }
  }
}

}  // namespace

void gemm_thread_avx512bf16(const GemmArgs& g, int thread, int n_threads) {
  const GemmRange r = gemm_thread_range(g, thread, n_threads, kMR, kNR);
  if (r.m0 >= r.m1 || r.n0 >= r.n1) return;
  const int64_t chunk = std::min(kMChunk, (r.m1 - r.m0 + kMR - 1) / kMR * kMR);
  static_assert(kMChunk * (kKc / 2) + kNc * (kKc / 2) <= static_cast<int64_t>(kGemmScratchWordsPerThread));
  uint32_t* const ap = static_cast<uint32_t*>(g.scratch) + thread * kGemmScratchWordsPerThread;
  uint32_t* const bp = ap + kMChunk * (kKc / 2);
  const bool round_out = !g.accumulate;
  for (int64_t pc = 0; pc < g.k; pc += kKc) {
    const int64_t kc = std::min(kKc, g.k - pc), kp_count = (kc + 1) / 2;
    const bool overwrite = pc == 0 && !g.accumulate;
    const bool last = pc + kc == g.k;
    for (int64_t mc0 = r.m0; mc0 < r.m1; mc0 += chunk) {
      const int64_t rows = std::min(chunk, r.m1 - mc0);
      pack_pairs<kMR>(g.a.data, g.a.row_stride, g.a.col_stride, mc0, rows, pc, kc, ap);
      for (int64_t jc = r.n0; jc < r.n1; jc += kNc) {
        const int64_t nc = std::min(kNc, r.n1 - jc);
        pack_pairs<kNR>(g.b.data, g.b.col_stride, g.b.row_stride, jc, nc, pc, kc, bp);
        for (int64_t ic = 0; ic < rows; ic += kMc) {
          const int64_t mc = std::min(kMc, rows - ic);
          for (int64_t jr = 0; jr < nc; jr += kNR) {
            for (int64_t ir = ic; ir < ic + mc; ir += kMR) {
              micro_kernel(kp_count, ap + ir * kp_count, bp + jr * kp_count,
                           g.c + (mc0 + ir) * g.ldc + jc + jr, g.ldc, static_cast<int>(std::min<int64_t>(kMR, rows - ir)),
                           static_cast<int>(std::min<int64_t>(kNR, nc - jr)), overwrite, last && round_out);
            }
          }
        }
      }
    }
  }
}

#pragma GCC pop_options

}  // namespace smol
