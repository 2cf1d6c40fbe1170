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

// out[r] = row r . x for R rows `cols` apart, two accumulators per row. Each row's stream is
// prefetched `ahead` bytes on, one prefetch per cache line: the hardware prefetcher alone keeps
// too few misses in flight for one core to reach memory bandwidth.
template <int R, class Row>
HWY_INLINE void Rows(Row w, int64_t cols, const float* x, int64_t ahead, float* out) {
  const DF df;
  const int64_t n = static_cast<int64_t>(hn::Lanes(df));
  const int64_t step_bytes = 2 * n * kElementBytes<Row>;
  VF acc0[R], acc1[R];
  HWY_UNROLL(8)
  for (int r = 0; r < R; ++r) acc0[r] = acc1[r] = hn::Zero(df);
  int64_t i = 0;
  for (; i + 2 * n <= cols; i += 2 * n) {
    const VF x0 = hn::LoadU(df, x + i), x1 = hn::LoadU(df, x + i + n);
    HWY_UNROLL(8)
    for (int r = 0; r < R; ++r) {
      const char* line = address(advance(w, r * cols + i)) + ahead;
      for (int64_t b = 0; b < step_bytes; b += 64) hwy::Prefetch(line + b);
      acc0[r] = hn::MulAdd(Widen(df, advance(w, r * cols + i)), x0, acc0[r]);
      acc1[r] = hn::MulAdd(Widen(df, advance(w, r * cols + i + n)), x1, acc1[r]);
    }
  }
  for (; i + n <= cols; i += n) {
    const VF x0 = hn::LoadU(df, x + i);
    HWY_UNROLL(8)
    for (int r = 0; r < R; ++r) acc0[r] = hn::MulAdd(Widen(df, advance(w, r * cols + i)), x0, acc0[r]);
  }
  for (int r = 0; r < R; ++r) {
    float sum = hn::GetLane(hn::SumOfLanes(df, hn::Add(acc0[r], acc1[r])));
    for (int64_t k = i; k < cols; ++k) sum += scalar(advance(w, r * cols + k)) * x[k];
    out[r] = sum;
  }
}

// Groups of rows outside, tokens inside: with a few tokens each group is read from memory
// once and then hits L1. Short rows go 8 at a time, long ones 4, so that a group stays within
// about 10 KB of L1.
template <class Row>
void RowsAll(Row w, int64_t cols, int64_t n_rows, const float* x, int n_tokens, float* y, int64_t y_stride) {
  const int64_t row_bytes = cols * kElementBytes<Row>;
  const RowGrouping g = row_grouping(row_bytes);
  for_row_groups(n_rows, g.rows, [&](auto group, int64_t r0) {
    constexpr int kRows = decltype(group)::value;
    for (int t = 0; t < n_tokens; ++t) {
      Rows<kRows>(advance(w, r0 * cols), cols, x + t * cols, g.ahead, y + t * y_stride + r0);
    }
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
