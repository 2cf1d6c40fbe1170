// bf16 / f16 -> float32 widening in registers, shared by every kernel that reads 16-bit
// weights or caches (dot, matvec_float, gemm's panel decode, attention's BF16/F16 rows).
// Included once per Highway target from a file that includes hwy/foreach_target.h, hence the
// toggling include guard (Highway's -inl convention) instead of #pragma once.
#if defined(SMOL_KERNELS_WIDEN_INL_HPP_) == defined(HWY_TARGET_TOGGLE)
#ifdef SMOL_KERNELS_WIDEN_INL_HPP_
#undef SMOL_KERNELS_WIDEN_INL_HPP_
#else
#define SMOL_KERNELS_WIDEN_INL_HPP_
#endif

#include <cstdint>

#include "hwy/highway.h"
#include "smol/half.hpp"

HWY_BEFORE_NAMESPACE();
namespace smol::HWY_NAMESPACE {

// The two 16-bit float types kernels read. bf16 is the top half of a float32 (widened by
// shifting the 16 bits into place); F16 is IEEE half. Both widen exactly.
enum class Half { F16, BF16 };

// Lanes(df) values of type H from p as float32.
template <Half H, class DF>
HWY_INLINE hwy::HWY_NAMESPACE::Vec<DF> LoadWiden(DF df, const uint16_t* p) {
  namespace hn = hwy::HWY_NAMESPACE;
  if constexpr (H == Half::BF16) {
    const hn::Rebind<uint32_t, DF> du32;
    const hn::Rebind<uint16_t, DF> du16;
    return hn::BitCast(df, hn::ShiftLeft<16>(hn::PromoteTo(du32, hn::LoadU(du16, p))));
  } else {
    const hn::Rebind<hwy::float16_t, DF> dh;
    return hn::PromoteTo(df, hn::LoadU(dh, reinterpret_cast<const hwy::float16_t*>(p)));
  }
}

// One value, for the tails past the last whole vector.
template <Half H>
HWY_INLINE float WidenOne(uint16_t h) {
  return H == Half::BF16 ? bf16_to_f32(h) : f16_to_f32(h);
}

}  // namespace smol::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // SMOL_KERNELS_WIDEN_INL_HPP_
