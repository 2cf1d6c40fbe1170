// Beam search on scripted models: against exhaustive search, early_stopping's three modes on
// a scenario built so that each gives a different answer, length penalty, batching.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "smol/search.hpp"
#include "test_support/scripted_step_model.hpp"

namespace smol {
namespace {

using testing::ScriptedStepModel;
using Ids = std::vector<int32_t>;

double log_softmax_at(const std::vector<float>& logits, int32_t token) {
  double max = -1e300, sum = 0.0;
  for (float l : logits) max = std::max(max, static_cast<double>(l));
  for (float l : logits) sum += std::exp(l - max);
  return logits[token] - max - std::log(sum);
}

struct Scored {
  Ids ids;
  double logprob;
};

// Every sequence the search can produce: continue until eos or max_new tokens.
void enumerate(const ScriptedStepModel::LogitsFn& fn, int vocab, int32_t eos, int max_new, Ids& row, size_t prefix,
               double logprob, std::vector<Scored>& out) {
  const std::vector<float> logits = fn(row);
  for (int32_t t = 0; t < vocab; ++t) {
    row.push_back(t);
    const double lp = logprob + log_softmax_at(logits, t);
    if (t == eos || static_cast<int>(row.size() - prefix) == max_new) {
      out.push_back({Ids(row.begin() + prefix, row.end()), lp});
    } else {
      enumerate(fn, vocab, eos, max_new, row, prefix, lp, out);
    }
    row.pop_back();
  }
}

class BeamVsExhaustive : public ::testing::TestWithParam<double> {};

TEST_P(BeamVsExhaustive, EnoughBeamsFindTheExhaustiveRanking) {
  // Vocabulary {0, 1, eos=2}, 3 new tokens: at most 4 open rows, 12 candidates a step, so
  // 12 beams keep every candidate among the top num_beams and beam search is exhaustive.
  const double length_penalty = GetParam();
  const auto fn = testing::hashed_logits(3, 12);
  std::vector<Scored> all;
  Ids row{0};
  enumerate(fn, 3, 2, 3, row, 1, 0.0, all);
  ASSERT_EQ(all.size(), 1u + 2u + 12u);
  auto penalised = [&](const Scored& s) { return s.logprob / std::pow(static_cast<double>(s.ids.size()), length_penalty); };
  std::sort(all.begin(), all.end(), [&](const Scored& a, const Scored& b) { return penalised(a) > penalised(b); });

  GenerationConfig c;
  c.num_beams = 12;
  c.num_return_sequences = 12;
  c.max_new_tokens = 3;
  c.eos_token_id = {2};
  c.length_penalty = length_penalty;
  c.early_stopping = EarlyStopping::Never;
  ScriptedStepModel m(3, fn);
  const auto r = generate_search(m, std::vector<Ids>{{0}}, c, 0);
  ASSERT_EQ(r[0].sequences.size(), 12u);
  for (size_t i = 0; i < 12; ++i) {
    EXPECT_EQ(r[0].sequences[i].ids, all[i].ids) << "rank " << i;
    EXPECT_NEAR(r[0].sequences[i].score, penalised(all[i]), 1e-5) << "rank " << i;
  }
}

INSTANTIATE_TEST_SUITE_P(LengthPenalty, BeamVsExhaustive, ::testing::Values(0.0, 1.0));

TEST(BeamSearch, FewBeamsCanMissTheExhaustiveBest) {
  // The same model with 1 beam per step is greedy; the exhaustive best differs here, so the
  // test above is not satisfied by any search.
  const auto fn = testing::hashed_logits(3, 12);
  std::vector<Scored> all;
  Ids row{0};
  enumerate(fn, 3, 2, 3, row, 1, 0.0, all);
  const auto best = *std::max_element(all.begin(), all.end(), [](const Scored& a, const Scored& b) {
    return a.logprob < b.logprob;
  });
  GenerationConfig c;
  c.max_new_tokens = 3;
  c.eos_token_id = {2};
  ScriptedStepModel m(3, fn);
  EXPECT_NE(generate_search(m, std::vector<Ids>{{0}}, c, 0)[0].best().ids, best.ids);
}

// Vocabulary A=0, B=1, E=2 (eos), S=3 (start). Built so that with 2 beams and length
// penalty 1:
// - step 1 finishes "E" (-0.80) and keeps A (-1.20), B (-1.39);
// - step 2 finishes "A E" (-1.31 / 2 = -0.65); now both slots are full -> early_stopping
//   true stops with "A E". The running "B A" (-1.39) over 2 tokens (-0.69) still beats the
//   worst finished (-0.80), so the heuristic (false) goes on;
// - step 3 finishes "B A E" (-1.39 / 3 = -0.46); the best running "A A A" (-3.73) over 3
//   (-1.24) cannot beat -0.65 -> false stops with "B A E". "never" measures the running beam
//   over max_length - prefix = 12 tokens (-0.31) and goes on;
// - "A" x 9 then "E" costs -3.74 over 10 = -0.37, the best: "never" returns it.
constexpr int32_t A = 0, B = 1, E = 2, S = 3;

ScriptedStepModel early_stopping_model() {
  std::map<Ids, std::map<int32_t, double>> table;
  table[{S}] = {{E, 0.45}, {A, 0.30}, {B, 0.25}};
  table[{S, A}] = {{E, 0.9}, {A, 0.08}, {B, 0.02}};
  table[{S, B}] = {{A, 0.999}, {E, 0.0005}, {B, 0.0005}};
  table[{S, B, A}] = {{E, 0.999}, {A, 0.0005}, {B, 0.0005}};
  for (int k = 2; k <= 9; ++k) {
    Ids row{S};
    row.insert(row.end(), k, A);
    table[row] = k < 9 ? std::map<int32_t, double>{{A, 0.999}, {E, 0.0005}, {B, 0.0005}}
                       : std::map<int32_t, double>{{E, 0.999}, {A, 0.0005}, {B, 0.0005}};
  }
  return ScriptedStepModel(4, testing::table_logits(4, table, {{E, 0.34}, {A, 0.33}, {B, 0.33}}));
}

GeneratedSequence early_stopping_run(EarlyStopping mode) {
  GenerationConfig c;
  c.num_beams = 2;
  c.max_new_tokens = 12;
  c.eos_token_id = {E};
  c.length_penalty = 1.0;
  c.early_stopping = mode;
  ScriptedStepModel m = early_stopping_model();
  return generate_search(m, std::vector<Ids>{{S}}, c, 0)[0].best();
}

TEST(BeamSearch, EarlyStoppingTrueStopsWhenNumBeamsHypothesesAreDone) {
  const GeneratedSequence r = early_stopping_run(EarlyStopping::True);
  EXPECT_EQ(r.ids, (Ids{A, E}));
  EXPECT_NEAR(r.score, (std::log(0.30) + std::log(0.9)) / 2, 1e-5);
  EXPECT_EQ(r.finish, FinishReason::Eos);
}

TEST(BeamSearch, EarlyStoppingFalseStopsByTheCurrentLengthHeuristic) {
  const GeneratedSequence r = early_stopping_run(EarlyStopping::False);
  EXPECT_EQ(r.ids, (Ids{B, A, E}));
  EXPECT_NEAR(r.score, (std::log(0.25) + 2 * std::log(0.999)) / 3, 1e-5);
}

TEST(BeamSearch, EarlyStoppingNeverMeasuresRunningBeamsAtMaxLength) {
  const GeneratedSequence r = early_stopping_run(EarlyStopping::Never);
  Ids expected(9, A);
  expected.push_back(E);
  EXPECT_EQ(r.ids, expected);
  EXPECT_NEAR(r.score, (std::log(0.30) + std::log(0.08) + 8 * std::log(0.999)) / 10, 1e-5);
}

TEST(BeamSearch, EosRankedBelowNumBeamsIsDropped) {
  // 2 beams, K = 4 candidates. Step 1 ranks A (.4), B (.35), E (.25): E is third, outside
  // the top num_beams, so "E" never becomes a hypothesis although, with length penalty 0,
  // its log .25 = -1.39 beats every 2-token sequence (A A: log .4 + log .34 = -2.00).
  std::map<Ids, std::map<int32_t, double>> table;
  table[{S}] = {{A, 0.40}, {B, 0.35}, {E, 0.25}};
  table[{S, A}] = {{A, 0.34}, {B, 0.33}, {E, 0.33}};
  table[{S, B}] = {{B, 0.34}, {A, 0.33}, {E, 0.33}};
  ScriptedStepModel m(4, testing::table_logits(4, table, {{E, 0.34}, {A, 0.33}, {B, 0.33}}));
  GenerationConfig c;
  c.num_beams = 2;
  c.num_return_sequences = 2;
  c.max_new_tokens = 2;
  c.eos_token_id = {E};
  c.length_penalty = 0.0;
  const auto r = generate_search(m, std::vector<Ids>{{S}}, c, 0)[0];
  EXPECT_EQ(r.sequences[0].ids, (Ids{A, A}));
  EXPECT_NEAR(r.sequences[0].score, std::log(0.40) + std::log(0.34), 1e-5);
  // A B and A E tie at log .4 + log .33; the lower token id (B) ranks first.
  EXPECT_EQ(r.sequences[1].ids, (Ids{A, B}));
}

TEST(BeamSearch, LengthPenaltyDividesByGeneratedTokensIncludingEos) {
  // Same model, early_stopping true: "A E" is 2 generated tokens (the start token S is not
  // counted): score = (log .3 + log .9) / 2^lp.
  for (double lp : {0.0, 0.5, 2.0}) {
    GenerationConfig c;
    c.num_beams = 2;
    c.max_new_tokens = 12;
    c.eos_token_id = {E};
    c.length_penalty = lp;
    c.early_stopping = EarlyStopping::True;
    ScriptedStepModel m = early_stopping_model();
    const auto r = generate_search(m, std::vector<Ids>{{S}}, c, 0)[0];
    // Slot order: best first, and the other slot is "E" alone (1 token).
    const double ae = (std::log(0.30) + std::log(0.9)) / std::pow(2.0, lp);
    const double e = std::log(0.45);
    ASSERT_EQ(r.sequences.size(), 1u);
    EXPECT_NEAR(r.best().score, std::max(ae, e), 1e-5) << lp;
    EXPECT_EQ(r.best().ids, ae > e ? (Ids{A, E}) : (Ids{E})) << lp;
  }
}

TEST(BeamSearch, MaxLengthEndsEveryBeamAndFinishedOnesAreLengthPenalised) {
  // No eos ever: all candidates hit max_length together; the best of the top num_beams.
  GenerationConfig c;
  c.num_beams = 3;
  c.num_return_sequences = 3;
  c.max_new_tokens = 4;
  c.length_penalty = 1.0;
  const auto fn = testing::hashed_logits(5, 2);
  ScriptedStepModel m(5, fn);
  const auto r = generate_search(m, std::vector<Ids>{{1}}, c, 0)[0];
  std::set<Ids> distinct;
  for (const auto& seq : r.sequences) {
    EXPECT_EQ(seq.ids.size(), 4u);
    EXPECT_EQ(seq.finish, FinishReason::Length);
    Ids row{1};
    double lp = 0.0;
    for (int32_t t : seq.ids) {
      lp += log_softmax_at(fn(row), t);
      row.push_back(t);
    }
    EXPECT_NEAR(seq.score, lp / 4.0, 1e-5);
    distinct.insert(seq.ids);
  }
  EXPECT_EQ(distinct.size(), 3u);  // beams 1.. start at -1e9, so no duplicates of beam 0
  EXPECT_GE(r.sequences[0].score, r.sequences[1].score);
  EXPECT_GE(r.sequences[1].score, r.sequences[2].score);
}

TEST(BeamSearch, ProcessorsApplyToEveryBeam) {
  // The cycling model of search_test with beams: no bigram repeats in any returned beam, and
  // forced BOS is the first token of all.
  ScriptedStepModel m(4, [](const Ids& row) {
    const int l = row.back() % 3;
    std::vector<float> out(4, 0.0f);
    out[(l + 1) % 3] = 3.0f;
    out[(l + 2) % 3] = 2.0f;
    out[l] = 1.0f;
    out[3] = -5.0f;
    return out;
  });
  GenerationConfig c;
  c.num_beams = 3;
  c.num_return_sequences = 3;
  c.max_new_tokens = 6;
  c.eos_token_id = {3};
  c.no_repeat_ngram_size = 2;
  c.forced_bos_token_id = 2;
  const auto r = generate_search(m, std::vector<Ids>{{0}}, c, 0)[0];
  for (const auto& seq : r.sequences) {
    ASSERT_FALSE(seq.ids.empty());
    EXPECT_EQ(seq.ids[0], 2);
    Ids row{0};
    row.insert(row.end(), seq.ids.begin(), seq.ids.end());
    std::set<std::pair<int32_t, int32_t>> bigrams;
    for (size_t i = 0; i + 1 < row.size(); ++i) EXPECT_TRUE(bigrams.insert({row[i], row[i + 1]}).second);
  }
}

TEST(BeamSearch, SourcesFinishingAtDifferentStepsEqualEachAlone) {
  GenerationConfig c;
  c.num_beams = 3;
  c.max_new_tokens = 7;
  c.eos_token_id = {5};
  auto model = [] {
    return ScriptedStepModel(6, [base = testing::hashed_logits(6, 5)](const Ids& row) {
      std::vector<float> l = base(row);
      l[5] += 1.5f;
      return l;
    });
  };
  const std::vector<Ids> prefixes{{1}, {2, 3, 4}, {0, 1, 2, 3, 4}, {4, 4}, {3}};
  ScriptedStepModel batch = model();
  const auto together = generate_search(batch, prefixes, c, 0);
  for (size_t i = 0; i < prefixes.size(); ++i) {
    ScriptedStepModel alone = model();
    const auto single = generate_search(alone, std::vector<Ids>{prefixes[i]}, c, 0);
    EXPECT_EQ(together[i].best().ids, single[0].best().ids) << i;
    EXPECT_FLOAT_EQ(static_cast<float>(together[i].best().score), static_cast<float>(single[0].best().score)) << i;
  }
  // 5 sources x 3 beams; sources leave as they finish.
  EXPECT_EQ(batch.rows_per_call.front(), 5);
  EXPECT_EQ(batch.rows_per_call[1], 15);
  for (size_t i = 2; i < batch.rows_per_call.size(); ++i) EXPECT_LE(batch.rows_per_call[i], batch.rows_per_call[i - 1]);
  EXPECT_LT(batch.rows_per_call.back(), 15) << "the scenario must have sources stopping early";
}

TEST(BeamSampling, SameSeedSameBeams) {
  GenerationConfig c;
  c.num_beams = 3;
  c.do_sample = true;
  c.max_new_tokens = 6;
  c.eos_token_id = {5};
  auto run = [&](uint64_t seed) {
    ScriptedStepModel m(6, testing::hashed_logits(6, 9, 1.0f));
    return generate_search(m, std::vector<Ids>{{1}, {2}}, c, seed);
  };
  const auto a = run(7), b = run(7);
  EXPECT_EQ(a[0].best().ids, b[0].best().ids);
  EXPECT_EQ(a[1].best().ids, b[1].best().ids);
  bool any_differs = false;
  for (uint64_t seed = 8; seed < 12 && !any_differs; ++seed) any_differs = run(seed)[0].best().ids != a[0].best().ids;
  EXPECT_TRUE(any_differs);
}

}  // namespace
}  // namespace smol
