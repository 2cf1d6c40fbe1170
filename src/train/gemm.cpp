// Goto-style GEMM: B is packed into k-by-NR slivers that stay in L1, A into MR-by-k slivers
// streamed from L2, and an MR x NR register tile accumulates with FMAs. The kernel is one
// template compiled for AVX-512, AVX2 and baseline x86-64 (GCC vector extensions inlined into
// functions with per-ISA target attributes) and chosen at run time, as the build does not
// assume the machine's instruction set.
#include "train/gemm.hpp"

#include <algorithm>

#include "smol/thread_pool.hpp"

#define SMOL_INLINE inline __attribute__((always_inline))

namespace smol {

namespace {

// kMc and kNc are multiples of every MR (4, 6, 8) and NR (8, 16, 32) used below.
constexpr int64_t kKc = 256;
constexpr int64_t kMc = 96;
constexpr int64_t kNc = 512;
constexpr int64_t kMChunk = 2048;  // rows of A packed at once (2 MiB per k block)

// Rounding to bf16/fp16 and back, inline and branch-light because packing applies it to every
// operand element; same results as round_to_precision (round to nearest even, fp16 overflow to
// infinity, fp16 subnormals).
SMOL_INLINE float round_bf16(float x) {
  uint32_t u = __builtin_bit_cast(uint32_t, x);
  if ((u & 0x7fffffffu) > 0x7f800000u) return x;  // NaN stays NaN
  u += 0x7fffu + ((u >> 16) & 1u);
  return __builtin_bit_cast(float, u & 0xffff0000u);
}

SMOL_INLINE float round_fp16(float x) {
  const uint32_t u = __builtin_bit_cast(uint32_t, x);
  const uint32_t a = u & 0x7fffffffu;
  if (a > 0x7f800000u) return x;
  if (a < 0x38800000u) {
    // Below 2^-14 fp16 is subnormal with spacing 2^-24, the float spacing just above 0.5:
    // adding and removing 0.5 rounds the magnitude there.
    const volatile float half = 0.5f;  // volatile: keep the compiler from folding (x + c) - c
    const float m = (__builtin_bit_cast(float, a) + half) - half;
    return __builtin_bit_cast(float, __builtin_bit_cast(uint32_t, m) | (u & 0x80000000u));
  }
  const uint32_t r = (u + 0xfffu + ((u >> 13) & 1u)) & 0xffffe000u;
  if ((r & 0x7fffffffu) > 0x477fe000u) return __builtin_bit_cast(float, (u & 0x80000000u) | 0x7f800000u);
  return __builtin_bit_cast(float, r);
}

SMOL_INLINE float convert(float x, Precision p) {
  return p == Precision::FP32 ? x : p == Precision::BF16 ? round_bf16(x) : round_fp16(x);
}

// dst[s][kk][r] = X(r0 + s*W + r, k0 + kk), zero-padded to whole slivers of width W. X is A
// (rows = m) or Bᵀ (rows = n): for B the "row" index is the output column.
template <int W>
SMOL_INLINE void pack_slivers(const float* x, int64_t stride_r, int64_t stride_k, int64_t r0, int64_t rows,
                              int64_t k0, int64_t kc, Precision p, float* dst) {
  for (int64_t s = 0; s < rows; s += W) {
    const int64_t valid = std::min<int64_t>(W, rows - s);
    float* out = dst + s * kc;
    if (valid < W) std::fill(out, out + kc * W, 0.0f);
    if (stride_k == 1) {
      for (int64_t r = 0; r < valid; ++r) {
        const float* src = x + (r0 + s + r) * stride_r + k0;
        for (int64_t kk = 0; kk < kc; ++kk) out[kk * W + r] = convert(src[kk], p);
      }
    } else {
      for (int64_t kk = 0; kk < kc; ++kk) {
        const float* src = x + (k0 + kk) * stride_k + (r0 + s) * stride_r;
        for (int64_t r = 0; r < valid; ++r) out[kk * W + r] = convert(src[r * stride_r], p);
      }
    }
  }
}

template <int VL, int MR>
SMOL_INLINE void micro_kernel(int64_t kc, const float* __restrict ap, const float* __restrict bp, float* c,
                              int64_t ldc, int rows, int cols, bool overwrite, bool round_out, Precision p) {
  typedef float V __attribute__((vector_size(VL * sizeof(float))));
  constexpr int NR = 2 * VL;
  V acc0[MR], acc1[MR];
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i) acc0[i] = acc1[i] = V{};
  for (int64_t kk = 0; kk < kc; ++kk) {
    V b0, b1;
    __builtin_memcpy(&b0, bp + kk * NR, sizeof(V));
    __builtin_memcpy(&b1, bp + kk * NR + VL, sizeof(V));
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      const V a = V{} + ap[kk * MR + i];
      acc0[i] += a * b0;
      acc1[i] += a * b1;
    }
  }
  if (rows == MR && cols == NR && !round_out) {
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      float* row = c + i * ldc;
      if (!overwrite) {
        V c0, c1;
        __builtin_memcpy(&c0, row, sizeof(V));
        __builtin_memcpy(&c1, row + VL, sizeof(V));
        acc0[i] += c0;
        acc1[i] += c1;
      }
      __builtin_memcpy(row, &acc0[i], sizeof(V));
      __builtin_memcpy(row + VL, &acc1[i], sizeof(V));
    }
    return;
  }
  alignas(64) float tile[MR][NR];
  for (int i = 0; i < MR; ++i) {
    __builtin_memcpy(&tile[i][0], &acc0[i], sizeof(V));
    __builtin_memcpy(&tile[i][VL], &acc1[i], sizeof(V));
  }
  for (int i = 0; i < rows; ++i) {
    float* row = c + i * ldc;
    for (int j = 0; j < cols; ++j) {
      const float v = overwrite ? tile[i][j] : row[j] + tile[i][j];
      row[j] = round_out ? convert(v, p) : v;
    }
  }
}

