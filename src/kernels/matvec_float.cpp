// Float-weight matvec (decode): groups of rows share each activation load, bf16/f16
// widened in registers. Memory-bound, so the point is few instructions per weight byte and
// enough independent FMA chains to keep the loads flowing.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/matvec_float.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/cache_control.h"
#include "hwy/highway.h"

#include "kernels/matmul_internal.hpp"
#include "kernels/widen-inl.hpp"
#include "smol/half.hpp"

HWY_BEFORE_NAMESPACE();
namespace smol::detail::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

using DF = hn::ScalableTag<float>;
using VF = hn::Vec<DF>;

HWY_INLINE VF Widen(DF df, const float* p) { return hn::LoadU(df, p); }

// uint16_t rows are bf16 or f16; the tag type picks which.
using smol::HWY_NAMESPACE::Half;
template <Half H>
struct HalfRow {
  const uint16_t* p;
};
using Bf16Row = HalfRow<Half::BF16>;
using F16Row = HalfRow<Half::F16>;

template <Half H>
HWY_INLINE VF Widen(DF df, HalfRow<H> w) { return smol::HWY_NAMESPACE::LoadWiden<H>(df, w.p); }

inline const char* address(const float* p) { return reinterpret_cast<const char*>(p); }
template <Half H>
inline const char* address(HalfRow<H> w) { return reinterpret_cast<const char*>(w.p); }
template <class Row>
constexpr int64_t kElementBytes = 2;
template <>
constexpr int64_t kElementBytes<const float*> = 4;

inline float scalar(const float* p) { return *p; }
template <Half H>
inline float scalar(HalfRow<H> w) { return smol::HWY_NAMESPACE::WidenOne<H>(*w.p); }
inline const float* advance(const float* p, int64_t n) { return p + n; }
template <Half H>
inline HalfRow<H> advance(HalfRow<H> w, int64_t n) { return {w.p + n}; }

// out[j * out_stride + r] = row r . token j of x (tokens `cols` apart), for R rows `cols`
// apart and T tokens, two accumulators per (row, token). Each weight vector is loaded and
// widened once for the T tokens; every (row, token) sees the instructions of the T = 1
// (one-token) kernel in the same order, so its bits do not depend on T. With kPrefetch each
// row's stream is prefetched `ahead` bytes on, one prefetch per cache line: the hardware
// prefetcher alone keeps too few misses in flight for one core to reach memory bandwidth (a
// row group's later token tiles read it from L1 and skip it).
template <int R, int T, bool kPrefetch, class Row>
HWY_INLINE void Rows(Row w, int64_t cols, const float* x, int64_t ahead, float* out, int64_t out_stride) {
  const DF df;
  const int64_t n = static_cast<int64_t>(hn::Lanes(df));
  const int64_t step_bytes = 2 * n * kElementBytes<Row>;
  VF acc0[R][T], acc1[R][T];
  HWY_UNROLL(8)
  for (int r = 0; r < R; ++r) {
    for (int j = 0; j < T; ++j) acc0[r][j] = acc1[r][j] = hn::Zero(df);
  }
  int64_t i = 0;
  for (; i + 2 * n <= cols; i += 2 * n) {
    VF x0[T], x1[T];
    for (int j = 0; j < T; ++j) {
      x0[j] = hn::LoadU(df, x + j * cols + i);
      x1[j] = hn::LoadU(df, x + j * cols + i + n);
    }
    HWY_UNROLL(8)
    for (int r = 0; r < R; ++r) {
      if constexpr (kPrefetch) {
        const char* line = address(advance(w, r * cols + i)) + ahead;
        for (int64_t b = 0; b < step_bytes; b += 64) hwy::Prefetch(line + b);
      }
      const VF w0 = Widen(df, advance(w, r * cols + i)), w1 = Widen(df, advance(w, r * cols + i + n));
      for (int j = 0; j < T; ++j) {
        acc0[r][j] = hn::MulAdd(w0, x0[j], acc0[r][j]);
        acc1[r][j] = hn::MulAdd(w1, x1[j], acc1[r][j]);
      }
    }
  }
  for (; i + n <= cols; i += n) {
    VF x0[T];
    for (int j = 0; j < T; ++j) x0[j] = hn::LoadU(df, x + j * cols + i);
    HWY_UNROLL(8)
    for (int r = 0; r < R; ++r) {
      const VF w0 = Widen(df, advance(w, r * cols + i));
      for (int j = 0; j < T; ++j) acc0[r][j] = hn::MulAdd(w0, x0[j], acc0[r][j]);
    }
  }
  for (int r = 0; r < R; ++r) {
    for (int j = 0; j < T; ++j) {
      const float* xj = x + j * cols;
      float sum = hn::GetLane(hn::SumOfLanes(df, hn::Add(acc0[r][j], acc1[r][j])));
      for (int64_t k = i; k < cols; ++k) sum += scalar(advance(w, r * cols + k)) * xj[k];
      out[j * out_stride + r] = sum;
    }
  }
}

