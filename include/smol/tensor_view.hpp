#pragma once
// A tensor as a model file holds it: a name, a dtype, a shape and a pointer to its bytes, owned
// by the file object (SafetensorsFile, PytorchBinFile, TensorStore) that produced it.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "smol/dtype.hpp"

namespace smol {

struct TensorView {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  const std::byte* data = nullptr;  // aligned to dtype_size(dtype) for files read by smol
  size_t nbytes = 0;

  int64_t numel() const;
  // Typed access; the caller must have checked dtype (F32 -> float, BF16/F16 -> uint16_t).
  const float* f32() const { return reinterpret_cast<const float*>(data); }
  const uint16_t* u16() const { return reinterpret_cast<const uint16_t*>(data); }
};

}  // namespace smol
