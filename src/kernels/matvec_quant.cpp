// Integer dot products of quantized weight rows with 8-bit quantized activations, the
// memory-bound decode path. Highway 1.0.3 has no u8 x s8 pairwise multiply-add, so the x86
// targets from AVX2 up use the intrinsics directly (vpmaddubsw, as llama.cpp does); every
// other target falls back to portable scalar block loops with the same arithmetic.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/matvec_quant.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"

#include <algorithm>
#include <cstring>
#include <type_traits>

#include "kernels/matmul_internal.hpp"
#include "kernels/quant_internal.hpp"
#include "smol/half.hpp"
#include "smol/quant.hpp"

#if HWY_ARCH_X86
#include <immintrin.h>
#endif

HWY_BEFORE_NAMESPACE();
namespace smol::detail::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

inline float load_f16(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return f16_to_f32(h);
}

// x ~ d * q per 32 values with d = max|x| / 127, rounding to nearest. The sums per 16 and
// 32 are of the quantized values (d * sum q), so that every kernel computes exactly
// W . x_quantized and the error is sum_k w_k (x_k - xq_k), bounded by |w| d / 2.
void QuantizeActivationRow(const float* x, const QuantizedActs& a, int t) {
  const hn::ScalableTag<float> df;
  const hn::Rebind<int8_t, decltype(df)> d8;
  const size_t n = hn::Lanes(df);
  const int64_t cols = a.cols;
  x += t * cols;
  int8_t* q = a.q + t * cols;
  float* d = a.d + t * cols / 32;
  // Null in the VNNI GEMM's activations, which need only q and d (no offset on a null pointer).
  float* sum32 = a.sum32 ? a.sum32 + t * cols / 32 : nullptr;
  float* sum16 = a.sum16 ? a.sum16 + t * cols / 16 : nullptr;
  for (int64_t b = 0; b < cols / 32; ++b) {
    const float* xb = x + 32 * b;
    auto amax = hn::Zero(df);
    for (size_t i = 0; i < 32; i += n) amax = hn::Max(amax, hn::Abs(hn::LoadU(df, xb + i)));
    const float m = hn::GetLane(hn::MaxOfLanes(df, amax));
    const float scale = m / 127.0f;
    d[b] = scale;
    const auto inv = hn::Set(df, m > 0 ? 127.0f / m : 0.0f);
    for (size_t half = 0; half < 2; ++half) {
      auto s = hn::Zero(df);
      for (size_t i = 16 * half; i < 16 * half + 16; i += n) {
        const auto qi = hn::NearestInt(hn::Mul(hn::LoadU(df, xb + i), inv));
        s = hn::Add(s, hn::ConvertTo(df, qi));
        hn::StoreU(hn::DemoteTo(d8, qi), d8, q + 32 * b + i);
      }
      if (sum16) sum16[2 * b + half] = scale * hn::GetLane(hn::SumOfLanes(df, s));
    }
    if (sum32) sum32[b] = sum16[2 * b] + sum16[2 * b + 1];
  }
  if (!a.corr128) return;
  int32_t* corr = a.corr128 + t * cols / 4;
  float* block_d8 = a.d8 + t * cols / 4;
  for (int64_t g = 0; g < cols / 4; ++g) {
    corr[g] = -128 * (q[4 * g] + q[4 * g + 1] + q[4 * g + 2] + q[4 * g + 3]);
    block_d8[g] = d[g / 8];
  }
}

#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX2
#define SMOL_HAVE_AVX2_DOT 1
// Software prefetch distance in bytes ahead of each row stream. The integer kernels spend
// several instructions per 34-byte block, so without it too few cache misses are in flight
// to stream from memory (measured: 9 GB/s at 512 bytes ahead, 18+ GB/s from 4 KiB on, one
// thread); a prefetch past the end of the matrix is harmless.
constexpr int kPrefetchBytes = 4096;

// F16C: one instruction instead of the portable bit manipulation.
inline float f16_scale(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return _cvtsh_ss(h);
}

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// Signed bytes w . x summed in pairs and then in fours: maddubs needs one unsigned operand,
// so the sign of w moves onto x (w_abs = |w|, computed once per weight block for every token).
// Exact for every input: |w| <= 128 as an unsigned byte and |x| <= 127, so a pair sums to at
// most 2 * 128 * 127 < 2^15 and never saturates.
inline __m256i dot_i8(__m256i w_abs, __m256i w, __m256i x) {
  const __m256i p = _mm256_maddubs_epi16(w_abs, _mm256_sign_epi8(x, w));
  return _mm256_madd_epi16(p, _mm256_set1_epi16(1));
}

