#pragma once
// Element types as named in safetensors headers, plus GGML's quantized block types (GGUF).
#include <cstddef>
#include <optional>
#include <string_view>

namespace smol {

// The model layer computes with F32, F16 and BF16; the rest are known so that a file holding
// them is read correctly and rejected by the model layer with a precise message.
// Q8_0 ... Q5_0 are stored in blocks (see smol/quant.hpp): a tensor's innermost dimension is
// a whole number of blocks and its bytes are blocks x dtype_size. Q5_0 is only read from GGUF
// (llama.cpp's Q4_K_M files use it where K-quants do not fit) and repacked to Q8_0 exactly.
enum class DType { F32, F16, BF16, F64, I32, I64, I8, U8, BOOL, Q8_0, Q4_0, Q4_K, Q6_K, Q5_0 };

size_t dtype_size(DType dtype);            // bytes per element, or per block for block types
size_t dtype_block_elements(DType dtype);  // 1, or elements per block (32 or 256)
std::string_view dtype_name(DType dtype);  // "F32", "BF16", ... as safetensors spells them
// Safetensors names only: block types are GGUF's, never valid in a safetensors header.
std::optional<DType> parse_dtype(std::string_view name);
bool is_float_dtype(DType dtype);  // F32, F16, BF16 or F64
bool is_block_dtype(DType dtype);  // Q8_0, Q4_0, Q4_K, Q6_K or Q5_0

}  // namespace smol
