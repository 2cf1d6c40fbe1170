#pragma once
// The float32 bodies of mha_forward / mha_backward (train/layers_mha_float.cpp): the same
// contract as smol/train_layers.hpp states for the templates.
#include <cstdint>

#include "smol/train_layers.hpp"

namespace smol {

class ThreadPool;

void mha_forward_f32(ThreadPool& pool, float* out, float* probs, const float* q, const float* k, const float* v,
                     const float* drop_mask, const int32_t* key_lengths, const MhaShape& s);
void mha_backward_f32(ThreadPool& pool, float* dq, float* dk, float* dv, const float* dout, const float* probs,
                      const float* q, const float* k, const float* v, const float* drop_mask,
                      const int32_t* key_lengths, const MhaShape& s);

}  // namespace smol
