// Q8_0 and Q4_0 rows against 8-bit activations with AVX-512 VNNI: two 32-value blocks per
// 512-bit step, one vpdpbusd each. Built for that instruction set only (a target attribute, not the
// whole file's flags), and called only on machines that have it (cpu_has_avx512_vnni).
//
// vpdpbusd multiplies unsigned by signed bytes, so the weights enter offset to unsigned
// (Q8_0: w + 128, a sign-bit flip; Q4_0: the stored nibble, w + 8) and the accumulator starts
// at -128 (-8) times the sum of each lane's four activations, which the activation quantizer
// stores once per token: the integer sums are exact, as in the AVX2 kernel, and only the
// float scaling differs in rounding.
#include "kernels/matmul_internal.hpp"
#include "smol/quant.hpp"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#include <cstring>
#include <type_traits>

#define SMOL_VNNI_ATTR __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,f16c,fma")))

namespace smol::detail {

bool cpu_has_avx512_vnni() {
  static const bool has = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                          __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
                          __builtin_cpu_supports("avx512vnni");
  return has;
}

namespace {

// Q8_0: f16 scale, 32 int8 (34 bytes). Q4_0: f16 scale, 16 bytes of nibbles (18 bytes), the
// low nibbles values 0-15 and the high ones 16-31.
template <bool kQ4>
constexpr int64_t kBlock = kQ4 ? sizeof(BlockQ4_0) : sizeof(BlockQ8_0);

SMOL_VNNI_ATTR inline uint16_t load_u16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}

// Q4_0's two blocks are unpacked as [low nibbles 0, low 1, high 0, high 1] (16 bytes each), so
// the activations' 16-byte quarters, and everything per lane, go in the order 0, 2, 1, 3.
constexpr int kQuarterOrder = _MM_SHUFFLE(3, 1, 2, 0);

// The weight scales of two consecutive blocks, each over the lanes that hold its values.
template <bool kQ4>
SMOL_VNNI_ATTR inline __m512 pair_scales(const uint8_t* blk) {
  const __m128i halves = _mm_insert_epi16(_mm_cvtsi32_si128(load_u16(blk)), load_u16(blk + kBlock<kQ4>), 1);
  const __m512i spread = kQ4 ? _mm512_set_epi32(1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0)
                             : _mm512_set_epi32(1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0);
  return _mm512_permutexvar_ps(spread, _mm512_castps128_ps512(_mm_cvtph_ps(halves)));
}

// Two blocks' weights as unsigned bytes (w + 128 or w + 8).
template <bool kQ4>
SMOL_VNNI_ATTR inline __m512i pair_weights(const uint8_t* blk) {
  if constexpr (kQ4) {
    const __m128i q0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + 2));
    const __m128i q1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + kBlock<kQ4> + 2));
    const __m256i both = _mm256_set_m128i(q1, q0);
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    const __m256i lo = _mm256_and_si256(both, m4);
    const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(both, 4), m4);
    return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
  } else {
    const __m256i q0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 2));
    const __m256i q1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + kBlock<kQ4> + 2));
    const __m512i q = _mm512_inserti64x4(_mm512_castsi256_si512(q0), q1, 1);
    return _mm512_xor_si512(q, _mm512_set1_epi8(static_cast<char>(0x80)));
  }
}

// One block's weights as unsigned bytes, for an odd last block.
template <bool kQ4>
SMOL_VNNI_ATTR inline __m256i block_weights(const uint8_t* blk) {
  if constexpr (kQ4) {
    const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + 2));
    const __m128i m4 = _mm_set1_epi8(0x0F);
    return _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(q, 4), m4), _mm_and_si128(q, m4));
  } else {
    const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 2));
    return _mm256_xor_si256(q, _mm256_set1_epi8(static_cast<char>(0x80)));
  }
}

