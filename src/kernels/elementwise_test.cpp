// Norms, RoPE, softmax, SiLU and single-head attention against float64 references, at
// lengths that are and are not multiples of the vector width.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "test_support/kernel_data.hpp"
#include "smol/kernels.hpp"

namespace smol {
namespace {

using testing::gaussian;

TEST(Elementwise, RmsNorm) {
  testing::for_each_simd_target([&](const char* target) {
    SCOPED_TRACE(target);
    for (int dim : {1, 7, 64, 576, 1000}) {
      const std::vector<float> x = gaussian(dim, dim), w = gaussian(dim, dim + 1);
      std::vector<float> y(dim);
      rms_norm(x.data(), w.data(), 1e-5f, dim, y.data());
      double ss = 0;
      for (float v : x) ss += static_cast<double>(v) * v;
      const double scale = 1.0 / std::sqrt(ss / dim + 1e-5);
      for (int i = 0; i < dim; ++i) ASSERT_NEAR(y[i], x[i] * scale * w[i], 1e-5 * (1 + std::fabs(x[i] * scale * w[i]))) << dim;
    }
  });
}

TEST(Elementwise, RopeRotateHalf) {
  testing::for_each_simd_target([&](const char* target) {
    SCOPED_TRACE(target);
    for (int head_dim : {2, 10, 64, 128}) {
      const int heads = 3, half = head_dim / 2;
      std::vector<float> v = gaussian(heads * head_dim, head_dim);
      const std::vector<float> orig = v;
      std::vector<float> c(half), s(half);
      for (int i = 0; i < half; ++i) {
        c[i] = static_cast<float>(std::cos(0.3 * (i + 1)));
        s[i] = static_cast<float>(std::sin(0.3 * (i + 1)));
      }
      rope_rotate_half(v.data(), heads, head_dim, c.data(), s.data());
      for (int h = 0; h < heads; ++h) {
        for (int i = 0; i < half; ++i) {
          const double x1 = orig[h * head_dim + i], x2 = orig[h * head_dim + i + half];
          ASSERT_NEAR(v[h * head_dim + i], x1 * c[i] - x2 * s[i], 1e-6);
          ASSERT_NEAR(v[h * head_dim + i + half], x2 * c[i] + x1 * s[i], 1e-6);
        }
      }
    }
  });
}

TEST(Elementwise, Softmax) {
  testing::for_each_simd_target([&](const char* target) {
    SCOPED_TRACE(target);
    for (int n : {1, 5, 16, 33, 1000}) {
      std::vector<float> x = gaussian(n, n, 8.0f);
      x[0] = -1e30f;  // effectively masked
      if (n > 2) x[n - 1] = 50.0f;
      const std::vector<float> orig = x;
      softmax(x.data(), n);
      const double m = *std::max_element(orig.begin(), orig.end());
      double sum = 0;
      for (float v : orig) sum += std::exp(static_cast<double>(v) - m);
      for (int i = 0; i < n; ++i) {
        const double ref = std::exp(static_cast<double>(orig[i]) - m) / sum;
        ASSERT_NEAR(x[i], ref, 1e-6 + 1e-5 * ref) << n << " " << i;
      }
    }
  });
}

TEST(Elementwise, SoftmaxWithStats) {
  testing::for_each_simd_target([&](const char* target) {
    SCOPED_TRACE(target);
    for (int n : {1, 5, 16, 33, 1000, 3001}) {
      std::vector<float> x = gaussian(n, n + 7, 8.0f), p = x;
      const SoftmaxStats st = softmax_with_stats(p.data(), p.data(), n);  // in place, as the training loss calls it
      const double m = *std::max_element(x.begin(), x.end());
      double sum = 0, shifted = 0;
      for (float v : x) {
        sum += std::exp(static_cast<double>(v) - m);
        shifted += static_cast<double>(v) - m;
      }
      EXPECT_EQ(st.max, m);
      EXPECT_NEAR(st.sum_exp, sum, 3e-6 * sum) << n;  // the scalar target's exp: 1.1e-6
      EXPECT_NEAR(st.sum_shifted, shifted, 1e-6 * std::fabs(shifted) + 1e-6) << n;
      for (int i = 0; i < n; ++i) {
        const double ref = std::exp(static_cast<double>(x[i]) - m) / sum;
        ASSERT_NEAR(p[i], ref, 1e-6 + 1e-5 * ref) << n << " " << i;
      }
    }
  });
}

TEST(Elementwise, AttentionBackwardRow) {
  // head_dim 64: whole vectors on every target; 20: the scalar fallback on wide ones.
  testing::for_each_simd_target([&](const char* target) {
    SCOPED_TRACE(target);
    for (int head_dim : {64, 20}) {
      for (bool masked : {false, true}) {
        const int n_keys = 37, stride = head_dim + 8;
        const std::vector<float> dout = gaussian(head_dim, 1), q = gaussian(head_dim, 2);
        const std::vector<float> k = gaussian(n_keys * stride, 3), v = gaussian(n_keys * stride, 4);
        std::vector<float> p = gaussian(n_keys, 5), mask = gaussian(n_keys, 6);
        for (float& x : p) x = std::fabs(x) / n_keys;
        for (float& x : mask) x = x > 0 ? 1.25f : 0.0f;
        std::vector<float> dk = gaussian(n_keys * stride, 7), dv = gaussian(n_keys * stride, 8);
        const std::vector<float> dk0 = dk, dv0 = dv;
        std::vector<float> dq(head_dim, NAN), dp(n_keys);
        const float scale = 0.125f;
        attention_backward_row({dout.data(), q.data(), p.data(), masked ? mask.data() : nullptr, k.data(), v.data(),
                                dq.data(), dk.data(), dv.data(), dp.data()},
                               n_keys, head_dim, stride, scale);
        std::vector<double> ref_dp(n_keys);
        double row_sum = 0;
        for (int j = 0; j < n_keys; ++j) {
          const double m = masked ? mask[j] : 1.0;
          double s = 0;
          for (int i = 0; i < head_dim; ++i) {
            s += static_cast<double>(dout[i]) * v[j * stride + i];
            ASSERT_NEAR(dv[j * stride + i], dv0[j * stride + i] + p[j] * m * dout[i], 1e-5);
          }
          ref_dp[j] = s * m;
          row_sum += p[j] * ref_dp[j];
        }
        for (int i = 0; i < head_dim; ++i) {
          double ref_dq = 0;
          for (int j = 0; j < n_keys; ++j) {
            const double ds = p[j] * (ref_dp[j] - row_sum) * scale;
            ref_dq += ds * k[j * stride + i];
            ASSERT_NEAR(dk[j * stride + i], dk0[j * stride + i] + ds * q[i], 1e-5);
          }
          ASSERT_NEAR(dq[i], ref_dq, 1e-5) << head_dim << " " << i;
        }
      }
    }
  });
}

TEST(Elementwise, SiluMul) {
  testing::for_each_simd_target([&](const char* target) {
    SCOPED_TRACE(target);
    std::vector<float> g = gaussian(1003, 1, 4.0f);
    g[0] = -1000.0f;
    g[1] = 1000.0f;
    g[2] = -90.0f;
    g[3] = 0.0f;
    const std::vector<float> up = gaussian(1003, 2), orig = g;
    silu_mul(g.data(), up.data(), static_cast<int>(g.size()));
    for (size_t i = 0; i < g.size(); ++i) {
      const double x = orig[i];
      const double ref = x / (1.0 + std::exp(-x)) * up[i];
      ASSERT_NEAR(g[i], ref, 1e-6 + 1e-5 * std::fabs(ref)) << x;
    }
  });
}

TEST(Elementwise, AttentionHead) {
  testing::for_each_simd_target([&](const char* target) {
    SCOPED_TRACE(target);
    const int head_dim = 64, stride = 192;
    for (int n_keys : {1, 2, 17, 300}) {
      const std::vector<float> q = gaussian(head_dim, 1), k = gaussian(n_keys * stride, 2), v = gaussian(n_keys * stride, 3);
      std::vector<float> scores(n_keys), out(head_dim);
      const float scale = 0.125f;
      attention_head(q.data(), k.data() + 64, v.data() + 64, stride, n_keys, head_dim, scale, scores.data(), out.data());
      std::vector<double> p(n_keys);
      double m = -1e300, sum = 0;
      for (int j = 0; j < n_keys; ++j) {
        double s = 0;
        for (int d = 0; d < head_dim; ++d) s += static_cast<double>(q[d]) * k[j * stride + 64 + d];
        p[j] = s * scale;
        m = std::max(m, p[j]);
      }
      for (double& x : p) sum += (x = std::exp(x - m));
      for (int d = 0; d < head_dim; ++d) {
        double ref = 0;
        for (int j = 0; j < n_keys; ++j) ref += p[j] / sum * v[j * stride + 64 + d];
        ASSERT_NEAR(out[d], ref, 1e-5) << n_keys << " " << d;
      }
    }
  });
}

}  // namespace
}  // namespace smol

