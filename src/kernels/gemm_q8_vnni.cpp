// Q8_0 weights against 8-bit activations for 8 tokens and more (batched and beam decoder
// steps, prefill) with AVX-512 VNNI: the integer counterpart of gemm_rows.cpp. Decoding the
// weights to float32 and multiplying in float costs 32 FMAs per 32-value block and token
// slice; here one vpdpbusd does 4 values for 16 tokens, so a block is 8 of them plus the
// scaling, and the weights never leave their 34-byte blocks.
//
// Tokens go in the lanes: a tile of 16 tokens is packed as, per group of 4 columns, 16 x 4
// bytes, each value stored as q + 128 (vpdpbusd multiplies unsigned by signed bytes), and
// every weight row's 4 bytes of a group are broadcast from where they lie. The + 128 adds
// 128 * sum(w) over each block, taken off by starting its accumulator at -128 * sum(w),
// summed once per block of rows: the integer dot product of each block is exact, as in the
// decode kernels, and the activations are quantized as theirs (quantize_activation_row), so
// only the float scaling rounds differently (per block here, per group of 4 there).
#include "kernels/matmul_internal.hpp"
#include "smol/quant.hpp"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <type_traits>

#define SMOL_VNNI_ATTR __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,f16c,fma")))

namespace smol::detail {

namespace {

constexpr int kTile = 16;           // tokens per packed tile, one 512-bit vector of int32
constexpr int kRows = 12;           // rows per register block: 12 int32 + 12 float accumulators
constexpr int64_t kBlock = sizeof(BlockQ8_0);

int64_t tile_bytes(int64_t cols) { return cols * kTile + cols / 32 * kTile * static_cast<int64_t>(sizeof(float)); }

SMOL_VNNI_ATTR inline int32_t load_i32(const uint8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

SMOL_VNNI_ATTR inline __m512i pair_qs(const uint8_t* blk) {
  const __m256i q0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 2));
  const __m256i q1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + kBlock + 2));
  return _mm512_inserti64x4(_mm512_castsi256_si512(q0), q1, 1);
}

// Pairwise sums of adjacent lanes of a and b: lanes 0-7 from a, 8-15 from b.
SMOL_VNNI_ATTR inline __m512i fold(__m512i a, __m512i b) {
  const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
  const __m512i odd = _mm512_set_epi32(31, 29, 27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);
  return _mm512_add_epi32(_mm512_permutex2var_epi32(a, even, b), _mm512_permutex2var_epi32(a, odd, b));
}

// -128 times the sum of each block's weights and each block's scale, for one row of nb blocks.
SMOL_VNNI_ATTR void row_block_terms(const uint8_t* row, int64_t nb, int32_t* neg_sum, float* scale) {
  const __m512i ones = _mm512_set1_epi8(1);
  int64_t b = 0;
  for (; b + 16 <= nb; b += 16) {
    // Per-4-byte sums of 16 blocks (8 lanes each, two blocks per vector), folded three times
    // into one lane per block.
    __m512i v[8];
    for (int i = 0; i < 8; ++i) {
      v[i] = _mm512_dpbusd_epi32(_mm512_setzero_si512(), ones, pair_qs(row + (b + 2 * i) * kBlock));
    }
    const __m512i w0 = fold(v[0], v[1]), w1 = fold(v[2], v[3]), w2 = fold(v[4], v[5]), w3 = fold(v[6], v[7]);
    const __m512i sums = fold(fold(w0, w1), fold(w2, w3));
    _mm512_storeu_si512(neg_sum + b, _mm512_mullo_epi32(sums, _mm512_set1_epi32(-128)));
  }
  for (; b < nb; ++b) {
    int32_t s = 0;
    for (int k = 0; k < 32; ++k) s += static_cast<int8_t>(row[b * kBlock + 2 + k]);
    neg_sum[b] = -128 * s;
  }
  for (b = 0; b < nb; ++b) {
    uint16_t h;
    std::memcpy(&h, row + b * kBlock, 2);
    scale[b] = _cvtsh_ss(h);
  }
}

