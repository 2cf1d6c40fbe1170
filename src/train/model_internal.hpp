#pragma once
// Helpers shared by the training forward and backward passes.
#include "smol/train_model.hpp"

namespace smol {

class ThreadPool;

// rmsnorm_forward split by rows across the pool (rows are independent).
template <typename T>
void parallel_rmsnorm_forward(ThreadPool& pool, T* out, T* rstd, const T* inp, const T* weight, int n_tokens,
                              int dim, double eps);

// Draws layer `layer`'s dropout masks for this forward (a pure function of the seed).
template <typename T>
void fill_dropout_masks(BasicActivations<T>& acts, int layer, const ForwardOptions& options);

}  // namespace smol
