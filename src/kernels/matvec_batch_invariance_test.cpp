// The multi-token matvec kernels must give every (row, token) exactly the bits a one-token
// call gives it (memcmp, not a tolerance): speculative decoding checks its drafted tokens in
// one batch (MatmulPath::BatchInvariant) and must reproduce plain decoding token for token.
// Checked on every SIMD target compiled in (the AVX-512 targets run the VNNI kernel for
// Q8_0/Q4_0 where the CPU has it), for 1-16 tokens, with row counts that leave partial row
// groups and columns at the smallest block multiple, an odd block count (the VNNI kernel's
// 256-bit tail) and no whole vector (the float kernels' scalar tail).
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "kernels/matmul_internal.hpp"
#include "smol/kernels.hpp"
#include "smol/quant.hpp"
#include "smol/thread_pool.hpp"
#include "test_support/kernel_data.hpp"

namespace smol {
namespace {

using testing::StoredMatrix;

constexpr int kMaxTokens = 16;

// 64-byte aligned scratch: the kernels use aligned loads of the quantized rows.
std::vector<float> aligned_scratch(size_t bytes) { return std::vector<float>((bytes + 127) / 4); }
void* align64(std::vector<float>& v) {
  auto p = reinterpret_cast<uintptr_t>(v.data());
  return reinterpret_cast<void*>((p + 63) / 64 * 64);
}

// y (n_tokens x rows) from one call of the row kernel on every token.
std::vector<float> all_at_once(const StoredMatrix& m, const std::vector<float>& x, int n_tokens) {
  std::vector<float> y(static_cast<size_t>(n_tokens) * m.rows, NAN);
  if (is_quantized(m.type)) {
    std::vector<float> scratch = aligned_scratch(detail::quantized_acts_bytes(n_tokens, m.cols));
    const detail::QuantizedActs a = detail::carve_quantized_acts(align64(scratch), n_tokens, m.cols);
    for (int t = 0; t < n_tokens; ++t) detail::quantize_activation_row(x.data(), a, t);
    detail::quant_dot_rows(m.type, m.bytes.data(), row_bytes(m.type, m.cols), m.rows, a, n_tokens, y.data(), m.rows);
  } else {
    detail::float_dot_rows(m.type, m.bytes.data(), m.cols, m.rows, x.data(), n_tokens, y.data(), m.rows);
  }
  return y;
}

// The same from n_tokens one-token calls, each with only its token's activations.
std::vector<float> one_by_one(const StoredMatrix& m, const std::vector<float>& x, int n_tokens) {
  std::vector<float> y(static_cast<size_t>(n_tokens) * m.rows, NAN);
  for (int t = 0; t < n_tokens; ++t) {
    const std::vector<float> xt(x.begin() + t * m.cols, x.begin() + (t + 1) * m.cols);
    const std::vector<float> yt = all_at_once(m, xt, 1);
    std::copy(yt.begin(), yt.end(), y.begin() + static_cast<int64_t>(t) * m.rows);
  }
  return y;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

struct Shape {
  int64_t rows, cols;
};

std::vector<Shape> shapes_for(WeightType type) {
  const int64_t block = block_elements(type);
  if (block == 256) return {{13, 256}, {6, 768}};
  if (block == 32) return {{13, 32}, {7, 544}, {37, 96}, {9, 576}};
  return {{13, 16}, {7, 19}, {37, 100}, {9, 576}};
}

TEST(MatvecBatchInvariance, EveryTokenCountEqualsOneTokenCallsOnEveryTarget) {
  uint32_t seed = 1;
  testing::for_each_simd_target([&](const char* target) {
    for (WeightType type : {WeightType::F32, WeightType::BF16, WeightType::F16, WeightType::Q8_0, WeightType::Q4_0,
                            WeightType::Q4_K, WeightType::Q6_K}) {
      for (const Shape& s : shapes_for(type)) {
        const StoredMatrix m = testing::make_matrix(type, s.rows, s.cols, seed++);
        const std::vector<float> x = testing::gaussian(kMaxTokens * s.cols, seed++);
        const std::vector<float> ref = one_by_one(m, x, kMaxTokens);
        for (int n = 1; n <= kMaxTokens; ++n) {
          const std::vector<float> ref_n(ref.begin(), ref.begin() + static_cast<int64_t>(n) * s.rows);
          ASSERT_TRUE(same_bits(all_at_once(m, x, n), ref_n))
              << target << " " << weight_type_name(type) << " " << s.rows << " x " << s.cols << ", " << n << " tokens";
        }
      }
    }
  });
}

// Through the public API: BatchInvariant on a pool (rows split into chunks, the activations
// quantized once for the batch, several outputs in one dispatch) against one-token matmuls.
TEST(MatvecBatchInvariance, BatchInvariantMatmulEqualsOneTokenMatmuls) {
  ThreadPool pool(2);
  const StoredMatrix q8 = testing::make_matrix(WeightType::Q8_0, 203, 576, 90);
  const StoredMatrix bf16 = testing::make_matrix(WeightType::BF16, 77, 576, 91);
  const StoredMatrix q6k = testing::make_matrix(WeightType::Q6_K, 45, 512, 92);
  for (const StoredMatrix* m : {&q8, &bf16}) {
    const std::vector<float> x = testing::gaussian(kMaxTokens * m->cols, 93);
    for (int n = 1; n <= kMaxTokens; ++n) {
      std::vector<float> batch(static_cast<size_t>(n) * m->rows), single(batch.size());
      matmul(pool, x.data(), n, m->view(), batch.data(), MatmulPath::BatchInvariant);
      for (int t = 0; t < n; ++t) matmul(pool, x.data() + t * m->cols, 1, m->view(), single.data() + t * m->rows);
      ASSERT_TRUE(same_bits(batch, single)) << weight_type_name(m->type) << ", " << n << " tokens";
    }
  }
  // Mixed types in one fused dispatch, as Q/K/V are.
  const std::vector<float> x = testing::gaussian(kMaxTokens * 512, 94);
  const StoredMatrix a = testing::make_matrix(WeightType::Q4_0, 21, 512, 95);
  const StoredMatrix b = testing::make_matrix(WeightType::F16, 11, 512, 96);
  for (int n : {2, 5, 16}) {
    std::vector<float> ya(n * a.rows), yb(n * b.rows), yk(n * q6k.rows);
    const std::vector<float> xk = testing::gaussian(n * q6k.cols, 97);
    const MatmulOutput outs[] = {{a.view(), ya.data()}, {b.view(), yb.data()}};
    matmul_multi(pool, x.data(), n, outs, MatmulPath::BatchInvariant);
    matmul(pool, xk.data(), n, q6k.view(), yk.data(), MatmulPath::BatchInvariant);
    for (int t = 0; t < n; ++t) {
      std::vector<float> sa(a.rows), sb(b.rows), sk(q6k.rows);
      matmul(pool, x.data() + t * 512, 1, a.view(), sa.data());
      matmul(pool, x.data() + t * 512, 1, b.view(), sb.data());
      matmul(pool, xk.data() + t * q6k.cols, 1, q6k.view(), sk.data());
      EXPECT_TRUE(same_bits(std::vector<float>(ya.begin() + t * a.rows, ya.begin() + (t + 1) * a.rows), sa)) << n;
      EXPECT_TRUE(same_bits(std::vector<float>(yb.begin() + t * b.rows, yb.begin() + (t + 1) * b.rows), sb)) << n;
      EXPECT_TRUE(same_bits(std::vector<float>(yk.begin() + t * q6k.rows, yk.begin() + (t + 1) * q6k.rows), sk)) << n;
    }
  }
}

}  // namespace
}  // namespace smol
