// Every metric against tests/fixtures/metrics/cases.json: the values an independent Python
// transcription of sacreBLEU and rouge-score (tests/oracle/text_metrics.py, run with
// Python's own re, str and Counter) gives on 115 pairs with Unicode, punctuation, entities
// and empty strings, and on corpora made of them.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "smol/text_metrics.hpp"
#include "test_support/fixtures.hpp"

namespace smol {
namespace {

nlohmann::json load_cases() {
  const auto path = testing::source_dir() / "tests" / "fixtures" / "metrics" / "cases.json";
  std::ifstream in(path);
  if (!in) throw std::runtime_error("missing " + path.string());
  return nlohmann::json::parse(in);
}

const nlohmann::json& cases() {
  static const nlohmann::json doc = load_cases();
  return doc;
}

// Same formulas, same order of operations: only the last bits may differ (log/exp).
void expect_close(double got, double want, const std::string& what) {
  EXPECT_NEAR(got, want, 1e-9 * std::max(1.0, std::abs(want))) << what;
}

void expect_rouge(const RougeScore& got, const nlohmann::json& want, const std::string& what) {
  expect_close(got.precision, want["precision"], what + " precision");
  expect_close(got.recall, want["recall"], what + " recall");
  expect_close(got.fmeasure, want["fmeasure"], what + " fmeasure");
}

TEST(MetricsOracle, EnoughCases) { EXPECT_GE(cases()["cases"].size(), 50u); }

TEST(MetricsOracle, SentenceLevelAgreesOnEveryPair) {
  for (const auto& c : cases()["cases"]) {
    const std::string hyp = c["hypothesis"], ref = c["reference"];
    const std::string what = "hyp=" + nlohmann::json(hyp).dump() + " ref=" + nlohmann::json(ref).dump();
    EXPECT_EQ(tokenize_13a(hyp), c["tokens_13a"].get<std::vector<std::string>>()) << what;
    EXPECT_EQ(rouge_tokenize(hyp), c["rouge_tokens"].get<std::vector<std::string>>()) << what;

    const BleuStats b = bleu_statistics(hyp, ref);
    std::vector<int64_t> flat = {b.hyp_len, b.ref_len};
    flat.insert(flat.end(), b.correct.begin(), b.correct.end());
    flat.insert(flat.end(), b.total.begin(), b.total.end());
    EXPECT_EQ(flat, c["bleu_stats"].get<std::vector<int64_t>>()) << what;
    expect_close(sentence_bleu(hyp, ref).score, c["sentence_bleu"], what + " sentence BLEU");

    const ChrfStats s = chrf_statistics(hyp, ref);
    std::vector<int64_t> chrf_flat;
    for (const auto& order : s.counts) chrf_flat.insert(chrf_flat.end(), order.begin(), order.end());
    EXPECT_EQ(chrf_flat, c["chrf_stats"].get<std::vector<int64_t>>()) << what;
    expect_close(sentence_chrf(hyp, ref), c["sentence_chrf"], what + " sentence chrF");

    expect_rouge(rouge_n(ref, hyp, 1), c["rouge1"], what + " ROUGE-1");
    expect_rouge(rouge_n(ref, hyp, 2), c["rouge2"], what + " ROUGE-2");
    expect_rouge(rouge_l(ref, hyp), c["rougeL"], what + " ROUGE-L");
  }
}

TEST(MetricsOracle, CorpusLevelAgrees) {
  const auto& all = cases()["cases"];
  for (const auto& corpus : cases()["corpora"]) {
    std::vector<std::string> hyps, refs;
    for (size_t i = corpus["first"]; i < corpus["last"].get<size_t>(); ++i) {
      hyps.push_back(all[i]["hypothesis"]);
      refs.push_back(all[i]["reference"]);
    }
    const std::string name = corpus["name"];
    const BleuScore b = corpus_bleu(hyps, refs);
    expect_close(b.score, corpus["bleu"], name + " BLEU");
    expect_close(b.brevity_penalty, corpus["bleu_bp"], name + " BP");
    for (int n = 0; n < kBleuOrder; ++n) expect_close(b.precisions[n], corpus["bleu_precisions"][n], name + " p" + std::to_string(n + 1));
    const TextMetrics m = score_corpus(hyps, refs);
    expect_close(m.chrf, corpus["chrf"], name + " chrF");
    expect_close(m.rouge1, corpus["rouge1"], name + " ROUGE-1");
    expect_close(m.rouge2, corpus["rouge2"], name + " ROUGE-2");
    expect_close(m.rouge_l, corpus["rougeL"], name + " ROUGE-L");
  }
}

}  // namespace
}  // namespace smol
