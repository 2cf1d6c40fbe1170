// The plain-FFN activations over float32 arrays for training: forward out = f(x) and backward
// dx += dy * f'(x), with run-time SIMD dispatch. The FFN activation of a training step runs
// over rows x ffn elements twice (forward, backward), and the scalar libm exp/tanh behind a
// per-element switch was ~6% of an opus-mt-shaped bf16 step. SiLU and the tanh GELU use
// Highway's vector exp/tanh (1-2 ulp); ReLU is exact; the erf GELU keeps std::erf (Highway has
// no vector erf, and the erf form is what the BART configs name).
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/activation_grads.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "hwy/contrib/math/math-inl.h"

#include <cmath>

#include "smol/kernels.hpp"

HWY_BEFORE_NAMESPACE();
namespace smol::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

using DF = hn::ScalableTag<float>;

constexpr float kInvSqrt2 = 0.70710678118654752440f;
constexpr float kInvSqrt2Pi = 0.39894228040143267794f;
constexpr float kTanhC = 0.79788456080286535588f;  // sqrt(2/pi)

float gelu_erf(float x) { return 0.5f * x * (1.0f + std::erf(x * kInvSqrt2)); }
float gelu_erf_grad(float x) {
  return 0.5f * (1.0f + std::erf(x * kInvSqrt2)) + x * kInvSqrt2Pi * std::exp(-0.5f * x * x);
}

// sigmoid(x) = 1 / (1 + exp(-x)); exp(-x) is clamped below float's overflow, where sigmoid is 0.
template <class V>
V Sigmoid(DF df, V x) {
  const V e = hn::Exp(df, hn::Min(hn::Neg(x), hn::Set(df, 88.0f)));
  return hn::Div(hn::Set(df, 1.0f), hn::Add(hn::Set(df, 1.0f), e));
}

template <class V>
V TanhArg(DF df, V x) {  // sqrt(2/pi) * (x + 0.044715 x^3)
  const V x2 = hn::Mul(x, x);
  return hn::Mul(hn::Set(df, kTanhC), hn::MulAdd(hn::Mul(x2, x), hn::Set(df, 0.044715f), x));
}

void ActivationForward(Activation act, float* out, const float* in, size_t count) {
  const DF df;
  const size_t n = hn::Lanes(df);
  size_t i = 0;
  const auto half = hn::Set(df, 0.5f), one = hn::Set(df, 1.0f), zero = hn::Zero(df);
  switch (act) {
    case Activation::SiLU:
      for (; i + n <= count; i += n) {
        const auto x = hn::LoadU(df, in + i);
        hn::StoreU(hn::Mul(x, Sigmoid(df, x)), df, out + i);
      }
      for (; i < count; ++i) out[i] = in[i] / (1.0f + std::exp(-in[i]));
      return;
    case Activation::ReLU:
      for (; i + n <= count; i += n) hn::StoreU(hn::Max(hn::LoadU(df, in + i), zero), df, out + i);
      for (; i < count; ++i) out[i] = in[i] > 0.0f ? in[i] : 0.0f;
      return;
    case Activation::GELUTanh:
      for (; i + n <= count; i += n) {
        const auto x = hn::LoadU(df, in + i);
        const auto t = hn::Tanh(df, TanhArg(df, x));
        hn::StoreU(hn::Mul(hn::Mul(half, x), hn::Add(one, t)), df, out + i);
      }
      for (; i < count; ++i) {
        const float x = in[i];
        out[i] = 0.5f * x * (1.0f + std::tanh(kTanhC * (x + 0.044715f * x * x * x)));
      }
      return;
    case Activation::GELU:
      for (; i < count; ++i) out[i] = gelu_erf(in[i]);
      return;
  }
}

void ActivationBackward(Activation act, float* din, const float* dout, const float* in, size_t count) {
  const DF df;
  const size_t n = hn::Lanes(df);
  size_t i = 0;
  const auto half = hn::Set(df, 0.5f), one = hn::Set(df, 1.0f), zero = hn::Zero(df);
  switch (act) {
    case Activation::SiLU:
      // d/dx x*s(x) = s + x*s*(1-s)
      for (; i + n <= count; i += n) {
        const auto x = hn::LoadU(df, in + i);
        const auto s = Sigmoid(df, x);
        const auto d = hn::MulAdd(hn::Mul(x, s), hn::Sub(one, s), s);
        hn::StoreU(hn::MulAdd(hn::LoadU(df, dout + i), d, hn::LoadU(df, din + i)), df, din + i);
      }
      for (; i < count; ++i) {
        const float s = 1.0f / (1.0f + std::exp(-in[i]));
        din[i] += dout[i] * (s + in[i] * s * (1.0f - s));
      }
      return;
    case Activation::ReLU:
      for (; i + n <= count; i += n) {
        const auto x = hn::LoadU(df, in + i);
        const auto d = hn::IfThenElseZero(hn::Gt(x, zero), hn::LoadU(df, dout + i));
        hn::StoreU(hn::Add(hn::LoadU(df, din + i), d), df, din + i);
      }
      for (; i < count; ++i) din[i] += in[i] > 0.0f ? dout[i] : 0.0f;
      return;
    case Activation::GELUTanh:
      // 0.5 (1 + t) + 0.5 x (1 - t^2) c (1 + 3 * 0.044715 x^2)
      for (; i + n <= count; i += n) {
        const auto x = hn::LoadU(df, in + i);
        const auto t = hn::Tanh(df, TanhArg(df, x));
        const auto inner = hn::Mul(hn::Set(df, kTanhC), hn::MulAdd(hn::Mul(x, x), hn::Set(df, 3 * 0.044715f), one));
        const auto d = hn::MulAdd(hn::Mul(hn::Mul(half, x), hn::NegMulAdd(t, t, one)), inner,
                                  hn::Mul(half, hn::Add(one, t)));
        hn::StoreU(hn::MulAdd(hn::LoadU(df, dout + i), d, hn::LoadU(df, din + i)), df, din + i);
      }
      for (; i < count; ++i) {
        const float x = in[i];
        const float t = std::tanh(kTanhC * (x + 0.044715f * x * x * x));
        const float d = 0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * kTanhC * (1.0f + 3 * 0.044715f * x * x);
        din[i] += dout[i] * d;
      }
      return;
    case Activation::GELU:
      for (; i < count; ++i) din[i] += dout[i] * gelu_erf_grad(in[i]);
      return;
  }
}

}  // namespace smol::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace smol {

HWY_EXPORT(ActivationForward);
HWY_EXPORT(ActivationBackward);

void activation_forward_f32(Activation act, float* out, const float* in, size_t n) {
  HWY_DYNAMIC_DISPATCH(ActivationForward)(act, out, in, n);
}

void activation_backward_f32(Activation act, float* din, const float* dout, const float* in, size_t n) {
  HWY_DYNAMIC_DISPATCH(ActivationBackward)(act, din, dout, in, n);
}

}  // namespace smol
#endif
