#include "smol/half.hpp"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>

namespace smol {
namespace {

TEST(Half, Bf16WidensExactly) {
  EXPECT_EQ(bf16_to_f32(0x3f80), 1.0f);
  EXPECT_EQ(bf16_to_f32(0xc000), -2.0f);
  EXPECT_EQ(bf16_to_f32(0x0000), 0.0f);
  EXPECT_TRUE(std::signbit(bf16_to_f32(0x8000)));
  EXPECT_TRUE(std::isinf(bf16_to_f32(0x7f80)));
  EXPECT_TRUE(std::isnan(bf16_to_f32(0x7fc0)));
  // Values read from tiny-bf16 by Python's struct module (independent decoder).
  EXPECT_EQ(bf16_to_f32(0xbe25), -0.1611328125f);
  EXPECT_EQ(bf16_to_f32(0x3e37), 0.1787109375f);
}

TEST(Half, Bf16RoundsToNearestEven) {
  // 1 + 2^-8 is exactly between bf16 1.0 and 1.0078125: ties go to the even mantissa (1.0).
  EXPECT_EQ(f32_to_bf16(1.0f + 0x1p-8f), 0x3f80);
  // 1.0078125 + 2^-8 is between 1.0078125 (odd) and 1.015625 (even): goes up.
  EXPECT_EQ(f32_to_bf16(1.0078125f + 0x1p-8f), 0x3f82);
  EXPECT_EQ(f32_to_bf16(1.0f + 0x1p-8f + 0x1p-20f), 0x3f81);  // just above the tie
  EXPECT_EQ(f32_to_bf16(std::numeric_limits<float>::max()), 0x7f80);  // rounds to infinity
  EXPECT_EQ(f32_to_bf16(-std::numeric_limits<float>::infinity()), 0xff80);
}

TEST(Half, Bf16KeepsNaN) {
  // A NaN whose payload lives only in the low 16 bits would truncate to infinity.
  const float nan_low_payload = std::bit_cast<float>(0x7f800001u);
  EXPECT_TRUE(std::isnan(bf16_to_f32(f32_to_bf16(nan_low_payload))));
  EXPECT_TRUE(std::isnan(bf16_to_f32(f32_to_bf16(-std::numeric_limits<float>::quiet_NaN()))));
  EXPECT_TRUE(std::signbit(bf16_to_f32(f32_to_bf16(-std::numeric_limits<float>::quiet_NaN()))));
}

TEST(Half, Bf16MatchesNearestOnRandomFloats) {
  std::mt19937 rng(7);
  for (int i = 0; i < 200000; ++i) {
    const auto bits = static_cast<uint32_t>(rng());
    if (((bits >> 23) & 0xffu) >= 0xfeu) continue;  // keep both candidates finite; edges tested above
    const float f = std::bit_cast<float>(bits);
    const uint16_t got = f32_to_bf16(f);
    const uint32_t u = std::bit_cast<uint32_t>(f);
    const auto lo = static_cast<uint16_t>(u >> 16), hi = static_cast<uint16_t>(lo + 1);
    const double d_lo = std::fabs(static_cast<double>(f) - bf16_to_f32(lo));
    const double d_hi = std::fabs(static_cast<double>(f) - bf16_to_f32(hi));
    const uint16_t want = d_lo < d_hi ? lo : d_hi < d_lo ? hi : (lo % 2 == 0 ? lo : hi);
    ASSERT_EQ(got, want) << "f=" << f;
  }
}

TEST(Half, F16KnownValues) {
  EXPECT_EQ(f16_to_f32(0x3c00), 1.0f);
  EXPECT_EQ(f16_to_f32(0xc000), -2.0f);
  EXPECT_EQ(f16_to_f32(0x7bff), 65504.0f);
  EXPECT_EQ(f16_to_f32(0x0001), 0x1p-24f);  // smallest subnormal
  EXPECT_EQ(f16_to_f32(0x03ff), 1023 * 0x1p-24f);  // largest subnormal
  EXPECT_EQ(f16_to_f32(0x0400), 0x1p-14f);  // smallest normal
  EXPECT_TRUE(std::isinf(f16_to_f32(0xfc00)) && f16_to_f32(0xfc00) < 0);
  EXPECT_TRUE(std::isnan(f16_to_f32(0x7e00)));
  // tiny-f16 model.norm.weight[0..1], decoded by Python's struct module.
  EXPECT_EQ(f16_to_f32(0x3ccf), 1.2021484375f);
  EXPECT_EQ(f16_to_f32(0x3d2f), 1.2958984375f);

  EXPECT_EQ(f32_to_f16(65504.0f), 0x7bff);
  EXPECT_EQ(f32_to_f16(65519.99f), 0x7bff);
  EXPECT_EQ(f32_to_f16(65520.0f), 0x7c00);  // tie at the top rounds to infinity
  EXPECT_EQ(f32_to_f16(0x1p-24f), 0x0001);
  EXPECT_EQ(f32_to_f16(0x1p-25f), 0x0000);                // tie between 0 and 2^-24 -> even (0)
  EXPECT_EQ(f32_to_f16(0x1p-25f * 1.0000001f), 0x0001);   // just above the tie
  EXPECT_EQ(f32_to_f16(3 * 0x1p-25f), 0x0002);            // 1.5 units -> 2 (even)
  EXPECT_EQ(f32_to_f16(-0.0f), 0x8000);
  EXPECT_EQ(f32_to_f16(1.0f + 0x1p-11f), 0x3c00);         // tie -> even
  EXPECT_EQ(f32_to_f16(1.0f + 3 * 0x1p-11f), 0x3c02);     // tie -> even (up)
  EXPECT_EQ(f32_to_f16(0x1p-14f - 0x1p-26f), 0x0400);     // subnormal rounding carries into normal
  EXPECT_TRUE(std::isnan(f16_to_f32(f32_to_f16(std::bit_cast<float>(0x7f800001u)))));
}

TEST(Half, F16RoundTripsEveryHalf) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const float f = f16_to_f32(static_cast<uint16_t>(h));
    if (std::isnan(f)) {
      EXPECT_TRUE(std::isnan(f16_to_f32(f32_to_f16(f)))) << h;
    } else {
      ASSERT_EQ(f32_to_f16(f), h) << "half 0x" << std::hex << h;
    }
  }
}

#ifdef __FLT16_MAX__
// The compiler's _Float16 conversions are an independent, correctly rounded reference.
TEST(Half, F16MatchesCompilerFloat16) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const auto half = std::bit_cast<_Float16>(static_cast<uint16_t>(h));
    const float want = static_cast<float>(half);
    const float got = f16_to_f32(static_cast<uint16_t>(h));
    if (std::isnan(want)) {
      ASSERT_TRUE(std::isnan(got));
    } else {
      ASSERT_EQ(std::bit_cast<uint32_t>(got), std::bit_cast<uint32_t>(want)) << h;
    }
  }
  std::mt19937 rng(11);
  for (int i = 0; i < 400000; ++i) {
    // Bias exponents towards the half range so subnormal and overflow edges get hit often.
    uint32_t u = static_cast<uint32_t>(rng());
    if (i % 2 == 0) u = (u & 0x807fffffu) | ((96u + (u >> 23) % 48u) << 23);
    const float f = std::bit_cast<float>(u);
    if (std::isnan(f)) continue;
    const auto want = std::bit_cast<uint16_t>(static_cast<_Float16>(f));
    ASSERT_EQ(f32_to_f16(f), want) << "f=" << f << " bits 0x" << std::hex << u;
  }
}
#endif

}  // namespace
}  // namespace smol
