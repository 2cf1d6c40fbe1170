// The summary `smol eval-seq2seq` prints: corpus-level BLEU and chrF from summed statistics,
// ROUGE as the mean of per-sentence F-measures (rouge-score's BootstrapAggregator "mid").
#include "smol/error.hpp"
#include "smol/text_metrics.hpp"

namespace smol {

TextMetrics score_corpus(const std::vector<std::string>& hypotheses, const std::vector<std::string>& references) {
  if (hypotheses.size() != references.size()) {
    throw Error(std::to_string(hypotheses.size()) + " hypotheses but " + std::to_string(references.size()) +
                " references: give one reference line per hypothesis");
  }
  TextMetrics m;
  m.sentences = static_cast<int64_t>(hypotheses.size());
  if (hypotheses.empty()) return m;
  m.bleu = corpus_bleu(hypotheses, references).score;
  m.chrf = corpus_chrf(hypotheses, references);
  for (size_t i = 0; i < hypotheses.size(); ++i) {
    m.rouge1 += rouge_n(references[i], hypotheses[i], 1).fmeasure;
    m.rouge2 += rouge_n(references[i], hypotheses[i], 2).fmeasure;
    m.rouge_l += rouge_l(references[i], hypotheses[i]).fmeasure;
  }
  const auto n = static_cast<double>(hypotheses.size());
  m.rouge1 /= n;
  m.rouge2 /= n;
  m.rouge_l /= n;
  return m;
}

}  // namespace smol
