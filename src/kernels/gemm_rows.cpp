// Float GEMM over blocks of weight rows, for batched and beam decoder steps and prefill: a
// block of R rows is decoded to float32 (copied, for float32 weights) as it lies, row-major,
// instead of being transposed into a k-major panel: at a few dozen tokens the transposed
// copies cost a fifth of the multiply. Tokens go into the
// vector lanes (packed k-major, one or two vectors of them per tile), each weight is
// broadcast (an FMA with a memory-broadcast operand on AVX-512), and an R-rows x tile
// register block accumulates over k. The rows of a block are first copied apart by an odd
// number of cache lines: read in step at the same column, rows a power-of-two stride apart
// all land in one L1 set and evict each other (16 tokens on 2048-column rows ran at a third
// of the speed). Every output is the same chain of fused multiply-adds
// over k = 0, 1, ... from zero as in the panel GEMM (gemm.cpp), so both give identical bits.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/gemm_rows.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"

#include <algorithm>
#include <cstring>
#include <type_traits>

#include "kernels/matmul_internal.hpp"
#include "smol/quant.hpp"

HWY_BEFORE_NAMESPACE();
namespace smol::detail::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

using DF = hn::ScalableTag<float>;
using VF = hn::Vec<DF>;

// Accumulators R x TV plus TV token vectors fit the register file: 24 + 1 or 24 + 2 of 32 on
// AVX-512, 12 + 1 or 12 + 2 of 16 below it.
constexpr int kAccumulators = HWY_MAX_BYTES >= 64 ? 24 : 12;

int Lanes() { return static_cast<int>(hn::Lanes(DF())); }

// One token vector per tile when the batch fits in one, else two.
int TileVectors(int n_tokens) { return n_tokens <= Lanes() ? 1 : 2; }

int Width(int n_tokens) { return TileVectors(n_tokens) * Lanes(); }

// Tiles start Width() tokens apart; a last tile of at most one vector's worth is one vector
// wide (65 tokens: 32 + 32 + 16 lanes, not 32 + 32 + 32).
int TileWidth(int n_tokens, int tile) {
  const int width = Width(n_tokens);
  return n_tokens - tile * width <= Lanes() ? Lanes() : width;
}

void PackTokens(const float* x, int n_tokens, int64_t cols, int tile, float* xp) {
  const int width = TileWidth(n_tokens, tile);
  for (int m = 0; m < width; ++m) {
    const int t = tile * Width(n_tokens) + m;
    if (t < n_tokens) {
      const float* row = x + static_cast<int64_t>(t) * cols;
      for (int64_t k = 0; k < cols; ++k) xp[k * width + m] = row[k];
    } else {
      for (int64_t k = 0; k < cols; ++k) xp[k * width + m] = 0.0f;
    }
  }
}

// Row stride of the copied blocks: a whole number of vectors plus one odd cache line.
int64_t BlockStride(int64_t cols) { return (cols + 15) / 16 * 16 + 16; }

// y[t * y_stride + r] for R rows of w (cols floats each, w_stride apart) and the first
// n_valid tokens of one packed tile.
template <int TV, int R>
HWY_INLINE void Tile(const float* HWY_RESTRICT w, int64_t w_stride, int64_t cols, const float* HWY_RESTRICT xp,
                     float* y, int64_t y_stride, int n_valid) {
  const DF df;
  const int64_t n = static_cast<int64_t>(hn::Lanes(df));
  const int64_t width = TV * n;
  VF acc[R][TV];
  HWY_UNROLL(24)
  for (int r = 0; r < R; ++r) {
    for (int v = 0; v < TV; ++v) acc[r][v] = hn::Zero(df);
  }
  for (int64_t k = 0; k < cols; ++k) {
    VF x[TV];
    for (int v = 0; v < TV; ++v) x[v] = hn::Load(df, xp + k * width + v * n);
    HWY_UNROLL(24)
    for (int r = 0; r < R; ++r) {
      const VF b = hn::Set(df, w[r * w_stride + k]);
      for (int v = 0; v < TV; ++v) acc[r][v] = hn::MulAdd(b, x[v], acc[r][v]);
    }
  }
  HWY_ALIGN float tmp[R * TV * HWY_MAX_BYTES / sizeof(float)];
  for (int r = 0; r < R; ++r) {
    for (int v = 0; v < TV; ++v) hn::Store(acc[r][v], df, tmp + r * width + v * n);
  }
  for (int t = 0; t < n_valid; ++t) {
    for (int r = 0; r < R; ++r) y[t * y_stride + r] = tmp[r * width + t];
  }
}

