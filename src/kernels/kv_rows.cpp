// Reading cached keys/values element by element in their stored type: the packing step of
// the tiled attention and the tests. The decode path reads them in registers instead
// (attention.cpp).
#include <cstring>

#include "smol/half.hpp"
#include "smol/kernels.hpp"
#include "smol/quant.hpp"

namespace smol {

void widen_kv(const KvView& kv, size_t pos, size_t first, int n, float* out) {
  const size_t start = pos * kv.stride + first;
  switch (kv.type) {
    case WeightType::F32:
      std::memcpy(out, static_cast<const float*>(kv.data) + start, n * sizeof(float));
      return;
    case WeightType::F16: {
      const uint16_t* src = static_cast<const uint16_t*>(kv.data) + start;
      for (int i = 0; i < n; ++i) out[i] = f16_to_f32(src[i]);
      return;
    }
    case WeightType::BF16: {
      const uint16_t* src = static_cast<const uint16_t*>(kv.data) + start;
      for (int i = 0; i < n; ++i) out[i] = bf16_to_f32(src[i]);
      return;
    }
    default: {  // Q8_0: blocks of 32 from the start of every position
      const auto* blocks = static_cast<const BlockQ8_0*>(kv.data);
      for (int i = 0; i < n;) {
        const BlockQ8_0& b = blocks[(start + i) / 32];
        const float d = f16_to_f32(b.d);
        for (int k = static_cast<int>((start + i) % 32); k < 32 && i < n; ++k, ++i) out[i] = d * b.qs[k];
      }
      return;
    }
  }
}

}  // namespace smol
