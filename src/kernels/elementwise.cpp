// Norms, RoPE, softmax and SiLU with run-time SIMD dispatch. Prefill calls exp() tens of
// millions of times (SiLU over every FFN activation, softmax over every attention score),
// so the vector exp of Highway (1 ulp) replaces std::exp.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/elementwise.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "hwy/contrib/math/math-inl.h"

#include <algorithm>
#include <cmath>

#include "smol/kernels.hpp"

HWY_BEFORE_NAMESPACE();
namespace smol::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

using DF = hn::ScalableTag<float>;

void RmsNorm(const float* x, const float* weight, float eps, int dim, float* y) {
  const DF df;
  const int n = static_cast<int>(hn::Lanes(df));
  auto acc0 = hn::Zero(df), acc1 = hn::Zero(df);
  int i = 0;
  for (; i + 2 * n <= dim; i += 2 * n) {
    const auto a = hn::LoadU(df, x + i), b = hn::LoadU(df, x + i + n);
    acc0 = hn::MulAdd(a, a, acc0);
    acc1 = hn::MulAdd(b, b, acc1);
  }
  float sum_sq = hn::GetLane(hn::SumOfLanes(df, hn::Add(acc0, acc1)));
  for (; i < dim; ++i) sum_sq += x[i] * x[i];
  const float scale = 1.0f / std::sqrt(sum_sq / static_cast<float>(dim) + eps);
  const auto vs = hn::Set(df, scale);
  i = 0;
  for (; i + n <= dim; i += n) {
    hn::StoreU(hn::Mul(hn::Mul(hn::LoadU(df, x + i), vs), hn::LoadU(df, weight + i)), df, y + i);
  }
  for (; i < dim; ++i) y[i] = x[i] * scale * weight[i];
}

void RopeRotateHalf(float* vec, int n_heads, int head_dim, const float* cos, const float* sin) {
  const DF df;
  const int n = static_cast<int>(hn::Lanes(df));
  const int half = head_dim / 2;
  for (int h = 0; h < n_heads; ++h) {
    float* v = vec + h * head_dim;
    int i = 0;
    for (; i + n <= half; i += n) {
      const auto x1 = hn::LoadU(df, v + i), x2 = hn::LoadU(df, v + i + half);
      const auto c = hn::LoadU(df, cos + i), s = hn::LoadU(df, sin + i);
      hn::StoreU(hn::NegMulAdd(x2, s, hn::Mul(x1, c)), df, v + i);      // x1 c - x2 s
      hn::StoreU(hn::MulAdd(x1, s, hn::Mul(x2, c)), df, v + i + half);  // x2 c + x1 s
    }
    for (; i < half; ++i) {
      const float x1 = v[i], x2 = v[i + half];
      v[i] = x1 * cos[i] - x2 * sin[i];
      v[i + half] = x2 * cos[i] + x1 * sin[i];
    }
  }
}

float MaxValue(const float* x, int count) {
  const DF df;
  const int n = static_cast<int>(hn::Lanes(df));
  auto vmax = hn::Set(df, -INFINITY);
  int i = 0;
  for (; i + n <= count; i += n) vmax = hn::Max(vmax, hn::LoadU(df, x + i));
  float max_value = hn::GetLane(hn::MaxOfLanes(df, vmax));
  for (; i < count; ++i) max_value = std::max(max_value, x[i]);
  return max_value;
}

void Softmax(float* x, int count) {
  const DF df;
  const int n = static_cast<int>(hn::Lanes(df));
  const float max_value = MaxValue(x, count);
  const auto vm = hn::Set(df, max_value);
  auto vsum = hn::Zero(df);
  int i = 0;
  for (; i + n <= count; i += n) {
    const auto e = hn::Exp(df, hn::Sub(hn::LoadU(df, x + i), vm));
    hn::StoreU(e, df, x + i);
    vsum = hn::Add(vsum, e);
  }
  float sum = hn::GetLane(hn::SumOfLanes(df, vsum));
  for (; i < count; ++i) {
    x[i] = std::exp(x[i] - max_value);
    sum += x[i];
  }
  const float inv = 1.0f / sum;
  const auto vinv = hn::Set(df, inv);
  i = 0;
  for (; i + n <= count; i += n) hn::StoreU(hn::Mul(hn::LoadU(df, x + i), vinv), df, x + i);
  for (; i < count; ++i) x[i] *= inv;
}

double SumExpShifted(const float* x, int count, float shift) {
  const DF df;
  const int n = static_cast<int>(hn::Lanes(df));
  const auto vs = hn::Set(df, shift);
  // Float vectors over chunks short enough that their rounding stays near float epsilon, the
  // chunks summed in double.
  constexpr int kChunk = 1024;
  double sum = 0.0;
  int i = 0;
  while (i + n <= count) {
    const int end = std::min(count, i + kChunk);
    auto vsum = hn::Zero(df);
    for (; i + n <= end; i += n) vsum = hn::Add(vsum, hn::Exp(df, hn::Sub(hn::LoadU(df, x + i), vs)));
    sum += hn::GetLane(hn::SumOfLanes(df, vsum));
  }
  for (; i < count; ++i) sum += std::exp(static_cast<double>(x[i]) - shift);
  return sum;
}

void SiluMul(float* gate, const float* up, int count) {
  const DF df;
  const int n = static_cast<int>(hn::Lanes(df));
  const auto one = hn::Set(df, 1.0f);
  // exp(-g) overflows float past 88.7; silu is -0 there anyway.
  const auto limit = hn::Set(df, 88.0f);
  int i = 0;
  for (; i + n <= count; i += n) {
    const auto g = hn::LoadU(df, gate + i);
    const auto e = hn::Exp(df, hn::Min(hn::Neg(g), limit));
    hn::StoreU(hn::Mul(hn::Div(g, hn::Add(one, e)), hn::LoadU(df, up + i)), df, gate + i);
  }
  for (; i < count; ++i) {
    const float g = gate[i];
    gate[i] = g / (1.0f + std::exp(-g)) * up[i];
  }
}

