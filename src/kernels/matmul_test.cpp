// matmul / matmul_multi for every weight type against a float64 reference on the decoded
// weights. Error budgets:
//   float weights, and any type on the prefill (GEMM) path: float32 accumulation only,
//     |y - ref| <= 1e-4 * sum_k |w_k x_k| + 1e-6;
//   quantized weights with fewer than 8 tokens, and Q8_0 from 8 tokens on on AVX-512 VNNI
//     machines (matmul_quantizes_activations): activations are quantized to 8 bits per
//     32 (d_b = max|x_b| / 127), so additionally |y - ref| <= 0.51 * sum_b d_b sum_{k in b} |w_k|,
//     and for Q8_0 the relative L2 error over 32 or more outputs is < 1e-2.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "kernels/matmul_internal.hpp"
#include "test_support/kernel_data.hpp"
#include "smol/huge_page_buffer.hpp"
#include "smol/error.hpp"
#include "smol/kernels.hpp"
#include "smol/thread_pool.hpp"

namespace smol {
namespace {

using testing::StoredMatrix;

// y must match the float64 product of m.decoded and x within the budgets above.
void expect_close(const StoredMatrix& m, const std::vector<float>& x, int n_tokens, const std::vector<float>& y,
                  bool quantized_acts) {
  double err2 = 0, ref2 = 0;
  for (int t = 0; t < n_tokens; ++t) {
    const float* xt = x.data() + t * m.cols;
    for (int64_t r = 0; r < m.rows; ++r) {
      const float* w = m.decoded.data() + r * m.cols;
      double ref = 0, abs_sum = 0, act_budget = 0;
      for (int64_t k = 0; k < m.cols; ++k) {
        ref += static_cast<double>(w[k]) * xt[k];
        abs_sum += std::fabs(static_cast<double>(w[k]) * xt[k]);
      }
      if (quantized_acts) {
        for (int64_t b = 0; b < m.cols; b += 32) {
          double amax = 0, wsum = 0;
          for (int64_t k = b; k < b + 32; ++k) {
            amax = std::max(amax, std::fabs(static_cast<double>(xt[k])));
            wsum += std::fabs(static_cast<double>(w[k]));
          }
          act_budget += 0.51 * amax / 127 * wsum;
        }
      }
      const double got = y[t * m.rows + r];
      ASSERT_LE(std::fabs(got - ref), 1e-4 * abs_sum + 1e-6 + act_budget)
          << weight_type_name(m.type) << " rows=" << m.rows << " cols=" << m.cols << " t=" << t << " r=" << r;
      err2 += (got - ref) * (got - ref);
      ref2 += ref * ref;
    }
  }
  // A relative error over a few outputs is at the mercy of one small reference value.
  if (m.type == WeightType::Q8_0 && m.rows * n_tokens >= 32) {
    EXPECT_LT(std::sqrt(err2 / ref2), 1e-2);
  }
  if (!quantized_acts) {
    EXPECT_LT(std::sqrt(err2 / ref2), 1e-5);
  }
}

struct Case {
  WeightType type;
  int64_t cols;
};

void PrintTo(const Case& c, std::ostream* os) { *os << weight_type_name(c.type) << " x " << c.cols << " cols"; }

class MatmulTypes : public ::testing::TestWithParam<Case> {};

TEST_P(MatmulTypes, MatchesFloat64Reference) {
  const Case c = GetParam();
  ThreadPool pool(2);
  uint32_t seed = 1;
  for (int64_t rows : {1, 5, 37, 70}) {
    const StoredMatrix m = testing::make_matrix(c.type, rows, c.cols, seed++);
    for (int n_tokens : {1, 3, 8, 17}) {
      const std::vector<float> x = testing::gaussian(n_tokens * c.cols, seed++);
      std::vector<float> y(n_tokens * rows, NAN);
      matmul(pool, x.data(), n_tokens, m.view(), y.data());
      SCOPED_TRACE(::testing::Message() << "n_tokens=" << n_tokens);
      expect_close(m, x, n_tokens, y, matmul_quantizes_activations(c.type, n_tokens));
    }
  }
}

std::vector<Case> all_cases() {
  std::vector<Case> cases;
  for (WeightType t : {WeightType::F32, WeightType::BF16, WeightType::F16, WeightType::Q8_0, WeightType::Q4_0}) {
    for (int64_t cols : {576, 1536, 960}) cases.push_back({t, cols});
  }
  cases.push_back({WeightType::F32, 19});  // no vector multiple: scalar tails
  cases.push_back({WeightType::F16, 100});
  cases.push_back({WeightType::Q8_0, 544});  // an odd number of blocks: the VNNI kernel's tail
  cases.push_back({WeightType::Q4_0, 544});
  cases.push_back({WeightType::BF16, 1000});
  for (WeightType t : {WeightType::Q4_K, WeightType::Q6_K}) {
    for (int64_t cols : {256, 1536, 768}) cases.push_back({t, cols});
  }
  return cases;
}

INSTANTIATE_TEST_SUITE_P(Shapes, MatmulTypes, ::testing::ValuesIn(all_cases()), [](const auto& info) {
  return std::string(weight_type_name(info.param.type)) + "_" + std::to_string(info.param.cols);
});

TEST(Matmul, EverySimdTargetMatches) {
  // The machine picks one target at run time; the others (scalar and SSE fallbacks, AVX2 on
  // an AVX-512 machine) must compute the same products.
  ThreadPool pool(2);
  std::vector<StoredMatrix> mats;
  for (WeightType t : {WeightType::F32, WeightType::BF16, WeightType::F16, WeightType::Q8_0, WeightType::Q4_0,
                       WeightType::Q4_K, WeightType::Q6_K}) {
    mats.push_back(testing::make_matrix(t, 21, 512, 30 + static_cast<uint32_t>(mats.size())));
  }
  testing::for_each_simd_target([&](const char* target) {
    SCOPED_TRACE(target);
    for (const StoredMatrix& m : mats) {
      for (int n_tokens : {1, 3, 17}) {
        const std::vector<float> x = testing::gaussian(n_tokens * 512, 40 + n_tokens);
        std::vector<float> y(n_tokens * 21, NAN);
        matmul(pool, x.data(), n_tokens, m.view(), y.data());
        expect_close(m, x, n_tokens, y, matmul_quantizes_activations(m.type, n_tokens));
      }
    }
  });
}

TEST(Matmul, ThreadCountsAgree) {
  const StoredMatrix m = testing::make_matrix(WeightType::Q8_0, 133, 576, 3);
  for (int n_tokens : {1, 17}) {
    const std::vector<float> x = testing::gaussian(n_tokens * 576, 4);
    std::vector<float> y1(n_tokens * 133), y3(n_tokens * 133);
    ThreadPool one(1), three(3);
    matmul(one, x.data(), n_tokens, m.view(), y1.data());
    matmul(three, x.data(), n_tokens, m.view(), y3.data());
    EXPECT_EQ(y1, y3);  // the partition must not change any sum
    expect_close(m, x, n_tokens, y3, matmul_quantizes_activations(m.type, n_tokens));
  }
}

// The panel GEMM on the same weights and tokens, single-threaded: the reference the row-block
// path must equal bit for bit.
std::vector<float> panel_gemm(const StoredMatrix& m, const std::vector<float>& x, int n_tokens) {
  const detail::GemmShape shape = detail::gemm_shape();
  const int n_tiles = (n_tokens + shape.tile_tokens - 1) / shape.tile_tokens;
  std::vector<float> xp(static_cast<size_t>(n_tiles) * shape.tile_tokens * m.cols + 16);
  for (int tile = 0; tile < n_tiles; ++tile) {
    detail::gemm_pack_tokens(x.data(), m.cols, n_tokens, m.cols, tile, 1.0f,
                             xp.data() + static_cast<size_t>(tile) * shape.tile_tokens * m.cols);
  }
  HugePageBuffer panel(static_cast<size_t>(shape.panel_rows) * m.cols * sizeof(float));
  std::vector<float> rows_tmp(static_cast<size_t>(shape.panel_rows) * m.cols);
  std::vector<float> y(static_cast<size_t>(n_tokens) * m.rows, NAN);
  for (int64_t r0 = 0; r0 < m.rows; r0 += shape.panel_rows) {
    auto* p = reinterpret_cast<float*>(panel.data());
    detail::gemm_pack_panel(m.view(), r0, p, rows_tmp.data());
    detail::gemm_panel(p, xp.data(), n_tokens, m.cols,
                       static_cast<int>(std::min<int64_t>(shape.panel_rows, m.rows - r0)), y.data() + r0, m.rows);
  }
  return y;
}

TEST(Matmul, RowBlockGemmEqualsPanelGemmBitForBit) {
  // Batches of 12 tokens and more take the row-block path, 8-11 quantized ones the panel
  // path: a token's outputs must not depend on which one its batch size picked. (Q8_0 on
  // AVX-512 VNNI machines takes neither: Q8VnniGemmMatchesExactIntegerProducts.)
  ThreadPool pool(2);
  const std::pair<WeightType, int64_t> cases[] = {{WeightType::F32, 512},  {WeightType::F32, 19},
                                                  {WeightType::BF16, 512}, {WeightType::F16, 100},
                                                  {WeightType::Q8_0, 544}, {WeightType::Q4_0, 544},
                                                  {WeightType::Q4_K, 512}};
  testing::for_each_simd_target([&](const char* target) {
    SCOPED_TRACE(target);
    for (const auto& [type, cols] : cases) {
      if (matmul_quantizes_activations(type, 12)) continue;
      const StoredMatrix m = testing::make_matrix(type, 103, cols, 50);
      for (int n_tokens : {12, 15, 16, 17, 33, 48, 64, 65, 300}) {
        SCOPED_TRACE(::testing::Message() << weight_type_name(type) << " " << cols << " cols, " << n_tokens
                                          << " tokens");
        const std::vector<float> x = testing::gaussian(n_tokens * cols, 51 + n_tokens);
        std::vector<float> y(static_cast<size_t>(n_tokens) * m.rows, NAN);
        matmul(pool, x.data(), n_tokens, m.view(), y.data());
        const std::vector<float> ref = panel_gemm(m, x, n_tokens);
        ASSERT_EQ(std::memcmp(y.data(), ref.data(), y.size() * sizeof(float)), 0);
      }
    }
  });
}

// Q8_0 weights times 8-bit activations quantized as the dot products quantize them, each
// block's integer dot product exact, in float64: what the VNNI GEMM must compute up to the
// float rounding of its per-block scaling.
std::vector<double> exact_q8_products(const StoredMatrix& m, const std::vector<float>& x, int n_tokens,
                                      std::vector<double>* magnitude) {
  const int64_t cols = m.cols, nb = cols / 32;
  std::vector<uint8_t> scratch(detail::quantized_acts_bytes(n_tokens, cols) + 64);
  auto* aligned = reinterpret_cast<void*>((reinterpret_cast<uintptr_t>(scratch.data()) + 63) / 64 * 64);
  const detail::QuantizedActs acts = detail::carve_quantized_acts(aligned, n_tokens, cols);
  for (int t = 0; t < n_tokens; ++t) detail::quantize_activation_row(x.data(), acts, t);
  std::vector<double> y(static_cast<size_t>(n_tokens) * m.rows);
  magnitude->assign(y.size(), 0.0);
  for (int t = 0; t < n_tokens; ++t) {
    for (int64_t r = 0; r < m.rows; ++r) {
      double sum = 0, mag = 0;
      for (int64_t b = 0; b < nb; ++b) {
        const uint8_t* blk = m.bytes.data() + (r * nb + b) * 34;
        uint16_t h;
        std::memcpy(&h, blk, 2);
        int32_t dot = 0;
        for (int k = 0; k < 32; ++k) dot += static_cast<int8_t>(blk[2 + k]) * acts.q[t * cols + 32 * b + k];
        float wd;
        dequantize_row(WeightType::F16, blk, &wd, 1);
        const double term = static_cast<double>(wd) * acts.d[t * nb + b] * dot;
        sum += term;
        mag += std::fabs(term);
      }
      y[t * m.rows + r] = sum;
      (*magnitude)[t * m.rows + r] = mag;
    }
  }
  return y;
}

TEST(Matmul, Q8VnniGemmMatchesExactIntegerProducts) {
  if (!matmul_quantizes_activations(WeightType::Q8_0, 12)) GTEST_SKIP() << "no AVX-512 VNNI here";
  // 103 rows: every register-block height (12, 4, 1); 544 and 1552 columns: the per-block
  // weight sums' 16-block steps and their tail (17 and 49 blocks); 300 tokens: two 256-token chunks.
  ThreadPool two(2), three(3);
  for (int64_t cols : {544, 1568, 64}) {
    const StoredMatrix m = testing::make_matrix(WeightType::Q8_0, 103, cols, 60);
    for (int n_tokens : {8, 11, 12, 16, 17, 33, 64, 300}) {
      SCOPED_TRACE(::testing::Message() << cols << " cols, " << n_tokens << " tokens");
      const std::vector<float> x = testing::gaussian(n_tokens * cols, 61 + n_tokens);
      std::vector<float> y(static_cast<size_t>(n_tokens) * m.rows, NAN), y3(y.size(), NAN);
      matmul(two, x.data(), n_tokens, m.view(), y.data());
      matmul(three, x.data(), n_tokens, m.view(), y3.data());
      ASSERT_EQ(std::memcmp(y.data(), y3.data(), y.size() * sizeof(float)), 0);
      std::vector<double> magnitude;
      const std::vector<double> ref = exact_q8_products(m, x, n_tokens, &magnitude);
      for (size_t i = 0; i < y.size(); ++i) {
        ASSERT_LE(std::fabs(y[i] - ref[i]), 1e-6 * magnitude[i] + 1e-30) << "output " << i;
      }
      expect_close(m, x, n_tokens, y, true);
    }
  }
}

TEST(Matmul, MultiMatchesSeparateCalls) {
  ThreadPool pool(2);
  const StoredMatrix q = testing::make_matrix(WeightType::Q8_0, 576, 576, 10);
  const StoredMatrix k = testing::make_matrix(WeightType::F16, 192, 576, 11);
  const StoredMatrix v = testing::make_matrix(WeightType::Q4_0, 192, 576, 12);
  for (int n_tokens : {1, 3, 8, 17}) {
    const std::vector<float> x = testing::gaussian(n_tokens * 576, 13);
    std::vector<float> yq(n_tokens * 576), yk(n_tokens * 192), yv(n_tokens * 192);
    const MatmulOutput outs[] = {{q.view(), yq.data()}, {k.view(), yk.data()}, {v.view(), yv.data()}};
    matmul_multi(pool, x.data(), n_tokens, outs);
    std::vector<float> sq(yq.size()), sk(yk.size()), sv(yv.size());
    matmul(pool, x.data(), n_tokens, q.view(), sq.data());
    matmul(pool, x.data(), n_tokens, k.view(), sk.data());
    matmul(pool, x.data(), n_tokens, v.view(), sv.data());
    EXPECT_EQ(yq, sq);
    EXPECT_EQ(yk, sk);
    EXPECT_EQ(yv, sv);
  }
}

TEST(Matmul, Q8_0ExtremeQuantsAreExact) {
  // -128 does not come out of ggml's quantizer but is a valid byte in a GGUF file: the
  // integer kernel must not saturate on it. Activations of +-1 quantize exactly, so the
  // product must be exact.
  StoredMatrix m{WeightType::Q8_0, 4, 64, std::vector<uint8_t>(4 * 2 * 34), std::vector<float>(4 * 64)};
  for (int r = 0; r < 4; ++r) {
    for (int b = 0; b < 2; ++b) {
      uint8_t* blk = m.bytes.data() + (r * 2 + b) * 34;
      const uint16_t d = 0x3C00;  // 1.0
      std::memcpy(blk, &d, 2);
      for (int i = 0; i < 32; ++i) blk[2 + i] = static_cast<uint8_t>(static_cast<int8_t>(i % 2 ? -128 : 127 - r));
    }
    dequantize_row(WeightType::Q8_0, m.bytes.data() + r * 68, m.decoded.data() + r * 64, 64);
  }
  std::vector<float> x(64);
  for (int k = 0; k < 64; ++k) x[k] = k % 2 ? -1.0f : 1.0f;
  ThreadPool pool(1);
  for (int n_tokens : {1, 16}) {  // the dot products and the GEMMs
    std::vector<float> xs, y(4 * n_tokens);
    for (int t = 0; t < n_tokens; ++t) xs.insert(xs.end(), x.begin(), x.end());
    matmul(pool, xs.data(), n_tokens, m.view(), y.data());
    for (int i = 0; i < 4 * n_tokens; ++i) EXPECT_EQ(y[i], 32.0f * (127 - i % 4) + 32.0f * 128) << i;
  }
}

TEST(Matmul, RejectsColumnsThatAreNotWholeBlocks) {
  ThreadPool pool(1);
  std::vector<uint8_t> bytes(4096);
  std::vector<float> x(600), y(4);
  EXPECT_THROW(matmul(pool, x.data(), 1, MatrixView{WeightType::Q8_0, bytes.data(), 2, 40}, y.data()), Error);
  EXPECT_THROW(matmul(pool, x.data(), 1, MatrixView{WeightType::Q4_K, bytes.data(), 2, 576}, y.data()), Error);
  EXPECT_THROW(widen_row(MatrixView{WeightType::Q6_K, bytes.data(), 2, 576}, 0, x.data()), Error);
}

TEST(Matmul, WidenRowDecodesEachType) {
  for (WeightType t : {WeightType::F32, WeightType::BF16, WeightType::F16, WeightType::Q8_0, WeightType::Q4_0,
                       WeightType::Q4_K, WeightType::Q6_K}) {
    const StoredMatrix m = testing::make_matrix(t, 3, 512, 21);
    std::vector<float> out(512);
    widen_row(m.view(), 2, out.data());
    EXPECT_EQ(out, std::vector<float>(m.decoded.begin() + 2 * 512, m.decoded.end())) << weight_type_name(t);
  }
}

TEST(Matmul, LargeRowCountUsesEveryChunk) {
  // Many rows and a thread count that does not divide them: every output must be written.
  ThreadPool pool(3);
  const StoredMatrix m = testing::make_matrix(WeightType::BF16, 1001, 64, 5);
  const std::vector<float> x = testing::gaussian(64, 6);
  std::vector<float> y(1001, NAN);
  matmul(pool, x.data(), 1, m.view(), y.data());
  expect_close(m, x, 1, y, false);
}

TEST(HugePageBuffer, AlignedZeroedAndUsableAsWeights) {
  HugePageBuffer empty;
  EXPECT_EQ(empty.size(), 0u);
  const StoredMatrix m = testing::make_matrix(WeightType::Q8_0, 40, 576, 8);
  HugePageBuffer buf(m.bytes.size());
  ASSERT_EQ(buf.size(), m.bytes.size());
  EXPECT_EQ(reinterpret_cast<uintptr_t>(buf.data()) % (2u << 20), 0u);
  EXPECT_EQ(buf.data()[m.bytes.size() - 1], 0);
  std::memcpy(buf.data(), m.bytes.data(), m.bytes.size());
  ThreadPool pool(2);
  const std::vector<float> x = testing::gaussian(576, 9);
  std::vector<float> a(40), b(40);
  matmul(pool, x.data(), 1, m.view(), a.data());
  matmul(pool, x.data(), 1, MatrixView{WeightType::Q8_0, buf.data(), 40, 576}, b.data());
  EXPECT_EQ(a, b);
}

}  // namespace
}  // namespace smol
