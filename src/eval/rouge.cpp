// Google rouge-score: rouge_score/tokenize.py (DefaultTokenizer without the stemmer),
// rouge_scorer.py (_create_ngrams, _score_ngrams, _score_lcs) and scoring.py (fmeasure).
#include <algorithm>
#include <map>

#include "eval/python_text.hpp"
#include "smol/error.hpp"
#include "smol/text_metrics.hpp"

namespace smol {
namespace {

// What text.lower() turns one code point into, as far as [a-z0-9] can see: the ASCII
// letter or digit it lowers to, or 0 for a separator. Python's lower() reaches ASCII from
// two other code points: U+0130 (İ -> "i" + U+0307, so a token ends right after the i) and
// U+212A (KELVIN SIGN -> "k").
char lowered_ascii(char32_t c, bool& ends_token) {
  ends_token = false;
  if (c >= U'a' && c <= U'z') return static_cast<char>(c);
  if (c >= U'0' && c <= U'9') return static_cast<char>(c);
  if (c >= U'A' && c <= U'Z') return static_cast<char>(c - U'A' + U'a');
  if (c == 0x212A) return 'k';
  if (c == 0x0130) {
    ends_token = true;
    return 'i';
  }
  return 0;
}

RougeScore from_counts(double overlap, double prediction_count, double target_count) {
  RougeScore s;
  s.precision = overlap / prediction_count;
  s.recall = overlap / target_count;
  s.fmeasure = s.precision + s.recall > 0 ? 2 * s.precision * s.recall / (s.precision + s.recall) : 0.0;
  return s;
}

}  // namespace

std::vector<std::string> rouge_tokenize(std::string_view text) {
  std::vector<std::string> tokens;
  std::string current;
  for (char32_t c : eval::decode_utf8(text)) {
    bool ends_token = false;
    const char a = lowered_ascii(c, ends_token);
    if (a != 0) current.push_back(a);
    if ((a == 0 || ends_token) && !current.empty()) {
      tokens.push_back(current);
      current.clear();
    }
  }
  if (!current.empty()) tokens.push_back(std::move(current));
  return tokens;
}

RougeScore rouge_n(std::string_view target, std::string_view prediction, int n) {
  if (n <= 0) throw Error("ROUGE-N needs n >= 1, got " + std::to_string(n));
  auto ngrams = [n](const std::vector<std::string>& tokens) {
    std::map<std::vector<std::string>, int64_t> counts;
    for (size_t i = 0; i + n <= tokens.size(); ++i) ++counts[{tokens.begin() + i, tokens.begin() + i + n}];
    return counts;
  };
  const auto target_ngrams = ngrams(rouge_tokenize(target));
  const auto prediction_ngrams = ngrams(rouge_tokenize(prediction));
  int64_t overlap = 0, target_count = 0, prediction_count = 0;
  for (const auto& [ngram, count] : target_ngrams) {
    target_count += count;
    if (auto it = prediction_ngrams.find(ngram); it != prediction_ngrams.end()) overlap += std::min(count, it->second);
  }
  for (const auto& [ngram, count] : prediction_ngrams) prediction_count += count;
  // max(count, 1): an empty side scores 0, not NaN.
  return from_counts(static_cast<double>(overlap), static_cast<double>(std::max<int64_t>(prediction_count, 1)),
                     static_cast<double>(std::max<int64_t>(target_count, 1)));
}

RougeScore rouge_l(std::string_view target, std::string_view prediction) {
  const std::vector<std::string> ref = rouge_tokenize(target);
  const std::vector<std::string> can = rouge_tokenize(prediction);
  if (ref.empty() || can.empty()) return {};
  // The LCS table one row at a time: only its last cell is needed.
  std::vector<int64_t> prev(can.size() + 1, 0), row(can.size() + 1, 0);
  for (size_t i = 1; i <= ref.size(); ++i) {
    for (size_t j = 1; j <= can.size(); ++j) {
      row[j] = ref[i - 1] == can[j - 1] ? prev[j - 1] + 1 : std::max(prev[j], row[j - 1]);
    }
    std::swap(prev, row);
  }
  return from_counts(static_cast<double>(prev[can.size()]), static_cast<double>(can.size()),
                     static_cast<double>(ref.size()));
}

}  // namespace smol
