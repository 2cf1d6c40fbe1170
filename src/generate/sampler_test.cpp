// Sampler tests. The statistical ones compare draws against a reference chain written
// independently below (double precision, full sort), with fixed seeds so they are
// reproducible, and enough draws that a wrong filter or a wrong temperature fails them.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>
#include <vector>

#include "smol/error.hpp"
#include "smol/sampler.hpp"

namespace smol {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

std::vector<float> random_logits(size_t n, uint64_t seed, float scale) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, scale);
  std::vector<float> out(n);
  for (float& x : out) x = normal(rng);
  return out;
}

// Only the sampling stages, so the test controls each one explicitly.
SamplingParams plain(float temperature, int top_k, float top_p, float min_p, uint64_t seed = 7) {
  SamplingParams p;
  p.temperature = temperature;
  p.top_k = top_k;
  p.top_p = top_p;
  p.min_p = min_p;
  p.seed = seed;
  return p;
}

int32_t draw(Sampler& sampler, const std::vector<float>& logits) {
  std::vector<float> row = logits;  // sample() may scribble on its input
  return sampler.sample(row, {});
}

// The allowed tokens and their renormalized probabilities, by a straightforward reading of
// the spec: sort everything, cut, softmax in double, cut, cut, renormalize.
struct Reference {
  std::vector<int32_t> ids;   // most probable first
  std::vector<double> probs;  // renormalized, same order
  double margin = 1.0;        // how far (relative) the closest cut was from flipping
};

Reference reference_chain(const std::vector<float>& logits, const SamplingParams& p) {
  std::vector<int32_t> order(logits.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](int32_t a, int32_t b) { return logits[a] > logits[b]; });
  if (p.top_k > 0 && static_cast<size_t>(p.top_k) < order.size()) order.resize(p.top_k);

  std::vector<double> probs;
  double sum = 0.0;
  for (int32_t id : order) {
    probs.push_back(std::exp((double(logits[id]) - logits[order[0]]) / p.temperature));
    sum += probs.back();
  }
  for (double& q : probs) q /= sum;

  Reference ref;
  size_t keep = order.size();
  if (p.top_p < 1.0f) {
    double cumulative = 0.0;
    for (keep = 0; keep < order.size();) {
      ref.margin = std::min(ref.margin, std::abs(cumulative - p.top_p));
      cumulative += probs[keep++];
      if (cumulative >= p.top_p) break;
    }
    ref.margin = std::min(ref.margin, std::abs(cumulative - p.top_p));
  }
  const double threshold = p.min_p * probs[0];
  double kept_mass = 0.0;
  for (size_t i = 0; i < keep; ++i) {
    if (p.min_p > 0.0f) ref.margin = std::min(ref.margin, std::abs(probs[i] - threshold) / threshold);
    if (probs[i] >= threshold) {
      ref.ids.push_back(order[i]);
      ref.probs.push_back(probs[i]);
      kept_mass += probs[i];
    }
  }
  for (double& q : ref.probs) q /= kept_mass;
  return ref;
}

// Upper 1e-6 tail of chi-square(df), Wilson–Hilferty approximation.
double chi_square_critical(int df) {
  const double z = 4.75, a = 2.0 / (9.0 * df);
  return df * std::pow(1.0 - a + z * std::sqrt(a), 3.0);
}

