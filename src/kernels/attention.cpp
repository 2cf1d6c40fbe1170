// One attention head over a float32 KV cache (the decode path): scores, softmax, then the
// weighted sum of values accumulated in registers, a few vectors of the head at a time.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/attention.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"

#include "smol/kernels.hpp"

HWY_BEFORE_NAMESPACE();
namespace smol::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

void AttentionHead(const float* q, const float* keys, const float* values, size_t stride, int n_keys, int head_dim,
                   float scale, float* scores, float* out) {
  const hn::ScalableTag<float> df;
  const int n = static_cast<int>(hn::Lanes(df));
  const int vec_dims = head_dim / n * n;
  for (int j = 0; j < n_keys; ++j) {
    const float* k = keys + j * stride;
    auto acc0 = hn::Zero(df), acc1 = hn::Zero(df);
    int d = 0;
    for (; d + 2 * n <= head_dim; d += 2 * n) {
      acc0 = hn::MulAdd(hn::LoadU(df, q + d), hn::LoadU(df, k + d), acc0);
      acc1 = hn::MulAdd(hn::LoadU(df, q + d + n), hn::LoadU(df, k + d + n), acc1);
    }
    for (; d + n <= head_dim; d += n) acc0 = hn::MulAdd(hn::LoadU(df, q + d), hn::LoadU(df, k + d), acc0);
    float s = hn::GetLane(hn::SumOfLanes(df, hn::Add(acc0, acc1)));
    for (; d < head_dim; ++d) s += q[d] * k[d];
    scores[j] = s * scale;
  }
  softmax(scores, n_keys);
  // Four vectors of the output stay in registers across all keys.
  for (int d0 = 0; d0 < vec_dims; d0 += 4 * n) {
    const int blocks = (vec_dims - d0) / n < 4 ? (vec_dims - d0) / n : 4;
    auto o0 = hn::Zero(df), o1 = hn::Zero(df), o2 = hn::Zero(df), o3 = hn::Zero(df);
    for (int j = 0; j < n_keys; ++j) {
      const float* v = values + j * stride + d0;
      const auto p = hn::Set(df, scores[j]);
      o0 = hn::MulAdd(p, hn::LoadU(df, v), o0);
      if (blocks > 1) o1 = hn::MulAdd(p, hn::LoadU(df, v + n), o1);
      if (blocks > 2) o2 = hn::MulAdd(p, hn::LoadU(df, v + 2 * n), o2);
      if (blocks > 3) o3 = hn::MulAdd(p, hn::LoadU(df, v + 3 * n), o3);
    }
    hn::StoreU(o0, df, out + d0);
    if (blocks > 1) hn::StoreU(o1, df, out + d0 + n);
    if (blocks > 2) hn::StoreU(o2, df, out + d0 + 2 * n);
    if (blocks > 3) hn::StoreU(o3, df, out + d0 + 3 * n);
  }
  for (int d = vec_dims; d < head_dim; ++d) {
    float s = 0.0f;
    for (int j = 0; j < n_keys; ++j) s += scores[j] * values[j * stride + d];
    out[d] = s;
  }
}

}  // namespace smol::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace smol {
HWY_EXPORT(AttentionHead);

void attention_head(const float* q, const float* keys, const float* values, size_t stride, int n_keys, int head_dim,
                    float scale, float* scores, float* out) {
  HWY_DYNAMIC_DISPATCH(AttentionHead)(q, keys, values, stride, n_keys, head_dim, scale, scores, out);
}
}  // namespace smol
#endif