template <int TV>
void RowsT(const MatrixView& w, int64_t row0, int64_t n_rows, const float* xp, int n_tokens, float* y,
           int64_t y_stride, float* block_tmp) {
  const int64_t cols = w.cols;
  constexpr int kRows = kAccumulators / TV;
  const int width = TV * Lanes();
  const int64_t stride = BlockStride(cols);
  // Each block of rows meets every token tile while it is in cache.
  auto block = [&](auto rows, int64_t r0) {
    constexpr int R = decltype(rows)::value;
    for (int r = 0; r < R; ++r) {
      const int64_t row = row0 + r0 + r;
      if (w.type == WeightType::F32) {
        std::memcpy(block_tmp + r * stride, static_cast<const float*>(w.data) + row * cols, cols * sizeof(float));
      } else {
        gemm_decode_row(w, row, block_tmp + r * stride);
      }
    }
    for (int t0 = 0, tile = 0; t0 < n_tokens; t0 += width, ++tile) {
      const float* xt = xp + static_cast<int64_t>(tile) * width * cols;
      float* yt = y + t0 * y_stride + r0;
      const int n_valid = std::min(width, n_tokens - t0);
      if (TV > 1 && TileWidth(n_tokens, tile) < width) {
        Tile<1, R>(block_tmp, stride, cols, xt, yt, y_stride, n_valid);
      } else {
        Tile<TV, R>(block_tmp, stride, cols, xt, yt, y_stride, n_valid);
      }
    }
  };
  int64_t r = 0;
  for (; r + kRows <= n_rows; r += kRows) block(std::integral_constant<int, kRows>(), r);
  for (; r + 4 <= n_rows; r += 4) block(std::integral_constant<int, 4>(), r);
  for (; r < n_rows; ++r) block(std::integral_constant<int, 1>(), r);
}

void Rows(const MatrixView& w, int64_t row0, int64_t n_rows, const float* xp, int n_tokens, float* y,
          int64_t y_stride, float* block_tmp) {
  if (TileVectors(n_tokens) == 1) {
    RowsT<1>(w, row0, n_rows, xp, n_tokens, y, y_stride, block_tmp);
  } else {
    RowsT<2>(w, row0, n_rows, xp, n_tokens, y, y_stride, block_tmp);
  }
}

int64_t BlockFloats(int64_t cols) { return kAccumulators * BlockStride(cols); }

}  // namespace smol::detail::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace smol::detail {
HWY_EXPORT(Width);
HWY_EXPORT(PackTokens);
HWY_EXPORT(Rows);
HWY_EXPORT(BlockFloats);

int rows_gemm_tile_tokens(int n_tokens) { return HWY_DYNAMIC_DISPATCH(Width)(n_tokens); }

void rows_gemm_pack_tokens(const float* x, int n_tokens, int64_t cols, int tile, float* xp) {
  HWY_DYNAMIC_DISPATCH(PackTokens)(x, n_tokens, cols, tile, xp);
}

int64_t rows_gemm_block_floats(int64_t cols) { return HWY_DYNAMIC_DISPATCH(BlockFloats)(cols); }

void rows_gemm(const MatrixView& w, int64_t row0, int64_t n_rows, const float* xp, int n_tokens, float* y,
               int64_t y_stride, float* block_tmp) {
  HWY_DYNAMIC_DISPATCH(Rows)(w, row0, n_rows, xp, n_tokens, y, y_stride, block_tmp);
}
}  // namespace smol::detail
#endif