template <int VL, int MR>
SMOL_INLINE void gemm_thread_impl(const GemmArgs& g, int thread, int n_threads) {
  constexpr int NR = 2 * VL;
  const GemmRange r = gemm_thread_range(g, thread, n_threads, MR, NR);
  if (r.m0 >= r.m1 || r.n0 >= r.n1) return;
  const int64_t chunk = std::min(kMChunk, (r.m1 - r.m0 + MR - 1) / MR * MR);
  static_assert(kMChunk * kKc + kKc * kNc <= static_cast<int64_t>(kGemmScratchWordsPerThread));
  float* const ap = static_cast<float*>(g.scratch) + thread * kGemmScratchWordsPerThread;
  float* const bp = ap + kMChunk * kKc;
  const bool round_out = g.precision != Precision::FP32 && !g.accumulate;
  // A is packed once per (k block, row chunk) and B once per (k block, row chunk, column
  // block); a row chunk is usually all of this thread's rows, so neither is packed twice.
  for (int64_t pc = 0; pc < g.k; pc += kKc) {
    const int64_t kc = std::min(kKc, g.k - pc);
    const bool overwrite = pc == 0 && !g.accumulate;
    const bool last = pc + kc == g.k;
    for (int64_t mc0 = r.m0; mc0 < r.m1; mc0 += chunk) {
      const int64_t rows = std::min(chunk, r.m1 - mc0);
      pack_slivers<MR>(g.a.data, g.a.row_stride, g.a.col_stride, mc0, rows, pc, kc, g.precision, ap);
      for (int64_t jc = r.n0; jc < r.n1; jc += kNc) {
        const int64_t nc = std::min(kNc, r.n1 - jc);
        // B(kk, j): as Bᵀ, "row" j has stride col_stride and k-stride row_stride.
        pack_slivers<NR>(g.b.data, g.b.col_stride, g.b.row_stride, jc, nc, pc, kc, g.precision, bp);
        for (int64_t ic = 0; ic < rows; ic += kMc) {  // an L2-sized block of A against all of B's slivers
          const int64_t mc = std::min(kMc, rows - ic);
          for (int64_t jr = 0; jr < nc; jr += NR) {
            for (int64_t ir = ic; ir < ic + mc; ir += MR) {
              micro_kernel<VL, MR>(kc, ap + ir * kc, bp + jr * kc, g.c + (mc0 + ir) * g.ldc + jc + jr,
                                   g.ldc, static_cast<int>(std::min<int64_t>(MR, rows - ir)),
                                   static_cast<int>(std::min<int64_t>(NR, nc - jr)), overwrite, last && round_out,
                                   g.precision);
            }
          }
        }
      }
    }
  }
}