// Unsigned w (0..63) . signed x, in fours.
inline __m256i dot_u8(__m256i w, __m256i x) {
  return _mm256_madd_epi16(_mm256_maddubs_epi16(w, x), _mm256_set1_epi16(1));
}

inline __m256i unpack_q4_0(const uint8_t* qs) {
  const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
  const __m128i m4 = _mm_set1_epi8(0xF);
  const __m256i u = _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(b, 4), m4), _mm_and_si128(b, m4));
  return _mm256_sub_epi8(u, _mm256_set1_epi8(8));
}

// The token pointers of tokens t0 .. t0 + T - 1 of a, as every kernel below reads them.
template <int T>
struct TokenActs {
  const int8_t* q[T];
  const float* d[T];
  const float* sum32[T];
  const float* sum16[T];
  TokenActs(const QuantizedActs& a, int t0) {
    for (int j = 0; j < T; ++j) {
      q[j] = a.q + (t0 + j) * a.cols;
      d[j] = a.d + (t0 + j) * a.cols / 32;
      sum32[j] = a.sum32 + (t0 + j) * a.cols / 32;
      sum16[j] = a.sum16 + (t0 + j) * a.cols / 16;
    }
  }
};

// R rows of 32-element blocks (Q8_0 or Q4_0) against T tokens: out[j * out_stride + r] =
// row r . token t0 + j. The R rows share each activation load, the T tokens each weight load
// and decode; every (row, token) has its own accumulator chain and the instructions of the
// T = 1 (one-token) kernel in the same order, so its bits do not depend on T. kPrefetch:
// prefetch each row's stream `ahead` bytes on (a row group's later token tiles hit L1).
template <int R, int T, bool kQ4, bool kPrefetch>
void RowsLegacy(const uint8_t* w, int64_t row_bytes, const TokenActs<T>& x, int64_t nb, int64_t ahead, float* out,
                int64_t out_stride) {
  constexpr int64_t kBlock = kQ4 ? sizeof(BlockQ4_0) : sizeof(BlockQ8_0);
  __m256 acc[R][T];
  for (int r = 0; r < R; ++r) {
    for (int j = 0; j < T; ++j) acc[r][j] = _mm256_setzero_ps();
  }
  for (int64_t b = 0; b < nb; ++b) {
    __m256i xb[T];
    for (int j = 0; j < T; ++j) xb[j] = _mm256_load_si256(reinterpret_cast<const __m256i*>(x.q[j] + 32 * b));
    for (int r = 0; r < R; ++r) {
      const uint8_t* blk = w + r * row_bytes + b * kBlock;
      if constexpr (kPrefetch) _mm_prefetch(reinterpret_cast<const char*>(blk) + ahead, _MM_HINT_T0);
      const __m256i q = kQ4 ? unpack_q4_0(blk + 2) : _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 2));
      const __m256i q_abs = _mm256_sign_epi8(q, q);
      const float scale = f16_scale(blk);
      for (int j = 0; j < T; ++j) {
        const __m256 s = _mm256_set1_ps(scale * x.d[j][b]);
        acc[r][j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot_i8(q_abs, q, xb[j])), s, acc[r][j]);
      }
    }
  }
  for (int r = 0; r < R; ++r) {
    for (int j = 0; j < T; ++j) out[j * out_stride + r] = hsum(acc[r][j]);
  }
}

