#pragma once
// The two vector loops the training layers' attention is written with, for float (through
// the kernels' SIMD dot) and double (plain, for the float64 gradient checks).
#include <cstddef>
#include <type_traits>

#include "smol/kernels.hpp"

namespace smol::train_detail {

template <typename T>
T dot(const T* a, const T* b, int n) {
  if constexpr (std::is_same_v<T, float>) {
    return dot_f32(a, b, static_cast<size_t>(n));
  } else {
    T s = 0;
    for (int i = 0; i < n; ++i) s += a[i] * b[i];
    return s;
  }
}

template <typename T>
void axpy(T* y, T a, const T* x, int n) {
  for (int i = 0; i < n; ++i) y[i] += a * x[i];
}

}  // namespace smol::train_detail