// Draws `n` tokens and checks (1) none falls outside the reference's allowed set and (2) the
// counts match the renormalized probabilities (chi-square over bins of adjacent ranks, each
// expecting at least 100 draws).
void expect_distribution(const std::vector<float>& logits, const SamplingParams& params, int n) {
  const Reference ref = reference_chain(logits, params);
  ASSERT_GT(ref.margin, 1e-4) << "test logits sit on a cut boundary; pick another seed";

  std::vector<int> rank_of(logits.size(), -1);
  for (size_t r = 0; r < ref.ids.size(); ++r) rank_of[ref.ids[r]] = static_cast<int>(r);
  std::vector<int> counts(ref.ids.size(), 0);
  Sampler sampler(params);
  for (int i = 0; i < n; ++i) {
    const int32_t id = draw(sampler, logits);
    ASSERT_GE(id, 0);
    ASSERT_LT(static_cast<size_t>(id), logits.size());
    ASSERT_GE(rank_of[id], 0) << "sampled token " << id << " outside the allowed set of "
                              << ref.ids.size();
    ++counts[rank_of[id]];
  }
  if (ref.ids.size() == 1) return;

  std::vector<double> bin_expected, bin_observed;
  double e = 0.0, o = 0.0;
  for (size_t r = 0; r < ref.ids.size(); ++r) {
    e += ref.probs[r] * n;
    o += counts[r];
    if (e >= 100.0) {
      bin_expected.push_back(e);
      bin_observed.push_back(o);
      e = o = 0.0;
    }
  }
  if (e > 0.0 || o > 0.0) {  // fold the thin tail into the last full bin
    bin_expected.back() += e;
    bin_observed.back() += o;
  }
  ASSERT_GE(bin_expected.size(), 2u);
  double chi2 = 0.0;
  for (size_t b = 0; b < bin_expected.size(); ++b)
    chi2 += std::pow(bin_observed[b] - bin_expected[b], 2) / bin_expected[b];
  const int df = static_cast<int>(bin_expected.size()) - 1;
  EXPECT_LT(chi2, chi_square_critical(df)) << "df=" << df;
}

TEST(Argmax, LowestIndexWinsTiesAndNaNNeverWins) {
  EXPECT_EQ(argmax(std::vector<float>{1, 3, 3, 2}), 1);
  EXPECT_EQ(argmax(std::vector<float>{-kInf, -kInf, -5}), 2);
  EXPECT_EQ(argmax(std::vector<float>{std::nanf(""), 1, 0}), 1);
  EXPECT_EQ(argmax(std::vector<float>{-1, -2, 4, 7}), 3);
}

TEST(Sampler, TopKNeverSamplesOutsideTheKBest) {
  const auto logits = random_logits(1000, 1, 2.0f);
  constexpr int k = 10;
  std::vector<int32_t> order(logits.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return logits[a] > logits[b]; });
  std::vector<bool> allowed(logits.size(), false), seen(logits.size(), false);
  for (int i = 0; i < k; ++i) allowed[order[i]] = true;

  // A hot temperature gives the 990 others most of the mass if top-k were ignored.
  Sampler sampler(plain(3.0f, k, 1.0f, 0.0f));
  for (int i = 0; i < 5000; ++i) {
    const int32_t id = draw(sampler, logits);
    ASSERT_TRUE(allowed[id]) << "token " << id << " is not among the " << k << " best";
    seen[id] = true;
  }
  for (int i = 0; i < k; ++i) EXPECT_TRUE(seen[order[i]]) << "rank " << i << " never drawn";
}

TEST(Sampler, TopKDistributionMatchesTemperatureSoftmax) {
  expect_distribution(random_logits(500, 2, 1.0f), plain(1.5f, 12, 1.0f, 0.0f), 60000);
}

TEST(Sampler, TopKOneEqualsArgmax) {
  Sampler sampler(plain(1.0f, 1, 1.0f, 0.0f));
  for (uint64_t row = 0; row < 200; ++row) {
    auto logits = random_logits(500, 100 + row, 3.0f);
    if (row % 10 == 0) logits[17] = logits[400] = 100.0f;  // a tie at the top
    EXPECT_EQ(draw(sampler, logits), argmax(logits)) << "row " << row;
  }
}

TEST(Sampler, TopPSamplesOnlyTheNucleusWithRenormalizedFrequencies) {
  expect_distribution(random_logits(40, 3, 1.5f), plain(1.0f, 0, 0.7f, 0.0f), 100000);
  expect_distribution(random_logits(64, 4, 1.5f), plain(0.6f, 0, 0.9f, 0.0f), 100000);
}

