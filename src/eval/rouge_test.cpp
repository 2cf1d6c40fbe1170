// ROUGE by hand: rouge-score's default tokenizer (Python's lower(), runs of [a-z0-9]),
// clipped n-gram overlap with max(count, 1) denominators, and the LCS of ROUGE-L.
#include <gtest/gtest.h>

#include "smol/error.hpp"
#include "smol/text_metrics.hpp"

namespace smol {
namespace {

using Tokens = std::vector<std::string>;

TEST(RougeTokenize, LowercaseAlphanumericRuns) {
  EXPECT_EQ(rouge_tokenize("Hello, World! It's 3.5"), (Tokens{"hello", "world", "it", "s", "3", "5"}));
  EXPECT_EQ(rouge_tokenize("naïve Grüße"), (Tokens{"na", "ve", "gr", "e"}));
  EXPECT_TRUE(rouge_tokenize("日本語 😀 ---").empty());
  EXPECT_TRUE(rouge_tokenize("").empty());
}

TEST(RougeTokenize, PythonLowerReachesAsciiFromTwoCodePoints) {
  // "İ".lower() is "i" + U+0307 (a separator); the Kelvin sign lowers to "k".
  EXPECT_EQ(rouge_tokenize("İstanbul"), (Tokens{"i", "stanbul"}));
  EXPECT_EQ(rouge_tokenize("5\u212Ab"), (Tokens{"5kb"}));
}

TEST(RougeN, ClippedOverlap) {
  const RougeScore r1 = rouge_n("the cat sat", "The cat", 1);
  EXPECT_DOUBLE_EQ(r1.precision, 1.0);
  EXPECT_DOUBLE_EQ(r1.recall, 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(r1.fmeasure, 0.8);
  // "the" appears twice in the prediction, once in the target.
  const RougeScore clipped = rouge_n("the cat", "the the", 1);
  EXPECT_DOUBLE_EQ(clipped.precision, 0.5);
  EXPECT_DOUBLE_EQ(clipped.recall, 0.5);
  const RougeScore r2 = rouge_n("the cat sat on the mat", "the cat on the mat", 2);
  EXPECT_DOUBLE_EQ(r2.precision, 3.0 / 4.0);  // the cat, on the, the mat
  EXPECT_DOUBLE_EQ(r2.recall, 3.0 / 5.0);
}

TEST(RougeN, EmptySidesScoreZero) {
  EXPECT_EQ(rouge_n("", "words", 1).fmeasure, 0.0);
  EXPECT_EQ(rouge_n("words", "", 1).fmeasure, 0.0);
  EXPECT_EQ(rouge_n("one", "one", 2).fmeasure, 0.0);  // no bigrams on either side
  EXPECT_THROW(rouge_n("a", "a", 0), Error);
}

TEST(RougeL, LongestCommonSubsequence) {
  const RougeScore l = rouge_l("police killed the gunman", "the gunman killed police");
  EXPECT_DOUBLE_EQ(l.precision, 0.5);
  EXPECT_DOUBLE_EQ(l.recall, 0.5);
  // LCS "a c d" of 4 target and 5 prediction tokens.
  const RougeScore m = rouge_l("a b c d", "a c x y d");
  EXPECT_DOUBLE_EQ(m.precision, 3.0 / 5.0);
  EXPECT_DOUBLE_EQ(m.recall, 3.0 / 4.0);
  EXPECT_DOUBLE_EQ(m.fmeasure, 2 * 0.6 * 0.75 / 1.35);
  EXPECT_EQ(rouge_l("", "x").fmeasure, 0.0);
  EXPECT_EQ(rouge_l("x", "...").fmeasure, 0.0);
}

TEST(ScoreCorpus, AveragesRougeAndSumsBleuStatistics) {
  const std::vector<std::string> hyps = {"the cat", "a b c d e"}, refs = {"the cat sat", "a b c x e"};
  const TextMetrics m = score_corpus(hyps, refs);
  EXPECT_EQ(m.sentences, 2);
  EXPECT_DOUBLE_EQ(m.rouge1, (0.8 + 0.8) / 2);
  EXPECT_DOUBLE_EQ(m.bleu, corpus_bleu(hyps, refs).score);
  EXPECT_DOUBLE_EQ(m.chrf, corpus_chrf(hyps, refs));
  EXPECT_THROW(score_corpus({"a"}, {}), Error);
  EXPECT_EQ(score_corpus({}, {}).sentences, 0);
}

}  // namespace
}  // namespace smol
