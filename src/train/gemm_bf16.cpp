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
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bf16");
}

#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512bf16")

namespace {

constexpr int kMR = 8;
constexpr int kNR = 32;
constexpr int64_t kKc = 512;  // in k, so 256 pairs: the same bytes per sliver as float32
constexpr int64_t kMc = 96;
constexpr int64_t kNc = 512;
constexpr int64_t kMChunk = 2048;

inline uint32_t bf16_bits(float x) { return f32_to_bf16(x); }

// dst[i * stride + j] = src[j * 8 + i] for an 8 x 8 block of 32-bit pairs.
inline void transpose_store_8x8(const __m256i (&rows)[8], uint32_t* dst, int64_t stride) {
  __m256 r[8], t[8];
  for (int i = 0; i < 8; ++i) r[i] = _mm256_castsi256_ps(rows[i]);
  for (int i = 0; i < 8; i += 2) {
    t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 8; i += 4) {
    r[i] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(1, 0, 1, 0));
    r[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(3, 2, 3, 2));
    r[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(1, 0, 1, 0));
    r[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(3, 2, 3, 2));
  }
  for (int i = 0; i < 4; ++i) {
    _mm256_storeu_ps(reinterpret_cast<float*>(dst + i * stride), _mm256_permute2f128_ps(r[i], r[i + 4], 0x20));
    _mm256_storeu_ps(reinterpret_cast<float*>(dst + (i + 4) * stride), _mm256_permute2f128_ps(r[i], r[i + 4], 0x31));
  }
}

// Whole groups of W rows with an even kc, converted 16 floats at a time (vcvtneps2bf16 rounds
// to nearest even like f32_to_bf16; it flushes float32 denormals to zero, which vdpbf16ps
// does to bf16 denormals anyway, so the products are the same). Packing with scalar
// conversions was a third of the bf16 GEMM's time.
template <int W>
inline bool pack_pairs_vector(const float* x, int64_t stride_r, int64_t stride_k, int64_t r0, int64_t k0,
                              int64_t kc, uint32_t* out) {
  const int64_t kp_count = kc / 2;
  if (stride_k == 1) {  // rows contiguous in k: 8 rows x 8 pairs, converted, then transposed
    int64_t kp = 0;
    for (; kp + 8 <= kp_count; kp += 8) {
      for (int g = 0; g < W; g += 8) {
        __m256i rows[8];
        for (int r = 0; r < 8; ++r) {
          const float* src = x + (r0 + g + r) * stride_r + k0 + 2 * kp;
          rows[r] = (__m256i)_mm512_cvtneps_pbh(_mm512_loadu_ps(src));
        }
        transpose_store_8x8(rows, out + kp * W + g, W);
      }
    }
    for (; kp < kp_count; ++kp) {
      for (int r = 0; r < W; ++r) {
        const float* src = x + (r0 + r) * stride_r + k0 + 2 * kp;
        out[kp * W + r] = bf16_bits(src[0]) | (bf16_bits(src[1]) << 16);
      }
    }
    return true;
  }
  if (stride_r != 1) return false;
  // Rows contiguous across r: the even-k and odd-k rows of W values, interleaved by word.
  for (int64_t kp = 0; kp < kp_count; ++kp) {
    const float* even = x + (k0 + 2 * kp) * stride_k + r0;
    const float* odd = even + stride_k;
    if constexpr (W % 16 == 0) {
      const __m512i order = _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8, 23, 7, 22,
                                             6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
      for (int c = 0; c < W; c += 16) {
        const __m512i both = (__m512i)_mm512_cvtne2ps_pbh(_mm512_loadu_ps(odd + c), _mm512_loadu_ps(even + c));
        _mm512_storeu_si512(out + kp * W + c, _mm512_permutexvar_epi16(order, both));
      }
    } else {
      static_assert(W == 8);
      const __m256i order = _mm256_set_epi16(15, 7, 14, 6, 13, 5, 12, 4, 11, 3, 10, 2, 9, 1, 8, 0);
      const __m256i both = (__m256i)_mm256_cvtne2ps_pbh(_mm256_loadu_ps(odd), _mm256_loadu_ps(even));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + kp * W), _mm256_permutexvar_epi16(order, both));
    }
  }
  return true;
}

// dst[s][kp][r] = bf16 pair (X(r, 2kp), X(r, 2kp+1)) of rows r0 + s*W + r, zero-padded; the
// element with the even k sits in the low half, as vdpbf16ps pairs them.
template <int W>
inline void pack_pairs(const float* x, int64_t stride_r, int64_t stride_k, int64_t r0, int64_t rows, int64_t k0,
                       int64_t kc, uint32_t* dst) {
  const int64_t kp_count = (kc + 1) / 2;
  for (int64_t s = 0; s < rows; s += W) {
    const int64_t valid = std::min<int64_t>(W, rows - s);
    uint32_t* out = dst + s * kp_count;
    if (valid == W && !(kc & 1) && pack_pairs_vector<W>(x, stride_r, stride_k, r0 + s, k0, kc, out)) continue;
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
