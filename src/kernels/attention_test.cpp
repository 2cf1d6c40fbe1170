// causal_attention and shared_keys_attention (both the per-head and the tiled path) against a
// float64 reference, over float32 caches and over F16/BF16/Q8_0 caches.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <tuple>
#include <vector>

#include "test_support/kernel_data.hpp"
#include "smol/error.hpp"
#include "smol/kernels.hpp"
#include "smol/quant.hpp"
#include "smol/thread_pool.hpp"

namespace smol {
namespace {

struct Shape {
  int n_tokens, start_pos, n_heads, n_kv_heads, head_dim;
};

void PrintTo(const Shape& s, std::ostream* os) {
  *os << s.n_tokens << " tokens at " << s.start_pos << ", " << s.n_heads << "/" << s.n_kv_heads << " heads of "
      << s.head_dim;
}

// The arguments of causal_attention over a cache of `type` for shape sh, scale 1/sqrt(head_dim).
AttentionArgs args_for(const Shape& sh, const float* q, const void* keys, const void* values, WeightType type,
                       size_t kv_stride, float* out) {
  AttentionArgs a;
  a.q = q;
  a.keys = keys;
  a.values = values;
  a.kv_type = type;
  a.kv_stride = kv_stride;
  a.out = out;
  a.n_tokens = sh.n_tokens;
  a.start_pos = sh.start_pos;
  a.n_heads = sh.n_heads;
  a.n_kv_heads = sh.n_kv_heads;
  a.head_dim = sh.head_dim;
  a.scale = 1.0f / std::sqrt(static_cast<float>(sh.head_dim));
  return a;
}

// out[t][h] of causal GQA attention in float64, from the float32 keys/values given; with
// shared_keys > 0 every query sees keys 0 .. shared_keys - 1 instead.
std::vector<double> reference(const Shape& sh, const std::vector<float>& q, const std::vector<float>& k,
                              const std::vector<float>& v, size_t kv_stride, int shared_keys = 0) {
  const size_t row = static_cast<size_t>(sh.n_heads) * sh.head_dim;
  const double scale = 1.0f / std::sqrt(static_cast<float>(sh.head_dim));
  const int group = sh.n_heads / sh.n_kv_heads;
  std::vector<double> ref(sh.n_tokens * row);
  for (int t = 0; t < sh.n_tokens; ++t) {
    for (int h = 0; h < sh.n_heads; ++h) {
      const int visible = shared_keys > 0 ? shared_keys : sh.start_pos + t + 1;
      const size_t kv = static_cast<size_t>(h / group) * sh.head_dim;
      std::vector<double> p(visible);
      double m = -1e300, sum = 0;
      for (int j = 0; j < visible; ++j) {
        double s = 0;
        for (int d = 0; d < sh.head_dim; ++d) s += static_cast<double>(q[t * row + h * sh.head_dim + d]) * k[j * kv_stride + kv + d];
        p[j] = s * scale;
        m = std::max(m, p[j]);
      }
      for (double& x : p) sum += (x = std::exp(x - m));
      for (int d = 0; d < sh.head_dim; ++d) {
        double o = 0;
        for (int j = 0; j < visible; ++j) o += p[j] / sum * v[j * kv_stride + kv + d];
        ref[t * row + h * sh.head_dim + d] = o;
      }
    }
  }
  return ref;
}

class CausalAttention : public ::testing::TestWithParam<Shape> {};

TEST_P(CausalAttention, MatchesFloat64Reference) {
  const Shape sh = GetParam();
  const int n_keys = sh.start_pos + sh.n_tokens;
  const size_t row = static_cast<size_t>(sh.n_heads) * sh.head_dim;
  const size_t kv_stride = static_cast<size_t>(sh.n_kv_heads) * sh.head_dim + 3;  // padded rows
  const std::vector<float> q = testing::gaussian(sh.n_tokens * row, 1);
  const std::vector<float> k = testing::gaussian(n_keys * kv_stride, 2), v = testing::gaussian(n_keys * kv_stride, 3);
  const float scale = 1.0f / std::sqrt(static_cast<float>(sh.head_dim));

  const std::vector<double> ref = reference(sh, q, k, v, kv_stride);

  for (int threads : {1, 2, 3}) {
    ThreadPool pool(threads);
    std::vector<float> out(sh.n_tokens * row, NAN);
    AttentionArgs a;
    a.q = q.data();
    a.keys = k.data();
    a.values = v.data();
    a.kv_stride = kv_stride;
    a.out = out.data();
    a.n_tokens = sh.n_tokens;
    a.start_pos = sh.start_pos;
    a.n_heads = sh.n_heads;
    a.n_kv_heads = sh.n_kv_heads;
    a.head_dim = sh.head_dim;
    a.scale = scale;
    causal_attention(pool, a);
    for (size_t i = 0; i < out.size(); ++i) ASSERT_NEAR(out[i], ref[i], 2e-5) << "threads=" << threads << " i=" << i;
  }
}

INSTANTIATE_TEST_SUITE_P(Shapes, CausalAttention,
                         ::testing::Values(Shape{1, 0, 9, 3, 64}, Shape{1, 37, 9, 3, 64}, Shape{3, 5, 9, 3, 64},
                                           Shape{4, 0, 9, 3, 64}, Shape{17, 0, 9, 3, 64}, Shape{17, 20, 9, 3, 64},
                                           Shape{40, 3, 4, 2, 64}, Shape{13, 2, 4, 4, 8}, Shape{30, 100, 2, 1, 128}));

TEST(SharedKeysAttention, MatchesFloat64Reference) {
  // Encoder rows of one source and a source's beams in cross-attention: no mask, and fewer or
  // more keys than queries. start_pos = the key count only labels the shape.
  for (const auto& [sh, n_keys] : {std::pair<Shape, int>{{1, 0, 16, 16, 64}, 37}, {{4, 0, 16, 16, 64}, 1},
                                   {{4, 0, 16, 16, 64}, 256}, {{13, 0, 9, 3, 64}, 37}, {{30, 0, 4, 2, 64}, 100},
                                   {{5, 0, 4, 4, 8}, 19}}) {
    SCOPED_TRACE(::testing::Message() << sh.n_tokens << " queries over " << n_keys << " keys");
    const size_t row = static_cast<size_t>(sh.n_heads) * sh.head_dim;
    const size_t kv_stride = static_cast<size_t>(sh.n_kv_heads) * sh.head_dim + 3;
    const std::vector<float> q = testing::gaussian(sh.n_tokens * row, 4);
    const std::vector<float> k = testing::gaussian(n_keys * kv_stride, 5), v = testing::gaussian(n_keys * kv_stride, 6);
    const std::vector<double> ref = reference(sh, q, k, v, kv_stride, n_keys);
    for (int threads : {1, 2}) {
      ThreadPool pool(threads);
      std::vector<float> out(sh.n_tokens * row, NAN);
      AttentionArgs a;
      a.q = q.data();
      a.keys = k.data();
      a.values = v.data();
      a.kv_stride = kv_stride;
      a.out = out.data();
      a.n_tokens = sh.n_tokens;
      a.n_heads = sh.n_heads;
      a.n_kv_heads = sh.n_kv_heads;
      a.head_dim = sh.head_dim;
      a.scale = 1.0f / std::sqrt(static_cast<float>(sh.head_dim));
      a.n_keys = n_keys;
      shared_keys_attention(pool, a);
      for (size_t i = 0; i < out.size(); ++i) ASSERT_NEAR(out[i], ref[i], 2e-5) << "threads=" << threads << " i=" << i;
    }
  }
  ThreadPool pool(1);
  AttentionArgs a;
  a.n_tokens = 1, a.n_heads = 1, a.n_kv_heads = 1, a.head_dim = 8, a.kv_stride = 8;
  EXPECT_THROW(shared_keys_attention(pool, a), Error);  // no keys
}

TEST(CausalAttentionErrors, RejectsBadShapes) {
  ThreadPool pool(1);
  AttentionArgs a;
  a.n_tokens = 1;
  a.n_heads = 9;
  a.n_kv_heads = 2;
  a.head_dim = 64;
  a.kv_stride = 128;
  EXPECT_THROW(causal_attention(pool, a), Error);
  a.n_kv_heads = 3;
  EXPECT_THROW(causal_attention(pool, a), Error);  // kv_stride < 3 * 64
}

// Keys/values as a typed KV cache stores them, and the float32 values they decode to.
struct StoredKv {
  std::vector<uint8_t> bytes;
  std::vector<float> rounded;
};

StoredKv store_kv(WeightType type, const std::vector<float>& x, int n_keys, size_t stride) {
  const int64_t rb = row_bytes(type, static_cast<int64_t>(stride));
  StoredKv s{std::vector<uint8_t>(n_keys * rb), std::vector<float>(x.size())};
  for (int j = 0; j < n_keys; ++j) {
    quantize_row(type, x.data() + j * stride, s.bytes.data() + j * rb, static_cast<int64_t>(stride));
    dequantize_row(type, s.bytes.data() + j * rb, s.rounded.data() + j * stride, static_cast<int64_t>(stride));
  }
  return s;
}

// Largest |out - unrounded reference| the cache's rounding alone may cause, for gaussian
// keys, values and queries (sigma 1, outputs up to ~3): measured maxima over these shapes are
// 9.4e-4 (F16), 7.3e-3 (BF16) and 1.4e-2 (Q8_0).
double rounding_budget(WeightType type) {
  switch (type) {
    case WeightType::F16: return 2e-3;
    case WeightType::BF16: return 1.5e-2;
    default: return 3e-2;
  }
}

class CausalAttentionKv : public ::testing::TestWithParam<std::tuple<WeightType, Shape>> {};

TEST_P(CausalAttentionKv, MatchesFloat64ReferenceOfTheStoredValues) {
  const auto [type, sh] = GetParam();
  const int n_keys = sh.start_pos + sh.n_tokens;
  const size_t row = static_cast<size_t>(sh.n_heads) * sh.head_dim;
  // Padded rows: Q8_0 rows are whole blocks, so pad those by one block.
  const size_t kv_stride = static_cast<size_t>(sh.n_kv_heads) * sh.head_dim + (type == WeightType::Q8_0 ? 32 : 3);
  const std::vector<float> q = testing::gaussian(sh.n_tokens * row, 1);
  const std::vector<float> k = testing::gaussian(n_keys * kv_stride, 2), v = testing::gaussian(n_keys * kv_stride, 3);
  const StoredKv ks = store_kv(type, k, n_keys, kv_stride), vs = store_kv(type, v, n_keys, kv_stride);
  const std::vector<double> ref = reference(sh, q, ks.rounded, vs.rounded, kv_stride);
  const std::vector<double> unrounded = reference(sh, q, k, v, kv_stride);

  double worst = 0.0;
  for (int threads : {1, 2, 3}) {
    ThreadPool pool(threads);
    std::vector<float> out(sh.n_tokens * row, NAN);
    causal_attention(pool, args_for(sh, q.data(), ks.bytes.data(), vs.bytes.data(), type, kv_stride, out.data()));
    for (size_t i = 0; i < out.size(); ++i) {
      ASSERT_NEAR(out[i], ref[i], 2e-5) << "threads=" << threads << " i=" << i;
      worst = std::max(worst, std::fabs(out[i] - unrounded[i]));
    }
  }
  EXPECT_LE(worst, rounding_budget(type));
  RecordProperty("max_error_vs_f32", std::to_string(worst));
}

std::string type_and_shape(const ::testing::TestParamInfo<std::tuple<WeightType, Shape>>& info) {
  const auto& [type, s] = info.param;
  return std::string(weight_type_name(type)) + "_" + std::to_string(s.n_tokens) + "at" + std::to_string(s.start_pos) +
         "_" + std::to_string(s.n_heads) + "x" + std::to_string(s.n_kv_heads) + "x" + std::to_string(s.head_dim);
}

INSTANTIATE_TEST_SUITE_P(
    Types, CausalAttentionKv,
    ::testing::Combine(::testing::Values(WeightType::F16, WeightType::BF16, WeightType::Q8_0),
                       ::testing::Values(Shape{1, 0, 9, 3, 64}, Shape{1, 37, 9, 3, 64}, Shape{3, 5, 9, 3, 64},
                                         Shape{17, 20, 9, 3, 64}, Shape{1, 20, 4, 2, 16}, Shape{6, 10, 6, 2, 16},
                                         Shape{13, 2, 4, 4, 8}, Shape{2, 9, 4, 4, 8}, Shape{30, 100, 2, 1, 128})),
    type_and_shape);

// The decode path on every SIMD target compiled in: Q8_0 heads whose vectors would straddle
// blocks (head_dim 8 or 16 on wide targets) take the scalar path.
TEST(AttentionHeadKv, EverySimdTargetMatchesTheStoredValues) {
  for (const auto& [n_kv_heads, head_dim] : {std::pair{3, 64}, std::pair{2, 16}, std::pair{4, 8}, std::pair{1, 24}}) {
    const int n_keys = 21;
    const size_t stride = (static_cast<size_t>(n_kv_heads) * head_dim + 31) / 32 * 32 + 32;  // whole blocks
    const std::vector<float> q = testing::gaussian(head_dim, 4);
    const std::vector<float> k = testing::gaussian(n_keys * stride, 5), v = testing::gaussian(n_keys * stride, 6);
    for (WeightType type : {WeightType::F32, WeightType::F16, WeightType::BF16, WeightType::Q8_0}) {
      const StoredKv ks = store_kv(type, k, n_keys, stride), vs = store_kv(type, v, n_keys, stride);
      const KvView keys{type, ks.bytes.data(), stride}, values{type, vs.bytes.data(), stride};
      for (int g = 0; g < n_kv_heads; ++g) {
        const size_t offset = static_cast<size_t>(g) * head_dim;
        const Shape one{1, n_keys - 1, 1, 1, head_dim};
        std::vector<float> ks_head(n_keys * head_dim), vs_head(n_keys * head_dim);
        for (int j = 0; j < n_keys; ++j) {
          std::copy_n(ks.rounded.data() + j * stride + offset, head_dim, ks_head.data() + j * head_dim);
          std::copy_n(vs.rounded.data() + j * stride + offset, head_dim, vs_head.data() + j * head_dim);
        }
        const std::vector<double> ref = reference(one, q, ks_head, vs_head, head_dim);
        testing::for_each_simd_target([&](const char* target) {
          std::vector<float> scores(n_keys), out(head_dim, NAN);
          attention_head(q.data(), keys, values, offset, n_keys, head_dim, 1.0f / std::sqrt(float(head_dim)),
                         scores.data(), out.data());
          for (int d = 0; d < head_dim; ++d) {
            ASSERT_NEAR(out[d], ref[d], 2e-5) << target << " " << weight_type_name(type) << " head_dim " << head_dim
                                              << " head " << g << " dim " << d;
          }
        });
      }
    }
  }
}

// causal_attention's per_token path (speculative decoding's checking pass) takes a head's
// tokens in one pass over its keys; each (token, head) must still be, bit for bit, what
// attention_head gives it alone, on every SIMD target, for every cache type and for more
// tokens than one pass takes (16).
TEST(CausalAttention, PerTokenEqualsAttentionHeadBitForBit) {
  ThreadPool pool(2);
  for (const auto& [n_kv_heads, head_dim] : {std::pair{3, 64}, std::pair{2, 16}, std::pair{1, 24}, std::pair{2, 20}}) {
    const int n_heads = 2 * n_kv_heads, start = 9, max_tokens = 18;
    const int n_keys = start + max_tokens;
    const size_t row = static_cast<size_t>(n_heads) * head_dim;
    const size_t stride = (static_cast<size_t>(n_kv_heads) * head_dim + 31) / 32 * 32;  // whole Q8_0 blocks
    const std::vector<float> q = testing::gaussian(max_tokens * row, 7);
    const std::vector<float> k = testing::gaussian(n_keys * stride, 8), v = testing::gaussian(n_keys * stride, 9);
    for (WeightType type : {WeightType::F32, WeightType::F16, WeightType::BF16, WeightType::Q8_0}) {
      const StoredKv ks = store_kv(type, k, n_keys, stride), vs = store_kv(type, v, n_keys, stride);
      const KvView keys{type, ks.bytes.data(), stride}, values{type, vs.bytes.data(), stride};
      const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
      testing::for_each_simd_target([&](const char* target) {
        std::vector<float> expected(max_tokens * row), scores(n_keys);
        for (int t = 0; t < max_tokens; ++t) {
          for (int h = 0; h < n_heads; ++h) {
            attention_head(q.data() + t * row + h * head_dim, keys, values, static_cast<size_t>(h / 2) * head_dim,
                           start + t + 1, head_dim, scale, scores.data(), expected.data() + t * row + h * head_dim);
          }
        }
        for (int n : {1, 2, 5, 16, 18}) {
          std::vector<float> out(n * row, NAN);
          AttentionArgs a = args_for(Shape{n, start, n_heads, n_kv_heads, head_dim}, q.data(), ks.bytes.data(),
                                     vs.bytes.data(), type, stride, out.data());
          a.per_token = true;
          causal_attention(pool, a);
          ASSERT_EQ(std::memcmp(out.data(), expected.data(), out.size() * sizeof(float)), 0)
              << target << " " << weight_type_name(type) << " head_dim " << head_dim << ", " << n << " tokens";
        }
      });
    }
  }
}

// --cache-type f32 must not change a bit: the KvView overload over F32 is the float overload.
TEST(AttentionHeadKv, F32ViewIsBitIdenticalToTheFloatKernel) {
  const int n_keys = 50, head_dim = 64;
  const size_t stride = 3 * head_dim;
  const std::vector<float> q = testing::gaussian(head_dim, 7);
  const std::vector<float> k = testing::gaussian(n_keys * stride, 8), v = testing::gaussian(n_keys * stride, 9);
  std::vector<float> scores(n_keys), a(head_dim), b(head_dim);
  attention_head(q.data(), k.data() + head_dim, v.data() + head_dim, stride, n_keys, head_dim, 0.125f, scores.data(),
                 a.data());
  attention_head(q.data(), KvView{WeightType::F32, k.data(), stride}, KvView{WeightType::F32, v.data(), stride},
                 head_dim, n_keys, head_dim, 0.125f, scores.data(), b.data());
  EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)), 0);
}

