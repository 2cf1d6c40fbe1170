// sacreBLEU 2.x chrF: sacrebleu/metrics/chrf.py (_get_match_statistics, _compute_f_score)
// and metrics/helpers.py (extract_all_char_ngrams) with sacrebleu.corpus_chrf's defaults:
// char_order 6, word_order 0, beta 2, whitespace removed, mixed case, eps_smoothing False
// (precision and recall averaged over the orders both sides have n-grams of).
#include <unordered_map>

#include "eval/python_text.hpp"
#include "smol/error.hpp"
#include "smol/text_metrics.hpp"

namespace smol {
namespace {

// ''.join(line.split()): every whitespace character goes, the rest are n-gram characters.
std::u32string without_whitespace(std::string_view text) {
  std::u32string out;
  for (char32_t c : eval::decode_utf8(text)) {
    if (!eval::is_python_space(c)) out.push_back(c);
  }
  return out;
}

std::unordered_map<std::u32string_view, int64_t> char_ngrams(std::u32string_view s, size_t n) {
  std::unordered_map<std::u32string_view, int64_t> counts;
  for (size_t i = 0; i + n <= s.size(); ++i) ++counts[s.substr(i, n)];
  return counts;
}

}  // namespace

ChrfStats chrf_statistics(std::string_view hypothesis, std::string_view reference) {
  const std::u32string hyp = without_whitespace(hypothesis);
  const std::u32string ref = without_whitespace(reference);
  ChrfStats stats;
  for (int n = 1; n <= kChrfOrder; ++n) {
    const auto hyp_ngrams = char_ngrams(hyp, n);
    const auto ref_ngrams = char_ngrams(ref, n);
    int64_t hyp_count = 0, ref_count = 0, matches = 0;
    for (const auto& [ngram, count] : hyp_ngrams) {
      hyp_count += count;
      if (auto it = ref_ngrams.find(ngram); it != ref_ngrams.end()) matches += std::min(count, it->second);
    }
    for (const auto& [ngram, count] : ref_ngrams) ref_count += count;
    // "Don't count hits if no reference exists for that n-gram": a reference shorter than n
    // characters zeroes the hypothesis count of order n too.
    stats.counts[n - 1] = {ref_ngrams.empty() ? 0 : hyp_count, ref_count, matches};
  }
  return stats;
}

double chrf_from_statistics(const ChrfStats& stats, double beta, bool eps_smoothing) {
  constexpr double kEps = 1e-16;
  const double factor = beta * beta;
  double eps_score = 0.0, avg_prec = 0.0, avg_rec = 0.0;
  int effective_order = 0;
  for (const auto& [n_hyp, n_ref, n_match] : stats.counts) {
    const double prec = n_hyp > 0 ? static_cast<double>(n_match) / static_cast<double>(n_hyp) : kEps;
    const double rec = n_ref > 0 ? static_cast<double>(n_match) / static_cast<double>(n_ref) : kEps;
    const double denom = factor * prec + rec;
    eps_score += denom > 0 ? (1 + factor) * prec * rec / denom : kEps;
    if (n_hyp > 0 && n_ref > 0) {
      avg_prec += prec;
      avg_rec += rec;
      ++effective_order;
    }
  }
  if (eps_smoothing) return 100 * eps_score / kChrfOrder;
  if (effective_order == 0) return 0.0;
  avg_prec /= effective_order;
  avg_rec /= effective_order;
  if (avg_prec + avg_rec == 0.0) return 0.0;
  double score = (1 + factor) * avg_prec * avg_rec;
  score /= (factor * avg_prec) + avg_rec;
  return 100 * score;
}

double corpus_chrf(const std::vector<std::string>& hypotheses, const std::vector<std::string>& references) {
  if (hypotheses.size() != references.size()) {
    throw Error("chrF: " + std::to_string(hypotheses.size()) + " hypotheses but " +
                std::to_string(references.size()) + " references; give one reference per hypothesis");
  }
  ChrfStats sum;
  for (size_t i = 0; i < hypotheses.size(); ++i) {
    const ChrfStats s = chrf_statistics(hypotheses[i], references[i]);
    for (int n = 0; n < kChrfOrder; ++n) {
      for (int k = 0; k < 3; ++k) sum.counts[n][k] += s.counts[n][k];
    }
  }
  return chrf_from_statistics(sum);
}

double sentence_chrf(std::string_view hypothesis, std::string_view reference) {
  return chrf_from_statistics(chrf_statistics(hypothesis, reference));
}

}  // namespace smol
