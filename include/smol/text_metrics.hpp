#pragma once
// Text metrics as the reference tools define them, so smol's numbers can be quoted beside
// anyone else's: sacreBLEU 2.x's BLEU (13a tokenization, exponential smoothing) and chrF
// (character 6-grams, beta 2, whitespace removed, effective-order averaging), and Google
// rouge-score's ROUGE-N and ROUGE-L (its default tokenizer, no stemmer).
//
// Inputs are UTF-8; an invalid byte counts as one character of its own (as Python's
// surrogateescape reads it). One reference per hypothesis (BLEU also takes several).
// Scales follow the tools: BLEU and chrF in [0, 100], ROUGE in [0, 1].
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace smol {

// sacreBLEU's Tokenizer13a (mteval-v13a.pl) on one segment: the tokens, no case change.
std::vector<std::string> tokenize_13a(std::string_view text);

constexpr int kBleuOrder = 4;

// BLEU's sufficient statistics; summed over sentences they give the corpus score.
struct BleuStats {
  int64_t hyp_len = 0;
  int64_t ref_len = 0;
  std::array<int64_t, kBleuOrder> correct{};
  std::array<int64_t, kBleuOrder> total{};
};

struct BleuScore {
  double score = 0.0;  // 0..100
  std::array<double, kBleuOrder> precisions{};  // percent, smoothed
  double brevity_penalty = 0.0;
  BleuStats stats;
};

BleuStats bleu_statistics(std::string_view hypothesis, std::string_view reference);
// Several references: n-gram counts clipped by their maximum over the references, and the
// reference length closest to the hypothesis (the shorter on a tie), as sacreBLEU does.
BleuStats bleu_statistics(std::string_view hypothesis, const std::vector<std::string>& references);
// sacreBLEU's compute_bleu with smooth_method='exp'; effective_order drops the orders the
// hypothesis has no n-grams of (sacrebleu.sentence_bleu's default, off for corpus_bleu).
BleuScore bleu_from_statistics(const BleuStats& stats, bool effective_order);
// sacrebleu.corpus_bleu(hyps, [refs]) with its defaults.
BleuScore corpus_bleu(const std::vector<std::string>& hypotheses, const std::vector<std::string>& references);
// sacrebleu.corpus_bleu(hyps, reference_streams): stream k holds every hypothesis' k-th reference.
BleuScore corpus_bleu_multiref(const std::vector<std::string>& hypotheses,
                                const std::vector<std::vector<std::string>>& reference_streams);
// sacrebleu.sentence_bleu(hyp, [ref]) with its defaults (effective order on).
BleuScore sentence_bleu(std::string_view hypothesis, std::string_view reference);

constexpr int kChrfOrder = 6;

// Per character order n = 1..6: hypothesis n-grams, reference n-grams, matches.
struct ChrfStats {
  std::array<std::array<int64_t, 3>, kChrfOrder> counts{};
};

ChrfStats chrf_statistics(std::string_view hypothesis, std::string_view reference);
// 0..100. The defaults are sacreBLEU's; eps_smoothing=True is its chrF++.py-style variant
// (every order counts, an empty one as 1e-16).
double chrf_from_statistics(const ChrfStats& stats, double beta = 2.0, bool eps_smoothing = false);
// sacrebleu.corpus_chrf / sentence_chrf with their defaults.
double corpus_chrf(const std::vector<std::string>& hypotheses, const std::vector<std::string>& references);
double sentence_chrf(std::string_view hypothesis, std::string_view reference);

// rouge-score's DefaultTokenizer(use_stemmer=False): Python's lower(), then the runs of
// [a-z0-9] are the tokens.
std::vector<std::string> rouge_tokenize(std::string_view text);

struct RougeScore {
  double precision = 0.0;
  double recall = 0.0;
  double fmeasure = 0.0;
};

// RougeScorer(['rougeN']).score(target, prediction): n-gram overlap, n >= 1.
RougeScore rouge_n(std::string_view target, std::string_view prediction, int n);
// RougeScorer(['rougeL']).score(target, prediction): sentence-level LCS of the tokens.
RougeScore rouge_l(std::string_view target, std::string_view prediction);

// Everything `smol eval-seq2seq` reports over a corpus: corpus BLEU and chrF, and ROUGE as
// rouge-score's aggregator reports it (the mean of the sentences' F-measures).
struct TextMetrics {
  double bleu = 0.0;
  double chrf = 0.0;
  double rouge1 = 0.0;
  double rouge2 = 0.0;
  double rouge_l = 0.0;
  int64_t sentences = 0;
};

// Throws smol::Error when the two lists differ in length.
TextMetrics score_corpus(const std::vector<std::string>& hypotheses, const std::vector<std::string>& references);

}  // namespace smol