namespace smol {
namespace {

// Training's vector activations against the formulas in double, on values that cover both
// tails (where exp overflows or the tanh saturates) and an odd length for the scalar tail.
TEST(Elementwise, ActivationForwardAndBackwardMatchTheFormulas) {
  std::vector<float> x;
  for (int i = 0; i < 1001; ++i) x.push_back(-100.0f + 0.2f * static_cast<float>(i));
  for (float v : {-1e-6f, 0.0f, 1e-6f, 3.3f, -0.7f}) x.push_back(v);
  const size_t n = x.size();
  auto f = [](Activation act, double v) {
    switch (act) {
      case Activation::GELU: return 0.5 * v * (1.0 + std::erf(v / std::sqrt(2.0)));
      case Activation::GELUTanh: return 0.5 * v * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (v + 0.044715 * v * v * v)));
      case Activation::ReLU: return v > 0 ? v : 0.0;
      case Activation::SiLU: return v / (1.0 + std::exp(-v));
    }
    return 0.0;
  };
  for (Activation act : {Activation::GELU, Activation::GELUTanh, Activation::ReLU, Activation::SiLU}) {
    std::vector<float> out(n), din(n, 0.5f), dout(n);
    for (size_t i = 0; i < n; ++i) dout[i] = 1.0f + 0.001f * static_cast<float>(i % 7);
    activation_forward_f32(act, out.data(), x.data(), n);
    activation_backward_f32(act, din.data(), dout.data(), x.data(), n);
    for (size_t i = 0; i < n; ++i) {
      const double v = x[i], want = f(act, v);
      EXPECT_NEAR(out[i], want, 2e-6 * std::max(1.0, std::fabs(want))) << activation_name(act) << " x=" << v;
      const double h = 1e-4 * std::max(1.0, std::fabs(v));
      if (act == Activation::ReLU && std::fabs(v) < h) continue;  // central differences straddle the kink
      const double grad = (f(act, v + h) - f(act, v - h)) / (2 * h);
      EXPECT_NEAR(din[i], 0.5 + dout[i] * grad, 1e-5 * std::max(1.0, std::fabs(grad)))
          << activation_name(act) << " x=" << v;
    }
  }
}

}  // namespace
}  // namespace smol
