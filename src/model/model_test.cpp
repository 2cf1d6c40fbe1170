// The forward pass against the fixtures' float64 reference: every logit of prompt 0 and its
// greedy continuation, from one batched pass and from token-by-token decoding.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <tuple>
#include <nlohmann/json.hpp>

#include "smol/error.hpp"
#include "smol/json_file.hpp"
#include "smol/model.hpp"
#include "smol/quant.hpp"
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

// Largest |logit - expected| a KV cache of `type` may add, relative to the largest |expected
// logit| of the fixture (23 to 29). Measured maxima over the three fixtures, incremental,
// full pass and batched alike: F16 1.6e-3, BF16 1.5e-2, Q8_0 2.9e-2 (random-weight models
// with sharp attention; the error is exactly that of rounding the keys and values).
float kv_logit_budget(WeightType type, const ExpectedLogits& expected) {
  float largest = 0.0f;
  for (float x : expected.logits) largest = std::max(largest, std::fabs(x));
  switch (type) {
    case WeightType::F32: return kLogitTolerance;
    case WeightType::F16: return 3e-3f * largest;
    case WeightType::BF16: return 3e-2f * largest;
    default: return 5e-2f * largest;
  }
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
void check_interleaved_sequences(WeightType cache_type) {
  const auto dir = testing::fixtures_dir() / "tiny-f32";
  auto model = Model::load(dir);
  const ExpectedLogits expected = read_expected_logits(dir);
  const float tolerance = kv_logit_budget(cache_type, expected);
  const int n = static_cast<int>(expected.ids.size());
  const size_t vocab = model->config().vocab_size;
  ThreadPool pool(2);
  KvCache a(model->config(), n, cache_type), b(model->config(), n, cache_type);
  ForwardBuffers buf(model->config(), 4, pool.size(), n);

  // Step 0: sequence a prefills two tokens; from then on a and b advance one token each.
  std::vector<int32_t> tokens = {expected.ids[0], expected.ids[1]};
  std::vector<TokenSlot> slots = {{&a, 0}, {&a, 1}};
  std::vector<int> rows = {1};
  model->forward_batch(tokens, slots, rows, buf, pool);
  EXPECT_LE(max_abs_diff(buf.logits.data(), expected.logits.data() + 1 * vocab, vocab), tolerance);

  for (int step = 0; step + 2 < n; ++step) {
    tokens = {expected.ids[step + 2], expected.ids[step]};
    slots = {{&a, step + 2}, {&b, step}};
    rows = {0, 1};
    model->forward_batch(tokens, slots, rows, buf, pool);
    EXPECT_LE(max_abs_diff(buf.logits.data(), expected.logits.data() + (step + 2) * vocab, vocab), tolerance)
        << "a at " << step + 2;
    EXPECT_LE(max_abs_diff(buf.logits.data() + vocab, expected.logits.data() + step * vocab, vocab), tolerance)
        << "b at " << step;
  }
}

TEST(ModelBatch, InterleavedSequencesMatchReference) { check_interleaved_sequences(WeightType::F32); }

// Mixed batches read the caches through attention_head, not the tiled kernel.
TEST(ModelBatch, InterleavedSequencesWithAQ8_0CacheStayWithinBudget) { check_interleaved_sequences(WeightType::Q8_0); }

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

// KV caches stored as F16, BF16 or Q8_0 (--cache-type): the same fixtures, with the error the
// rounded keys and values add measured against an error budget.
namespace smol {
namespace {

class ModelKvType : public ::testing::TestWithParam<std::tuple<std::string, WeightType>> {
 protected:
  std::filesystem::path dir() const { return testing::fixtures_dir() / std::get<0>(GetParam()); }
  WeightType type() const { return std::get<1>(GetParam()); }
};

TEST_P(ModelKvType, IncrementalDecodeStaysWithinBudget) {
  auto model = Model::load(dir());
  const ExpectedLogits expected = read_expected_logits(dir());
  const int n = static_cast<int>(expected.ids.size());
  const size_t vocab = model->config().vocab_size;
  ThreadPool pool(2);
  KvCache kv(model->config(), n, type());
  ForwardBuffers buf(model->config(), 1, pool.size(), n);
  float worst = 0.0f;
  for (int t = 0; t < n; ++t) {
    model->forward(std::span(expected.ids).subspan(t, 1), kv, buf, pool, Logits::Last);
    worst = std::max(worst, max_abs_diff(buf.logits.data(), expected.logits.data() + t * vocab, vocab));
  }
  EXPECT_LE(worst, kv_logit_budget(type(), expected));
  RecordProperty("max_logit_error", std::to_string(worst));
}

// Many tokens at once take the tiled attention, which widens the cache while packing it.
TEST_P(ModelKvType, FullPassStaysWithinBudget) {
  auto model = Model::load(dir());
  const ExpectedLogits expected = read_expected_logits(dir());
  const int n = static_cast<int>(expected.ids.size());
  const size_t vocab = model->config().vocab_size;
  ThreadPool pool(2);
  KvCache kv(model->config(), n, type());
  ForwardBuffers buf(model->config(), n, pool.size(), n);
  model->forward(expected.ids, kv, buf, pool, Logits::All);
  float worst = 0.0f;
  for (int t = 0; t < n; ++t) {
    worst = std::max(worst, max_abs_diff(buf.logits.data() + t * vocab, expected.logits.data() + t * vocab, vocab));
  }
  EXPECT_LE(worst, kv_logit_budget(type(), expected));
  RecordProperty("max_logit_error", std::to_string(worst));
}

// Teacher-forced over each prompt and its reference continuation, so one differing id does
// not derail the rest: at every step the argmax must be the reference's next id or, where it
// is not, a near-tie: the reference id's logit within the logit budget of the argmax's.
// F16 changes no id; measured: BF16 1-2 and Q8_0 3-10 of the 144 steps of a fixture differ
// (widest gaps 0.045 and 0.32), so free-running greedy text drifts apart from there on.
TEST_P(ModelKvType, GreedyIdsMatchExceptAtNearTies) {
  auto model = Model::load(dir());
  const nlohmann::json expected = read_json_file(dir() / "expected.json");
  const float margin = kv_logit_budget(type(), read_expected_logits(dir()));
  const size_t vocab = model->config().vocab_size;
  ThreadPool pool(2);
  int steps = 0, differing = 0;
  float widest = 0.0f;
  for (const auto& prompt : expected["prompts"]) {
    auto ids = prompt["ids"].get<std::vector<int32_t>>();
    const auto greedy = prompt["greedy_ids"].get<std::vector<int32_t>>();
    const int prompt_len = static_cast<int>(ids.size());
    ids.insert(ids.end(), greedy.begin(), greedy.end() - 1);
    KvCache kv(model->config(), static_cast<int>(ids.size()), type());
    ForwardBuffers buf(model->config(), prompt_len, pool.size(), static_cast<int>(ids.size()));
    model->forward(std::span(ids).first(prompt_len), kv, buf, pool, Logits::Last);
    for (size_t i = 0; i < greedy.size(); ++i) {
      const auto best = std::max_element(buf.logits.begin(), buf.logits.begin() + vocab);
      ++steps;
      if (best - buf.logits.begin() != greedy[i]) {
        ++differing;
        const float gap = *best - buf.logits[greedy[i]];
        widest = std::max(widest, gap);
        EXPECT_LE(gap, margin) << prompt["text"] << " step " << i;
      }
      if (i + 1 < greedy.size()) model->forward(std::span(ids).subspan(prompt_len + i, 1), kv, buf, pool, Logits::Last);
    }
  }
  if (type() == WeightType::F16) {
    EXPECT_EQ(differing, 0);
  }
  RecordProperty("differing_ids", std::to_string(differing) + " of " + std::to_string(steps));
  RecordProperty("widest_gap", std::to_string(widest));
}

INSTANTIATE_TEST_SUITE_P(
    Fixtures, ModelKvType,
    ::testing::Combine(::testing::Values("tiny-f32", "tiny-bf16", "tiny-f16-untied-sharded"),
                       ::testing::Values(WeightType::F16, WeightType::BF16, WeightType::Q8_0)),
    [](const auto& info) {
      std::string name = std::get<0>(info.param) + "_" + weight_type_name(std::get<1>(info.param));
      std::replace(name.begin(), name.end(), '-', '_');
      return name;
    });

// SmolLM2-135M's shape: 30 layers, 3 kv heads of 64.
ModelConfig smollm2_135m_shape() {
  ModelConfig c;
  c.hidden_size = 576;
  c.intermediate_size = 1536;
  c.num_hidden_layers = 30;
  c.num_attention_heads = 9;
  c.num_key_value_heads = 3;
  c.head_dim = 64;
  c.vocab_size = 49152;
  return c;
}

TEST(KvCacheTypes, SmallerTypesHoldFewerBytes) {
  const ModelConfig c = smollm2_135m_shape();
  const int capacity = 1024;
  const size_t f32_bytes = size_t{30} * 2 * capacity * 192 * 4;  // 45 MiB: 46080 bytes per token
  EXPECT_EQ(KvCache(c, capacity).bytes(), f32_bytes);
  EXPECT_EQ(KvCache(c, capacity, WeightType::F16).bytes(), f32_bytes / 2);
  EXPECT_EQ(KvCache(c, capacity, WeightType::BF16).bytes(), f32_bytes / 2);
  // 6 blocks of 34 bytes per row of 192: 34 / 128 = 0.266 of float32.
  EXPECT_EQ(KvCache(c, capacity, WeightType::Q8_0).bytes(), size_t{30} * 2 * capacity * 6 * 34);
  for (WeightType t : {WeightType::F32, WeightType::F16, WeightType::BF16, WeightType::Q8_0}) {
    EXPECT_EQ(KvCache::bytes_per_token(c, t) * capacity, KvCache(c, capacity, t).bytes());
    RecordProperty(std::string("bytes_per_token_") + weight_type_name(t), std::to_string(KvCache::bytes_per_token(c, t)));
  }
}

TEST(KvCacheTypes, UnsupportedLayoutsAreErrors) {
  ModelConfig c = smollm2_135m_shape();
  EXPECT_THROW(KvCache(c, 8, WeightType::Q4_0), Error);
  c.num_key_value_heads = 1;
  c.head_dim = 48;
  try {
    KvCache kv(c, 8, WeightType::Q8_0);
    FAIL() << "a Q8_0 cache of rows of 48 values was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("multiple of 32"), std::string::npos) << e.what();
  }
  EXPECT_NO_THROW(KvCache(c, 8, WeightType::F16));
}

// Writing a position converts it once; rewinding and rewriting gives the same stored bytes.
TEST(KvCacheTypes, StoreRoundsLikeQuantizeRow) {
  const ModelConfig c = smollm2_135m_shape();
  const std::vector<float> k(192, 0.3f), v(192, -1.7f);
  KvCache kv(c, 4, WeightType::Q8_0);
  kv.store(5, 2, k.data(), v.data());
  std::vector<float> back(192);
  widen_kv(kv.keys(5), 2, 0, 192, back.data());
  for (float x : back) EXPECT_NEAR(x, 0.3f, 0.3f / 254);
  widen_kv(kv.values(5), 2, 0, 192, back.data());
  for (float x : back) EXPECT_NEAR(x, -1.7f, 1.7f / 254);
}

}  // namespace
}  // namespace smol
