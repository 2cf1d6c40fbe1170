// AdamW, clipping, schedules and layer-wise LR decay.
#include <fmt/format.h>

#include <cmath>
#include <numbers>

#include "smol/error.hpp"
#include "smol/kernels.hpp"
#include "smol/thread_pool.hpp"
#include "smol/train_optim.hpp"

namespace smol {

Schedule parse_schedule(const std::string& name) {
  if (name == "constant") return Schedule::Constant;
  if (name == "cosine") return Schedule::Cosine;
  if (name == "wsd") return Schedule::Wsd;
  throw Error(fmt::format("unknown schedule '{}' (use constant, cosine or wsd)", name));
}

const char* schedule_name(Schedule s) {
  switch (s) {
    case Schedule::Constant: return "constant";
    case Schedule::Cosine: return "cosine";
    case Schedule::Wsd: return "wsd";
  }
  return "?";
}

double learning_rate(const ScheduleConfig& c, int64_t step) {
  if (step < c.warmup) return c.lr * static_cast<double>(step + 1) / static_cast<double>(c.warmup);
  switch (c.kind) {
    case Schedule::Constant: return c.lr;
    case Schedule::Cosine: {
      const double span = static_cast<double>(std::max<int64_t>(1, c.total_steps - c.warmup));
      const double progress = std::min(1.0, static_cast<double>(step - c.warmup) / span);
      return c.min_lr + 0.5 * (c.lr - c.min_lr) * (1.0 + std::cos(std::numbers::pi * progress));
    }
    case Schedule::Wsd: {
      // Warmup, a long stable phase at lr, then a linear decay to min_lr over the last
      // decay_fraction of the run (never into the warmup).
      const auto decay_steps = std::min<int64_t>(
          c.total_steps - c.warmup,
          static_cast<int64_t>(std::ceil(c.decay_fraction * static_cast<double>(c.total_steps))));
      const int64_t decay_start = c.total_steps - decay_steps;
      if (decay_steps <= 0 || step < decay_start) return c.lr;
      const double progress = std::min(1.0, static_cast<double>(step - decay_start + 1) / decay_steps);
      return c.lr + (c.min_lr - c.lr) * progress;
    }
  }
  return c.lr;
}

double layer_lr_scale(int depth, int n_layers, double decay) {
  if (decay == 1.0) return 1.0;
  if (depth >= n_layers) return 1.0;                // final norm, lm_head
  if (depth < 0) return std::pow(decay, n_layers);  // embeddings
  return std::pow(decay, n_layers - 1 - depth);
}

double global_norm(const float* g, size_t n) {
  double s = 0.0;
  for (size_t i = 0; i < n; ++i) s += static_cast<double>(g[i]) * g[i];
  return std::sqrt(s);
}

double clip_by_global_norm(float* g, size_t n, double norm, double max_norm) {
  if (max_norm <= 0.0 || !(norm > max_norm)) return 1.0;
  const double factor = max_norm / (norm + 1e-6);
  const auto f = static_cast<float>(factor);
  for (size_t i = 0; i < n; ++i) g[i] *= f;
  return factor;
}

void adamw_update(ThreadPool& pool, const ParamLayout& layout, float* params, const float* grads, AdamWState& s,
                  double lr, const AdamWConfig& c) {
  if (s.m.size() != layout.size()) {
    s.m.assign(layout.size(), 0.0f);
    s.v.assign(layout.size(), 0.0f);
  }
  s.t += 1;
  const double bc1 = 1.0 - std::pow(c.beta1, static_cast<double>(s.t));
  const double bc2 = 1.0 - std::pow(c.beta2, static_cast<double>(s.t));
  const auto b1 = static_cast<float>(c.beta1), b2 = static_cast<float>(c.beta2);
  const auto eps = static_cast<float>(c.eps);
  int n_layers = 0;
  for (const ParamTensor& t : layout.tensors()) n_layers = std::max(n_layers, t.depth);  // depth L = final norm
  for (const ParamTensor& t : layout.tensors()) {
    if (!t.trainable) continue;  // a buffer (final_logits_bias)
    const auto lr_t = static_cast<float>(lr * layer_lr_scale(t.depth, n_layers, c.layer_decay));
    const auto wd = static_cast<float>(t.is_matrix || c.decay_vectors ? c.weight_decay : 0.0);
    const auto inv_bc1 = static_cast<float>(1.0 / bc1), inv_sqrt_bc2 = static_cast<float>(1.0 / std::sqrt(bc2));
    float* p = params + t.offset;
    const float* g = grads + t.offset;
    float* m = s.m.data() + t.offset;
    float* v = s.v.data() + t.offset;
    const AdamWScalars scalars{b1, b2, inv_bc1, inv_sqrt_bc2, eps, lr_t, wd};
    pool.parallel_for(t.numel, [&](size_t begin, size_t end) {
      adamw_step(p + begin, g + begin, m + begin, v + begin, end - begin, scalars);
    });
  }
}

}  // namespace smol
