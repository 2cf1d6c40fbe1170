// Float GEMM for prefill, every weight type alike: a panel of NR weight rows is decoded to
// float32 once per call (k-major, NR = two vectors), tokens are packed k-major in tiles of
// MR, and an MR x NR register tile of accumulators takes one vector load of weights and MR
// broadcasts per k step. Decoding costs rows x cols per call, amortised over the tokens; the
// multiply is exact on the decoded weights, unlike the quantized-activation decode path.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/gemm.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"

#include <algorithm>
#include <cstring>

#include "kernels/matmul_internal.hpp"
#include "kernels/widen-inl.hpp"
#include "smol/half.hpp"
#include "smol/quant.hpp"

#if HWY_ARCH_X86
#include <immintrin.h>
#endif

HWY_BEFORE_NAMESPACE();
namespace smol::detail::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

using DF = hn::ScalableTag<float>;
using VF = hn::Vec<DF>;

// 2 x MR accumulators + 2 weight vectors + 1 broadcast fit the register file: 15 of 16 on
// AVX2, 27 of 32 on AVX-512.
constexpr int kTileTokens = HWY_MAX_BYTES >= 64 ? 12 : 6;

int PanelRows() { return 2 * static_cast<int>(hn::Lanes(DF())); }

GemmShape Shape() { return GemmShape{PanelRows(), kTileTokens}; }

void PackTokens(const float* x, int64_t x_stride, int n_tokens, int64_t cols, int tile, float scale, float* xp) {
  for (int m = 0; m < kTileTokens; ++m) {
    const int t = tile * kTileTokens + m;
    if (t < n_tokens) {
      const float* row = x + static_cast<int64_t>(t) * x_stride;
      for (int64_t k = 0; k < cols; ++k) xp[k * kTileTokens + m] = row[k] * scale;
    } else {
      for (int64_t k = 0; k < cols; ++k) xp[k * kTileTokens + m] = 0.0f;
    }
  }
}

using smol::HWY_NAMESPACE::Half;
template <Half H>
HWY_INLINE void WidenRow(const uint16_t* src, int64_t cols, float* out) {
  const DF df;
  const int64_t n = static_cast<int64_t>(hn::Lanes(df));
  int64_t i = 0;
  for (; i + n <= cols; i += n) hn::StoreU(smol::HWY_NAMESPACE::LoadWiden<H>(df, src + i), df, out + i);
  for (; i < cols; ++i) out[i] = smol::HWY_NAMESPACE::WidenOne<H>(src[i]);
}

// One row to float32 with SIMD where the type allows it cheaply.
void DecodeRow(const MatrixView& w, int64_t row, float* out) {
  const DF df;
  const int64_t n = static_cast<int64_t>(hn::Lanes(df));
  const int64_t cols = w.cols;
  switch (w.type) {
    case WeightType::F32:
      std::memcpy(out, static_cast<const float*>(w.data) + row * cols, cols * sizeof(float));
      return;
    case WeightType::BF16: WidenRow<Half::BF16>(static_cast<const uint16_t*>(w.data) + row * cols, cols, out); return;
    case WeightType::F16: WidenRow<Half::F16>(static_cast<const uint16_t*>(w.data) + row * cols, cols, out); return;
    case WeightType::Q8_0: {
      const auto* blocks = reinterpret_cast<const BlockQ8_0*>(static_cast<const uint8_t*>(w.data) +
                                                               row * row_bytes(w.type, cols));
      const hn::Rebind<int8_t, DF> d8;
      const hn::Rebind<int32_t, DF> d32;
      for (int64_t b = 0; b < cols / 32; ++b) {
        uint16_t h;
        std::memcpy(&h, &blocks[b].d, 2);
        const VF d = hn::Set(df, f16_to_f32(h));
        for (int64_t i = 0; i < 32; i += n) {
          const VF q = hn::ConvertTo(df, hn::PromoteTo(d32, hn::LoadU(d8, blocks[b].qs + i)));
          hn::StoreU(hn::Mul(q, d), df, out + 32 * b + i);
        }
      }
      return;
    }
    default:
      dequantize_row(w.type, static_cast<const uint8_t*>(w.data) + row * row_bytes(w.type, cols), out, cols);
      return;
  }
}

#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX2
// dst[i * dst_stride + j] = src[j * src_stride + i] for an 8 x 8 block.
inline void Transpose8x8(const float* src, int64_t src_stride, float* dst, int64_t dst_stride) {
  __m256 r[8], t[8];
  for (int i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(src + i * src_stride);
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
    _mm256_storeu_ps(dst + i * dst_stride, _mm256_permute2f128_ps(r[i], r[i + 4], 0x20));
    _mm256_storeu_ps(dst + (i + 4) * dst_stride, _mm256_permute2f128_ps(r[i], r[i + 4], 0x31));
  }
}
#endif

