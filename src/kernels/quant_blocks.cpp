// Block sizes, names, and the reference (scalar) encoders/decoders of the 32-element block
// types. The K-quants live in quant_kquants.cpp.
#include <algorithm>
#include <cmath>
#include <cstring>

#include <fmt/format.h>

#include "kernels/quant_internal.hpp"
#include "smol/error.hpp"
#include "smol/half.hpp"
#include "smol/quant.hpp"

namespace smol {

int64_t block_elements(WeightType type) {
  switch (type) {
    case WeightType::F32:
    case WeightType::BF16:
    case WeightType::F16: return 1;
    case WeightType::Q8_0:
    case WeightType::Q4_0: return 32;
    case WeightType::Q4_K:
    case WeightType::Q6_K: return 256;
  }
  throw Error("unknown weight type");
}

int64_t block_bytes(WeightType type) {
  switch (type) {
    case WeightType::F32: return 4;
    case WeightType::BF16:
    case WeightType::F16: return 2;
    case WeightType::Q8_0: return sizeof(BlockQ8_0);
    case WeightType::Q4_0: return sizeof(BlockQ4_0);
    case WeightType::Q4_K: return sizeof(BlockQ4_K);
    case WeightType::Q6_K: return sizeof(BlockQ6_K);
  }
  throw Error("unknown weight type");
}

bool is_quantized(WeightType type) { return block_elements(type) > 1; }

const char* weight_type_name(WeightType type) {
  switch (type) {
    case WeightType::F32: return "F32";
    case WeightType::BF16: return "BF16";
    case WeightType::F16: return "F16";
    case WeightType::Q8_0: return "Q8_0";
    case WeightType::Q4_0: return "Q4_0";
    case WeightType::Q4_K: return "Q4_K";
    case WeightType::Q6_K: return "Q6_K";
  }
  return "unknown";
}

int64_t row_bytes(WeightType type, int64_t cols) {
  const int64_t block = block_elements(type);
  if (cols < 0 || cols % block != 0) {
    throw Error(fmt::format("{} rows need a multiple of {} columns, got {}", weight_type_name(type), block, cols));
  }
  return cols / block * block_bytes(type);
}

namespace {

// ggml's quantize_row_q8_0_ref: scale to the absolute maximum, round half away from zero.
void quantize_q8_0(const float* x, BlockQ8_0* y, int64_t n) {
  for (int64_t b = 0; b < n / 32; ++b, x += 32) {
    float amax = 0.0f;
    for (int i = 0; i < 32; ++i) amax = std::max(amax, std::fabs(x[i]));
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[b].d = f32_to_f16(d);
    for (int i = 0; i < 32; ++i) y[b].qs[i] = static_cast<int8_t>(std::roundf(x[i] * id));
  }
}

void dequantize_q8_0(const BlockQ8_0* x, float* y, int64_t n) {
  for (int64_t b = 0; b < n / 32; ++b, y += 32) {
    const float d = f16_to_f32(x[b].d);
    for (int i = 0; i < 32; ++i) y[i] = d * static_cast<float>(x[b].qs[i]);
  }
}

// ggml's quantize_row_q4_0_ref: the signed value of largest magnitude maps to -8, so the
// extreme is exact and the other side gets 7 steps.
void quantize_q4_0(const float* x, BlockQ4_0* y, int64_t n) {
  for (int64_t b = 0; b < n / 32; ++b, x += 32) {
    float amax = 0.0f, max = 0.0f;
    for (int i = 0; i < 32; ++i) {
      if (amax < std::fabs(x[i])) {
        amax = std::fabs(x[i]);
        max = x[i];
      }
    }
    const float d = max / -8.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[b].d = f32_to_f16(d);
    for (int j = 0; j < 16; ++j) {
      const auto lo = static_cast<uint8_t>(std::min(15, static_cast<int>(static_cast<int8_t>(x[j] * id + 8.5f))));
      const auto hi =
          static_cast<uint8_t>(std::min(15, static_cast<int>(static_cast<int8_t>(x[j + 16] * id + 8.5f))));
      y[b].qs[j] = static_cast<uint8_t>(lo | (hi << 4));
    }
  }
}

void dequantize_q4_0(const BlockQ4_0* x, float* y, int64_t n) {
  for (int64_t b = 0; b < n / 32; ++b, y += 32) {
    const float d = f16_to_f32(x[b].d);
    for (int j = 0; j < 16; ++j) {
      y[j] = d * static_cast<float>((x[b].qs[j] & 0xF) - 8);
      y[j + 16] = d * static_cast<float>((x[b].qs[j] >> 4) - 8);
    }
  }
}

}  // namespace

void quantize_row(WeightType type, const float* src, void* dst, int64_t n) {
  row_bytes(type, n);  // validates n
  switch (type) {
    case WeightType::F32: std::memcpy(dst, src, n * sizeof(float)); return;
    case WeightType::BF16:
      for (int64_t i = 0; i < n; ++i) static_cast<uint16_t*>(dst)[i] = f32_to_bf16(src[i]);
      return;
    case WeightType::F16:
      for (int64_t i = 0; i < n; ++i) static_cast<uint16_t*>(dst)[i] = f32_to_f16(src[i]);
      return;
    case WeightType::Q8_0: quantize_q8_0(src, static_cast<BlockQ8_0*>(dst), n); return;
    case WeightType::Q4_0: quantize_q4_0(src, static_cast<BlockQ4_0*>(dst), n); return;
    case WeightType::Q4_K: quantize_q4_k(src, static_cast<BlockQ4_K*>(dst), n); return;
    case WeightType::Q6_K: quantize_q6_k(src, static_cast<BlockQ6_K*>(dst), n); return;
  }
}

void dequantize_row(WeightType type, const void* src, float* dst, int64_t n) {
  row_bytes(type, n);
  switch (type) {
    case WeightType::F32: std::memcpy(dst, src, n * sizeof(float)); return;
    case WeightType::BF16:
      for (int64_t i = 0; i < n; ++i) dst[i] = bf16_to_f32(static_cast<const uint16_t*>(src)[i]);
      return;
    case WeightType::F16:
      for (int64_t i = 0; i < n; ++i) dst[i] = f16_to_f32(static_cast<const uint16_t*>(src)[i]);
      return;
    case WeightType::Q8_0: dequantize_q8_0(static_cast<const BlockQ8_0*>(src), dst, n); return;
    case WeightType::Q4_0: dequantize_q4_0(static_cast<const BlockQ4_0*>(src), dst, n); return;
    case WeightType::Q4_K: dequantize_q4_k(static_cast<const BlockQ4_K*>(src), dst, n); return;
    case WeightType::Q6_K: dequantize_q6_k(static_cast<const BlockQ6_K*>(src), dst, n); return;
  }
}

}  // namespace smol
