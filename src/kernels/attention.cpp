// One attention head over a KV cache (the decode path): scores, softmax, then the weighted
// sum of values accumulated in registers, a few vectors of the head at a time. Keys and
// values are read in their stored type (F32, F16, BF16 or Q8_0) and widened in registers, so
// a smaller cache is also less memory to stream per token.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/attention.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"

#include <fmt/format.h>

#include "kernels/matmul_internal.hpp"
#include "kernels/widen-inl.hpp"
#include "smol/error.hpp"
#include "smol/half.hpp"
#include "smol/kernels.hpp"
#include "smol/quant.hpp"

HWY_BEFORE_NAMESPACE();
namespace smol::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Readers of one head's cached rows. Load(d, j, e): Lanes(d) elements from element e of
// position j as float32, still to be multiplied by Scale(d, j, e) where kScaled (the Q8_0
// block scale). Get(j, e): one element fully decoded, for dims past the last whole vector.
struct F32Rows {
  static constexpr bool kScaled = false;
  const float* p;
  size_t stride;
  template <class D>
  hn::Vec<D> Load(D d, size_t j, int e) const { return hn::LoadU(d, p + j * stride + e); }
  float Get(size_t j, int e) const { return p[j * stride + e]; }
};

template <Half H>
struct HalfRows {
  static constexpr bool kScaled = false;
  const uint16_t* p;
  size_t stride;
  template <class D>
  hn::Vec<D> Load(D d, size_t j, int e) const { return LoadWiden<H>(d, p + j * stride + e); }
  float Get(size_t j, int e) const { return WidenOne<H>(p[j * stride + e]); }
};
using F16Rows = HalfRows<Half::F16>;
using BF16Rows = HalfRows<Half::BF16>;

// Q8_0: `offset` is the head's first element within a position's row of `row_blocks` blocks.
// Load needs the Lanes(d) elements to lie in one block (see the caller's `vectors`).
struct Q8Rows {
  static constexpr bool kScaled = true;
  const BlockQ8_0* blocks;
  size_t row_blocks;
  size_t offset;
  const BlockQ8_0& Block(size_t j, int e) const { return blocks[j * row_blocks + (offset + e) / 32]; }
  template <class D>
  hn::Vec<D> Load(D d, size_t j, int e) const {
    const hn::Rebind<int8_t, D> d8;
    const hn::Rebind<int32_t, D> d32;
    return hn::ConvertTo(d, hn::PromoteTo(d32, hn::LoadU(d8, Block(j, e).qs + (offset + e) % 32)));
  }
  // The block's f16 scale, broadcast and widened in registers (no branches).
  template <class D>
  hn::Vec<D> Scale(D d, size_t j, int e) const {
    const hn::Rebind<uint16_t, D> du16;
    const hn::Rebind<hwy::float16_t, D> dh;
    return hn::PromoteTo(d, hn::BitCast(dh, hn::Set(du16, Block(j, e).d)));
  }
  float Get(size_t j, int e) const {
    return f16_to_f32(Block(j, e).d) * static_cast<float>(Block(j, e).qs[(offset + e) % 32]);
  }
};

