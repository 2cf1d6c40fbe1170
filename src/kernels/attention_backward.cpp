// One query row of an attention head's backward pass, for training: the row's output
// gradient and query stay in registers across all its keys, and the query gradient is
// accumulated there too, so each key costs a few vector loads and stores of its rows instead
// of four separate calls (the scalar loops were an eighth of a bf16 training step).
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/attention_backward.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"

#include "smol/kernels.hpp"

HWY_BEFORE_NAMESPACE();
namespace smol::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

using DF = hn::ScalableTag<float>;
using VF = hn::Vec<DF>;

constexpr int kMaxVectors = 16;

void ScalarRow(const AttentionRowGrads& a, int n_keys, int head_dim, int64_t stride, float scale) {
  float row_sum = 0;
  for (int j = 0; j < n_keys; ++j) {
    const float mj = a.mask ? a.mask[j] : 1.0f;
    const float pm = a.p[j] * mj;
    float s = 0;
    for (int i = 0; i < head_dim; ++i) {
      a.dv[j * stride + i] += pm * a.dout[i];
      s += a.dout[i] * a.v[j * stride + i];
    }
    a.dp[j] = s * mj;
    row_sum += a.p[j] * a.dp[j];
  }
  for (int i = 0; i < head_dim; ++i) a.dq[i] = 0;
  for (int j = 0; j < n_keys; ++j) {
    const float ds = a.p[j] * (a.dp[j] - row_sum) * scale;
    for (int i = 0; i < head_dim; ++i) {
      a.dq[i] += ds * a.k[j * stride + i];
      a.dk[j * stride + i] += ds * a.q[i];
    }
  }
}

void AttentionBackwardRow(const AttentionRowGrads& a, int n_keys, int head_dim, int64_t stride, float scale) {
  const DF df;
  const int n = static_cast<int>(hn::Lanes(df));
  const int nv = head_dim / n;
  if (head_dim % n != 0 || nv > kMaxVectors) {
    ScalarRow(a, n_keys, head_dim, stride, scale);
    return;
  }
  VF dout[kMaxVectors], q[kMaxVectors], dq[kMaxVectors];
  for (int i = 0; i < nv; ++i) {
    dout[i] = hn::LoadU(df, a.dout + i * n);
    q[i] = hn::LoadU(df, a.q + i * n);
    dq[i] = hn::Zero(df);
  }
  float row_sum = 0;
  for (int j = 0; j < n_keys; ++j) {
    const float mj = a.mask ? a.mask[j] : 1.0f;
    const VF pm = hn::Set(df, a.p[j] * mj);
    const float* vj = a.v + j * stride;
    float* dvj = a.dv + j * stride;
    VF acc = hn::Zero(df);
    for (int i = 0; i < nv; ++i) {
      acc = hn::MulAdd(dout[i], hn::LoadU(df, vj + i * n), acc);
      hn::StoreU(hn::MulAdd(pm, dout[i], hn::LoadU(df, dvj + i * n)), df, dvj + i * n);
    }
    a.dp[j] = hn::GetLane(hn::SumOfLanes(df, acc)) * mj;
    row_sum += a.p[j] * a.dp[j];
  }
  for (int j = 0; j < n_keys; ++j) {
    const VF ds = hn::Set(df, a.p[j] * (a.dp[j] - row_sum) * scale);
    const float* kj = a.k + j * stride;
    float* dkj = a.dk + j * stride;
    for (int i = 0; i < nv; ++i) {
      dq[i] = hn::MulAdd(ds, hn::LoadU(df, kj + i * n), dq[i]);
      hn::StoreU(hn::MulAdd(ds, q[i], hn::LoadU(df, dkj + i * n)), df, dkj + i * n);
    }
  }
  for (int i = 0; i < nv; ++i) hn::StoreU(dq[i], df, a.dq + i * n);
}

}  // namespace smol::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace smol {
HWY_EXPORT(AttentionBackwardRow);

void attention_backward_row(const AttentionRowGrads& a, int n_keys, int head_dim, int64_t stride, float scale) {
  HWY_DYNAMIC_DISPATCH(AttentionBackwardRow)(a, n_keys, head_dim, stride, scale);
}
}  // namespace smol
#endif