TEST(Sampler, TopPWithoutTopKOnLargeVocabularies) {
  // Flat logits put hundreds of tokens in the nucleus: many quickselect rounds.
  expect_distribution(random_logits(600, 5, 0.3f), plain(1.0f, 0, 0.8f, 0.0f), 40000);
  // Peaked logits over a big vocabulary: a small nucleus found among thousands.
  expect_distribution(random_logits(5000, 11, 3.0f), plain(1.0f, 0, 0.9f, 0.0f), 10000);
}

TEST(Sampler, TopPOnMonotoneLogitsWithTheCutAtTheMiddleRank) {
  // Sorted rows with the nucleus ending exactly at the middle-ranked token: the case where a
  // selection algorithm's first pivot is itself the last token kept.
  for (float slope : {-0.05f, 0.05f}) {
    std::vector<float> logits(41);
    for (size_t i = 0; i < logits.size(); ++i) logits[i] = slope * static_cast<float>(i);
    std::vector<double> p(logits.size());
    for (size_t i = 0; i < p.size(); ++i) p[i] = std::exp(-0.05 * static_cast<double>(i));
    const double total = std::accumulate(p.begin(), p.end(), 0.0);
    const double mass20 = std::accumulate(p.begin(), p.begin() + 20, 0.0) / total;
    const float top_p = static_cast<float>(mass20 + 0.5 * p[20] / total);  // keeps 21 tokens
    SCOPED_TRACE(slope);
    expect_distribution(logits, plain(1.0f, 0, top_p, 0.0f), 60000);
  }
}

TEST(Sampler, TopPKeepsAtLeastOneToken) {
  std::vector<float> logits = {0.0f, 10.0f, 9.99f, -3.0f};
  Sampler sampler(plain(1.0f, 0, 1e-6f, 0.0f));
  for (int i = 0; i < 200; ++i) EXPECT_EQ(draw(sampler, logits), 1);
}

TEST(Sampler, MinPNeverSamplesBelowTheThreshold) {
  expect_distribution(random_logits(300, 6, 1.5f), plain(1.0f, 0, 1.0f, 0.1f), 60000);
  // min-p acts on temperature-scaled probabilities.
  expect_distribution(random_logits(300, 7, 1.5f), plain(2.0f, 0, 1.0f, 0.2f), 60000);
}

TEST(Sampler, FullChainMatchesReference) {
  expect_distribution(random_logits(2000, 8, 2.0f), plain(1.3f, 40, 0.9f, 0.05f), 60000);
  expect_distribution(random_logits(2000, 9, 2.0f), plain(0.8f, 40, 0.95f, 0.05f), 60000);
}

TEST(Sampler, NegativeInfinityIsNeverSampled) {
  std::vector<float> logits(50, -kInf);
  for (size_t i = 0; i < logits.size(); i += 7) logits[i] = 0.0f;
  Sampler sampler(plain(1.0f, 0, 1.0f, 0.0f));
  for (int i = 0; i < 2000; ++i) EXPECT_EQ(draw(sampler, logits) % 7, 0);
}

std::vector<int32_t> sequence(uint64_t seed, int n) {
  const auto logits = random_logits(100, 10, 0.5f);
  Sampler sampler(plain(1.0f, 0, 1.0f, 0.0f, seed));
  std::vector<int32_t> out;
  for (int i = 0; i < n; ++i) out.push_back(draw(sampler, logits));
  return out;
}

TEST(Sampler, SameSeedSameSequenceDifferentSeedDifferentSequence) {
  EXPECT_EQ(sequence(42, 200), sequence(42, 200));
  EXPECT_NE(sequence(42, 200), sequence(43, 200));
  EXPECT_EQ(Sampler(plain(1.0f, 0, 1.0f, 0.0f, 42)).seed(), 42u);
}

TEST(Sampler, RandomSeedIsReportedAndReproducible) {
  SamplingParams p = plain(1.0f, 0, 1.0f, 0.0f, SamplingParams::kRandomSeed);
  const Sampler a(p), b(p);
  EXPECT_NE(a.seed(), b.seed());  // two 64-bit draws from random_device
  const uint64_t reported = a.seed();
  EXPECT_EQ(sequence(reported, 50), sequence(reported, 50));
}