// y[t * y_stride + r] for R rows (row_bytes apart) and the n_valid tokens of one packed tile.
template <int R>
SMOL_VNNI_ATTR void tile_rows(const uint8_t* w, int64_t row_bytes, int64_t nb, const int32_t* neg_sum,
                              const float* scale, const uint8_t* tile, float* y, int64_t y_stride, int n_valid) {
  const float* xd = reinterpret_cast<const float*>(tile + nb * 32 * kTile);
  __m512 acc[R];
  for (int r = 0; r < R; ++r) acc[r] = _mm512_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    __m512i dot[R];
    for (int r = 0; r < R; ++r) dot[r] = _mm512_set1_epi32(neg_sum[r * nb + b]);
    const uint8_t* xb = tile + b * 32 * kTile;
    const uint8_t* wb = w + b * kBlock + 2;
    for (int g = 0; g < 8; ++g) {
      const __m512i x = _mm512_load_si512(xb + g * 4 * kTile);
      for (int r = 0; r < R; ++r) {
        dot[r] = _mm512_dpbusd_epi32(dot[r], x, _mm512_set1_epi32(load_i32(wb + r * row_bytes + 4 * g)));
      }
    }
    const __m512 dx = _mm512_load_ps(xd + b * kTile);
    for (int r = 0; r < R; ++r) {
      acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot[r]), _mm512_mul_ps(dx, _mm512_set1_ps(scale[r * nb + b])),
                               acc[r]);
    }
  }
  alignas(64) float out[R][kTile];
  for (int r = 0; r < R; ++r) _mm512_store_ps(out[r], acc[r]);
  for (int t = 0; t < n_valid; ++t) {
    for (int r = 0; r < R; ++r) y[t * y_stride + r] = out[r][t];
  }
}

}  // namespace

int64_t q8_gemm_packed_bytes(int n_tokens, int64_t cols) {
  return (n_tokens + kTile - 1) / kTile * tile_bytes(cols);
}

int64_t q8_gemm_row_scratch_bytes(int64_t cols) {
  return kRows * (cols / 32) * static_cast<int64_t>(sizeof(int32_t) + sizeof(float));
}

SMOL_VNNI_ATTR void q8_gemm_pack_tile(const QuantizedActs& acts, int n_tokens, int tile, uint8_t* packed) {
  const int64_t cols = acts.cols;
  const int64_t nb = cols / 32;
  uint8_t* out = packed + tile * tile_bytes(cols);
  float* xd = reinterpret_cast<float*>(out + cols * kTile);
  for (int m = 0; m < kTile; ++m) {
    const int t = tile * kTile + m;
    if (t < n_tokens) {
      const int8_t* q = acts.q + t * cols;
      for (int64_t g = 0; g < cols / 4; ++g) {
        uint32_t v;
        std::memcpy(&v, q + 4 * g, 4);
        v ^= 0x80808080u;
        std::memcpy(out + (g * kTile + m) * 4, &v, 4);
      }
      for (int64_t b = 0; b < nb; ++b) xd[b * kTile + m] = acts.d[t * nb + b];
    } else {
      for (int64_t g = 0; g < cols / 4; ++g) std::memset(out + (g * kTile + m) * 4, 0x80, 4);
      for (int64_t b = 0; b < nb; ++b) xd[b * kTile + m] = 0.0f;
    }
  }
}

SMOL_VNNI_ATTR void q8_gemm_rows(const uint8_t* w, int64_t row_bytes, int64_t n_rows, const uint8_t* packed,
                                 int n_tokens, int64_t cols, float* y, int64_t y_stride, void* scratch) {
  const int64_t nb = cols / 32;
  auto* neg_sum = static_cast<int32_t*>(scratch);
  auto* scale = reinterpret_cast<float*>(neg_sum + kRows * nb);
  const int64_t tb = tile_bytes(cols);
  auto block = [&](auto rows, int64_t r0) {
    constexpr int R = decltype(rows)::value;
    const uint8_t* wr = w + r0 * row_bytes;
    for (int r = 0; r < R; ++r) row_block_terms(wr + r * row_bytes, nb, neg_sum + r * nb, scale + r * nb);
    for (int t0 = 0, tile = 0; t0 < n_tokens; t0 += kTile, ++tile) {
      tile_rows<R>(wr, row_bytes, nb, neg_sum, scale, packed + tile * tb, y + t0 * y_stride + r0, y_stride,
                   std::min(kTile, n_tokens - t0));
    }
  };
  int64_t r = 0;
  for (; r + kRows <= n_rows; r += kRows) block(std::integral_constant<int, kRows>(), r);
  for (; r + 4 <= n_rows; r += 4) block(std::integral_constant<int, 4>(), r);
  for (; r < n_rows; ++r) block(std::integral_constant<int, 1>(), r);
}

}  // namespace smol::detail

#else

#include "smol/error.hpp"

namespace smol::detail {
int64_t q8_gemm_packed_bytes(int, int64_t) { return 0; }
int64_t q8_gemm_row_scratch_bytes(int64_t) { return 0; }
void q8_gemm_pack_tile(const QuantizedActs&, int, int, uint8_t*) {
  throw Error("internal error: the AVX-512 VNNI GEMM is not built for this machine");
}
void q8_gemm_rows(const uint8_t*, int64_t, int64_t, const uint8_t*, int, int64_t, float*, int64_t, void*) {
  throw Error("internal error: the AVX-512 VNNI GEMM is not built for this machine");
}
}  // namespace smol::detail

#endif