// `vectors` false keeps every dim on the scalar path (a Q8_0 head whose vectors would
// straddle blocks).
template <class Rows>
void Attend(const float* q, const Rows& keys, const Rows& values, int n_keys, int head_dim, bool vectors, float scale,
            float* scores, float* out) {
  const hn::ScalableTag<float> df;
  const int n = static_cast<int>(hn::Lanes(df));
  const int limit = vectors ? head_dim : 0;
  const int vec_dims = limit / n * n;
  auto query = [&](size_t j, int d) {
    if constexpr (Rows::kScaled) {
      return hn::Mul(hn::LoadU(df, q + d), keys.Scale(df, j, d));
    } else {
      return hn::LoadU(df, q + d);
    }
  };
  for (int j = 0; j < n_keys; ++j) {
    auto acc0 = hn::Zero(df), acc1 = hn::Zero(df);
    int d = 0;
    for (; d + 2 * n <= limit; d += 2 * n) {
      acc0 = hn::MulAdd(query(j, d), keys.Load(df, j, d), acc0);
      acc1 = hn::MulAdd(query(j, d + n), keys.Load(df, j, d + n), acc1);
    }
    for (; d + n <= limit; d += n) acc0 = hn::MulAdd(query(j, d), keys.Load(df, j, d), acc0);
    float s = hn::GetLane(hn::SumOfLanes(df, hn::Add(acc0, acc1)));
    for (; d < head_dim; ++d) s += q[d] * keys.Get(j, d);
    scores[j] = s * scale;
  }
  softmax(scores, n_keys);
  // Four vectors of the output stay in registers across all keys.
  auto weight = [&](size_t j, int d) {
    if constexpr (Rows::kScaled) {
      return hn::Mul(hn::Set(df, scores[j]), values.Scale(df, j, d));
    } else {
      return hn::Set(df, scores[j]);
    }
  };
  for (int d0 = 0; d0 < vec_dims; d0 += 4 * n) {
    const int blocks = (vec_dims - d0) / n < 4 ? (vec_dims - d0) / n : 4;
    auto o0 = hn::Zero(df), o1 = hn::Zero(df), o2 = hn::Zero(df), o3 = hn::Zero(df);
    for (int j = 0; j < n_keys; ++j) {
      if constexpr (Rows::kScaled) {
        o0 = hn::MulAdd(weight(j, d0), values.Load(df, j, d0), o0);
        if (blocks > 1) o1 = hn::MulAdd(weight(j, d0 + n), values.Load(df, j, d0 + n), o1);
        if (blocks > 2) o2 = hn::MulAdd(weight(j, d0 + 2 * n), values.Load(df, j, d0 + 2 * n), o2);
        if (blocks > 3) o3 = hn::MulAdd(weight(j, d0 + 3 * n), values.Load(df, j, d0 + 3 * n), o3);
      } else {
        const auto p = weight(j, d0);
        o0 = hn::MulAdd(p, values.Load(df, j, d0), o0);
        if (blocks > 1) o1 = hn::MulAdd(p, values.Load(df, j, d0 + n), o1);
        if (blocks > 2) o2 = hn::MulAdd(p, values.Load(df, j, d0 + 2 * n), o2);
        if (blocks > 3) o3 = hn::MulAdd(p, values.Load(df, j, d0 + 3 * n), o3);
      }
    }
    hn::StoreU(o0, df, out + d0);
    if (blocks > 1) hn::StoreU(o1, df, out + d0 + n);
    if (blocks > 2) hn::StoreU(o2, df, out + d0 + 2 * n);
    if (blocks > 3) hn::StoreU(o3, df, out + d0 + 3 * n);
  }
  for (int d = vec_dims; d < head_dim; ++d) {
    float s = 0.0f;
    for (int j = 0; j < n_keys; ++j) s += scores[j] * values.Get(j, d);
    out[d] = s;
  }
}

