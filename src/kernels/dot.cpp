// Dot products with run-time SIMD dispatch (Highway): AVX2/AVX-512 where present, SSE or
// scalar elsewhere. Two accumulators hide FMA latency on the short rows of small models.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/dot.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "kernels/widen-inl.hpp"
#include "smol/kernels.hpp"
#include "smol/half.hpp"

HWY_BEFORE_NAMESPACE();
namespace smol::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

float DotF32(const float* x, const float* w, size_t n) {
  const hn::ScalableTag<float> d;
  const size_t lanes = hn::Lanes(d);
  auto acc0 = hn::Zero(d), acc1 = hn::Zero(d);
  size_t i = 0;
  for (; i + 2 * lanes <= n; i += 2 * lanes) {
    acc0 = hn::MulAdd(hn::LoadU(d, x + i), hn::LoadU(d, w + i), acc0);
    acc1 = hn::MulAdd(hn::LoadU(d, x + i + lanes), hn::LoadU(d, w + i + lanes), acc1);
  }
  for (; i + lanes <= n; i += lanes) acc0 = hn::MulAdd(hn::LoadU(d, x + i), hn::LoadU(d, w + i), acc0);
  float sum = hn::GetLane(hn::SumOfLanes(d, hn::Add(acc0, acc1)));
  for (; i < n; ++i) sum += x[i] * w[i];
  return sum;
}

// x . w for 16-bit weights, widened in registers.
template <Half H>
float DotHalf(const float* x, const uint16_t* w, size_t n) {
  const hn::ScalableTag<float> d;
  const size_t lanes = hn::Lanes(d);
  auto widen = [&](size_t i) { return LoadWiden<H>(d, w + i); };
  auto acc0 = hn::Zero(d), acc1 = hn::Zero(d);
  size_t i = 0;
  for (; i + 2 * lanes <= n; i += 2 * lanes) {
    acc0 = hn::MulAdd(hn::LoadU(d, x + i), widen(i), acc0);
    acc1 = hn::MulAdd(hn::LoadU(d, x + i + lanes), widen(i + lanes), acc1);
  }
  for (; i + lanes <= n; i += lanes) acc0 = hn::MulAdd(hn::LoadU(d, x + i), widen(i), acc0);
  float sum = hn::GetLane(hn::SumOfLanes(d, hn::Add(acc0, acc1)));
  for (; i < n; ++i) sum += x[i] * WidenOne<H>(w[i]);
  return sum;
}

float DotBF16(const float* x, const uint16_t* w, size_t n) { return DotHalf<Half::BF16>(x, w, n); }
float DotF16(const float* x, const uint16_t* w, size_t n) { return DotHalf<Half::F16>(x, w, n); }

}  // namespace smol::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace smol {
HWY_EXPORT(DotF32);
HWY_EXPORT(DotBF16);
HWY_EXPORT(DotF16);

float dot_f32(const float* x, const float* w, size_t n) { return HWY_DYNAMIC_DISPATCH(DotF32)(x, w, n); }
float dot_bf16(const float* x, const uint16_t* w, size_t n) { return HWY_DYNAMIC_DISPATCH(DotBF16)(x, w, n); }
float dot_f16(const float* x, const uint16_t* w, size_t n) { return HWY_DYNAMIC_DISPATCH(DotF16)(x, w, n); }
}  // namespace smol
#endif