TEST(Sampler, ZeroAndTinyTemperatureAreGreedy) {
  SamplingParams zero;  // default filters, so greedy must bypass them
  zero.temperature = 0.0f;
  SamplingParams tiny;
  tiny.temperature = 1e-6f;
  Sampler greedy(zero), almost(tiny);
  for (uint64_t row = 0; row < 100; ++row) {
    const auto logits = random_logits(1000, 200 + row, 2.0f);
    const int32_t best = argmax(logits);
    EXPECT_EQ(draw(greedy, logits), best) << "row " << row;
    EXPECT_EQ(draw(almost, logits), best) << "row " << row;
  }
}

SamplingParams penalties(float repeat, float presence, float frequency, int last_n) {
  SamplingParams p = plain(0.0f, 0, 1.0f, 0.0f);
  p.repeat_penalty = repeat;
  p.presence_penalty = presence;
  p.frequency_penalty = frequency;
  p.repeat_last_n = last_n;
  return p;
}

TEST(Penalties, RepeatDividesPositiveMultipliesNegativeOncePerDistinctId) {
  Sampler sampler(penalties(2.0f, 0.0f, 0.0f, 64));
  std::vector<float> logits = {2.0f, -2.0f, 1.0f, 0.5f, 0.0f};
  const std::vector<int32_t> history = {0, 1, 0, 4, 0};
  sampler.apply_penalties(logits, history);
  EXPECT_FLOAT_EQ(logits[0], 1.0f);   // seen three times, penalized once
  EXPECT_FLOAT_EQ(logits[1], -4.0f);
  EXPECT_FLOAT_EQ(logits[2], 1.0f);   // not in history
  EXPECT_FLOAT_EQ(logits[3], 0.5f);
  EXPECT_FLOAT_EQ(logits[4], 0.0f);
}

TEST(Penalties, WindowIsTheLastRepeatLastNTokens) {
  const std::vector<int32_t> history = {3, 0, 1};
  std::vector<float> logits = {2.0f, 2.0f, 2.0f, 2.0f};
  Sampler(penalties(2.0f, 0.0f, 0.0f, 2)).apply_penalties(logits, history);
  EXPECT_EQ(logits, (std::vector<float>{1.0f, 1.0f, 2.0f, 2.0f}));

  logits = {2.0f, 2.0f, 2.0f, 2.0f};
  Sampler(penalties(2.0f, 0.0f, 0.0f, 0)).apply_penalties(logits, history);
  EXPECT_EQ(logits, (std::vector<float>{2.0f, 2.0f, 2.0f, 2.0f}));

  logits = {2.0f, 2.0f, 2.0f, 2.0f};
  Sampler(penalties(2.0f, 0.0f, 0.0f, -1)).apply_penalties(logits, history);
  EXPECT_EQ(logits, (std::vector<float>{1.0f, 1.0f, 2.0f, 1.0f}));
}

TEST(Penalties, LargeEnoughRepeatPenaltySwitchesTheGreedyChoice) {
  const std::vector<float> logits = {3.0f, 2.0f, -1.0f};
  const std::vector<int32_t> history = {0};
  std::vector<float> row = logits;
  EXPECT_EQ(Sampler(penalties(1.2f, 0.0f, 0.0f, 64)).sample(row, history), 0);  // 2.5 > 2
  row = logits;
  EXPECT_EQ(Sampler(penalties(1.6f, 0.0f, 0.0f, 64)).sample(row, history), 1);  // 1.875 < 2
  row = logits;
  EXPECT_EQ(Sampler(penalties(1.0f, 0.0f, 0.0f, 64)).sample(row, history), 0);  // disabled
}

TEST(Penalties, PresenceAndFrequencySubtractLikeOpenAI) {
  Sampler sampler(penalties(1.0f, 0.5f, 0.25f, 64));
  std::vector<float> logits = {1.0f, 1.0f, 1.0f, 1.0f};
  sampler.apply_penalties(logits, std::vector<int32_t>{0, 0, 2, 0});
  EXPECT_FLOAT_EQ(logits[0], 1.0f - 3 * 0.25f - 0.5f);
  EXPECT_FLOAT_EQ(logits[1], 1.0f);
  EXPECT_FLOAT_EQ(logits[2], 1.0f - 1 * 0.25f - 0.5f);
  EXPECT_FLOAT_EQ(logits[3], 1.0f);
}

