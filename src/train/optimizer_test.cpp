// AdamW against a float64 transcription of the fixture README's formula, clipping, the
// schedules, and the layer-wise learning-rate decay arithmetic.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "smol/error.hpp"
#include "smol/thread_pool.hpp"
#include "smol/train_optim.hpp"

namespace smol {
namespace {

ModelConfig tiny_config(int layers, bool tied) {
  ModelConfig c;
  c.hidden_size = 4;
  c.intermediate_size = 6;
  c.num_hidden_layers = layers;
  c.num_attention_heads = 2;
  c.num_key_value_heads = 1;
  c.head_dim = 2;
  c.vocab_size = 5;
  c.tie_word_embeddings = tied;
  return c;
}

TEST(LayerDecay, ArithmeticOfTheIssue) {
  // L = 4, decay 0.5: block l gets 0.5^(3-l), embeddings 0.5^4, final norm / lm_head 1.
  EXPECT_DOUBLE_EQ(layer_lr_scale(3, 4, 0.5), 1.0);
  EXPECT_DOUBLE_EQ(layer_lr_scale(2, 4, 0.5), 0.5);
  EXPECT_DOUBLE_EQ(layer_lr_scale(0, 4, 0.5), 0.125);
  EXPECT_DOUBLE_EQ(layer_lr_scale(-1, 4, 0.5), 0.0625);
  EXPECT_DOUBLE_EQ(layer_lr_scale(4, 4, 0.5), 1.0);
  EXPECT_DOUBLE_EQ(layer_lr_scale(0, 4, 1.0), 1.0);
}

TEST(LayerDecay, AppliedPerTensorByAdamW) {
  // With g = 1 everywhere and no weight decay, the first AdamW step moves every parameter by
  // exactly its learning rate (m̂/√v̂ = 1), which exposes each tensor's LR.
  const ModelConfig c = tiny_config(3, false);
  const ParamLayout layout(c);
  std::vector<float> p(layout.size(), 0.0f), g(layout.size(), 1.0f);
  AdamWState s;
  AdamWConfig cfg;
  cfg.weight_decay = 0.0;
  cfg.eps = 0.0;
  cfg.layer_decay = 0.8;
  ThreadPool pool(2);
  adamw_update(pool, layout, p.data(), g.data(), s, 0.01, cfg);
  for (const ParamTensor& t : layout.tensors()) {
    double want = 0.01;
    if (t.name == "model.embed_tokens.weight") want *= std::pow(0.8, 3);
    else if (t.name.starts_with("model.layers.0.")) want *= std::pow(0.8, 2);
    else if (t.name.starts_with("model.layers.1.")) want *= 0.8;
    for (size_t i = 0; i < t.numel; ++i) ASSERT_NEAR(p[t.offset + i], -want, 1e-6 * want) << t.name;
  }
}

TEST(AdamW, MatchesReadmeFormulaInDouble) {
  const ModelConfig c = tiny_config(1, true);
  const ParamLayout layout(c);
  std::mt19937_64 rng(1);
  std::normal_distribution<double> normal(0, 1);
  std::vector<float> p(layout.size());
  for (auto& x : p) x = static_cast<float>(normal(rng));
  std::vector<double> pd(p.begin(), p.end()), m(p.size()), v(p.size());
  AdamWState s;
  const AdamWConfig cfg;  // 0.9 / 0.95 / 1e-8 / wd 0.1 on matrices
  ThreadPool pool(1);
  const double lr = 1e-2;
  for (int t = 1; t <= 5; ++t) {
    std::vector<float> g(p.size());
    for (auto& x : g) x = static_cast<float>(normal(rng) * 1e-3);
    adamw_update(pool, layout, p.data(), g.data(), s, lr, cfg);
    for (const ParamTensor& ten : layout.tensors()) {
      const double wd = ten.shape.size() >= 2 ? 0.1 : 0.0;
      for (size_t i = ten.offset; i < ten.offset + ten.numel; ++i) {
        m[i] = 0.9 * m[i] + 0.1 * g[i];
        v[i] = 0.95 * v[i] + 0.05 * static_cast<double>(g[i]) * g[i];
        const double mhat = m[i] / (1 - std::pow(0.9, t)), vhat = v[i] / (1 - std::pow(0.95, t));
        pd[i] -= lr * (mhat / (std::sqrt(vhat) + 1e-8) + wd * pd[i]);
      }
    }
  }
  EXPECT_EQ(s.t, 5);
  for (size_t i = 0; i < p.size(); ++i) ASSERT_NEAR(p[i], pd[i], 2e-6) << i;
}

TEST(AdamW, WeightDecayOnlyOnMatricesByDefault) {
  const ModelConfig c = tiny_config(1, true);
  const ParamLayout layout(c);
  std::vector<float> p(layout.size(), 1.0f), g(layout.size(), 0.0f);
  AdamWState s;
  AdamWConfig cfg;
  cfg.weight_decay = 0.5;
  ThreadPool pool(1);
  adamw_update(pool, layout, p.data(), g.data(), s, 0.1, cfg);  // g = 0: only decay moves p
  for (const ParamTensor& t : layout.tensors()) {
    EXPECT_FLOAT_EQ(p[t.offset], t.is_matrix ? 1.0f - 0.1f * 0.5f : 1.0f) << t.name;
  }
}

TEST(Clip, ScalesToTheMaxNorm) {
  std::vector<float> g = {3.0f, 4.0f};
  const double norm = global_norm(g.data(), g.size());
  EXPECT_DOUBLE_EQ(norm, 5.0);
  clip_by_global_norm(g.data(), g.size(), norm, 1.0);
  EXPECT_NEAR(global_norm(g.data(), g.size()), 1.0, 1e-6);
  std::vector<float> small = {0.3f, 0.4f};
  EXPECT_EQ(clip_by_global_norm(small.data(), 2, 0.5, 1.0), 1.0);
  EXPECT_EQ(small[0], 0.3f);
  EXPECT_EQ(clip_by_global_norm(g.data(), 2, 5.0, 0.0), 1.0);  // 0 disables
}

TEST(Schedule, ConstantWithWarmup) {
  const ScheduleConfig c{Schedule::Constant, 1e-3, 100, 4, 0.0, 0.2};
  EXPECT_DOUBLE_EQ(learning_rate(c, 0), 0.25e-3);
  EXPECT_DOUBLE_EQ(learning_rate(c, 3), 1e-3);
  EXPECT_DOUBLE_EQ(learning_rate(c, 99), 1e-3);
}

TEST(Schedule, CosineFromPeakToMinLr) {
  const ScheduleConfig c{Schedule::Cosine, 1e-3, 110, 10, 1e-4, 0.2};
  EXPECT_DOUBLE_EQ(learning_rate(c, 9), 1e-3);
  EXPECT_DOUBLE_EQ(learning_rate(c, 10), 1e-3);
  EXPECT_NEAR(learning_rate(c, 60), 0.55e-3, 1e-12);  // halfway: the mean of peak and floor
  EXPECT_NEAR(learning_rate(c, 110), 1e-4, 1e-12);
  for (int s = 11; s < 110; ++s) EXPECT_LT(learning_rate(c, s), learning_rate(c, s - 1));
}

TEST(Schedule, WarmupStableDecay) {
  const ScheduleConfig c{Schedule::Wsd, 1e-3, 100, 5, 1e-5, 0.2};  // decay over steps 80..99
  EXPECT_DOUBLE_EQ(learning_rate(c, 0), 0.2e-3);
  EXPECT_DOUBLE_EQ(learning_rate(c, 5), 1e-3);
  EXPECT_DOUBLE_EQ(learning_rate(c, 79), 1e-3);
  EXPECT_NEAR(learning_rate(c, 80), 1e-3 + (1e-5 - 1e-3) * 1 / 20.0, 1e-15);
  EXPECT_NEAR(learning_rate(c, 89), 1e-3 + (1e-5 - 1e-3) * 10 / 20.0, 1e-15);
  EXPECT_NEAR(learning_rate(c, 99), 1e-5, 1e-15);  // the last step trains at min_lr
}

TEST(Schedule, ParsesNames) {
  EXPECT_EQ(parse_schedule("wsd"), Schedule::Wsd);
  EXPECT_THROW(parse_schedule("linear"), Error);
}

}  // namespace
}  // namespace smol
