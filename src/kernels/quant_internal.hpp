#pragma once
// Pieces shared between the kernel files; not part of the public API.
#include <cstdint>

#include "smol/quant.hpp"

namespace smol {

void quantize_q4_k(const float* x, BlockQ4_K* y, int64_t n);
void dequantize_q4_k(const BlockQ4_K* x, float* y, int64_t n);
void quantize_q6_k(const float* x, BlockQ6_K* y, int64_t n);
void dequantize_q6_k(const BlockQ6_K* x, float* y, int64_t n);

// The 6-bit scale and min of sub-block j (0..7) of a Q4_K block, as ggml's get_scale_min_k4.
inline void q4_k_scale_min(int j, const uint8_t* q, int* scale, int* min) {
  if (j < 4) {
    *scale = q[j] & 63;
    *min = q[j + 4] & 63;
  } else {
    *scale = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
    *min = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
  }
}

}  // namespace smol
