// BLEU by hand: the 13a tokens, the statistics, exp smoothing, the brevity penalty and the
// effective order of sentence BLEU, each worked out from sacreBLEU's definitions.
#include <gtest/gtest.h>

#include <cmath>

#include "smol/error.hpp"
#include "smol/text_metrics.hpp"

namespace smol {
namespace {

using Tokens = std::vector<std::string>;

TEST(Tokenize13a, SplitsSymbolsAndPunctuationButKeepsNumbers) {
  EXPECT_EQ(tokenize_13a("It costs $3.50, or 3,000 yen."),
            (Tokens{"It", "costs", "$", "3.50", ",", "or", "3,000", "yen", "."}));
  // A period or comma stays inside a number only with digits on both sides.
  EXPECT_EQ(tokenize_13a("x.y 1.y x.1 1.1"), (Tokens{"x", ".", "y", "1", ".", "y", "x", ".", "1", "1.1"}));
  // A dash splits off after a digit only; apostrophes and other dashes stay.
  EXPECT_EQ(tokenize_13a("pages 10-20, x-ray, don't"),
            (Tokens{"pages", "10", "-", "20", ",", "x-ray", ",", "don't"}));
  EXPECT_EQ(tokenize_13a("(a) [b] {c} <d> e/f g@h"),
            (Tokens{"(", "a", ")", "[", "b", "]", "{", "c", "}", "<", "d", ">", "e", "/", "f", "g", "@", "h"}));
}

TEST(Tokenize13a, EntitiesSkippedMarkersAndLineBreaks) {
  EXPECT_EQ(tokenize_13a("AT&amp;T &quot;q&quot; &lt;&gt; &amp;quot;"),
            (Tokens{"AT", "&", "T", "\"", "q", "\"", "<", ">", "&", "quot", ";"}));
  EXPECT_EQ(tokenize_13a("<skipped>one-\ntwo\nthree"), (Tokens{"onetwo", "three"}));
  // Unicode whitespace separates like Python's str.split(); other characters pass through.
  EXPECT_EQ(tokenize_13a("Grüße\u00a0aus\u3000München 😀 "), (Tokens{"Grüße", "aus", "München", "😀"}));
  EXPECT_TRUE(tokenize_13a("").empty());
  EXPECT_TRUE(tokenize_13a(" \t\n").empty());
}

TEST(Bleu, StatisticsCountClippedNgrams) {
  const BleuStats s = bleu_statistics("the the the cat", "the cat the");
  EXPECT_EQ(s.hyp_len, 4);
  EXPECT_EQ(s.ref_len, 3);
  EXPECT_EQ(s.total, (std::array<int64_t, 4>{4, 3, 2, 1}));
  // "the" clipped to 2; "the cat" once; no "the the", "the the the", ...
  EXPECT_EQ(s.correct, (std::array<int64_t, 4>{3, 1, 0, 0}));
}

TEST(Bleu, IdenticalCorpusScoresOneHundred) {
  const std::vector<std::string> text = {"The cat sat on the mat.", "A second, longer sentence is here."};
  const BleuScore b = corpus_bleu(text, text);
  EXPECT_NEAR(b.score, 100.0, 1e-9);
  EXPECT_EQ(b.brevity_penalty, 1.0);
}

TEST(Bleu, ExpSmoothingHalvesEachEmptyOrder) {
  // 1-grams 4/5, 2-grams 2/4, 3-grams 1/3, 4-grams 0/2 -> 100 / (2 * 2).
  const BleuScore b = corpus_bleu({"a b c d e"}, {"a b c x e"});
  EXPECT_DOUBLE_EQ(b.precisions[0], 80.0);
  EXPECT_DOUBLE_EQ(b.precisions[1], 50.0);
  EXPECT_DOUBLE_EQ(b.precisions[2], 100.0 / 3.0);
  EXPECT_DOUBLE_EQ(b.precisions[3], 25.0);
  const double expected = std::exp((std::log(80.0) + std::log(50.0) + std::log(100.0 / 3.0) + std::log(25.0)) / 4);
  EXPECT_NEAR(b.score, expected, 1e-12);
  // Two empty orders: 100/2 and then 100/4 of their totals.
  const BleuScore two = corpus_bleu({"a b x c d"}, {"a b y c d"});
  EXPECT_DOUBLE_EQ(two.precisions[2], 100.0 / (2 * 3));
  EXPECT_DOUBLE_EQ(two.precisions[3], 100.0 / (4 * 2));
}

TEST(Bleu, BrevityPenaltyAndEffectiveOrder) {
  // hyp [the, cat], ref of 7 tokens: 1-grams 2/2, 2-grams 0/1 (smoothed to 50), no 3-grams.
  const BleuScore s = sentence_bleu("the cat", "The cat sat on the mat.");
  EXPECT_DOUBLE_EQ(s.brevity_penalty, std::exp(1.0 - 7.0 / 2.0));
  EXPECT_NEAR(s.score, std::exp(1.0 - 7.0 / 2.0) * std::sqrt(100.0 * 50.0), 1e-12);
  // Corpus BLEU keeps all four orders: an order with no n-grams at all floors the log.
  EXPECT_EQ(corpus_bleu({"the cat"}, {"The cat sat on the mat."}).score, 0.0);
}

TEST(Bleu, NoMatchesOrNoWordsScoreZero) {
  EXPECT_EQ(sentence_bleu("", "a reference").score, 0.0);
  EXPECT_EQ(sentence_bleu("words", "").score, 0.0);
  EXPECT_EQ(sentence_bleu("x y z", "a b c").score, 0.0);
  const BleuScore empty = corpus_bleu({}, {});
  EXPECT_EQ(empty.score, 0.0);
  EXPECT_EQ(empty.brevity_penalty, 1.0);
}

TEST(Bleu, CorpusSumsStatisticsInsteadOfAveragingSentences) {
  const std::vector<std::string> hyps = {"a b c d e f", "x y"};
  const std::vector<std::string> refs = {"a b c d e f", "p q"};
  BleuStats sum = bleu_statistics(hyps[0], refs[0]);
  const BleuStats second = bleu_statistics(hyps[1], refs[1]);
  sum.hyp_len += second.hyp_len;
  sum.ref_len += second.ref_len;
  for (int n = 0; n < kBleuOrder; ++n) {
    sum.correct[n] += second.correct[n];
    sum.total[n] += second.total[n];
  }
  // 1-grams 6/8, 2-grams 5/6, 3-grams 4/4, 4-grams 3/3.
  EXPECT_EQ(sum.total, (std::array<int64_t, 4>{8, 6, 4, 3}));
  const double expected = std::exp((std::log(75.0) + std::log(500.0 / 6.0) + std::log(100.0) + std::log(100.0)) / 4);
  EXPECT_NEAR(corpus_bleu(hyps, refs).score, expected, 1e-12);
}

TEST(Bleu, MismatchedListsAreAnError) {
  EXPECT_THROW(corpus_bleu({"a"}, {}), Error);
}

}  // namespace
}  // namespace smol