TEST(WidenKv, MatchesDequantizeRowFromAnyElement) {
  const size_t stride = 96;
  const std::vector<float> x = testing::gaussian(4 * stride, 10);
  for (WeightType type : {WeightType::F32, WeightType::F16, WeightType::BF16, WeightType::Q8_0}) {
    const StoredKv s = store_kv(type, x, 4, stride);
    const KvView view{type, s.bytes.data(), stride};
    for (const auto& [first, n] : {std::pair{0, 96}, std::pair{16, 40}, std::pair{40, 8}, std::pair{95, 1}}) {
      std::vector<float> out(n);
      widen_kv(view, 2, first, n, out.data());
      for (int i = 0; i < n; ++i) {
        ASSERT_EQ(out[i], s.rounded[2 * stride + first + i]) << weight_type_name(type) << " element " << first + i;
      }
    }
  }
}

TEST(CausalAttentionErrors, RejectsCacheTypesItCannotRead) {
  ThreadPool pool(1);
  std::vector<uint8_t> cache(4096);
  std::vector<float> q(64 * 4), out(64 * 4);
  AttentionArgs a;
  a.q = q.data();
  a.keys = cache.data();
  a.values = cache.data();
  a.out = out.data();
  a.n_tokens = 1;
  a.n_heads = 4;
  a.n_kv_heads = 1;
  a.head_dim = 24;
  a.kv_stride = 24;
  a.kv_type = WeightType::Q4_0;
  EXPECT_THROW(causal_attention(pool, a), Error);
  a.kv_type = WeightType::Q8_0;
  EXPECT_THROW(causal_attention(pool, a), Error);  // rows of 24 are not whole blocks
  a.kv_stride = 32;
  EXPECT_NO_THROW(causal_attention(pool, a));
  std::vector<float> scores(1);
  EXPECT_THROW(attention_head(q.data(), KvView{WeightType::F16, cache.data(), 32},
                              KvView{WeightType::BF16, cache.data(), 32}, 0, 1, 24, 1.0f, scores.data(), out.data()),
               Error);
}

}  // namespace
}  // namespace smol
