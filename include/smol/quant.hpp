#pragma once
// GGML-compatible quantized blocks. The structs below are byte-for-byte the layouts of
// ggml-common.h (block_q8_0, block_q4_0, block_q4_K, block_q6_K), so rows of them can be read
// from and written to GGUF files unchanged. f16 fields hold IEEE binary16 bits.
//
// Values a block stands for:
//   Q8_0: x[i] = d * qs[i]                         (32 per block)
//   Q4_0: x[i] = d * (nibble_i - 8); byte j holds element j in its low nibble and element
//         j + 16 in its high nibble                 (32 per block)
//   Q4_K: 8 sub-blocks of 32, x = d * sc_j * q - dmin * m_j with 6-bit sc_j, m_j packed in
//         scales[12] and 4-bit q; qs[32c + l] holds element 64c + l (low nibble) and
//         64c + 32 + l (high nibble)                (256 per block)
//   Q6_K: 16 sub-blocks of 16, x = d * scales_j * (q - 32) with 6-bit q split into ql (low 4)
//         and qh (high 2), laid out per 128-element half as ggml's dequantize_row_q6_K reads
//                                                   (256 per block)
#include <cstdint>

#include "smol/kernels.hpp"

namespace smol {

struct BlockQ8_0 {
  uint16_t d;
  int8_t qs[32];
};
struct BlockQ4_0 {
  uint16_t d;
  uint8_t qs[16];
};
struct BlockQ4_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[12];
  uint8_t qs[128];
};
struct BlockQ6_K {
  uint8_t ql[128];
  uint8_t qh[64];
  int8_t scales[16];
  uint16_t d;
};
static_assert(sizeof(BlockQ8_0) == 34 && sizeof(BlockQ4_0) == 18);
static_assert(sizeof(BlockQ4_K) == 144 && sizeof(BlockQ6_K) == 210);

// Elements per block (1 for F32/BF16/F16) and bytes per block (the element size for those).
int64_t block_elements(WeightType type);
int64_t block_bytes(WeightType type);
bool is_quantized(WeightType type);
const char* weight_type_name(WeightType type);

// Bytes of one row of `cols` elements. Throws smol::Error when cols is not a multiple of
// the block size.
int64_t row_bytes(WeightType type, int64_t cols);

// Encodes n floats (a multiple of the block size) as `type`. Q8_0 and Q4_0 give exactly what
// ggml's reference quantizers give. Q4_K and Q6_K use a simpler search than ggml's
// make_qkx2/make_qx_quants: per sub-block a small grid of candidate (scale, min) ranges is
// tried, each refined by least squares, and the one with the least squared error kept; the
// sub-block scales are then quantized against the super-block scale and the quants
// recomputed with the final, rounded scales. F32/BF16/F16 are plain conversions.
void quantize_row(WeightType type, const float* src, void* dst, int64_t n);

// Decodes n elements of `type` (n a multiple of the block size) to float32.
void dequantize_row(WeightType type, const void* src, float* dst, int64_t n);

}  // namespace smol
