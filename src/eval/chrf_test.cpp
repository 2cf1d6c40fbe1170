// chrF by hand: character n-grams without whitespace, sacreBLEU's zeroed hypothesis count
// when the reference is too short, and the effective-order average.
#include <gtest/gtest.h>

#include "smol/error.hpp"
#include "smol/text_metrics.hpp"

namespace smol {
namespace {

TEST(Chrf, IdenticalScoresOneHundredAndWhitespaceIsIgnored) {
  EXPECT_NEAR(sentence_chrf("The cat sat.", "The cat sat."), 100.0, 1e-12);
  EXPECT_NEAR(sentence_chrf("a b\tc", "abc"), 100.0, 1e-12);
  EXPECT_NEAR(sentence_chrf("Grüße\u3000aus", "Grüßeaus"), 100.0, 1e-12);
}

TEST(Chrf, EffectiveOrderAverage) {
  // "ab" vs "abc": order 1 P=2/2 R=2/3, order 2 P=1/1 R=1/2, no hypothesis 3-grams.
  // P=1, R=7/12, F2 = 5PR / (4P + R) = 7/11.
  const ChrfStats s = chrf_statistics("ab", "abc");
  EXPECT_EQ(s.counts[0], (std::array<int64_t, 3>{2, 3, 2}));
  EXPECT_EQ(s.counts[1], (std::array<int64_t, 3>{1, 2, 1}));
  EXPECT_EQ(s.counts[2], (std::array<int64_t, 3>{0, 1, 0}));
  EXPECT_NEAR(sentence_chrf("ab", "abc"), 100.0 * 7.0 / 11.0, 1e-12);
}

TEST(Chrf, ShortReferenceZeroesTheHypothesisCount) {
  const ChrfStats s = chrf_statistics("abcdef", "ab");
  EXPECT_EQ(s.counts[0], (std::array<int64_t, 3>{6, 2, 2}));
  EXPECT_EQ(s.counts[1], (std::array<int64_t, 3>{5, 1, 1}));
  for (int n = 2; n < kChrfOrder; ++n) EXPECT_EQ(s.counts[n], (std::array<int64_t, 3>{0, 0, 0})) << n;
}

TEST(Chrf, CharactersAreCodePoints) {
  // "ü" is one character (two bytes): 1-grams {ü} match, nothing else to count.
  const ChrfStats s = chrf_statistics("ü", "üx");
  EXPECT_EQ(s.counts[0], (std::array<int64_t, 3>{1, 2, 1}));
  EXPECT_EQ(s.counts[1], (std::array<int64_t, 3>{0, 1, 0}));
}

TEST(Chrf, EmptySidesScoreZero) {
  EXPECT_EQ(sentence_chrf("", "abc"), 0.0);
  EXPECT_EQ(sentence_chrf("abc", ""), 0.0);
  EXPECT_EQ(sentence_chrf("", ""), 0.0);
  EXPECT_EQ(sentence_chrf("xyz", "abc"), 0.0);
}

TEST(Chrf, CorpusSumsStatistics) {
  // Summed: order 1 {3+2, 3+3, 3+2}... computed from the per-sentence statistics.
  const std::vector<std::string> hyps = {"abc", "ab"}, refs = {"abc", "abc"};
  ChrfStats sum;
  for (size_t i = 0; i < hyps.size(); ++i) {
    const ChrfStats s = chrf_statistics(hyps[i], refs[i]);
    for (int n = 0; n < kChrfOrder; ++n)
      for (int k = 0; k < 3; ++k) sum.counts[n][k] += s.counts[n][k];
  }
  // P = (5/5 + 3/3 + 1/1) / 3 = 1, R = (5/6 + 3/4 + 1/2) / 3 = 25/36.
  const double p = 1.0, r = 25.0 / 36.0;
  EXPECT_NEAR(corpus_chrf(hyps, refs), 100.0 * 5 * p * r / (4 * p + r), 1e-12);
  EXPECT_NEAR(chrf_from_statistics(sum), corpus_chrf(hyps, refs), 1e-15);
  EXPECT_THROW(corpus_chrf({"a"}, {"a", "b"}), Error);
}

}  // namespace
}  // namespace smol
