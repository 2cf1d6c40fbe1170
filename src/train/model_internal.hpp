#pragma once
// Helpers shared by the training forward and backward passes.
#include "smol/train_model.hpp"

namespace smol {

class ThreadPool;

// rmsnorm_forward split by rows across the pool (rows are independent).
void parallel_rmsnorm_forward(ThreadPool& pool, float* out, float* rstd, const float* inp, const float* weight,
                              int n_tokens, int dim, double eps);

// Draws layer `layer`'s dropout masks for this forward (a pure function of the seed).
void fill_dropout_masks(Activations& acts, int layer, const ForwardOptions& options);

}  // namespace smol
