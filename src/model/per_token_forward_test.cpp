// ForwardBuffers::per_token_kernels: a batch of tokens gives, bit for bit, the logits and
// cache rows of one-token steps (what speculative decoding's verification relies on), for
// every weight and cache type, past every batch size at which the kernels switch paths (the
// K-quants need 256-column rows, wider than the fixtures: kernels/matvec_batch_invariance_test
// covers them).
#include <gtest/gtest.h>

#include <cstring>

#include "smol/model.hpp"
#include "smol/thread_pool.hpp"
#include "test_support/fixtures.hpp"

namespace smol {
namespace {

struct Case {
  const char* fixture;
  std::optional<WeightType> weights;
  WeightType cache;
};

class PerTokenForward : public ::testing::TestWithParam<Case> {};

TEST_P(PerTokenForward, BatchEqualsOneTokenSteps) {
  const Case c = GetParam();
  std::unique_ptr<Model> model = Model::load(testing::fixtures_dir() / c.fixture);
  if (c.weights) model->convert_weights(*c.weights);
  const ModelConfig& config = model->config();
  ThreadPool pool(2);
  const std::vector<int32_t> prefix = {504, 3575, 282, 4649, 314, 1, 9690, 198};
  std::vector<int32_t> batch;
  for (int i = 0; i < 17; ++i) batch.push_back((i * 7919 + 13) % config.vocab_size);
  const int capacity = static_cast<int>(prefix.size() + batch.size());
  const size_t vocab = static_cast<size_t>(config.vocab_size);

  KvCache stepwise_kv(config, capacity, c.cache), batched_kv(config, capacity, c.cache);
  ForwardBuffers stepwise(config, capacity, pool.size(), capacity), batched(config, capacity, pool.size(), capacity);
  model->forward(prefix, stepwise_kv, stepwise, pool, Logits::Last);
  model->forward(prefix, batched_kv, batched, pool, Logits::Last);
  std::vector<float> expected;
  for (int32_t t : batch) {
    const int32_t one[1] = {t};
    model->forward(one, stepwise_kv, stepwise, pool, Logits::Last);
    expected.insert(expected.end(), stepwise.logits.begin(), stepwise.logits.begin() + vocab);
  }
  batched.per_token_kernels = true;
  model->forward(batch, batched_kv, batched, pool, Logits::All);
  ASSERT_EQ(batched_kv.size(), stepwise_kv.size());
  EXPECT_EQ(std::memcmp(batched.logits.data(), expected.data(), expected.size() * sizeof(float)), 0)
      << "the batched logits are not bit for bit those of one-token steps";

  // Rewinding over rejected tokens and going on matches too.
  batched_kv.truncate(static_cast<int>(prefix.size()) + 5);
  stepwise_kv.truncate(static_cast<int>(prefix.size()) + 5);
  const std::vector<int32_t> more = {77, 78, 79};
  model->forward(more, batched_kv, batched, pool, Logits::All);
  for (size_t i = 0; i < more.size(); ++i) {
    const int32_t one[1] = {more[i]};
    model->forward(one, stepwise_kv, stepwise, pool, Logits::Last);
    EXPECT_EQ(std::memcmp(batched.logits.data() + i * vocab, stepwise.logits.data(), vocab * sizeof(float)), 0) << i;
  }
}

INSTANTIATE_TEST_SUITE_P(Types, PerTokenForward,
                         ::testing::Values(Case{"tiny-f32", std::nullopt, WeightType::F32},
                                           Case{"tiny-bf16", std::nullopt, WeightType::Q8_0},
                                           Case{"tiny-f16-untied-sharded", std::nullopt, WeightType::F16},
                                           Case{"tiny-f32", WeightType::Q8_0, WeightType::BF16},
                                           Case{"tiny-bf16", WeightType::Q4_0, WeightType::F32}));

}  // namespace
}  // namespace smol
