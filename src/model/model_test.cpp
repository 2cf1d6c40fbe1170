// The forward pass against the fixtures' float64 reference: every logit of prompt 0 and its
// greedy continuation, from one batched pass and from token-by-token decoding.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "smol/error.hpp"
#include "smol/json_file.hpp"
#include "smol/model.hpp"
#include "smol/safetensors.hpp"
#include "smol/thread_pool.hpp"
#include "test_support/fixtures.hpp"

namespace smol {
namespace {

constexpr float kLogitTolerance = 1e-3f;

struct ExpectedLogits {
  std::vector<int32_t> ids;
  std::vector<float> logits;  // ids.size() x vocab
};

ExpectedLogits read_expected_logits(const std::filesystem::path& dir) {
  SafetensorsFile file = SafetensorsFile::open(dir / "expected_logits.safetensors");
  const TensorView* t = file.find("logits");
  EXPECT_NE(t, nullptr);
  ExpectedLogits out;
  out.ids = nlohmann::json::parse(file.metadata().at("ids")).get<std::vector<int32_t>>();
  const auto* data = reinterpret_cast<const float*>(t->data);
  out.logits.assign(data, data + t->numel());
  return out;
}

class ModelFixture : public ::testing::TestWithParam<std::string> {
 protected:
  std::filesystem::path dir() const { return testing::fixtures_dir() / GetParam(); }
};

float max_abs_diff(const float* a, const float* b, size_t n) {
  float worst = 0.0f;
  for (size_t i = 0; i < n; ++i) worst = std::max(worst, std::fabs(a[i] - b[i]));
  return worst;
}

TEST_P(ModelFixture, FullPassLogitsMatchReference) {
  auto model = Model::load(dir());
  const ExpectedLogits expected = read_expected_logits(dir());
  const int n = static_cast<int>(expected.ids.size());
  const size_t vocab = model->config().vocab_size;
  ASSERT_EQ(expected.logits.size(), n * vocab);

  ThreadPool pool(2);
  KvCache kv(model->config(), n);
  ForwardBuffers buf(model->config(), n, pool.size(), n);
  model->forward(expected.ids, kv, buf, pool, Logits::All);
  for (int t = 0; t < n; ++t) {
    EXPECT_LE(max_abs_diff(buf.logits.data() + t * vocab, expected.logits.data() + t * vocab, vocab), kLogitTolerance)
        << "position " << t;
  }
}

TEST_P(ModelFixture, IncrementalDecodeMatchesReference) {
  auto model = Model::load(dir());
  const ExpectedLogits expected = read_expected_logits(dir());
  const int n = static_cast<int>(expected.ids.size());
  const size_t vocab = model->config().vocab_size;

  ThreadPool pool(2);
  KvCache kv(model->config(), n);
  ForwardBuffers buf(model->config(), 1, pool.size(), n);
  for (int t = 0; t < n; ++t) {
    model->forward(std::span(expected.ids).subspan(t, 1), kv, buf, pool, Logits::Last);
    EXPECT_LE(max_abs_diff(buf.logits.data(), expected.logits.data() + t * vocab, vocab), kLogitTolerance)
        << "step " << t;
  }
}

TEST_P(ModelFixture, GreedyIdsAndTop10MatchEveryPrompt) {
  auto model = Model::load(dir());
  const nlohmann::json expected = read_json_file(dir() / "expected.json");
  const size_t vocab = model->config().vocab_size;
  ThreadPool pool(2);
  for (const auto& prompt : expected["prompts"]) {
    const auto ids = prompt["ids"].get<std::vector<int32_t>>();
    const auto greedy = prompt["greedy_ids"].get<std::vector<int32_t>>();
    const int capacity = static_cast<int>(ids.size() + greedy.size());
    KvCache kv(model->config(), capacity);
    ForwardBuffers buf(model->config(), static_cast<int>(ids.size()), pool.size(), capacity);
    model->forward(ids, kv, buf, pool, Logits::Last);

    std::vector<int32_t> order(vocab);
    for (size_t i = 0; i < vocab; ++i) order[i] = static_cast<int32_t>(i);
    std::partial_sort(order.begin(), order.begin() + 10, order.end(),
                      [&](int32_t a, int32_t b) { return buf.logits[a] > buf.logits[b]; });
    for (int i = 0; i < 10; ++i) {
      EXPECT_EQ(order[i], prompt["last_top10"][i][0].get<int32_t>()) << prompt["text"] << " rank " << i;
      EXPECT_NEAR(buf.logits[order[i]], prompt["last_top10"][i][1].get<double>(), kLogitTolerance);
    }

    std::vector<int32_t> produced;
    for (size_t i = 0; i < greedy.size(); ++i) {
      const int32_t next = static_cast<int32_t>(
          std::max_element(buf.logits.begin(), buf.logits.begin() + vocab) - buf.logits.begin());
      produced.push_back(next);
      if (i + 1 < greedy.size()) model->forward(std::span(&next, 1), kv, buf, pool, Logits::Last);
    }
    EXPECT_EQ(produced, greedy) << prompt["text"];
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, ModelFixture,
                         ::testing::Values("tiny-f32", "tiny-bf16", "tiny-f16-untied-sharded"),
                         [](const auto& info) {
                           std::string name = info.param;
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

TEST(ModelLimits, ContextOverflowIsAnError) {
  auto model = Model::load(testing::fixtures_dir() / "tiny-f32");
  ThreadPool pool(1);
  KvCache kv(model->config(), 4);
  ForwardBuffers buf(model->config(), 8, pool.size(), 4);
  const std::vector<int32_t> ids = {1, 2, 3, 4, 5};
  EXPECT_THROW(model->forward(ids, kv, buf, pool, Logits::Last), Error);
  EXPECT_EQ(kv.size(), 0);
}

TEST(ModelLimits, TokenOutsideVocabularyIsAnError) {
  auto model = Model::load(testing::fixtures_dir() / "tiny-f32");
  ThreadPool pool(1);
  KvCache kv(model->config(), 4);
  ForwardBuffers buf(model->config(), 4, pool.size(), 4);
  const std::vector<int32_t> ids = {1, 49152};
  EXPECT_THROW(model->forward(ids, kv, buf, pool, Logits::Last), Error);
}

}  // namespace
}  // namespace smol

namespace smol {
namespace {

// Two sequences decoded together in one batch give each sequence's reference logits: the
// fixture's prompt 0 (+ continuation) in one cache and the same ids in a second cache that
// starts two steps later.
TEST(ModelBatch, InterleavedSequencesMatchReference) {
  const auto dir = testing::fixtures_dir() / "tiny-f32";
  auto model = Model::load(dir);
  const ExpectedLogits expected = read_expected_logits(dir);
  const int n = static_cast<int>(expected.ids.size());
  const size_t vocab = model->config().vocab_size;
  ThreadPool pool(2);
  KvCache a(model->config(), n), b(model->config(), n);
  ForwardBuffers buf(model->config(), 4, pool.size(), n);

  // Step 0: sequence a prefills two tokens; from then on a and b advance one token each.
  std::vector<int32_t> tokens = {expected.ids[0], expected.ids[1]};
  std::vector<TokenSlot> slots = {{&a, 0}, {&a, 1}};
  std::vector<int> rows = {1};
  model->forward_batch(tokens, slots, rows, buf, pool);
  EXPECT_LE(max_abs_diff(buf.logits.data(), expected.logits.data() + 1 * vocab, vocab), kLogitTolerance);

  for (int step = 0; step + 2 < n; ++step) {
    tokens = {expected.ids[step + 2], expected.ids[step]};
    slots = {{&a, step + 2}, {&b, step}};
    rows = {0, 1};
    model->forward_batch(tokens, slots, rows, buf, pool);
    EXPECT_LE(max_abs_diff(buf.logits.data(), expected.logits.data() + (step + 2) * vocab, vocab), kLogitTolerance)
        << "a at " << step + 2;
    EXPECT_LE(max_abs_diff(buf.logits.data() + vocab, expected.logits.data() + step * vocab, vocab), kLogitTolerance)
        << "b at " << step;
  }
}

TEST(ModelBatch, OutOfOrderPositionIsAnError) {
  auto model = Model::load(testing::fixtures_dir() / "tiny-f32");
  ThreadPool pool(1);
  KvCache kv(model->config(), 8);
  ForwardBuffers buf(model->config(), 2, pool.size(), 8);
  const std::vector<int32_t> tokens = {5, 6};
  const std::vector<TokenSlot> slots = {{&kv, 1}, {&kv, 2}};
  const std::vector<int> rows = {1};
  EXPECT_THROW(model->forward_batch(tokens, slots, rows, buf, pool), Error);
}

}  // namespace
}  // namespace smol
