// The packed float32 GEMM against a float64 reference: every operand layout the training
// matmuls use, awkward sizes around the register tiles, accumulation, and results that do not
// depend on the number of threads.
#include <gtest/gtest.h>

#include <cmath>
#include <ostream>
#include <random>
#include <string>
#include <vector>

#include "smol/half.hpp"
#include "smol/thread_pool.hpp"
#include "train/gemm.hpp"

namespace smol {
namespace {

std::vector<float> random_floats(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = u(rng);
  return v;
}

struct Case {
  int64_t m, n, k;
  bool a_transposed, b_transposed, accumulate;
};

// Printed from the fields (gtest would otherwise dump the struct's bytes, padding included,
// and ctest's test names, which carry GetParam(), would change from build to build).
std::string case_name(const Case& c) {
  return "m" + std::to_string(c.m) + "_n" + std::to_string(c.n) + "_k" + std::to_string(c.k) +
         (c.a_transposed ? "_At" : "") + (c.b_transposed ? "_Bt" : "") + (c.accumulate ? "_acc" : "");
}
void PrintTo(const Case& c, std::ostream* os) { *os << case_name(c); }

class GemmTest : public ::testing::TestWithParam<Case> {};

TEST_P(GemmTest, MatchesFloat64Reference) {
  const Case c = GetParam();
  const auto a = random_floats(c.m * c.k, 1), b = random_floats(c.k * c.n, 2);
  const GemmOperand A = c.a_transposed ? GemmOperand{a.data(), 1, c.m} : GemmOperand{a.data(), c.k, 1};
  const GemmOperand B = c.b_transposed ? GemmOperand{b.data(), 1, c.k} : GemmOperand{b.data(), c.n, 1};
  const auto init = random_floats(c.m * c.n, 3);
  std::vector<float> out1 = init, out2 = init;
  ThreadPool one(1), two(2);
  gemm(one, c.m, c.n, c.k, A, B, out1.data(), c.n, c.accumulate, Precision::FP32);
  gemm(two, c.m, c.n, c.k, A, B, out2.data(), c.n, c.accumulate, Precision::FP32);
  EXPECT_EQ(out1, out2) << "results depend on the thread count";
  for (int64_t i = 0; i < c.m; ++i) {
    for (int64_t j = 0; j < c.n; ++j) {
      double ref = c.accumulate ? init[i * c.n + j] : 0.0;
      for (int64_t p = 0; p < c.k; ++p) {
        ref += static_cast<double>(A.data[i * A.row_stride + p * A.col_stride]) * B.data[p * B.row_stride + j * B.col_stride];
      }
      ASSERT_NEAR(out1[i * c.n + j], ref, 1e-5 * std::sqrt(static_cast<double>(c.k)) + 1e-6) << i << "," << j;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, GemmTest,
    ::testing::Values(Case{1, 1, 1, false, false, false}, Case{7, 33, 5, false, true, false},
                      Case{17, 65, 300, false, true, false}, Case{100, 40, 513, false, false, true},
                      Case{64, 576, 37, true, false, true}, Case{9, 1030, 70, false, true, false},
                      Case{200, 3, 600, true, true, true}, Case{48, 64, 128, true, false, false},
                      Case{33, 17, 0, false, false, false}),
    [](const ::testing::TestParamInfo<Case>& info) { return case_name(info.param); });

// bf16 (the vdpbf16ps kernel where the CPU has it, else rounding while packing) against the
// float64 product of the bf16-rounded operands, over the same awkward shapes.
TEST_P(GemmTest, Bf16MatchesRoundedOperandReference) {
  const Case c = GetParam();
  const auto a = random_floats(c.m * c.k, 4), b = random_floats(c.k * c.n, 5);
  const GemmOperand A = c.a_transposed ? GemmOperand{a.data(), 1, c.m} : GemmOperand{a.data(), c.k, 1};
  const GemmOperand B = c.b_transposed ? GemmOperand{b.data(), 1, c.k} : GemmOperand{b.data(), c.n, 1};
  const auto init = random_floats(c.m * c.n, 6);
  std::vector<float> out1 = init, out2 = init;
  ThreadPool one(1), two(2);
  gemm(one, c.m, c.n, c.k, A, B, out1.data(), c.n, c.accumulate, Precision::BF16);
  gemm(two, c.m, c.n, c.k, A, B, out2.data(), c.n, c.accumulate, Precision::BF16);
  EXPECT_EQ(out1, out2) << "results depend on the thread count";
  auto r = [](float x) { return static_cast<double>(bf16_to_f32(f32_to_bf16(x))); };
  for (int64_t i = 0; i < c.m; ++i) {
    for (int64_t j = 0; j < c.n; ++j) {
      double ref = c.accumulate ? init[i * c.n + j] : 0.0;
      for (int64_t p = 0; p < c.k; ++p) {
        ref += r(A.data[i * A.row_stride + p * A.col_stride]) * r(B.data[p * B.row_stride + j * B.col_stride]);
      }
      const double tol = (c.accumulate ? 0.0 : std::fabs(ref) * 0x1p-8) + 1e-5 * std::sqrt(double(c.k)) + 1e-6;
      ASSERT_NEAR(out1[i * c.n + j], ref, tol) << i << "," << j;
    }
  }
}

TEST(Gemm, Bf16RoundsOperands) {
  ThreadPool pool(2);
  const int64_t m = 5, n = 40, k = 64;
  const auto a = random_floats(m * k, 4), b = random_floats(k * n, 5);
  std::vector<float> out(m * n);
  gemm(pool, m, n, k, {a.data(), k, 1}, {b.data(), n, 1}, out.data(), n, false, Precision::BF16);
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      double ref = 0.0;
      for (int64_t p = 0; p < k; ++p) {
        ref += static_cast<double>(bf16_to_f32(f32_to_bf16(a[i * k + p]))) * bf16_to_f32(f32_to_bf16(b[p * n + j]));
      }
      // The output is rounded to bf16 as well: 2^-8 relative.
      EXPECT_NEAR(out[i * n + j], ref, std::fabs(ref) * 0x1p-8 + 1e-5);
      EXPECT_EQ(out[i * n + j], bf16_to_f32(f32_to_bf16(out[i * n + j])));
    }
  }
}

TEST(Gemm, Fp16OverflowBecomesInfinite) {
  ThreadPool pool(1);
  const std::vector<float> a = {1e5f, 1.0f}, b = {1.0f, 1.0f};
  std::vector<float> out(1);
  gemm(pool, 1, 1, 2, {a.data(), 2, 1}, {b.data(), 1, 1}, out.data(), 1, false, Precision::FP16);
  EXPECT_TRUE(std::isinf(out[0]));
}

// The packer's inline rounding agrees with the reference conversions of half.hpp: a 1x1x1
// product with b = 1 returns the rounded a.
TEST(Gemm, InlineRoundingMatchesHalfConversions) {
  ThreadPool pool(1);
  std::mt19937_64 rng(9);
  std::vector<float> values = {0.0f, 65504.0f, 65519.0f, 65520.0f, 7e4f, 0x1p-14f, 0x1.ffcp-15f, 0x1p-24f, 0x1p-25f,
                               0x1.8p-25f, 3e-8f, 1e-30f, 3.0e38f, 1.0f + 0x1p-11f, 1.0f + 0x3p-11f};
  for (int i = 0; i < 20000; ++i) {
    const float mag = std::ldexp(1.0f, static_cast<int>(rng() % 60) - 30);
    values.push_back(mag * (static_cast<float>(rng() % 1000000) / 1000000.0f));
  }
  const float one = 1.0f;
  for (float v : values) {
    for (float x : {v, -v}) {
      for (Precision p : {Precision::BF16, Precision::FP16}) {
        float out = 0.0f;
        gemm(pool, 1, 1, 1, {&x, 1, 1}, {&one, 1, 1}, &out, 1, false, p);
        const float want = round_to_precision(x, p);
        if (want == 0.0f) {
          EXPECT_EQ(out, 0.0f) << x;
        } else {
          EXPECT_EQ(out, want) << x << (p == Precision::BF16 ? " bf16" : " fp16");
        }
      }
    }
  }
}

}  // namespace
}  // namespace smol
