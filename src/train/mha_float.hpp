#pragma once
// The float32 bodies of mha_forward / mha_backward (train/layers_mha_float.cpp): the same
// contract as smol/train_layers.hpp states for the templates.
#include <cstdint>

#include "smol/train_layers.hpp"

namespace smol {

class ThreadPool;

// Keys query t of batch row b may see: the row's source length (padding masked), and with a
// causal mask no key after t. Shared by the float GEMM path and the plain loops.
inline int mha_visible_keys(const MhaShape& s, const int32_t* key_lengths, int b, int t) {
  int n = key_lengths ? (key_lengths[b] < s.kv_len ? key_lengths[b] : s.kv_len) : s.kv_len;
  if (s.causal && t + 1 < n) n = t + 1;
  return n;
}

void mha_forward_f32(ThreadPool& pool, float* out, float* probs, const float* q, const float* k, const float* v,
                     const float* drop_mask, const int32_t* key_lengths, const MhaShape& s);
void mha_backward_f32(ThreadPool& pool, float* dq, float* dk, float* dv, const float* dout, const float* probs,
                      const float* q, const float* k, const float* v, const float* drop_mask,
                      const int32_t* key_lengths, const MhaShape& s);

}  // namespace smol