// Tiles of the multi-token kernel: rows x tokens whose two accumulators each, the tile's
// activations and a weight pair fit the vector registers (16 on AVX2, 32 on AVX-512). Two
// rows by several tokens rather than the reverse: bf16/f16 widening is then shared widely.
constexpr int kMultiRows = 2;
constexpr int kTokenTile = HWY_TARGET <= HWY_AVX3 ? 4 : 2;

// Groups of rows outside, tokens inside: each group is read from memory once (by its first
// token tile) and each weight vector widened once per tile. One token keeps the grouping the
// decode step was tuned with: short rows 8 at a time, long ones 4, so that a group stays
// within about 10 KB of L1.
template <class Row>
void RowsAll(Row w, int64_t cols, int64_t n_rows, const float* x, int n_tokens, float* y, int64_t y_stride) {
  const int64_t row_bytes = cols * kElementBytes<Row>;
  if (n_tokens == 1) {
    const RowGrouping g = row_grouping(row_bytes);
    for_row_groups(n_rows, g.rows, [&](auto group, int64_t r0) {
      constexpr int kRows = decltype(group)::value;
      Rows<kRows, 1, true>(advance(w, r0 * cols), cols, x, g.ahead, y + r0, y_stride);
    });
    return;
  }
  const int64_t group_bytes = kMultiRows * row_bytes;
  const int64_t ahead = (8192 + group_bytes - 1) / group_bytes * group_bytes;
  for_fixed_row_groups<kMultiRows>(n_rows, [&](auto group, int64_t r0) {
    constexpr int kRows = decltype(group)::value;
    for_token_tiles<kTokenTile>(n_tokens, [&](auto tile, int t0) {
      constexpr int kTokens = decltype(tile)::value;
      float* out = y + t0 * y_stride + r0;
      if (t0 == 0) Rows<kRows, kTokens, true>(advance(w, r0 * cols), cols, x + t0 * cols, ahead, out, y_stride);
      else Rows<kRows, kTokens, false>(advance(w, r0 * cols), cols, x + t0 * cols, ahead, out, y_stride);
    });
  });
}

void FloatDotRows(WeightType type, const void* w, int64_t cols, int64_t n_rows, const float* x, int n_tokens,
                  float* y, int64_t y_stride) {
  switch (type) {
    case WeightType::F32: RowsAll(static_cast<const float*>(w), cols, n_rows, x, n_tokens, y, y_stride); return;
    case WeightType::BF16:
      RowsAll(Bf16Row{static_cast<const uint16_t*>(w)}, cols, n_rows, x, n_tokens, y, y_stride);
      return;
    case WeightType::F16:
      RowsAll(F16Row{static_cast<const uint16_t*>(w)}, cols, n_rows, x, n_tokens, y, y_stride);
      return;
    default: return;
  }
}

}  // namespace smol::detail::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace smol::detail {
HWY_EXPORT(FloatDotRows);

void float_dot_rows(WeightType type, const void* w, int64_t cols, int64_t n_rows, const float* x, int n_tokens,
                    float* y, int64_t y_stride) {
  HWY_DYNAMIC_DISPATCH(FloatDotRows)(type, w, cols, n_rows, x, n_tokens, y, y_stride);
}
}  // namespace smol::detail
#endif