// Attend for Q queries of one head at once (a batch's tokens): query i at q + i * q_stride
// sees keys 0 .. n_keys[i] - 1 (nondecreasing in i), its scores at scores + i *
// scores_stride (which must hold n_keys[Q - 1]) and its output at out + i * out_stride. Each
// key's and value's loads serve all Q queries, and every query gets Attend's instructions for
// it alone in the same order (its own accumulators, keys in order), so its bits do not depend
// on the others. Scores past a query's own keys are computed and ignored (fewer branches).
template <int Q, class Rows>
void AttendQueries(const float* q, size_t q_stride, const int* n_keys, const Rows& keys, const Rows& values,
                   int head_dim, bool vectors, float scale, float* scores, size_t scores_stride, float* out,
                   size_t out_stride) {
  const hn::ScalableTag<float> df;
  using V = hn::Vec<decltype(df)>;
  const int n = static_cast<int>(hn::Lanes(df));
  const int limit = vectors ? head_dim : 0;
  const int vec_dims = limit / n * n;
  auto query = [&](int i, size_t j, int d) {
    if constexpr (Rows::kScaled) {
      return hn::Mul(hn::LoadU(df, q + i * q_stride + d), keys.Scale(df, j, d));
    } else {
      return hn::LoadU(df, q + i * q_stride + d);
    }
  };
  const int all_keys = n_keys[Q - 1];
  for (int j = 0; j < all_keys; ++j) {
    V acc0[Q], acc1[Q];
    for (int i = 0; i < Q; ++i) acc0[i] = acc1[i] = hn::Zero(df);
    int d = 0;
    for (; d + 2 * n <= limit; d += 2 * n) {
      const V k0 = keys.Load(df, j, d), k1 = keys.Load(df, j, d + n);
      for (int i = 0; i < Q; ++i) {
        acc0[i] = hn::MulAdd(query(i, j, d), k0, acc0[i]);
        acc1[i] = hn::MulAdd(query(i, j, d + n), k1, acc1[i]);
      }
    }
    for (; d + n <= limit; d += n) {
      const V k0 = keys.Load(df, j, d);
      for (int i = 0; i < Q; ++i) acc0[i] = hn::MulAdd(query(i, j, d), k0, acc0[i]);
    }
    for (int i = 0; i < Q; ++i) {
      const float* qi = q + i * q_stride;
      float s = hn::GetLane(hn::SumOfLanes(df, hn::Add(acc0[i], acc1[i])));
      for (int e = d; e < head_dim; ++e) s += qi[e] * keys.Get(j, e);
      scores[i * scores_stride + j] = s * scale;
    }
  }
  for (int i = 0; i < Q; ++i) softmax(scores + i * scores_stride, n_keys[i]);
  // Four vectors of each query's output stay in registers across the keys: first the keys
  // every query sees, then the few that only the later ones see.
  auto weight = [&](int i, size_t j, int d) {
    if constexpr (Rows::kScaled) {
      return hn::Mul(hn::Set(df, scores[i * scores_stride + j]), values.Scale(df, j, d));
    } else {
      return hn::Set(df, scores[i * scores_stride + j]);
    }
  };
  for (int d0 = 0; d0 < vec_dims; d0 += 4 * n) {
    const int blocks = (vec_dims - d0) / n < 4 ? (vec_dims - d0) / n : 4;
    V o[Q][4];
    for (int i = 0; i < Q; ++i) {
      for (int b = 0; b < 4; ++b) o[i][b] = hn::Zero(df);
    }
    auto add_key = [&](int j, int first_query) {
      V v[4];
      for (int b = 0; b < 4; ++b) v[b] = b < blocks ? values.Load(df, j, d0 + b * n) : hn::Zero(df);
      for (int i = 0; i < Q; ++i) {
        if (i < first_query) continue;
        if constexpr (Rows::kScaled) {
          for (int b = 0; b < 4; ++b) {
            if (b < blocks) o[i][b] = hn::MulAdd(weight(i, j, d0 + b * n), v[b], o[i][b]);
          }
        } else {
          const V p = weight(i, j, d0);
          for (int b = 0; b < 4; ++b) {
            if (b < blocks) o[i][b] = hn::MulAdd(p, v[b], o[i][b]);
          }
        }
      }
    };
    for (int j = 0; j < n_keys[0]; ++j) add_key(j, 0);
    int first = 0;
    for (int j = n_keys[0]; j < all_keys; ++j) {
      while (n_keys[first] <= j) ++first;
      add_key(j, first);
    }
    for (int i = 0; i < Q; ++i) {
      for (int b = 0; b < blocks; ++b) hn::StoreU(o[i][b], df, out + i * out_stride + d0 + b * n);
    }
  }
  for (int i = 0; i < Q; ++i) {
    const float* si = scores + i * scores_stride;
    for (int d = vec_dims; d < head_dim; ++d) {
      float s = 0.0f;
      for (int j = 0; j < n_keys[i]; ++j) s += si[j] * values.Get(j, d);
      out[i * out_stride + d] = s;
    }
  }
}

// The queries in groups of up to 4 (AttendQueries keeps 4 x 4 output vectors in registers); a
// lone query is Attend itself.
template <class Rows>
void AttendAll(const detail::HeadQueries& h, const Rows& keys, const Rows& values, bool vectors) {
  int i = 0;
  auto group = [&](auto count) {
    constexpr int kQ = decltype(count)::value;
    AttendQueries<kQ>(h.q + i * h.q_stride, h.q_stride, h.n_keys + i, keys, values, h.head_dim, vectors, h.scale,
                      h.scores + i * h.scores_stride, h.scores_stride, h.out + i * h.out_stride, h.out_stride);
    i += kQ;
  };
  while (h.n_queries - i >= 4) group(std::integral_constant<int, 4>());
  if (h.n_queries - i == 3) group(std::integral_constant<int, 3>());
  if (h.n_queries - i == 2) group(std::integral_constant<int, 2>());
  if (h.n_queries - i == 1) {
    Attend(h.q + i * h.q_stride, keys, values, h.n_keys[i], h.head_dim, vectors, h.scale, h.scores + i * h.scores_stride,
           h.out + i * h.out_stride);
  }
}

void AttentionHead(const float* q, const float* keys, const float* values, size_t stride, int n_keys, int head_dim,
                   float scale, float* scores, float* out) {
  Attend(q, F32Rows{keys, stride}, F32Rows{values, stride}, n_keys, head_dim, true, scale, scores, out);
}