// One Q4_K row against T tokens (out[j * out_stride] for token t0 + j), each super-block's
// nibbles and scales decoded once for all of them.
template <int T, bool kPrefetch>
void RowQ4K(const uint8_t* w, int64_t n_super, const TokenActs<T>& x, float* out, int64_t out_stride) {
  const __m256i m4 = _mm256_set1_epi8(0xF);
  __m256 acc0[T], acc1[T];
  float mins[T];
  for (int j = 0; j < T; ++j) {
    acc0[j] = acc1[j] = _mm256_setzero_ps();
    mins[j] = 0.0f;
  }
  for (int64_t s = 0; s < n_super; ++s) {
    const auto* blk = reinterpret_cast<const BlockQ4_K*>(w) + s;
    if constexpr (kPrefetch) {
      _mm_prefetch(reinterpret_cast<const char*>(blk) + kPrefetchBytes, _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char*>(blk) + kPrefetchBytes + 64, _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char*>(blk) + kPrefetchBytes + 128, _MM_HINT_T0);
    }
    const float d = f16_scale(reinterpret_cast<const uint8_t*>(&blk->d));
    const float dmin = f16_scale(reinterpret_cast<const uint8_t*>(&blk->dmin));
    for (int c = 0; c < 4; ++c) {
      const int64_t b = 8 * s + 2 * c;
      int sc0, m0, sc1, m1;
      q4_k_scale_min(2 * c, blk->scales, &sc0, &m0);
      q4_k_scale_min(2 * c + 1, blk->scales, &sc1, &m1);
      const __m256i bytes = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk->qs + 32 * c));
      const __m256i lo = _mm256_and_si256(bytes, m4);
      const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(bytes, 4), m4);
      for (int j = 0; j < T; ++j) {
        const __m256i x0 = _mm256_load_si256(reinterpret_cast<const __m256i*>(x.q[j] + 32 * b));
        const __m256i x1 = _mm256_load_si256(reinterpret_cast<const __m256i*>(x.q[j] + 32 * b + 32));
        acc0[j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot_u8(lo, x0)), _mm256_set1_ps(d * sc0 * x.d[j][b]), acc0[j]);
        acc1[j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot_u8(hi, x1)), _mm256_set1_ps(d * sc1 * x.d[j][b + 1]), acc1[j]);
        mins[j] += dmin * (m0 * x.sum32[j][b] + m1 * x.sum32[j][b + 1]);
      }
    }
  }
  for (int j = 0; j < T; ++j) out[j * out_stride] = hsum(_mm256_add_ps(acc0[j], acc1[j])) - mins[j];
}

// One Q6_K row against T tokens, likewise.
template <int T, bool kPrefetch>
void RowQ6K(const uint8_t* w, int64_t n_super, const TokenActs<T>& x, float* out, int64_t out_stride) {
  const __m256i m4 = _mm256_set1_epi8(0xF), m2 = _mm256_set1_epi8(3);
  __m256 acc0[T], acc1[T];
  float offset[T];  // sum of d * scale_j * 32 * sum(x over sub-block j)
  for (int j = 0; j < T; ++j) {
    acc0[j] = acc1[j] = _mm256_setzero_ps();
    offset[j] = 0.0f;
  }
  for (int64_t s = 0; s < n_super; ++s) {
    const auto* blk = reinterpret_cast<const BlockQ6_K*>(w) + s;
    if constexpr (kPrefetch) {
      for (int line = 0; line < 4; ++line) {
        _mm_prefetch(reinterpret_cast<const char*>(blk) + kPrefetchBytes + 64 * line, _MM_HINT_T0);
      }
    }
    const float d = f16_scale(reinterpret_cast<const uint8_t*>(&blk->d));
    for (int t = 0; t < T; ++t) {
      float off = 0.0f;
      for (int j = 0; j < 16; ++j) off += blk->scales[j] * x.sum16[t][16 * s + j];
      offset[t] += 32.0f * d * off;
    }
    for (int h = 0; h < 2; ++h) {
      const __m256i ql0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk->ql + 64 * h));
      const __m256i ql1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk->ql + 64 * h + 32));
      const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk->qh + 32 * h));
      __m256i q[4];
      q[0] = _mm256_or_si256(_mm256_and_si256(ql0, m4), _mm256_slli_epi16(_mm256_and_si256(qh, m2), 4));
      q[1] = _mm256_or_si256(_mm256_and_si256(ql1, m4),
                             _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2), m2), 4));
      q[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), m4),
                             _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 4), m2), 4));
      q[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, 4), m4),
                             _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 6), m2), 4));
      for (int k = 0; k < 4; ++k) {
        const int64_t b = 8 * s + 4 * h + k;
        const int8_t* sc = blk->scales + 8 * h + 2 * k;
        // Each 16-bit pair sum covers 2 of the 16 values of one sub-block: weight the lower
        // 8 lanes by the first sub-block's scale and the upper 8 by the second's.
        const __m256i scales = _mm256_set_m128i(_mm_set1_epi16(sc[1]), _mm_set1_epi16(sc[0]));
        for (int t = 0; t < T; ++t) {
          const __m256i xb = _mm256_load_si256(reinterpret_cast<const __m256i*>(x.q[t] + 32 * b));
          const __m256i p = _mm256_madd_epi16(_mm256_maddubs_epi16(q[k], xb), scales);
          __m256& acc = (k & 1) ? acc1[t] : acc0[t];
          acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), _mm256_set1_ps(d * x.d[t][b]), acc);
        }
      }
    }
  }
  for (int t = 0; t < T; ++t) out[t * out_stride] = hsum(_mm256_add_ps(acc0[t], acc1[t])) - offset[t];
}

