// One attention head over a float32 KV cache: scores, softmax, weighted sum of values.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/attention.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"

#include "smol/kernels.hpp"

HWY_BEFORE_NAMESPACE();
namespace smol::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// out[0..n) += p * v[0..n)
void Axpy(float p, const float* v, float* out, int n) {
  const hn::ScalableTag<float> df;
  const int lanes = static_cast<int>(hn::Lanes(df));
  const auto pv = hn::Set(df, p);
  int i = 0;
  for (; i + lanes <= n; i += lanes) hn::StoreU(hn::MulAdd(pv, hn::LoadU(df, v + i), hn::LoadU(df, out + i)), df, out + i);
  for (; i < n; ++i) out[i] += p * v[i];
}

}  // namespace smol::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace smol {
HWY_EXPORT(Axpy);

void attention_head(const float* q, const float* keys, const float* values, size_t stride, int n_keys, int head_dim,
                    float scale, float* scores, float* out) {
  for (int j = 0; j < n_keys; ++j) scores[j] = dot_f32(q, keys + j * stride, head_dim) * scale;
  softmax(scores, n_keys);
  for (int d = 0; d < head_dim; ++d) out[d] = 0.0f;
  const auto axpy = HWY_DYNAMIC_DISPATCH(Axpy);
  for (int j = 0; j < n_keys; ++j) axpy(scores[j], values + j * stride, out, head_dim);
}
}  // namespace smol
#endif
