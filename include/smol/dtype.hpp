#pragma once
// Element types as named in safetensors headers.
#include <cstddef>
#include <optional>
#include <string_view>

namespace smol {

// The model layer computes with F32, F16 and BF16; the rest are known so that a file holding
// them is read correctly and rejected by the model layer with a precise message.
enum class DType { F32, F16, BF16, F64, I32, I64, I8, U8, BOOL };

size_t dtype_size(DType dtype);
std::string_view dtype_name(DType dtype);  // "F32", "BF16", ... as safetensors spells them
std::optional<DType> parse_dtype(std::string_view name);
bool is_float_dtype(DType dtype);  // F32, F16, BF16 or F64

}  // namespace smol
