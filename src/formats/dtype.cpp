#include "smol/dtype.hpp"

#include <array>
#include <utility>

namespace smol {
namespace {

struct DTypeInfo {
  DType dtype;
  std::string_view name;
  size_t size;        // per block for block types
  size_t block = 1;   // elements per block
};

constexpr std::array<DTypeInfo, 14> kDTypes{{
    {DType::F32, "F32", 4},
    {DType::F16, "F16", 2},
    {DType::BF16, "BF16", 2},
    {DType::F64, "F64", 8},
    {DType::I32, "I32", 4},
    {DType::I64, "I64", 8},
    {DType::I8, "I8", 1},
    {DType::U8, "U8", 1},
    {DType::BOOL, "BOOL", 1},
    {DType::Q8_0, "Q8_0", 34, 32},
    {DType::Q4_0, "Q4_0", 18, 32},
    {DType::Q4_K, "Q4_K", 144, 256},
    {DType::Q6_K, "Q6_K", 210, 256},
    {DType::Q5_0, "Q5_0", 22, 32},
}};

const DTypeInfo& info(DType dtype) {
  for (const auto& entry : kDTypes) {
    if (entry.dtype == dtype) return entry;
  }
  return kDTypes[0];  // unreachable for valid enum values
}

}  // namespace

size_t dtype_size(DType dtype) { return info(dtype).size; }

size_t dtype_block_elements(DType dtype) { return info(dtype).block; }

std::string_view dtype_name(DType dtype) { return info(dtype).name; }

std::optional<DType> parse_dtype(std::string_view name) {
  for (const auto& entry : kDTypes) {
    if (entry.name == name && entry.block == 1) return entry.dtype;
  }
  return std::nullopt;
}

bool is_float_dtype(DType dtype) {
  return dtype == DType::F32 || dtype == DType::F16 || dtype == DType::BF16 || dtype == DType::F64;
}

bool is_block_dtype(DType dtype) { return dtype_block_elements(dtype) > 1; }

}  // namespace smol