// Tiles of the multi-token kernels: rows x tokens whose accumulators fit the registers
// (16 on AVX2, 32 on AVX-512).
constexpr int kMultiRows = 4;
constexpr int kTokenTile = HWY_TARGET <= HWY_AVX3 ? 4 : 2;
constexpr int kKQuantTokenTile = 4;

#else

// The portable kernels take tokens in tiles of up to kTokenTile, decoding each group of
// weights once for the tile.
constexpr int kTokenTile = 8;

// A Q8_0 or Q4_0 row against n <= kTokenTile tokens: out[j * out_stride] for token t0 + j.
void RowLegacyScalar(const uint8_t* w, bool q4, const QuantizedActs& a, int t0, int n, int64_t nb, float* out,
                     int64_t out_stride) {
  float sum[kTokenTile] = {};
  for (int64_t b = 0; b < nb; ++b) {
    int wq[32];  // the block's values in activation order
    float scale;
    if (q4) {
      const auto* blk = reinterpret_cast<const BlockQ4_0*>(w) + b;
      for (int j = 0; j < 16; ++j) {
        wq[j] = (blk->qs[j] & 0xF) - 8;
        wq[j + 16] = (blk->qs[j] >> 4) - 8;
      }
      scale = load_f16(reinterpret_cast<const uint8_t*>(&blk->d));
    } else {
      const auto* blk = reinterpret_cast<const BlockQ8_0*>(w) + b;
      for (int j = 0; j < 32; ++j) wq[j] = blk->qs[j];
      scale = load_f16(reinterpret_cast<const uint8_t*>(&blk->d));
    }
    for (int t = 0; t < n; ++t) {
      const int8_t* xq = a.q + (t0 + t) * a.cols + 32 * b;
      int isum = 0;  // exact, so the order of the products does not matter
      for (int j = 0; j < 32; ++j) isum += wq[j] * xq[j];
      sum[t] += scale * a.d[(t0 + t) * nb + b] * static_cast<float>(isum);
    }
  }
  for (int t = 0; t < n; ++t) out[t * out_stride] = sum[t];
}

// A Q4_K row against n <= kTokenTile tokens.
void RowQ4KScalar(const uint8_t* w, int64_t n_super, const QuantizedActs& a, int t0, int n, float* out,
                  int64_t out_stride) {
  const int64_t nb = a.cols / 32;
  float sum[kTokenTile] = {};
  for (int64_t s = 0; s < n_super; ++s) {
    const auto* blk = reinterpret_cast<const BlockQ4_K*>(w) + s;
    const float d = load_f16(reinterpret_cast<const uint8_t*>(&blk->d));
    const float dmin = load_f16(reinterpret_cast<const uint8_t*>(&blk->dmin));
    for (int j = 0; j < 8; ++j) {
      int sc, m;
      q4_k_scale_min(j, blk->scales, &sc, &m);
      const int64_t b = 8 * s + j;
      const uint8_t* qs = blk->qs + 32 * (j / 2);
      int wq[32];
      for (int l = 0; l < 32; ++l) wq[l] = (j & 1) ? (qs[l] >> 4) : (qs[l] & 0xF);
      for (int t = 0; t < n; ++t) {
        const int8_t* xq = a.q + (t0 + t) * a.cols + 32 * b;
        int isum = 0;
        for (int l = 0; l < 32; ++l) isum += wq[l] * xq[l];
        sum[t] += d * sc * a.d[(t0 + t) * nb + b] * static_cast<float>(isum) - dmin * m * a.sum32[(t0 + t) * nb + b];
      }
    }
  }
  for (int t = 0; t < n; ++t) out[t * out_stride] = sum[t];
}