// Decodes the NR rows into rows_tmp (row-major), then transposes them into the k-major
// panel; 8 x 8 register transposes where available (element-wise scatter stores cost ~2
// cycles each, which made packing as slow as a 40-token multiply).
void PackPanel(const MatrixView& w, int64_t row0, float* panel, float* rows_tmp) {
  const int nr = PanelRows();
  const int64_t cols = w.cols;
  for (int r = 0; r < nr; ++r) {
    float* dst = rows_tmp + r * cols;
    if (row0 + r < w.rows) {
      DecodeRow(w, row0 + r, dst);
    } else {
      std::memset(dst, 0, cols * sizeof(float));
    }
  }
  int64_t k0 = 0;
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX2
  for (; k0 + 8 <= cols; k0 += 8) {
    for (int r0 = 0; r0 < nr; r0 += 8) Transpose8x8(rows_tmp + r0 * cols + k0, cols, panel + k0 * nr + r0, nr);
  }
#endif
  for (int64_t k = k0; k < cols; ++k) {
    for (int r = 0; r < nr; ++r) panel[k * nr + r] = rows_tmp[r * cols + k];
  }
}

template <int M>
HWY_INLINE void Tile(const float* HWY_RESTRICT panel, const float* HWY_RESTRICT xp, int64_t cols, float* y,
                     int64_t y_stride, int n_rows) {
  const DF df;
  const size_t n = hn::Lanes(df);
  const size_t nr = 2 * n;
  VF acc0[M], acc1[M];
  HWY_UNROLL(12)
  for (int m = 0; m < M; ++m) acc0[m] = acc1[m] = hn::Zero(df);
  for (int64_t k = 0; k < cols; ++k) {
    const VF w0 = hn::Load(df, panel + k * nr);
    const VF w1 = hn::Load(df, panel + k * nr + n);
    const float* xk = xp + k * kTileTokens;
    HWY_UNROLL(12)
    for (int m = 0; m < M; ++m) {
      const VF xb = hn::Set(df, xk[m]);
      acc0[m] = hn::MulAdd(w0, xb, acc0[m]);
      acc1[m] = hn::MulAdd(w1, xb, acc1[m]);
    }
  }
  if (n_rows == static_cast<int>(nr)) {
    HWY_UNROLL(12)
    for (int m = 0; m < M; ++m) {
      hn::StoreU(acc0[m], df, y + m * y_stride);
      hn::StoreU(acc1[m], df, y + m * y_stride + n);
    }
  } else {
    HWY_ALIGN float tmp[2 * HWY_MAX_BYTES / sizeof(float)];
    for (int m = 0; m < M; ++m) {
      hn::Store(acc0[m], df, tmp);
      hn::Store(acc1[m], df, tmp + n);
      std::memcpy(y + m * y_stride, tmp, n_rows * sizeof(float));
    }
  }
}

template <int M>
void TileN(const float* panel, const float* xp, int64_t cols, float* y, int64_t y_stride, int n_rows) {
  Tile<M>(panel, xp, cols, y, y_stride, n_rows);
}

void Panel(const float* panel, const float* xp, int n_tokens, int64_t cols, int n_rows, float* y, int64_t y_stride) {
  using Fn = void (*)(const float*, const float*, int64_t, float*, int64_t, int);
  static constexpr Fn kTiles[] = {TileN<1>, TileN<2>, TileN<3>, TileN<4>,  TileN<5>,  TileN<6>,
#if HWY_MAX_BYTES >= 64
                                  TileN<7>, TileN<8>, TileN<9>, TileN<10>, TileN<11>, TileN<12>,
#endif
  };
  static_assert(sizeof(kTiles) / sizeof(kTiles[0]) == kTileTokens);
  for (int t0 = 0, tile = 0; t0 < n_tokens; t0 += kTileTokens, ++tile) {
    const int m = std::min(kTileTokens, n_tokens - t0);
    kTiles[m - 1](panel, xp + tile * kTileTokens * cols, cols, y + t0 * y_stride, y_stride, n_rows);
  }
}

}  // namespace smol::detail::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace smol::detail {
HWY_EXPORT(Shape);
HWY_EXPORT(PackTokens);
HWY_EXPORT(PackPanel);
HWY_EXPORT(DecodeRow);
HWY_EXPORT(Panel);

GemmShape gemm_shape() { return HWY_DYNAMIC_DISPATCH(Shape)(); }

void gemm_pack_tokens(const float* x, int64_t x_stride, int n_tokens, int64_t cols, int tile, float scale,
                      float* xp) {
  HWY_DYNAMIC_DISPATCH(PackTokens)(x, x_stride, n_tokens, cols, tile, scale, xp);
}

void gemm_decode_row(const MatrixView& w, int64_t row, float* out) { HWY_DYNAMIC_DISPATCH(DecodeRow)(w, row, out); }

void gemm_pack_panel(const MatrixView& w, int64_t row0, float* panel, float* rows_tmp) {
  HWY_DYNAMIC_DISPATCH(PackPanel)(w, row0, panel, rows_tmp);
}

void gemm_panel(const float* panel, const float* xp, int n_tokens, int64_t cols, int n_rows, float* y,
                int64_t y_stride) {
  HWY_DYNAMIC_DISPATCH(Panel)(panel, xp, n_tokens, cols, n_rows, y, y_stride);
}
}  // namespace smol::detail
#endif