TEST(Penalties, RepeatComesBeforeTheSubtractions) {
  Sampler sampler(penalties(2.0f, 0.1f, 0.5f, 64));
  std::vector<float> logits = {2.0f, -2.0f};
  sampler.apply_penalties(logits, std::vector<int32_t>{0, 1, 1});
  EXPECT_FLOAT_EQ(logits[0], 2.0f / 2 - 0.5f - 0.1f);
  EXPECT_FLOAT_EQ(logits[1], -2.0f * 2 - 2 * 0.5f - 0.1f);
}

TEST(Penalties, HistoryIdOutsideTheVocabularyThrows) {
  Sampler sampler(penalties(1.3f, 0.0f, 0.0f, 64));
  std::vector<float> logits = {1.0f, 2.0f};
  EXPECT_THROW(sampler.sample(logits, std::vector<int32_t>{2}), Error);
  EXPECT_THROW(sampler.sample(logits, std::vector<int32_t>{-1}), Error);
}

TEST(Sampler, BadRowsThrow) {
  Sampler sampler(plain(1.0f, 0, 1.0f, 0.0f));
  std::vector<float> empty;
  EXPECT_THROW(sampler.sample(empty, {}), Error);
  std::vector<float> nan_row = {1.0f, std::nanf(""), 0.0f};
  EXPECT_THROW(sampler.sample(nan_row, {}), Error);
  std::vector<float> masked = {-kInf, -kInf};
  EXPECT_THROW(sampler.sample(masked, {}), Error);
  Sampler greedy(plain(0.0f, 0, 1.0f, 0.0f));
  EXPECT_THROW(greedy.sample(nan_row, {}), Error);
}

TEST(SamplingParams, ValidateRejectsNonsense) {
  EXPECT_NO_THROW(SamplingParams{}.validate());
  auto rejects = [](auto mutate) {
    SamplingParams p;
    mutate(p);
    EXPECT_THROW(p.validate(), Error);
    EXPECT_THROW(Sampler{p}, Error);
  };
  rejects([](SamplingParams& p) { p.temperature = -0.1f; });
  rejects([](SamplingParams& p) { p.temperature = std::nanf(""); });
  rejects([](SamplingParams& p) { p.top_p = 0.0f; });
  rejects([](SamplingParams& p) { p.top_p = -0.5f; });
  rejects([](SamplingParams& p) { p.top_p = 1.01f; });
  rejects([](SamplingParams& p) { p.min_p = -0.01f; });
  rejects([](SamplingParams& p) { p.min_p = 1.5f; });
  rejects([](SamplingParams& p) { p.repeat_penalty = 0.0f; });
  rejects([](SamplingParams& p) { p.repeat_penalty = -1.0f; });
  rejects([](SamplingParams& p) { p.repeat_last_n = -2; });
  rejects([](SamplingParams& p) { p.presence_penalty = kInf; });
  rejects([](SamplingParams& p) { p.frequency_penalty = std::nanf(""); });

  auto accepts = [](auto mutate) {
    SamplingParams p;
    mutate(p);
    EXPECT_NO_THROW(p.validate());
  };
  accepts([](SamplingParams& p) { p.temperature = 0.0f; });
  accepts([](SamplingParams& p) { p.top_p = 1.0f; });
  accepts([](SamplingParams& p) { p.min_p = 0.0f; });
  accepts([](SamplingParams& p) { p.min_p = 1.0f; });
  accepts([](SamplingParams& p) { p.top_k = -1; });
  accepts([](SamplingParams& p) { p.repeat_last_n = -1; });
  accepts([](SamplingParams& p) { p.presence_penalty = -2.0f; });
}

}  // namespace
}  // namespace smol
