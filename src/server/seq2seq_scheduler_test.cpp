// The encoder-decoder runner on a real Marian fixture (random weights, SentencePiece
// tokenizer): every job's text and usage equal generate_seq2seq run on that source alone
// with the same settings, and request fields map onto the folder's generation config.
#include "server/seq2seq_scheduler.hpp"

#include <gtest/gtest.h>

#include <fstream>

#include <nlohmann/json.hpp>

#include "test_support/fixtures.hpp"

namespace smol::server {
namespace {

std::filesystem::path fixture() { return testing::source_dir() / "tests" / "fixtures" / "seq2seq" / "marian-tied"; }

std::vector<std::string> fixture_sources() {
  std::ifstream in(fixture() / "expected.json");
  const nlohmann::json expected = nlohmann::json::parse(in);
  std::vector<std::string> out;
  for (const auto& t : expected["texts"]) out.push_back(t["text"]);
  return out;
}

GenerationRequest request_for(const Seq2SeqEngine& engine, const std::string& text) {
  GenerationRequest r;
  r.prompt = engine.tokenizer().encode_with_special(text);
  return r;
}

struct Expected {
  std::string text;
  int completion_tokens;
  std::string finish_reason;
};

Expected alone(Seq2SeqEngine& engine, const GenerationRequest& r, uint64_t seed = 0) {
  Seq2SeqRequest request;
  request.generation = seq2seq_generation(engine.generation(), r, engine.model().config().max_position_embeddings);
  request.seed = seed;
  const std::vector<std::vector<int32_t>> sources = {r.prompt};
  const GeneratedSequence best = generate_seq2seq(engine.model(), engine.pool(), sources, request)[0].best();
  const bool eos = best.finish == FinishReason::Eos;
  return {engine.tokenizer().decode(best.ids, /*skip_special=*/true),
          static_cast<int>(best.ids.size()) - (eos ? 1 : 0), finish_reason_name(best.finish)};
}

TEST(Seq2SeqScheduler, RequestFieldsOverrideTheFolderConfig) {
  GenerationConfig folder;
  folder.num_beams = 4;
  folder.max_length = 24;
  folder.top_p = 0.8;
  GenerationRequest r;
  GenerationConfig g = seq2seq_generation(folder, r, 64);
  EXPECT_EQ(g.num_beams, 4);
  EXPECT_FALSE(g.do_sample);
  EXPECT_FALSE(g.max_new_tokens.has_value());
  EXPECT_EQ(g.max_length, 24);

  r.temperature_set = true;
  r.sampling.temperature = 0.0f;  // greedy means "do not sample": the folder's beams stay
  g = seq2seq_generation(folder, r, 64);
  EXPECT_FALSE(g.do_sample);
  EXPECT_EQ(g.num_beams, 4);

  r.sampling.temperature = 0.7f;
  r.top_p_set = true;
  r.sampling.top_p = 0.5f;
  r.num_beams = 1;
  r.max_tokens_set = true;
  r.max_tokens = 1000;
  g = seq2seq_generation(folder, r, 64);
  EXPECT_TRUE(g.do_sample);
  EXPECT_FLOAT_EQ(g.temperature, 0.7f);
  EXPECT_FLOAT_EQ(g.top_p, 0.5f);
  EXPECT_EQ(g.num_beams, 1);
  EXPECT_EQ(g.max_new_tokens, 63);  // the decoder start token takes the first of 64 positions
}

TEST(Seq2SeqScheduler, JobsEqualGenerateSeq2SeqAlone) {
  Seq2SeqEngine engine(fixture(), 2);
  Metrics metrics;
  Seq2SeqScheduler scheduler(engine, {.parallel = 4}, metrics);
  const std::vector<std::string> sources = fixture_sources();
  ASSERT_GE(sources.size(), 3u);

  std::vector<GenerationRequest> requests;
  std::vector<Expected> expected;
  for (const std::string& s : sources) {  // the folder's config: 4 beams
    requests.push_back(request_for(engine, s));
    expected.push_back(alone(engine, requests.back()));
  }
  for (const std::string& s : sources) {  // greedy, a few lengths
    GenerationRequest r = request_for(engine, s);
    r.num_beams = 1;
    r.max_tokens_set = true;
    r.max_tokens = 5 + static_cast<int>(requests.size());
    requests.push_back(r);
    expected.push_back(alone(engine, r));
  }
  GenerationRequest sampled = request_for(engine, sources[0]);  // seeded: runs alone, so reproducible
  sampled.num_beams = 1;
  sampled.temperature_set = true;
  sampled.sampling.temperature = 1.0f;
  sampled.sampling.seed = 1234;
  requests.push_back(sampled);
  expected.push_back(alone(engine, sampled, 1234));

  std::vector<std::shared_ptr<Job>> jobs;
  for (const GenerationRequest& r : requests) {
    Rejection why = Rejection::None;
    jobs.push_back(scheduler.submit(r, why));
    ASSERT_NE(jobs.back(), nullptr);
  }
  for (size_t i = 0; i < jobs.size(); ++i) {
    const JobEvent ev = jobs[i]->wait();
    ASSERT_TRUE(ev.result.error.empty()) << i << ": " << ev.result.error;
    EXPECT_EQ(ev.text, expected[i].text) << "job " << i;
    EXPECT_EQ(ev.result.completion_tokens, expected[i].completion_tokens) << "job " << i;
    EXPECT_EQ(ev.result.finish_reason, expected[i].finish_reason) << "job " << i;
    EXPECT_EQ(ev.result.prompt_tokens, static_cast<int>(requests[i].prompt.size()));
  }
  EXPECT_EQ(metrics.active.load(), 0);
  EXPECT_EQ(metrics.queued.load(), 0);
}

TEST(Seq2SeqScheduler, StopStringsCutTheTextAndShutdownRefuses) {
  Seq2SeqEngine engine(fixture(), 2);
  Metrics metrics;
  Seq2SeqScheduler scheduler(engine, {.parallel = 2}, metrics);
  GenerationRequest r = request_for(engine, fixture_sources()[1]);
  const Expected full = alone(engine, r);
  const size_t cut = full.text.find("able");
  ASSERT_NE(cut, std::string::npos) << full.text;
  r.stop = {"able"};
  Rejection why = Rejection::None;
  const JobEvent ev = scheduler.submit(r, why)->wait();
  EXPECT_EQ(ev.text, full.text.substr(0, cut));
  EXPECT_EQ(ev.result.finish_reason, "stop");

  scheduler.shutdown(std::chrono::milliseconds(0));
  EXPECT_EQ(scheduler.submit(r, why), nullptr);
  EXPECT_EQ(why, Rejection::ShuttingDown);
}

}  // namespace
}  // namespace smol::server
