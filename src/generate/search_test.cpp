// Greedy search, sampling and the logits processors on scripted models whose expected
// outputs are derived by hand (each derivation is in the comment above its assertion).
#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "smol/error.hpp"
#include "smol/search.hpp"
#include "test_support/scripted_step_model.hpp"

namespace smol {
namespace {

using testing::ScriptedStepModel;
using Ids = std::vector<int32_t>;

constexpr int32_t kEos = 3;

// Vocabulary {0, 1, 2, eos=3}. After last token l the model likes (l+1)%3 best (3.0), then
// (l+2)%3 (2.0), then l (1.0); eos is at -5, so it never wins unless forced.
ScriptedStepModel cycling_model(int max_positions = 0) {
  return ScriptedStepModel(
      4,
      [](const Ids& row) {
        const int l = row.back() % 3;
        std::vector<float> out(4, 0.0f);
        out[(l + 1) % 3] = 3.0f;
        out[(l + 2) % 3] = 2.0f;
        out[l] = 1.0f;
        out[kEos] = -5.0f;
        return out;
      },
      max_positions);
}

GenerationConfig greedy(int max_new) {
  GenerationConfig c;
  c.max_new_tokens = max_new;
  c.eos_token_id = {kEos};
  return c;
}

std::vector<SearchResult> run(ScriptedStepModel& m, const std::vector<Ids>& prefixes, const GenerationConfig& c,
                              uint64_t seed = 0) {
  return generate_search(m, prefixes, c, seed);
}

Ids ids_of(ScriptedStepModel m, const Ids& prefix, const GenerationConfig& c) {
  return run(m, {prefix}, c)[0].best().ids;
}

TEST(GreedySearch, FollowsArgmaxAndStopsAtEosKeepingIt) {
  // After l the best token is l+1; after 2 the table says eos.
  ScriptedStepModel m(4, [](const Ids& row) {
    std::vector<float> out(4, 0.0f);
    out[row.back() == 2 ? kEos : (row.back() + 1) % 3] = 2.0f;
    return out;
  });
  const auto r = run(m, {{0}}, greedy(10));
  EXPECT_EQ(r[0].best().ids, (Ids{1, 2, kEos}));
  EXPECT_EQ(r[0].best().finish, FinishReason::Eos);
  // Each step picks logit 2 against three zeros: log(e^2 / (e^2 + 3)).
  EXPECT_NEAR(r[0].best().score, 3 * std::log(std::exp(2.0) / (std::exp(2.0) + 3.0)), 1e-5);
  // The last step (after the eos) is never run: start + 2 steps.
  EXPECT_EQ(m.rows_per_call.size(), 3u);
}

TEST(GreedySearch, MaxNewTokensAndMaxLengthAsTransformersResolvesThem) {
  GenerationConfig c;  // max_length 20, no max_new_tokens, eos never chosen
  c.eos_token_id = {kEos};
  const Ids prompt{0, 1, 2};
  // The default max_length of 20 means 20 new tokens after the 3-token prompt.
  EXPECT_EQ(ids_of(cycling_model(), prompt, c).size(), 20u);
  // ... capped at max_position_embeddings: 10 positions leave 7.
  EXPECT_EQ(ids_of(cycling_model(10), prompt, c).size(), 7u);
  // A max_length the caller set is the whole row: 20 - 3.
  c.max_length_set_by_caller = true;
  EXPECT_EQ(ids_of(cycling_model(), prompt, c).size(), 17u);
  // A max_length other than 20 from a config file is the whole row too.
  c.max_length_set_by_caller = false;
  c.max_length = 8;
  EXPECT_EQ(ids_of(cycling_model(), prompt, c).size(), 5u);
  // max_new_tokens wins.
  c.max_new_tokens = 4;
  EXPECT_EQ(ids_of(cycling_model(), prompt, c).size(), 4u);
  ScriptedStepModel m = cycling_model();
  EXPECT_EQ(run(m, {prompt}, c)[0].best().finish, FinishReason::Length);
  // A prompt that already fills max_length is an error, as in transformers.
  c.max_new_tokens.reset();
  c.max_length = 3;
  EXPECT_THROW(run(m, {prompt}, c), Error);
  EXPECT_EQ(resolve_lengths(c, 1, 0).max_length, 3);
  c.max_length = 20;
  EXPECT_EQ(resolve_lengths(c, 1, 0).max_length, 21);  // encoder-decoder: {decoder_start} + 20
}

// Vocabulary {0, 1, 2, eos}: eos is always the best token (5), then 0 (3), 1 (2), 2 (1).
ScriptedStepModel eos_first_model() {
  return ScriptedStepModel(4, [](const Ids&) { return std::vector<float>{3.0f, 2.0f, 1.0f, 5.0f}; });
}

TEST(GreedySearch, MinLengthBlocksEosCountingThePrefix) {
  GenerationConfig c = greedy(10);
  EXPECT_EQ(ids_of(eos_first_model(), {0}, c), (Ids{kEos}));
  // Prefix {decoder_start} (length 1), min_length 3: eos blocked at lengths 1 and 2.
  c.min_length = 3;
  EXPECT_EQ(ids_of(eos_first_model(), {0}, c), (Ids{0, 0, kEos}));
  // A 4-token prompt is already longer than min_length 3: no effect.
  EXPECT_EQ(ids_of(eos_first_model(), {0, 1, 2, 0}, c), (Ids{kEos}));
  // min_new_tokens counts only generated tokens: 2 after the 4-token prompt.
  c.min_length = 0;
  c.min_new_tokens = 2;
  EXPECT_EQ(ids_of(eos_first_model(), {0, 1, 2, 0}, c), (Ids{0, 0, kEos}));
}

TEST(GreedySearch, ForcedBosAtLengthOneAndForcedEosAtMaxLengthMinusOne) {
  GenerationConfig c = greedy(5);  // max_length = 1 + 5 = 6
  c.forced_bos_token_id = 2;
  c.forced_eos_token_id = {kEos};
  // From {0}: forced 2 first; then the cycle 0 1 2 ...; at length 5 (= 6 - 1) eos is forced.
  EXPECT_EQ(ids_of(cycling_model(), {0}, c), (Ids{2, 0, 1, 2, kEos}));
  // A decoder-only prompt of 2 tokens never has length 1: no forced BOS.
  EXPECT_EQ(ids_of(cycling_model(), {1, 0}, c), (Ids{1, 2, 0, 1, kEos}));
}

TEST(GreedySearch, NoRepeatNgramOfTwoAndThree) {
  GenerationConfig c = greedy(6);
  EXPECT_EQ(ids_of(cycling_model(), {0}, c), (Ids{1, 2, 0, 1, 2, 0}));
  // n=2 from 0: 0 1 2 0; (0,1) seen -> 2nd choice 2; (2,0) seen -> 1; (1,2) seen -> 0.
  c.no_repeat_ngram_size = 2;
  EXPECT_EQ(ids_of(cycling_model(), {0}, c), (Ids{1, 2, 0, 2, 1, 0}));
  // n=3: 0 1 2 0 1; (0,1,2) seen -> 0; (1,0,1) new -> 1.
  c.no_repeat_ngram_size = 3;
  EXPECT_EQ(ids_of(cycling_model(), {0}, c), (Ids{1, 2, 0, 1, 0, 1}));
  // The prompt's n-grams count too: prompt 0 1 2 0 1 bans (1,2) at once -> 0.
  c.no_repeat_ngram_size = 2;
  EXPECT_EQ(ids_of(cycling_model(), {0, 1, 2, 0, 1}, c).front(), 0);
}

TEST(GreedySearch, BadWordsSingleAndMultiToken) {
  GenerationConfig c = greedy(6);
  // Never 2: after 1 the second choice is 0.
  c.bad_words_ids = std::vector<Ids>{{2}};
  EXPECT_EQ(ids_of(cycling_model(), {0}, c), (Ids{1, 0, 1, 0, 1, 0}));
  // Never "2 0": after 2 the second choice is 1.
  c.bad_words_ids = std::vector<Ids>{{2, 0}};
  EXPECT_EQ(ids_of(cycling_model(), {0}, c), (Ids{1, 2, 1, 2, 1, 2}));
  // Never "0 1 2": the row {0, 1} is shorter than the bad word, which transformers then
  // skips although its prefix matches, so the first 2 passes; at 0 1 2 0 1 the 2 is banned
  // -> 0; then 1.
  c.bad_words_ids = std::vector<Ids>{{0, 1, 2}};
  EXPECT_EQ(ids_of(cycling_model(), {0}, c), (Ids{1, 2, 0, 1, 0, 1}));
  // A bad word that is exactly [eos] is dropped.
  c.bad_words_ids = std::vector<Ids>{{kEos}};
  EXPECT_EQ(ids_of(eos_first_model(), {0}, c), (Ids{kEos}));
  // Out-of-vocabulary bad words are an error.
  c.bad_words_ids = std::vector<Ids>{{9}};
  ScriptedStepModel m = cycling_model();
  EXPECT_THROW(run(m, {{0}}, c), Error);
}

TEST(GreedySearch, RepetitionPenaltyDividesPositiveAndMultipliesNegativeLogits) {
  ScriptedStepModel plus(3, [](const Ids&) { return std::vector<float>{2.0f, 1.9f, 0.0f}; });
  GenerationConfig c;
  c.max_new_tokens = 3;
  EXPECT_EQ(run(plus, {{0}}, c)[0].best().ids, (Ids{0, 0, 0}));
  // 2/1.1 = 1.82 < 1.9 -> 1; then 1.82 > 1.9/1.1 = 1.73 -> 0, 0.
  c.repetition_penalty = 1.1;
  ScriptedStepModel plus2 = plus;
  EXPECT_EQ(run(plus2, {{0}}, c)[0].best().ids, (Ids{1, 0, 0}));
  // Negative logits: -1 * 1.1 = -1.1 < -1.05 -> 1.
  ScriptedStepModel minus(3, [](const Ids&) { return std::vector<float>{-1.0f, -1.05f, -9.0f}; });
  EXPECT_EQ(run(minus, {{0}}, c)[0].best().ids.front(), 1);
}

TEST(GreedySearch, SourcesOfDifferentLengthsFinishAloneAndLeaveTheBatch) {
  GenerationConfig c;
  c.max_new_tokens = 8;
  c.eos_token_id = {5};
  const std::vector<Ids> prefixes{{1}, {2, 3, 4}, {0, 1, 2, 3, 4}, {4, 4}};
  auto model = [] {
    return ScriptedStepModel(6, [base = testing::hashed_logits(6, 7)](const Ids& row) {
      std::vector<float> l = base(row);
      l[5] += 2.0f;  // eos often enough that sources stop at different steps
      return l;
    });
  };
  ScriptedStepModel batch = model();
  const auto together = run(batch, prefixes, c);
  std::set<size_t> lengths;
  for (size_t i = 0; i < prefixes.size(); ++i) {
    ScriptedStepModel alone = model();
    const auto single = run(alone, {prefixes[i]}, c);
    EXPECT_EQ(together[i].best().ids, single[0].best().ids) << i;
    EXPECT_DOUBLE_EQ(together[i].best().score, single[0].best().score) << i;
    lengths.insert(together[i].best().ids.size());
  }
  EXPECT_GE(lengths.size(), 3u) << "the scenario must have sources stopping at different steps";
  // Rows only ever leave, and fewer remain at the end than at the start.
  for (size_t i = 1; i < batch.rows_per_call.size(); ++i) EXPECT_LE(batch.rows_per_call[i], batch.rows_per_call[i - 1]);
  EXPECT_LT(batch.rows_per_call.back(), batch.rows_per_call.front());
}

TEST(Sampling, SameSeedSameSampleAndTopKOneIsGreedy) {
  GenerationConfig c;
  c.do_sample = true;
  c.max_new_tokens = 30;
  c.top_k = 0;
  auto model = [] { return ScriptedStepModel(16, testing::hashed_logits(16, 3, 1.0f)); };
  ScriptedStepModel a = model(), b = model(), d = model();
  const std::vector<Ids> prefixes{{1}, {2}};
  const auto first = run(a, prefixes, c, 42);
  const auto again = run(b, prefixes, c, 42);
  const auto other = run(d, prefixes, c, 43);
  EXPECT_EQ(first[0].best().ids, again[0].best().ids);
  EXPECT_EQ(first[1].best().ids, again[1].best().ids);
  // 30 draws from a flat 16-token distribution: another seed differs somewhere.
  EXPECT_NE(first[0].best().ids, other[0].best().ids);
  // A source draws the same tokens alone as in a batch.
  ScriptedStepModel e = model();
  EXPECT_EQ(run(e, {{1}}, c, 42)[0].best().ids, first[0].best().ids);

  // top_k 1 leaves only the argmax.
  c.top_k = 1;
  GenerationConfig g;
  g.max_new_tokens = 30;
  ScriptedStepModel s1 = model(), s2 = model();
  EXPECT_EQ(run(s1, {{1}}, c, 5)[0].best().ids, run(s2, {{1}}, g)[0].best().ids);

  // num_return_sequences samples that many sequences per source.
  c.top_k = 50;
  c.num_return_sequences = 3;
  ScriptedStepModel s3 = model();
  const auto three = run(s3, {{1}}, c, 9);
  ASSERT_EQ(three[0].sequences.size(), 3u);
  EXPECT_NE(three[0].sequences[0].ids, three[0].sequences[1].ids);
}

TEST(Sampling, TopPKeepsTheSmallestSetAboveTheMass) {
  // p = softmax(log(0.5, 0.3, 0.15, 0.05)): top_p 0.7 keeps {0, 1} (0.5 + 0.3 >= 0.7).
  ScriptedStepModel m = ScriptedStepModel(
      4, testing::table_logits(4, {}, {{0, 0.5}, {1, 0.3}, {2, 0.15}, {3, 0.05}}));
  GenerationConfig c;
  c.do_sample = true;
  c.top_p = 0.7;
  c.max_new_tokens = 200;
  const auto r = run(m, {{0}}, c, 1);
  int count[4] = {0, 0, 0, 0};
  for (int32_t t : r[0].best().ids) ++count[t];
  EXPECT_EQ(count[2] + count[3], 0);
  EXPECT_GT(count[0], 0);
  EXPECT_GT(count[1], 0);
}

TEST(GreedySearch, CallbackSeesEveryTokenAndCanStop) {
  ScriptedStepModel m = cycling_model();
  std::vector<int32_t> seen;
  const auto r = generate_search(m, std::vector<Ids>{{0}}, greedy(10), 0, [&](int source, int sequence, int32_t token) {
    EXPECT_EQ(source, 0);
    EXPECT_EQ(sequence, 0);
    seen.push_back(token);
    return seen.size() < 3;
  });
  EXPECT_EQ(seen, (Ids{1, 2, 0}));
  EXPECT_EQ(r[0].best().ids, seen);
  EXPECT_EQ(r[0].best().finish, FinishReason::Stopped);
}

TEST(GenerateSearch, RejectsBadInputs) {
  ScriptedStepModel m = cycling_model();
  EXPECT_THROW(run(m, std::vector<Ids>{Ids{}}, greedy(3)), Error);
  EXPECT_THROW(run(m, std::vector<Ids>{Ids{7}}, greedy(3)), Error);
  GenerationConfig c = greedy(3);
  c.num_return_sequences = 2;  // greedy returns one
  EXPECT_THROW(run(m, {{0}}, c), Error);
  c = greedy(3);
  c.forced_bos_token_id = 4;  // outside the vocabulary of 4
  EXPECT_THROW(run(m, {{0}}, c), Error);
}

}  // namespace
}  // namespace smol
