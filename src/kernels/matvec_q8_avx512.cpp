// Q8_0 rows against 8-bit activations with AVX-512 VNNI: two 32-value blocks per 512-bit
// step, one vpdpbusd each. Built for that instruction set only (a target attribute, not the
// whole file's flags), and called only on machines that have it (cpu_has_avx512_vnni).
//
// vpdpbusd multiplies unsigned by signed bytes, so the weights enter offset to unsigned
// (w + 128, a sign-bit flip) and the accumulator starts at -128 times the sum of each lane's
// four activations, which the activation quantizer stores once per token: the integer sums
// are exact, as in the AVX2 kernel, and only the float scaling differs in rounding.
#include "kernels/matmul_internal.hpp"
#include "smol/quant.hpp"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#include <cstring>

#define SMOL_VNNI_ATTR __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,f16c,fma")))

namespace smol::detail {

bool cpu_has_avx512_vnni() {
  static const bool has = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                          __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
                          __builtin_cpu_supports("avx512vnni");
  return has;
}

namespace {

constexpr int64_t kBlock = sizeof(BlockQ8_0);  // 34 bytes: f16 scale, 32 int8

SMOL_VNNI_ATTR inline uint16_t load_u16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}

// The scales of two consecutive blocks, each spread over its 8 lanes.
SMOL_VNNI_ATTR inline __m512 pair_scales(const uint8_t* blk) {
  const __m128i halves = _mm_insert_epi16(_mm_cvtsi32_si128(load_u16(blk)), load_u16(blk + kBlock), 1);
  const __m512i spread = _mm512_set_epi32(1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0);
  return _mm512_permutexvar_ps(spread, _mm512_castps128_ps512(_mm_cvtph_ps(halves)));
}

// out[r] = row r . x for R rows row_bytes apart, nb blocks each. Every row's stream is
// prefetched `ahead` bytes on, one prefetch per cache line (a two-block step spans 68 bytes).
template <int R>
SMOL_VNNI_ATTR void rows_q8(const uint8_t* w, int64_t row_bytes, int64_t nb, const QuantizedActs& a, int t,
                            int64_t ahead, float* out) {
  const int8_t* xq = a.q + t * a.cols;
  const int32_t* corr = a.corr128 + t * a.cols / 4;
  const float* xd8 = a.d8 + t * a.cols / 4;
  const __m512i flip = _mm512_set1_epi8(static_cast<char>(0x80));
  __m512 acc[R];
  for (int r = 0; r < R; ++r) acc[r] = _mm512_setzero_ps();
  int64_t b = 0;
  for (; b + 2 <= nb; b += 2) {
    const __m512i x = _mm512_loadu_si512(xq + 32 * b);
    const __m512i c = _mm512_loadu_si512(corr + 8 * b);
    const __m512 dx = _mm512_loadu_ps(xd8 + 8 * b);
    for (int r = 0; r < R; ++r) {
      const uint8_t* blk = w + r * row_bytes + b * kBlock;
      _mm_prefetch(reinterpret_cast<const char*>(blk) + ahead, _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char*>(blk) + ahead + 64, _MM_HINT_T0);
      const __m256i q0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 2));
      const __m256i q1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + kBlock + 2));
      const __m512i q = _mm512_inserti64x4(_mm512_castsi256_si512(q0), q1, 1);
      const __m512i dot = _mm512_dpbusd_epi32(c, _mm512_xor_si512(q, flip), x);
      acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), _mm512_mul_ps(pair_scales(blk), dx), acc[r]);
    }
  }
  float tail[R] = {};
  if (b < nb) {  // an odd last block, on 256-bit vectors
    const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq + 32 * b));
    const __m256i c = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(corr + 8 * b));
    for (int r = 0; r < R; ++r) {
      const uint8_t* blk = w + r * row_bytes + b * kBlock;
      const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 2));
      const __m256i dot = _mm256_dpbusd_epi32(c, _mm256_xor_si256(q, _mm512_castsi512_si256(flip)), x);
      const __m256 s = _mm256_cvtepi32_ps(dot);
      __m128 h = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
      h = _mm_add_ps(h, _mm_movehl_ps(h, h));
      h = _mm_add_ss(h, _mm_movehdup_ps(h));
      tail[r] = _mm_cvtss_f32(h) * (_cvtsh_ss(load_u16(blk)) * xd8[8 * b]);
    }
  }
  for (int r = 0; r < R; ++r) out[r] = _mm512_reduce_add_ps(acc[r]) + tail[r];
}

}  // namespace

SMOL_VNNI_ATTR void q8_0_dot_rows_vnni(const uint8_t* w, int64_t row_bytes, int64_t n_rows, const QuantizedActs& a,
                                       int n_tokens, float* y, int64_t y_stride) {
  const int64_t nb = a.cols / 32;
  const RowGrouping g = row_grouping(row_bytes);
  int64_t r = 0;
  if (g.rows == 8) {
    for (; r + 8 <= n_rows; r += 8) {
      for (int t = 0; t < n_tokens; ++t) rows_q8<8>(w + r * row_bytes, row_bytes, nb, a, t, g.ahead, y + t * y_stride + r);
    }
  }
  for (; r + 4 <= n_rows; r += 4) {
    for (int t = 0; t < n_tokens; ++t) rows_q8<4>(w + r * row_bytes, row_bytes, nb, a, t, g.ahead, y + t * y_stride + r);
  }
  for (; r < n_rows; ++r) {
    for (int t = 0; t < n_tokens; ++t) rows_q8<1>(w + r * row_bytes, row_bytes, nb, a, t, g.ahead, y + t * y_stride + r);
  }
}

}  // namespace smol::detail

#else

#include "smol/error.hpp"

namespace smol::detail {
bool cpu_has_avx512_vnni() { return false; }
void q8_0_dot_rows_vnni(const uint8_t*, int64_t, int64_t, const QuantizedActs&, int, float*, int64_t) {
  throw Error("internal error: the AVX-512 VNNI kernel is not built for this machine");
}
}  // namespace smol::detail

#endif
