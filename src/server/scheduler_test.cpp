// The continuous-batching scheduler against the fixtures' reference greedy continuations
// (computed independently in float64): batching several sequences in one forward step must
// not change any sequence's tokens.
#include "server/scheduler.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <future>
#include <nlohmann/json.hpp>
#include <thread>

#include "smol/generate.hpp"
#include "test_support/fixtures.hpp"

namespace smol::server {
namespace {

using namespace std::chrono_literals;

struct Reference {
  std::vector<int32_t> ids;
  std::string greedy_text;
};

std::vector<Reference> references(const std::string& fixture) {
  std::ifstream in(testing::fixtures_dir() / fixture / "expected.json");
  const auto expected = nlohmann::json::parse(in);
  std::vector<Reference> out;
  for (const auto& p : expected["prompts"]) {
    out.push_back({p["ids"].get<std::vector<int32_t>>(), p["greedy_text"].get<std::string>()});
  }
  return out;
}

GenerationRequest greedy(const std::vector<int32_t>& prompt, int max_tokens) {
  GenerationRequest r;
  r.prompt = prompt;
  r.max_tokens = max_tokens;
  r.sampling.temperature = 0.0f;
  return r;
}

std::shared_ptr<Job> submit(Scheduler& s, GenerationRequest r) {
  Rejection why = Rejection::None;
  auto job = s.submit(std::move(r), why);
  EXPECT_TRUE(job) << static_cast<int>(why);
  return job;
}

class SchedulerFixture : public ::testing::TestWithParam<std::string> {
 protected:
  Engine engine{testing::fixtures_dir() / GetParam(), 2};
  Metrics metrics;
};

TEST_P(SchedulerFixture, ConcurrentGreedyRequestsMatchTheReference) {
  const auto refs = references(GetParam());
  // 4 slots for 6 requests: two wait in the queue and join the batch when a slot frees.
  Scheduler scheduler(engine, {.parallel = 4, .queue_limit = 8, .context = 128, .batch_tokens = 16}, metrics);
  std::vector<std::shared_ptr<Job>> jobs;
  for (const auto& r : refs) jobs.push_back(submit(scheduler, greedy(r.ids, 24)));
  for (size_t i = 0; i < refs.size(); ++i) {
    JobEvent ev = jobs[i]->wait();
    ASSERT_TRUE(ev.result.error.empty()) << ev.result.error;
    EXPECT_EQ(ev.text, refs[i].greedy_text) << "prompt " << i;
    EXPECT_EQ(ev.result.finish_reason, "length");
    EXPECT_EQ(ev.result.completion_tokens, 24);
    EXPECT_EQ(ev.result.prompt_tokens, static_cast<int>(refs[i].ids.size()));
  }
  EXPECT_EQ(metrics.generated_tokens.load(), 24 * static_cast<int64_t>(refs.size()));
  // Batching happened: far fewer steps than one per token per request.
  EXPECT_LT(metrics.forward_steps.load(), 24 * static_cast<int64_t>(refs.size()) / 2);
}

// Slots with smaller KV caches (smol serve --cache-type): mixed batches read them through
// attention_head. f16 changes no greedy id of the fixtures; q8_0 changes a few near-tied ones
// (src/model/model_test.cpp), so there every request only has to complete.
TEST_P(SchedulerFixture, SmallerCachesServeEveryRequest) {
  const auto refs = references(GetParam());
  for (WeightType type : {WeightType::F16, WeightType::Q8_0}) {
    Scheduler scheduler(engine, {.parallel = 3, .queue_limit = 8, .context = 128, .batch_tokens = 16, .cache_type = type},
                        metrics);
    std::vector<std::shared_ptr<Job>> jobs;
    for (const auto& r : refs) jobs.push_back(submit(scheduler, greedy(r.ids, 24)));
    for (size_t i = 0; i < refs.size(); ++i) {
      JobEvent ev = jobs[i]->wait();
      ASSERT_TRUE(ev.result.error.empty()) << ev.result.error;
      EXPECT_EQ(ev.result.completion_tokens, 24);
      if (type == WeightType::F16) {
        EXPECT_EQ(ev.text, refs[i].greedy_text) << "prompt " << i;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, SchedulerFixture, ::testing::Values("tiny-f32", "tiny-f16-untied-sharded"),
                         [](const auto& info) {
                           std::string name = info.param;
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

class SchedulerSlots : public ::testing::Test {
 protected:
  Engine engine{testing::fixtures_dir() / "tiny-f32", 1};
  Metrics metrics;
  std::vector<int32_t> prompt = references("tiny-f32")[0].ids;
};

TEST_F(SchedulerSlots, StreamedPiecesJoinToTheWholeText) {
  const auto refs = references("tiny-f32");
  Scheduler scheduler(engine, {.parallel = 2, .context = 64}, metrics);
  auto job = submit(scheduler, greedy(refs[0].ids, 24));
  std::string text;
  int pieces = 0;
  for (;;) {
    JobEvent ev = job->next(5s);
    ASSERT_FALSE(ev.timed_out);
    text += ev.text;
    pieces += !ev.text.empty();
    if (ev.finished) break;
  }
  EXPECT_EQ(text, refs[0].greedy_text);
  EXPECT_GT(pieces, 1);
}

TEST_F(SchedulerSlots, StopStringEndsTheTextBeforeIt) {
  const auto refs = references("tiny-f32");
  const std::string& full = refs[3].greedy_text;
  const std::string stop = full.substr(full.size() / 2, 3);
  auto r = greedy(refs[3].ids, 24);
  r.stop = {stop};
  Scheduler scheduler(engine, {.parallel = 1, .context = 64}, metrics);
  JobEvent ev = submit(scheduler, r)->wait();
  EXPECT_EQ(ev.text, full.substr(0, full.find(stop)));
  EXPECT_EQ(ev.result.finish_reason, "stop");
}

TEST_F(SchedulerSlots, ContextLimitEndsWithLength) {
  const auto refs = references("tiny-f32");
  const int context = static_cast<int>(refs[0].ids.size()) + 5;
  Scheduler scheduler(engine, {.parallel = 1, .context = context}, metrics);
  JobEvent ev = submit(scheduler, greedy(refs[0].ids, 100))->wait();
  EXPECT_EQ(ev.result.finish_reason, "length");
  EXPECT_EQ(ev.result.completion_tokens, 6);  // the last token needs no room in the cache
}

TEST_F(SchedulerSlots, FullQueueIsRefusedAtOnce) {
  Scheduler scheduler(engine, {.parallel = 1, .queue_limit = 1, .context = 512, .step_delay = 20ms}, metrics);
  auto first = submit(scheduler, greedy(prompt, 400));
  auto second = submit(scheduler, greedy(prompt, 4));
  Rejection why = Rejection::None;
  EXPECT_EQ(scheduler.submit(greedy(prompt, 4), why), nullptr);
  EXPECT_EQ(why, Rejection::QueueFull);
  first->cancel();
  EXPECT_TRUE(second->wait().result.error.empty());
}

TEST_F(SchedulerSlots, CancelledJobFreesItsSlotForTheNext) {
  Scheduler scheduler(engine, {.parallel = 1, .queue_limit = 4, .context = 512, .step_delay = 20ms}, metrics);
  auto long_job = submit(scheduler, greedy(prompt, 400));  // 400 steps x 20 ms = 8 s if not cancelled
  ASSERT_FALSE(long_job->next(5s).timed_out);  // it is generating
  auto waiting = submit(scheduler, greedy(prompt, 3));
  const auto start = std::chrono::steady_clock::now();
  long_job->cancel();
  JobEvent ev = waiting->wait();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
  EXPECT_TRUE(ev.result.error.empty());
  EXPECT_EQ(ev.result.completion_tokens, 3);
  EXPECT_EQ(long_job->wait().result.error, "cancelled");
  EXPECT_EQ(metrics.requests_cancelled.load(), 1);
}

TEST_F(SchedulerSlots, ShutdownEndsQueuedAndCancelsActiveAfterGrace) {
  auto scheduler = std::make_unique<Scheduler>(
      engine, SchedulerOptions{.parallel = 1, .queue_limit = 4, .context = 512, .step_delay = 20ms}, metrics);
  auto active = submit(*scheduler, greedy(prompt, 400));
  ASSERT_FALSE(active->next(5s).timed_out);
  auto queued = submit(*scheduler, greedy(prompt, 4));
  const auto start = std::chrono::steady_clock::now();
  scheduler->shutdown(100ms);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
  EXPECT_EQ(queued->wait().result.error, "the server is shutting down");
  EXPECT_EQ(active->wait().result.error, "the server is shutting down");
  Rejection why = Rejection::None;
  EXPECT_EQ(scheduler->submit(greedy(prompt, 4), why), nullptr);
  EXPECT_EQ(why, Rejection::ShuttingDown);
}

}  // namespace
}  // namespace smol::server