// A Q6_K row against n <= kTokenTile tokens.
void RowQ6KScalar(const uint8_t* w, int64_t n_super, const QuantizedActs& a, int t0, int n, float* out,
                  int64_t out_stride) {
  float sum[kTokenTile] = {};
  for (int64_t s = 0; s < n_super; ++s) {
    const auto* blk = reinterpret_cast<const BlockQ6_K*>(w) + s;
    const float d = load_f16(reinterpret_cast<const uint8_t*>(&blk->d));
    for (int e = 0; e < 256; e += 16) {
      const int j = e / 16;
      int wq[16];
      for (int i = e; i < e + 16; ++i) {
        const int h = i / 128, k = (i % 128) / 32, l = i % 32;
        const uint8_t lo = blk->ql[64 * h + 32 * (k & 1) + l];
        wq[i - e] = ((k < 2 ? lo : lo >> 4) & 0xF) | (((blk->qh[32 * h + l] >> (2 * k)) & 3) << 4);
      }
      for (int t = 0; t < n; ++t) {
        const int8_t* xq = a.q + (t0 + t) * a.cols + 256 * s + e;
        int isum = 0;
        for (int i = 0; i < 16; ++i) isum += wq[i] * xq[i];
        const float* xd = a.d + (t0 + t) * a.cols / 32;
        const float* x16 = a.sum16 + (t0 + t) * a.cols / 16;
        sum[t] += d * blk->scales[j] * (xd[(256 * s + e) / 32] * static_cast<float>(isum) - 32.0f * x16[16 * s + j]);
      }
    }
  }
  for (int t = 0; t < n; ++t) out[t * out_stride] = sum[t];
}

#endif

// Rows of one type against every token: groups of rows outside, tiles of tokens inside, so
// that each group's weights are read from memory once (by its first token tile) and decoded
// once per tile. One token keeps the grouping the decode step was tuned with.
void QuantDotRows(WeightType type, const uint8_t* w, int64_t row_bytes, int64_t n_rows, const QuantizedActs& a,
                  int n_tokens, float* y, int64_t y_stride) {
  const int64_t nb = a.cols / 32;
  const int64_t n_super = a.cols / 256;
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX3
  if ((type == WeightType::Q8_0 || type == WeightType::Q4_0) && cpu_has_avx512_vnni()) {
    legacy_dot_rows_vnni(type, w, row_bytes, n_rows, a, n_tokens, y, y_stride);
    return;
  }
#endif
  switch (type) {
    case WeightType::Q8_0:
    case WeightType::Q4_0: {
      const bool q4 = type == WeightType::Q4_0;
#ifdef SMOL_HAVE_AVX2_DOT
      auto rows = [&](auto group, int64_t r0, auto tile, int t0, auto prefetch, int64_t ahead) {
        constexpr int kRows = decltype(group)::value, kTokens = decltype(tile)::value;
        constexpr bool kPrefetch = decltype(prefetch)::value;
        const TokenActs<kTokens> x(a, t0);
        float* out = y + t0 * y_stride + r0;
        if (q4) RowsLegacy<kRows, kTokens, true, kPrefetch>(w + r0 * row_bytes, row_bytes, x, nb, ahead, out, y_stride);
        else RowsLegacy<kRows, kTokens, false, kPrefetch>(w + r0 * row_bytes, row_bytes, x, nb, ahead, out, y_stride);
      };
      if (n_tokens == 1) {
        const RowGrouping g = row_grouping(row_bytes);
        for_row_groups(n_rows, g.rows, [&](auto group, int64_t r0) {
          rows(group, r0, std::integral_constant<int, 1>(), 0, std::true_type(), g.ahead);
        });
        return;
      }
      const int64_t group_bytes = kMultiRows * row_bytes;
      const int64_t ahead = (8192 + group_bytes - 1) / group_bytes * group_bytes;
      for_fixed_row_groups<kMultiRows>(n_rows, [&](auto group, int64_t r0) {
        for_token_tiles<kTokenTile>(n_tokens, [&](auto tile, int t0) {
          if (t0 == 0) rows(group, r0, tile, t0, std::true_type(), ahead);
          else rows(group, r0, tile, t0, std::false_type(), ahead);
        });
      });
#else
      for (int64_t r = 0; r < n_rows; ++r) {
        for (int t0 = 0; t0 < n_tokens; t0 += kTokenTile) {
          RowLegacyScalar(w + r * row_bytes, q4, a, t0, std::min(kTokenTile, n_tokens - t0), nb, y + t0 * y_stride + r,
                          y_stride);
        }
      }
#endif
      return;
    }
    case WeightType::Q4_K:
    case WeightType::Q6_K: {
      const bool q4k = type == WeightType::Q4_K;
      for (int64_t r = 0; r < n_rows; ++r) {
        const uint8_t* row = w + r * row_bytes;
#ifdef SMOL_HAVE_AVX2_DOT
        for_token_tiles<kKQuantTokenTile>(n_tokens, [&](auto tile, int t0) {
          constexpr int kTokens = decltype(tile)::value;
          const TokenActs<kTokens> x(a, t0);
          float* out = y + t0 * y_stride + r;
          if (t0 == 0) {
            if (q4k) RowQ4K<kTokens, true>(row, n_super, x, out, y_stride);
            else RowQ6K<kTokens, true>(row, n_super, x, out, y_stride);
          } else {
            if (q4k) RowQ4K<kTokens, false>(row, n_super, x, out, y_stride);
            else RowQ6K<kTokens, false>(row, n_super, x, out, y_stride);
          }
        });
#else
        for (int t0 = 0; t0 < n_tokens; t0 += kTokenTile) {
          const int n = std::min(kTokenTile, n_tokens - t0);
          if (q4k) RowQ4KScalar(row, n_super, a, t0, n, y + t0 * y_stride + r, y_stride);
          else RowQ6KScalar(row, n_super, a, t0, n, y + t0 * y_stride + r, y_stride);
        }
#endif
      }
      return;
    }
    default: return;
  }
}