// out[j * out_stride + r] = row r . token t0 + j, for R rows row_bytes apart (nb blocks each)
// and T tokens. Each block pair's weights and scales are decoded once for the T tokens; every
// (row, token) keeps its own accumulator and sees the same instructions in the same order as
// with T = 1 (the one-token kernel), so its bits do not depend on T or on its neighbours.
// With kPrefetch each row's stream is prefetched `ahead` bytes on, one prefetch per cache line
// (a Q8_0 step spans 68 bytes); a row group's later token tiles read it from L1 and skip it.
template <int R, int T, bool kQ4, bool kPrefetch>
SMOL_VNNI_ATTR void rows_vnni(const uint8_t* w, int64_t row_bytes, int64_t nb, const QuantizedActs& a, int t0,
                              int64_t ahead, float* out, int64_t out_stride) {
  const int8_t* xq[T];
  const int32_t* corr[T];
  const float* xd8[T];
  for (int j = 0; j < T; ++j) {
    xq[j] = a.q + (t0 + j) * a.cols;
    corr[j] = a.corr128 + (t0 + j) * a.cols / 4;
    xd8[j] = a.d8 + (t0 + j) * a.cols / 4;
  }
  constexpr int kOffsetShift = kQ4 ? 4 : 0;  // -8 sum = (-128 sum) >> 4, exactly
  __m512 acc[R][T];
  for (int r = 0; r < R; ++r) {
    for (int j = 0; j < T; ++j) acc[r][j] = _mm512_setzero_ps();
  }
  int64_t b = 0;
  for (; b + 2 <= nb; b += 2) {
    __m512i x[T], c[T];
    __m512 dx[T];
    for (int j = 0; j < T; ++j) {
      x[j] = _mm512_loadu_si512(xq[j] + 32 * b);
      c[j] = _mm512_srai_epi32(_mm512_loadu_si512(corr[j] + 8 * b), kOffsetShift);
      dx[j] = _mm512_loadu_ps(xd8[j] + 8 * b);
      if constexpr (kQ4) {
        x[j] = _mm512_shuffle_i64x2(x[j], x[j], kQuarterOrder);
        c[j] = _mm512_shuffle_i64x2(c[j], c[j], kQuarterOrder);
        dx[j] = _mm512_shuffle_f32x4(dx[j], dx[j], kQuarterOrder);
      }
    }
    for (int r = 0; r < R; ++r) {
      const uint8_t* blk = w + r * row_bytes + b * kBlock<kQ4>;
      if constexpr (kPrefetch) {
        _mm_prefetch(reinterpret_cast<const char*>(blk) + ahead, _MM_HINT_T0);
        if constexpr (!kQ4) _mm_prefetch(reinterpret_cast<const char*>(blk) + ahead + 64, _MM_HINT_T0);
      }
      const __m512i wq = pair_weights<kQ4>(blk);
      const __m512 ws = pair_scales<kQ4>(blk);
      for (int j = 0; j < T; ++j) {
        const __m512i dot = _mm512_dpbusd_epi32(c[j], wq, x[j]);
        acc[r][j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), _mm512_mul_ps(ws, dx[j]), acc[r][j]);
      }
    }
  }
  float tail[R][T] = {};
  if (b < nb) {  // an odd last block, on 256-bit vectors
    __m256i x[T], c[T];
    for (int j = 0; j < T; ++j) {
      x[j] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq[j] + 32 * b));
      c[j] = _mm256_srai_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(corr[j] + 8 * b)), kOffsetShift);
    }
    for (int r = 0; r < R; ++r) {
      const uint8_t* blk = w + r * row_bytes + b * kBlock<kQ4>;
      const __m256i wq = block_weights<kQ4>(blk);
      const float ws = _cvtsh_ss(load_u16(blk));
      for (int j = 0; j < T; ++j) {
        const __m256i dot = _mm256_dpbusd_epi32(c[j], wq, x[j]);
        const __m256 s = _mm256_cvtepi32_ps(dot);
        __m128 h = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
        h = _mm_add_ps(h, _mm_movehl_ps(h, h));
        h = _mm_add_ss(h, _mm_movehdup_ps(h));
        tail[r][j] = _mm_cvtss_f32(h) * (ws * xd8[j][8 * b]);
      }
    }
  }
  for (int r = 0; r < R; ++r) {
    for (int j = 0; j < T; ++j) out[j * out_stride + r] = _mm512_reduce_add_ps(acc[r][j]) + tail[r][j];
  }
}

// Tokens per tile of the multi-token kernel: 4 rows x 4 tokens keep 16 accumulators and each
// tile's activations in the 32 vector registers.
constexpr int kMultiRows = 4;
constexpr int kTokenTile = 4;

template <bool kQ4>
SMOL_VNNI_ATTR void dot_rows_vnni(const uint8_t* w, int64_t row_bytes, int64_t n_rows, const QuantizedActs& a,
                                  int n_tokens, float* y, int64_t y_stride) {
  const int64_t nb = a.cols / 32;
  if (n_tokens == 1) {
    const RowGrouping g = row_grouping(row_bytes);
    for_row_groups(n_rows, g.rows, [&](auto group, int64_t r0) {
      constexpr int kRows = decltype(group)::value;
      rows_vnni<kRows, 1, kQ4, true>(w + r0 * row_bytes, row_bytes, nb, a, 0, g.ahead, y + r0, y_stride);
    });
    return;
  }
  // Several tokens: groups of 4 rows, each read from memory by its first token tile (which
  // prefetches the next groups) and from L1 by the others.
  const int64_t group_bytes = kMultiRows * row_bytes;
  const int64_t ahead = (8192 + group_bytes - 1) / group_bytes * group_bytes;
  for_fixed_row_groups<kMultiRows>(n_rows, [&](auto group, int64_t r0) {
    constexpr int kRows = decltype(group)::value;
    for_token_tiles<kTokenTile>(n_tokens, [&](auto tile, int t0) {
      constexpr int kTokens = decltype(tile)::value;
      float* out = y + t0 * y_stride + r0;
      if (t0 == 0) {
        rows_vnni<kRows, kTokens, kQ4, true>(w + r0 * row_bytes, row_bytes, nb, a, t0, ahead, out, y_stride);
      } else {
        rows_vnni<kRows, kTokens, kQ4, false>(w + r0 * row_bytes, row_bytes, nb, a, t0, ahead, out, y_stride);
      }
    });
  });
}

}  // namespace

void legacy_dot_rows_vnni(WeightType type, const uint8_t* w, int64_t row_bytes, int64_t n_rows,
                          const QuantizedActs& a, int n_tokens, float* y, int64_t y_stride) {
  if (type == WeightType::Q4_0) {
    dot_rows_vnni<true>(w, row_bytes, n_rows, a, n_tokens, y, y_stride);
  } else {
    dot_rows_vnni<false>(w, row_bytes, n_rows, a, n_tokens, y, y_stride);
  }
}

}  // namespace smol::detail

#else

#include "smol/error.hpp"

namespace smol::detail {
bool cpu_has_avx512_vnni() { return false; }
void legacy_dot_rows_vnni(WeightType, const uint8_t*, int64_t, int64_t, const QuantizedActs&, int, float*, int64_t) {
  throw Error("internal error: the AVX-512 VNNI kernel is not built for this machine");
}
}  // namespace smol::detail

#endif