// Keys and values share one type (checked by the caller).
void AttentionHeadKv(const float* q, const KvView& keys, const KvView& values, size_t offset, int n_keys, int head_dim,
                     float scale, float* scores, float* out) {
  switch (keys.type) {
    case WeightType::F32: {
      const F32Rows k{static_cast<const float*>(keys.data) + offset, keys.stride};
      const F32Rows v{static_cast<const float*>(values.data) + offset, values.stride};
      Attend(q, k, v, n_keys, head_dim, true, scale, scores, out);
      return;
    }
    case WeightType::F16: {
      const F16Rows k{static_cast<const uint16_t*>(keys.data) + offset, keys.stride};
      const F16Rows v{static_cast<const uint16_t*>(values.data) + offset, values.stride};
      Attend(q, k, v, n_keys, head_dim, true, scale, scores, out);
      return;
    }
    case WeightType::BF16: {
      const BF16Rows k{static_cast<const uint16_t*>(keys.data) + offset, keys.stride};
      const BF16Rows v{static_cast<const uint16_t*>(values.data) + offset, values.stride};
      Attend(q, k, v, n_keys, head_dim, true, scale, scores, out);
      return;
    }
    default: {  // Q8_0
      const size_t lanes = hn::Lanes(hn::ScalableTag<float>());
      const Q8Rows k{static_cast<const BlockQ8_0*>(keys.data), keys.stride / 32, offset};
      const Q8Rows v{static_cast<const BlockQ8_0*>(values.data), values.stride / 32, offset};
      const bool vectors = 32 % lanes == 0 && offset % lanes == 0;
      Attend(q, k, v, n_keys, head_dim, vectors, scale, scores, out);
      return;
    }
  }
}

// AttendQueries over a cache of any KvView type (keys and values of one type, checked by the
// caller; offset is the head's first element within a position).
void AttentionHeadQueries(const detail::HeadQueries& h, const KvView& keys, const KvView& values, size_t offset) {
  auto run = [&](const auto& k, const auto& v, bool vectors) { AttendAll(h, k, v, vectors); };
  switch (keys.type) {
    case WeightType::F32:
      run(F32Rows{static_cast<const float*>(keys.data) + offset, keys.stride},
          F32Rows{static_cast<const float*>(values.data) + offset, values.stride}, true);
      return;
    case WeightType::F16:
      run(F16Rows{static_cast<const uint16_t*>(keys.data) + offset, keys.stride},
          F16Rows{static_cast<const uint16_t*>(values.data) + offset, values.stride}, true);
      return;
    case WeightType::BF16:
      run(BF16Rows{static_cast<const uint16_t*>(keys.data) + offset, keys.stride},
          BF16Rows{static_cast<const uint16_t*>(values.data) + offset, values.stride}, true);
      return;
    default: {  // Q8_0
      const size_t lanes = hn::Lanes(hn::ScalableTag<float>());
      run(Q8Rows{static_cast<const BlockQ8_0*>(keys.data), keys.stride / 32, offset},
          Q8Rows{static_cast<const BlockQ8_0*>(values.data), values.stride / 32, offset},
          32 % lanes == 0 && offset % lanes == 0);
      return;
    }
  }
}

}  // namespace smol::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace smol {
HWY_EXPORT(AttentionHead);
HWY_EXPORT(AttentionHeadKv);
HWY_EXPORT(AttentionHeadQueries);

void detail::attention_head_queries(const HeadQueries& h, const KvView& keys, const KvView& values, size_t offset) {
  HWY_DYNAMIC_DISPATCH(AttentionHeadQueries)(h, keys, values, offset);
}

void attention_head(const float* q, const float* keys, const float* values, size_t stride, int n_keys, int head_dim,
                    float scale, float* scores, float* out) {
  HWY_DYNAMIC_DISPATCH(AttentionHead)(q, keys, values, stride, n_keys, head_dim, scale, scores, out);
}

void attention_head(const float* q, const KvView& keys, const KvView& values, size_t offset, int n_keys, int head_dim,
                    float scale, float* scores, float* out) {
  if (keys.type != values.type) throw Error("attention_head: keys and values must be stored in the same type");
  const WeightType t = keys.type;
  if (t != WeightType::F32 && t != WeightType::F16 && t != WeightType::BF16 && t != WeightType::Q8_0) {
    throw Error(fmt::format("attention_head: a KV cache cannot be {} (use F32, F16, BF16 or Q8_0)",
                            weight_type_name(t)));
  }
  if (t == WeightType::Q8_0 && (keys.stride % 32 != 0 || values.stride % 32 != 0)) {
    throw Error("attention_head: a Q8_0 KV cache needs a stride that is a multiple of 32");
  }
  HWY_DYNAMIC_DISPATCH(AttentionHeadKv)(q, keys, values, offset, n_keys, head_dim, scale, scores, out);
}
}  // namespace smol
#endif
