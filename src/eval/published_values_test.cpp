// The values the reference tools' own test suites assert, as published test vectors (inputs
// and expected numbers only): sacreBLEU's test/test_bleu.py, test/test_sentence_bleu.py and
// test/test_chrf.py; rouge-score's rouge_scorer_test.py, whose ROUGE-1.5.5 numbers come
// from its testdata/target.txt and prediction.txt (first two lines, quoted below).
#include <gtest/gtest.h>

#include "smol/text_metrics.hpp"

namespace smol {
namespace {

TEST(SacreBleuPublished, CorpusBleuWithTwoReferenceStreams) {
  const std::vector<std::string> hyps = {"The dog bit the man.", "It wasn't surprising.", "The man had just bitten him."};
  const std::vector<std::vector<std::string>> refs = {
      {"The dog bit the man.", "It was not unexpected.", "The man bit him first."},
      {"The dog had bit the man.", "No one was surprised.", "The man had bitten the dog."}};
  EXPECT_NEAR(corpus_bleu_multiref(hyps, refs).score, 48.530827, 1e-6);
  EXPECT_EQ(corpus_bleu_multiref({"", "", ""}, refs).score, 0.0);
}

TEST(SacreBleuPublished, SentenceBleuExpSmoothing) {
  EXPECT_NEAR(sentence_bleu("Producția de zahăr primă va fi exprimată în ceea ce privește zahărul alb;",
                            "producţia de zahăr brut se exprimă în zahăr alb;")
                  .score,
              8.493, 1e-3);
  EXPECT_EQ(sentence_bleu("this is a cat", "okay thanks").score, 0.0);
}

TEST(SacreBleuPublished, StatisticsAndScoring) {
  // No punctuation, so 13a splits like the 'none' tokenizer test_bleu.py used.
  const BleuStats s = bleu_statistics("am I am a character sequence", "I am a symbol string sequence a a");
  EXPECT_EQ(s.correct, (std::array<int64_t, 4>{4, 2, 1, 0}));
  EXPECT_EQ(s.total, (std::array<int64_t, 4>{6, 5, 4, 3}));
  BleuStats given;
  given.correct = {9, 7, 5, 3};
  given.total = {10, 8, 6, 4};
  given.hyp_len = given.ref_len = 11;
  EXPECT_NEAR(bleu_from_statistics(given, false).score / 100, 0.8375922397, 1e-8);
}

double chrf_beta(const std::vector<std::string>& hyps, const std::vector<std::string>& refs, double beta, bool eps) {
  ChrfStats sum;
  for (size_t i = 0; i < hyps.size(); ++i) {
    const ChrfStats s = chrf_statistics(hyps[i], refs[i]);
    for (int n = 0; n < kChrfOrder; ++n)
      for (int k = 0; k < 3; ++k) sum.counts[n][k] += s.counts[n][k];
  }
  return chrf_from_statistics(sum, beta, eps);
}

TEST(SacreBleuPublished, ChrfEffectiveOrderBeta3) {
  EXPECT_NEAR(chrf_beta({"a"}, {"a"}, 3, false), 100.0, 1e-4);
  EXPECT_NEAR(chrf_beta({""}, {"reference"}, 3, false), 0.0, 1e-4);
  EXPECT_NEAR(chrf_beta({"a b c"}, {"a b c"}, 3, false), 100.0, 1e-4);
  EXPECT_NEAR(chrf_beta({"a b c"}, {"abc"}, 3, false), 100.0, 1e-4);
  EXPECT_NEAR(chrf_beta({""}, {"c"}, 3, false), 0.0, 1e-4);
  EXPECT_NEAR(chrf_beta({"a", "b"}, {"a", "c"}, 3, false), 50.0, 1e-4);
  EXPECT_NEAR(chrf_beta({"aa"}, {"ab"}, 3, false), 25.0, 1e-4);
}

TEST(SacreBleuPublished, ChrfEpsSmoothing) {
  EXPECT_NEAR(chrf_beta({"aa"}, {"ab"}, 3, true), 8.3333, 1e-4);
  EXPECT_NEAR(chrf_beta({"a", "b"}, {"a", "c"}, 3, true), 8.3333, 1e-4);
  EXPECT_NEAR(chrf_beta({"a"}, {"a"}, 3, true), 16.6667, 1e-4);
  EXPECT_NEAR(chrf_beta({"a b c"}, {"abc"}, 3, true), 50.0, 1e-4);
  EXPECT_NEAR(chrf_beta({" risk assessment must be made of those who are qualified and expertise in the sector - these "
                         "are the scientists ."},
                        {"risk assessment has to be undertaken by those who are qualified and expert in that area - that "
                         "is the scientists ."},
                        3, true),
              63.361730, 1e-4);
  EXPECT_NEAR(chrf_beta({" Die    Beziehung zwischen  Obama und Netanjahu ist nicht gerade  freundlich. "},
                        {"Das Verhältnis zwischen Obama und Netanyahu ist nicht gerade freundschaftlich."}, 3, true),
              64.1302698, 1e-4);
  // sentence_chrf(..., eps_smoothing=True) with the default beta 2.
  EXPECT_NEAR(chrf_from_statistics(chrf_statistics(
                                       "Co nás nejvíc trápí, protože lékaři si vybírají, kdo bude žít a kdo zemře.",
                                       "Nejvíce smutní jsme z toho, že musíme rozhodovat o tom, kdo bude žít a kdo zemře."),
                                   2, true),
              39.14078509, 1e-4);
  EXPECT_NEAR(chrf_from_statistics(chrf_statistics(
                                       "Lapali po dechu, jejich životy skončily dřív, než skutečně začaly.",
                                       "Lapali po dechu a pak jejich život skončil - dřív, než skutečně mohl začít, připomněli."),
                                   2, true),
              57.15704367, 1e-4);
}

TEST(RougeScorePublished, SmallCases) {
  const RougeScore r1 = rouge_n("testing one two", "testing", 1);
  EXPECT_NEAR(r1.recall, 1.0 / 3, 1e-12);
  EXPECT_NEAR(r1.fmeasure, 0.5, 1e-12);
  EXPECT_NEAR(rouge_n("testing one two", "testing one", 2).fmeasure, 2.0 / 3, 1e-12);
  EXPECT_NEAR(rouge_l("testing one two", "testing two").fmeasure, 0.8, 1e-12);
  EXPECT_EQ(rouge_l("testing one two", "").fmeasure, 0.0);
}

// rouge-score's testdata (random strings whose ROUGE-1.5.5 scores it asserts, 5 places).
const char* kTarget0 =
    "ZfbCUIUuePaiLVUlCaUXxkpu XPeWing tUHfPMuZ',-Xd Y BrUgVJing M-HV.-DgdDaY.rFDJCRing Ht-LM EKBDXkME,yz'RBr q'wtion "
    "wIojNbN wL,b .a-'XdQggyFl jB-RPP'iyOIcUxer tKM L";
const char* kTarget1 =
    "KsJdPByEtAor fE-Qg Dpdbring cw-WeFyu vC MoBL Xdn g wkvcEiGvKtion BDFhrpMtion psing sbKao Q m qiing LMmer "
    "HqqLFXe,XPY,J XsurkMer ,ed nB'wH'bWVHjWFEing tQ.saefZwJtKrTlixYpMMsJing UCAPwNHeYVjDing c T BUySKtion gMPfJpwGw "
    "p'NvxAoping eu pBwMBKV'I DNxqelhu,PHPxDEq,mtion SN";
const char* kPrediction0 = "rFDJCRtion Ht-LM EKtDXkME,yz'RBr q'wer wrojNbN wL,b .a-'XdQggyFl jB-RPP'iyOIcUxi";
const char* kPrediction1 =
    "n cw-WeFyu vC MoBL Xdn g wkvcEiGvKtion BDFhrpMer pstion sbKao Q m qier LMmed HqqLFXe,XPY,J XsurkMeo ,ed "
    "nB'wH'bWVHjWFEer tQ.saefZwJtKrTlixYpMMNJtion UCAPwNHeYVjD";

void expect_prf(const RougeScore& s, double p, double r, double f) {
  EXPECT_NEAR(s.precision, p, 5e-6);
  EXPECT_NEAR(s.recall, r, 5e-6);
  EXPECT_NEAR(s.fmeasure, f, 5e-6);
}

TEST(RougeScorePublished, AgainstRouge155) {
  expect_prf(rouge_n(kTarget0, kPrediction0, 1), 0.68750, 0.40741, 0.51163);
  expect_prf(rouge_n(kTarget1, kPrediction1, 1), 0.65385, 0.40476, 0.50000);
  expect_prf(rouge_n(kTarget0, kPrediction0, 2), 0.53333, 0.30769, 0.39024);
  expect_prf(rouge_n(kTarget1, kPrediction1, 2), 0.48000, 0.29268, 0.36364);
  expect_prf(rouge_l(kTarget0, kPrediction0), 0.68750, 0.40741, 0.51163);
  expect_prf(rouge_l(kTarget1, kPrediction1), 0.65385, 0.40476, 0.50000);
}

}  // namespace
}  // namespace smol