__attribute__((target("avx512f"))) void gemm_thread_avx512(const GemmArgs& g, int thread, int n_threads) {
  gemm_thread_impl<16, 8>(g, thread, n_threads);
}

__attribute__((target("avx2,fma"))) void gemm_thread_avx2(const GemmArgs& g, int thread, int n_threads) {
  gemm_thread_impl<8, 6>(g, thread, n_threads);
}

void gemm_thread_generic(const GemmArgs& g, int thread, int n_threads) { gemm_thread_impl<4, 4>(g, thread, n_threads); }

using GemmThreadFn = void (*)(const GemmArgs&, int, int);

GemmThreadFn select_kernel(Precision precision) {
  __builtin_cpu_init();
  if (precision == Precision::BF16 && gemm_bf16_supported()) return gemm_thread_avx512bf16;
  if (__builtin_cpu_supports("avx512f")) return gemm_thread_avx512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return gemm_thread_avx2;
  return gemm_thread_generic;
}

}  // namespace

GemmRange gemm_thread_range(const GemmArgs& g, int thread, int n_threads, int mr, int nr) {
  GemmRange r{0, g.m, 0, g.n};
  // Split whichever output dimension is larger, in whole register tiles.
  if (g.n >= g.m) {
    const int64_t units = (g.n + nr - 1) / nr, per = (units + n_threads - 1) / n_threads;
    r.n0 = std::min(g.n, thread * per * nr);
    r.n1 = std::min(g.n, r.n0 + per * nr);
  } else {
    const int64_t units = (g.m + mr - 1) / mr, per = (units + n_threads - 1) / n_threads;
    r.m0 = std::min(g.m, thread * per * mr);
    r.m1 = std::min(g.m, r.m0 + per * mr);
  }
  return r;
}

const char* gemm_isa() {
  const GemmThreadFn fn = select_kernel(Precision::FP32);
  return fn == gemm_thread_avx512 ? "avx512" : fn == gemm_thread_avx2 ? "avx2" : "generic";
}

void gemm_serial(int64_t m, int64_t n, int64_t k, GemmOperand a, GemmOperand b, float* c, int64_t ldc,
                 bool accumulate, Precision precision, float* scratch) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0) {
    if (!accumulate) {
      for (int64_t i = 0; i < m; ++i) std::fill(c + i * ldc, c + i * ldc + n, 0.0f);
    }
    return;
  }
  select_kernel(precision)({m, n, k, a, b, c, ldc, accumulate, precision, scratch}, 0, 1);
}

void gemm(ThreadPool& pool, int64_t m, int64_t n, int64_t k, GemmOperand a, GemmOperand b, float* c, int64_t ldc,
          bool accumulate, Precision precision) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0) {
    if (!accumulate) {
      for (int64_t i = 0; i < m; ++i) std::fill(c + i * ldc, c + i * ldc + n, 0.0f);
    }
    return;
  }
  const GemmThreadFn fn = select_kernel(precision);
  // Tiny products are not worth waking the other threads for.
  const bool single = m * n * k < (int64_t{1} << 15) || pool.size() == 1;
  void* scratch = pool.scratch(kGemmScratchWordsPerThread * 4 * (single ? 1 : pool.size()));
  const GemmArgs args{m, n, k, a, b, c, ldc, accumulate, precision, scratch};
  if (single) {
    fn(args, 0, 1);
    return;
  }
  pool.run([&](int thread, int n_threads) { fn(args, thread, n_threads); });
}

}  // namespace smol
