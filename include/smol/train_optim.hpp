#pragma once
// AdamW with decoupled weight decay, global-norm gradient clipping, learning-rate schedules
// and layer-wise learning-rate decay, over the trainer's flat parameter buffer.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "smol/train_model.hpp"

namespace smol {

class ThreadPool;

enum class Schedule { Constant, Cosine, Wsd };
Schedule parse_schedule(const std::string& name);  // "constant" | "cosine" | "wsd"
const char* schedule_name(Schedule s);

struct ScheduleConfig {
  Schedule kind = Schedule::Constant;
  double lr = 1e-3;
  int64_t total_steps = 1;
  int64_t warmup = 0;          // linear ramp: step s < warmup gets lr * (s + 1) / warmup
  double min_lr = 0.0;         // floor reached at the end of cosine / WSD decay
  double decay_fraction = 0.2; // WSD: the last fraction of the steps decays linearly to min_lr
};

// Learning rate of optimizer step `step` (0-based).
double learning_rate(const ScheduleConfig& config, int64_t step);

// Layer-wise LR decay: transformer block l of L (0-based) gets decay^(L-1-l), the
// embeddings decay^L, the final norm and lm_head 1. `depth` is ParamTensor::depth.
double layer_lr_scale(int depth, int n_layers, double decay);

struct AdamWConfig {
  double beta1 = 0.9;
  double beta2 = 0.95;
  double eps = 1e-8;
  double weight_decay = 0.1;
  bool decay_vectors = false;  // weight decay on ndim < 2 tensors (norm weights) too
  double layer_decay = 1.0;    // 1: off
};

// Moments of every parameter, laid out like the parameters.
struct AdamWState {
  std::vector<float> m, v;
  int64_t t = 0;  // updates applied so far
};

// sqrt(sum g^2) in double.
double global_norm(const float* g, size_t n);

// Multiplies g by max_norm / (norm + 1e-6) when norm > max_norm (torch's clip_grad_norm_);
// max_norm <= 0 disables clipping. Returns the factor applied.
double clip_by_global_norm(float* g, size_t n, double norm, double max_norm);

// One AdamW update at learning rate `lr` (before layer decay), t incremented first:
//   m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g²;  m̂ = m/(1-b1^t);  v̂ = v/(1-b2^t)
//   p -= lr_p (m̂/(√v̂+eps) + wd p)   with lr_p = lr * layer_lr_scale(depth) and wd only on
//   matrices unless decay_vectors.
void adamw_update(ThreadPool& pool, const ParamLayout& layout, float* params, const float* grads, AdamWState& state,
                  double lr, const AdamWConfig& config);

}  // namespace smol
