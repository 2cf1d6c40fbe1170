// causal_attention (both the per-head and the tiled path) against a float64 reference.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "kernels/test_util.hpp"
#include "smol/error.hpp"
#include "smol/kernels.hpp"
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

class CausalAttention : public ::testing::TestWithParam<Shape> {};

TEST_P(CausalAttention, MatchesFloat64Reference) {
  const Shape sh = GetParam();
  const int n_keys = sh.start_pos + sh.n_tokens;
  const size_t row = static_cast<size_t>(sh.n_heads) * sh.head_dim;
  const size_t kv_stride = static_cast<size_t>(sh.n_kv_heads) * sh.head_dim + 3;  // padded rows
  const std::vector<float> q = testing::gaussian(sh.n_tokens * row, 1);
  const std::vector<float> k = testing::gaussian(n_keys * kv_stride, 2), v = testing::gaussian(n_keys * kv_stride, 3);
  const float scale = 1.0f / std::sqrt(static_cast<float>(sh.head_dim));
  const int group = sh.n_heads / sh.n_kv_heads;

  std::vector<double> ref(sh.n_tokens * row);
  for (int t = 0; t < sh.n_tokens; ++t) {
    for (int h = 0; h < sh.n_heads; ++h) {
      const int visible = sh.start_pos + t + 1;
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

}  // namespace
}  // namespace smol