#undef SMOL_HAVE_AVX2_DOT

}  // namespace smol::detail::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace smol::detail {
HWY_EXPORT(QuantizeActivationRow);
HWY_EXPORT(QuantDotRows);

size_t quantized_acts_bytes(int n_tokens, int64_t cols) {
  const size_t n = static_cast<size_t>(n_tokens);
  auto round64 = [](size_t b) { return (b + 63) / 64 * 64; };
  return round64(n * cols) + 2 * round64(n * cols / 32 * sizeof(float)) + round64(n * cols / 16 * sizeof(float)) +
         2 * round64(n * cols / 4 * sizeof(float));
}

QuantizedActs carve_quantized_acts(void* scratch, int n_tokens, int64_t cols) {
  const size_t n = static_cast<size_t>(n_tokens);
  auto round64 = [](size_t b) { return (b + 63) / 64 * 64; };
  auto* p = static_cast<uint8_t*>(scratch);
  QuantizedActs a;
  a.cols = cols;
  a.q = reinterpret_cast<int8_t*>(p);
  p += round64(n * cols);
  a.d = reinterpret_cast<float*>(p);
  p += round64(n * cols / 32 * sizeof(float));
  a.sum32 = reinterpret_cast<float*>(p);
  p += round64(n * cols / 32 * sizeof(float));
  a.sum16 = reinterpret_cast<float*>(p);
  p += round64(n * cols / 16 * sizeof(float));
  a.corr128 = reinterpret_cast<int32_t*>(p);
  p += round64(n * cols / 4 * sizeof(int32_t));
  a.d8 = reinterpret_cast<float*>(p);
  return a;
}

void quantize_activation_row(const float* x, const QuantizedActs& acts, int t) {
  HWY_DYNAMIC_DISPATCH(QuantizeActivationRow)(x, acts, t);
}

void quant_dot_rows(WeightType type, const uint8_t* w, int64_t row_bytes, int64_t n_rows, const QuantizedActs& acts,
                    int n_tokens, float* y, int64_t y_stride) {
  HWY_DYNAMIC_DISPATCH(QuantDotRows)(type, w, row_bytes, n_rows, acts, n_tokens, y, y_stride);
}
}  // namespace smol::detail
#endif