SoftmaxStats SoftmaxWithStats(const float* x, float* p, int count) {
  const DF df;
  const int n = static_cast<int>(hn::Lanes(df));
  const float max_value = MaxValue(x, count);
  const auto vm = hn::Set(df, max_value);
  // Float vectors over chunks short enough that their rounding stays near float epsilon, the
  // chunks summed in double (as SumExpShifted).
  constexpr int kChunk = 1024;
  SoftmaxStats stats{max_value, 0.0, 0.0};
  int i = 0;
  while (i + n <= count) {
    const int end = std::min(count, i + kChunk);
    auto vexp = hn::Zero(df), vx = hn::Zero(df);
    for (; i + n <= end; i += n) {
      const auto shifted = hn::Sub(hn::LoadU(df, x + i), vm);
      const auto e = hn::Exp(df, shifted);
      hn::StoreU(e, df, p + i);
      vexp = hn::Add(vexp, e);
      vx = hn::Add(vx, shifted);
    }
    stats.sum_exp += hn::GetLane(hn::SumOfLanes(df, vexp));
    stats.sum_shifted += hn::GetLane(hn::SumOfLanes(df, vx));
  }
  for (; i < count; ++i) {  // x[i] is read before p[i] is written: p may be x
    const float shifted = x[i] - max_value;
    stats.sum_shifted += shifted;
    p[i] = std::exp(shifted);
    stats.sum_exp += p[i];
  }
  const auto vinv = hn::Set(df, static_cast<float>(1.0 / stats.sum_exp));
  i = 0;
  for (; i + n <= count; i += n) hn::StoreU(hn::Mul(hn::LoadU(df, p + i), vinv), df, p + i);
  for (; i < count; ++i) p[i] *= static_cast<float>(1.0 / stats.sum_exp);
  return stats;
}

// Separate multiplies and adds, no fused ones, also in the tail (one lane at a time, so that
// the compiler cannot contract scalar code): every element the same bits as a plain loop.
template <class D>
HWY_INLINE void AdamWLanes(D d, float* p, const float* g, float* m, float* v, const AdamWScalars& c) {
  const auto gi = hn::LoadU(d, g), pi = hn::LoadU(d, p);
  const auto mi = hn::Add(hn::Mul(hn::Set(d, c.beta1), hn::LoadU(d, m)), hn::Mul(hn::Set(d, 1.0f - c.beta1), gi));
  const auto vi =
      hn::Add(hn::Mul(hn::Set(d, c.beta2), hn::LoadU(d, v)), hn::Mul(hn::Mul(hn::Set(d, 1.0f - c.beta2), gi), gi));
  hn::StoreU(mi, d, m);
  hn::StoreU(vi, d, v);
  const auto denom = hn::Add(hn::Mul(hn::Sqrt(vi), hn::Set(d, c.inv_sqrt_bc2)), hn::Set(d, c.eps));
  const auto update = hn::Add(hn::Div(hn::Mul(mi, hn::Set(d, c.inv_bc1)), denom), hn::Mul(hn::Set(d, c.weight_decay), pi));
  hn::StoreU(hn::Sub(pi, hn::Mul(hn::Set(d, c.lr), update)), d, p);
}

void AdamWStep(float* p, const float* g, float* m, float* v, size_t count, const AdamWScalars& c) {
  const DF df;
  const size_t n = hn::Lanes(df);
  size_t i = 0;
  for (; i + n <= count; i += n) AdamWLanes(df, p + i, g + i, m + i, v + i, c);
  const hn::CappedTag<float, 1> d1;
  for (; i < count; ++i) AdamWLanes(d1, p + i, g + i, m + i, v + i, c);
}

}  // namespace smol::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace smol {
HWY_EXPORT(RmsNorm);
HWY_EXPORT(RopeRotateHalf);
HWY_EXPORT(Softmax);
HWY_EXPORT(SumExpShifted);
HWY_EXPORT(SiluMul);
HWY_EXPORT(SoftmaxWithStats);
HWY_EXPORT(AdamWStep);

void rms_norm(const float* x, const float* weight, float eps, int dim, float* y) {
  HWY_DYNAMIC_DISPATCH(RmsNorm)(x, weight, eps, dim, y);
}

void rope_rotate_half(float* vec, int n_heads, int head_dim, const float* cos, const float* sin) {
  HWY_DYNAMIC_DISPATCH(RopeRotateHalf)(vec, n_heads, head_dim, cos, sin);
}

void softmax(float* x, int n) { HWY_DYNAMIC_DISPATCH(Softmax)(x, n); }
double sum_exp_shifted(const float* x, int n, float shift) { return HWY_DYNAMIC_DISPATCH(SumExpShifted)(x, n, shift); }

void silu_mul(float* gate, const float* up, int n) { HWY_DYNAMIC_DISPATCH(SiluMul)(gate, up, n); }

void adamw_step(float* p, const float* g, float* m, float* v, size_t n, const AdamWScalars& c) {
  HWY_DYNAMIC_DISPATCH(AdamWStep)(p, g, m, v, n, c);
}

SoftmaxStats softmax_with_stats(const float* x, float* p, int n) {
  return HWY_DYNAMIC_DISPATCH(SoftmaxWithStats)(x, p, n);
}
}  // namespace smol
#endif
