// Block layouts checked against hand-built blocks (the GGML layouts written out byte by byte),
// ggml's reference quantizers on inputs with known answers, and round-trip error bounds.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "test_support/kernel_data.hpp"
#include "smol/error.hpp"
#include "smol/half.hpp"
#include "smol/quant.hpp"

namespace smol {
namespace {

TEST(Quant, SizesMatchGgml) {
  EXPECT_EQ(block_elements(WeightType::Q8_0), 32);
  EXPECT_EQ(block_bytes(WeightType::Q8_0), 34);
  EXPECT_EQ(block_bytes(WeightType::Q4_0), 18);
  EXPECT_EQ(block_elements(WeightType::Q4_K), 256);
  EXPECT_EQ(block_bytes(WeightType::Q4_K), 144);
  EXPECT_EQ(block_bytes(WeightType::Q6_K), 210);
  EXPECT_EQ(row_bytes(WeightType::Q8_0, 576), 18 * 34);
  EXPECT_EQ(row_bytes(WeightType::Q6_K, 1536), 6 * 210);
  EXPECT_EQ(row_bytes(WeightType::F16, 7), 14);
  EXPECT_EQ(offsetof(BlockQ6_K, d), 208u);
  EXPECT_EQ(offsetof(BlockQ4_K, qs), 16u);
}

TEST(Quant, RowBytesRejectsPartialBlocks) {
  EXPECT_THROW(row_bytes(WeightType::Q8_0, 33), Error);
  EXPECT_THROW(row_bytes(WeightType::Q4_K, 576), Error);
  std::vector<float> x(40);
  std::vector<uint8_t> out(200);
  EXPECT_THROW(quantize_row(WeightType::Q4_0, x.data(), out.data(), 40), Error);
  EXPECT_THROW(dequantize_row(WeightType::Q6_K, out.data(), x.data(), 40), Error);
}

TEST(Quant, Q8_0KnownBlock) {
  uint8_t raw[34];
  const uint16_t d = 0x3800;  // 0.5
  std::memcpy(raw, &d, 2);
  for (int i = 0; i < 32; ++i) raw[2 + i] = static_cast<uint8_t>(static_cast<int8_t>(i * 8 - 127));
  float y[32];
  dequantize_row(WeightType::Q8_0, raw, y, 32);
  for (int i = 0; i < 32; ++i) EXPECT_EQ(y[i], 0.5f * (i * 8 - 127)) << i;
}

TEST(Quant, Q4_0KnownBlock) {
  uint8_t raw[18];
  const uint16_t d = 0x4000;  // 2.0
  std::memcpy(raw, &d, 2);
  for (int j = 0; j < 16; ++j) raw[2 + j] = static_cast<uint8_t>(j | ((15 - j) << 4));
  float y[32];
  dequantize_row(WeightType::Q4_0, raw, y, 32);
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(y[j], 2.0f * (j - 8)) << j;             // low nibbles: first 16 elements
    EXPECT_EQ(y[j + 16], 2.0f * (15 - j - 8)) << j;   // high nibbles: last 16
  }
}

TEST(Quant, Q4_KKnownBlock) {
  // Sub-block scales/mins chosen to need all 6 bits, packed per ggml's get_scale_min_k4:
  // bytes 0-3: scale j (j < 4) + top 2 bits of scale j+4; bytes 4-7: min j + top bits of
  // min j+4; bytes 8-11: low 4 bits of scale j+4 | low 4 bits of min j+4 << 4.
  const int sc[8] = {1, 17, 33, 63, 5, 21, 42, 60};
  const int mn[8] = {2, 30, 47, 0, 63, 9, 18, 36};
  uint8_t raw[144] = {};
  const uint16_t d = 0x3C00, dmin = 0x3800;  // 1.0, 0.5
  std::memcpy(raw, &d, 2);
  std::memcpy(raw + 2, &dmin, 2);
  uint8_t* scales = raw + 4;
  for (int j = 0; j < 4; ++j) {
    scales[j] = static_cast<uint8_t>(sc[j] | ((sc[j + 4] >> 4) << 6));
    scales[j + 4] = static_cast<uint8_t>(mn[j] | ((mn[j + 4] >> 4) << 6));
    scales[j + 8] = static_cast<uint8_t>((sc[j + 4] & 0xF) | ((mn[j + 4] & 0xF) << 4));
  }
  uint8_t* qs = raw + 16;
  for (int i = 0; i < 128; ++i) qs[i] = static_cast<uint8_t>(i * 7 + 3);
  float y[256];
  dequantize_row(WeightType::Q4_K, raw, y, 256);
  for (int e = 0; e < 256; ++e) {
    const int j = e / 32, chunk = e / 64, l = e % 32;
    const uint8_t byte = qs[32 * chunk + l];
    const int q = (j % 2 == 0) ? (byte & 0xF) : (byte >> 4);
    EXPECT_EQ(y[e], 1.0f * sc[j] * q - 0.5f * mn[j]) << e;
  }
}

TEST(Quant, Q6_KKnownBlock) {
  uint8_t raw[210];
  for (int i = 0; i < 128; ++i) raw[i] = static_cast<uint8_t>(i * 13 + 5);        // ql
  for (int i = 0; i < 64; ++i) raw[128 + i] = static_cast<uint8_t>(i * 29 + 1);  // qh
  for (int j = 0; j < 16; ++j) raw[192 + j] = static_cast<uint8_t>(static_cast<int8_t>(j * 9 - 70));
  const uint16_t d = 0x3400;  // 0.25
  std::memcpy(raw + 208, &d, 2);
  float y[256];
  dequantize_row(WeightType::Q6_K, raw, y, 256);
  // Per 128-element half h: element 32k + l takes the low (k < 2) or high nibble of
  // ql[64h + 32(k%2) + l] and bits 2k..2k+1 of qh[32h + l]; sub-block scale index e / 16.
  for (int e = 0; e < 256; ++e) {
    const int h = e / 128, k = (e % 128) / 32, l = e % 32;
    const uint8_t lo = raw[64 * h + 32 * (k % 2) + l];
    const int low4 = k < 2 ? (lo & 0xF) : (lo >> 4);
    const int high2 = (raw[128 + 32 * h + l] >> (2 * k)) & 3;
    const int scale = static_cast<int8_t>(raw[192 + e / 16]);
    EXPECT_EQ(y[e], 0.25f * scale * ((low4 | (high2 << 4)) - 32)) << e;
  }
}

TEST(Quant, Q8_0MatchesGgmlReference) {
  float x[32];
  for (int i = 0; i < 32; ++i) x[i] = static_cast<float>(i - 16);
  BlockQ8_0 b;
  quantize_row(WeightType::Q8_0, x, &b, 32);
  EXPECT_EQ(b.d, f32_to_f16(16.0f / 127.0f));
  // ggml: id = 1/d in float, then roundf (half away from zero).
  const float id = 1.0f / (16.0f / 127.0f);
  for (int i = 0; i < 32; ++i) EXPECT_EQ(b.qs[i], static_cast<int8_t>(std::roundf((i - 16) * id))) << i;
  EXPECT_EQ(b.qs[0], -127);
  EXPECT_EQ(b.qs[16], 0);
}

TEST(Quant, Q4_0MatchesGgmlReference) {
  float x[32];
  for (int i = 0; i < 32; ++i) x[i] = static_cast<float>(i - 16);
  BlockQ4_0 b;
  quantize_row(WeightType::Q4_0, x, &b, 32);
  EXPECT_EQ(b.d, 0x4000);  // max |x| is -16 -> d = -16 / -8 = 2
  auto q = [](int i) { return std::min(15, (i + 1) / 2); };  // trunc((i - 16) / 2 + 8.5)
  for (int j = 0; j < 16; ++j) EXPECT_EQ(b.qs[j], q(j) | (q(j + 16) << 4)) << j;
}

TEST(Quant, AllZeroBlocks) {
  for (WeightType t : {WeightType::Q8_0, WeightType::Q4_0, WeightType::Q4_K, WeightType::Q6_K}) {
    std::vector<float> x(256, 0.0f), y(256, 1.0f);
    std::vector<uint8_t> bytes(row_bytes(t, 256));
    quantize_row(t, x.data(), bytes.data(), 256);
    dequantize_row(t, bytes.data(), y.data(), 256);
    for (float v : y) ASSERT_EQ(v, 0.0f) << weight_type_name(t);
  }
}

// Round trip: max error per block within what the format can promise, RMS error typical.
struct RoundTrip {
  WeightType type;
  double max_rel_to_block_amax;  // max |x - x'| / max |x| over each block
  double rms_rel;                // rms(x - x') / rms(x) over gaussian data
};

class QuantRoundTrip : public ::testing::TestWithParam<RoundTrip> {};

TEST_P(QuantRoundTrip, ErrorWithinBounds) {
  const RoundTrip p = GetParam();
  const int64_t n = 256 * 64;
  const std::vector<float> x = testing::gaussian(n, 7);
  std::vector<uint8_t> bytes(row_bytes(p.type, n));
  std::vector<float> y(n);
  quantize_row(p.type, x.data(), bytes.data(), n);
  dequantize_row(p.type, bytes.data(), y.data(), n);
  const int64_t block = std::max<int64_t>(32, block_elements(p.type));
  double err2 = 0, sig2 = 0;
  for (int64_t b = 0; b < n; b += block) {
    double amax = 0, emax = 0;
    for (int64_t i = b; i < b + block; ++i) {
      amax = std::max(amax, std::fabs(static_cast<double>(x[i])));
      emax = std::max(emax, std::fabs(static_cast<double>(x[i]) - y[i]));
      err2 += (static_cast<double>(x[i]) - y[i]) * (static_cast<double>(x[i]) - y[i]);
      sig2 += static_cast<double>(x[i]) * x[i];
    }
    ASSERT_LE(emax, p.max_rel_to_block_amax * amax) << weight_type_name(p.type) << " block " << b / block;
  }
  const double rms = std::sqrt(err2 / sig2);
  EXPECT_LT(rms, p.rms_rel) << weight_type_name(p.type);
  RecordProperty("rms_rel", std::to_string(rms));
}

INSTANTIATE_TEST_SUITE_P(
    Types, QuantRoundTrip,
    ::testing::Values(
        // half a step of amax/127, plus the f16 rounding of d times 127 steps
        RoundTrip{WeightType::Q8_0, (0.5 + 127.0 / 2048) / 127, 0.006},
        // a full step at the clamped end (+8 steps of amax/8 do not exist)
        RoundTrip{WeightType::Q4_0, 1.07 / 8, 0.095},
        // 15 steps over the block's range (<= 2 amax), loosened for 6-bit scales
        RoundTrip{WeightType::Q4_K, 2.0 / 15, 0.08},
        // 63 steps over <= 2 amax, loosened for 8-bit scales
        RoundTrip{WeightType::Q6_K, 2.0 / 63, 0.02},
        RoundTrip{WeightType::F16, 1.0 / 2048, 1e-3}, RoundTrip{WeightType::BF16, 1.0 / 256, 5e-3}),
    [](const auto& info) { return std::string(weight_type_name(info.param.type)); });

}  // namespace
}  // namespace smol
