// sacreBLEU 2.x BLEU: sacrebleu/tokenizers/tokenizer_13a.py and tokenizer_re.py for the
// tokens, sacrebleu/metrics/bleu.py (_compute_segment_statistics, compute_bleu) for the
// score, with the defaults of sacrebleu.corpus_bleu / sentence_bleu: mixed case, 13a,
// smooth_method='exp', one reference.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <unordered_map>

#include "eval/python_text.hpp"
#include "smol/error.hpp"
#include "smol/text_metrics.hpp"

namespace smol {
namespace {

using eval::decode_utf8;
using eval::encode_utf8;

bool is_digit(char32_t c) { return c >= U'0' && c <= U'9'; }
bool is_period_or_comma(char32_t c) { return c == U'.' || c == U','; }

// The character class [\{-\~\[-\` -\&\(-\+\:-\@\/] of tokenizer_re.py: ASCII symbols that
// always stand alone (the apostrophe, '-', '.' and ',' are not among them).
bool is_split_symbol(char32_t c) {
  return (c >= 0x7B && c <= 0x7E) || (c >= 0x5B && c <= 0x60) || (c >= 0x20 && c <= 0x26) ||
         (c >= 0x28 && c <= 0x2B) || (c >= 0x3A && c <= 0x40) || c == 0x2F;
}

// re.sub of a two-character pattern: matches are found left to right and never overlap, so
// a character consumed by one match cannot start the next.
template <typename Match, typename Emit>
std::u32string substitute_pairs(const std::u32string& s, Match match, Emit emit) {
  std::u32string out;
  out.reserve(s.size() + s.size() / 4);
  size_t i = 0;
  while (i < s.size()) {
    if (i + 1 < s.size() && match(s[i], s[i + 1])) {
      emit(out, s[i], s[i + 1]);
      i += 2;
    } else {
      out.push_back(s[i]);
      ++i;
    }
  }
  return out;
}

std::vector<std::u32string> tokens_13a(std::string_view text) {
  // BLEU._preprocess_segment: rstrip() before the tokenizer.
  std::u32string line(eval::rstrip_whitespace(decode_utf8(text)));
  line = eval::replace_all(std::move(line), U"<skipped>", U"");
  line = eval::replace_all(std::move(line), U"-\n", U"");
  line = eval::replace_all(std::move(line), U"\n", U" ");
  if (line.find(U'&') != std::u32string::npos) {
    line = eval::replace_all(std::move(line), U"&quot;", U"\"");
    line = eval::replace_all(std::move(line), U"&amp;", U"&");
    line = eval::replace_all(std::move(line), U"&lt;", U"<");
    line = eval::replace_all(std::move(line), U"&gt;", U">");
  }
  std::u32string s = U" " + line + U" ";
  std::u32string spaced;
  spaced.reserve(s.size() * 2);
  for (char32_t c : s) {
    if (is_split_symbol(c)) {
      spaced.push_back(U' ');
      spaced.push_back(c);
      spaced.push_back(U' ');
    } else {
      spaced.push_back(c);
    }
  }
  // Period and comma split off unless preceded by a digit, then unless followed by one.
  spaced = substitute_pairs(
      spaced, [](char32_t a, char32_t b) { return !is_digit(a) && is_period_or_comma(b); },
      [](std::u32string& o, char32_t a, char32_t b) { o += {a, U' ', b, U' '}; });
  spaced = substitute_pairs(
      spaced, [](char32_t a, char32_t b) { return is_period_or_comma(a) && !is_digit(b); },
      [](std::u32string& o, char32_t a, char32_t b) { o += {U' ', a, U' ', b}; });
  // A dash after a digit stands alone.
  spaced = substitute_pairs(
      spaced, [](char32_t a, char32_t b) { return is_digit(a) && b == U'-'; },
      [](std::u32string& o, char32_t a, char32_t b) { o += {a, U' ', b, U' '}; });
  return eval::split_whitespace(spaced);
}

// Word n-grams of orders 1..4 as strings of token ids, so one hash map holds every order.
using NgramCounts = std::unordered_map<std::u32string, int64_t>;

NgramCounts ngram_counts(const std::vector<char32_t>& ids) {
  NgramCounts counts;
  for (int n = 1; n <= kBleuOrder; ++n) {
    for (size_t i = 0; i + n <= ids.size(); ++i) ++counts[std::u32string(ids.begin() + i, ids.begin() + i + n)];
  }
  return counts;
}

std::vector<char32_t> intern(const std::vector<std::u32string>& tokens,
                             std::unordered_map<std::u32string, char32_t>& ids) {
  std::vector<char32_t> out;
  out.reserve(tokens.size());
  for (const auto& t : tokens) out.push_back(ids.try_emplace(t, static_cast<char32_t>(ids.size())).first->second);
  return out;
}

// utils.my_log: log(0) is floored instead of -inf.
double floored_log(double x) { return x == 0.0 ? -9999999999.0 : std::log(x); }

}  // namespace

std::vector<std::string> tokenize_13a(std::string_view text) {
  std::vector<std::string> out;
  for (const auto& t : tokens_13a(text)) out.push_back(encode_utf8(t));
  return out;
}

BleuStats bleu_statistics(std::string_view hypothesis, std::string_view reference) {
  return bleu_statistics(hypothesis, std::vector<std::string>{std::string(reference)});
}

BleuStats bleu_statistics(std::string_view hypothesis, const std::vector<std::string>& references) {
  std::unordered_map<std::u32string, char32_t> ids;
  const std::vector<char32_t> hyp = intern(tokens_13a(hypothesis), ids);
  NgramCounts ref_counts;
  int64_t closest_len = -1, closest_diff = -1;
  for (const std::string& reference : references) {
    const std::vector<char32_t> ref = intern(tokens_13a(reference), ids);
    for (const auto& [ngram, count] : ngram_counts(ref)) {
      int64_t& best = ref_counts[ngram];
      best = std::max(best, count);
    }
    const auto len = static_cast<int64_t>(ref.size());
    const int64_t diff = std::abs(static_cast<int64_t>(hyp.size()) - len);
    if (closest_diff == -1 || diff < closest_diff) {
      closest_diff = diff;
      closest_len = len;
    } else if (diff == closest_diff && len < closest_len) {
      closest_len = len;
    }
  }
  BleuStats stats;
  stats.hyp_len = static_cast<int64_t>(hyp.size());
  stats.ref_len = closest_len;
  for (const auto& [ngram, count] : ngram_counts(hyp)) {
    const size_t n = ngram.size() - 1;
    stats.total[n] += count;
    if (auto it = ref_counts.find(ngram); it != ref_counts.end()) stats.correct[n] += std::min(count, it->second);
  }
  return stats;
}

BleuScore bleu_from_statistics(const BleuStats& stats, bool effective_order) {
  BleuScore out;
  out.stats = stats;
  const auto sys_len = static_cast<double>(stats.hyp_len);
  const auto ref_len = static_cast<double>(stats.ref_len);
  if (stats.hyp_len < stats.ref_len) {
    out.brevity_penalty = stats.hyp_len > 0 ? std::exp(1.0 - ref_len / sys_len) : 0.0;
  } else {
    out.brevity_penalty = 1.0;
  }
  bool any_correct = false;
  for (int64_t c : stats.correct) any_correct = any_correct || c != 0;
  if (!any_correct) return out;  // sacreBLEU's early stop (#141): precisions stay 0

  double smooth_mteval = 1.0;
  int eff_order = kBleuOrder;
  for (int n = 1; n <= kBleuOrder; ++n) {
    const int64_t total = stats.total[n - 1];
    const int64_t correct = stats.correct[n - 1];
    if (total == 0) break;
    if (effective_order) eff_order = n;
    if (correct == 0) {
      smooth_mteval *= 2;  // 'exp': NIST's geometric smoothing of empty orders
      out.precisions[n - 1] = 100.0 / (smooth_mteval * static_cast<double>(total));
    } else {
      out.precisions[n - 1] = 100.0 * static_cast<double>(correct) / static_cast<double>(total);
    }
  }
  double log_sum = 0.0;
  for (int n = 0; n < eff_order; ++n) log_sum += floored_log(out.precisions[n]);
  out.score = out.brevity_penalty * std::exp(log_sum / eff_order);
  return out;
}

BleuScore corpus_bleu(const std::vector<std::string>& hypotheses, const std::vector<std::string>& references) {
  return corpus_bleu_multiref(hypotheses, std::vector<std::vector<std::string>>{references});
}

BleuScore corpus_bleu_multiref(const std::vector<std::string>& hypotheses,
                                const std::vector<std::vector<std::string>>& reference_streams) {
  if (reference_streams.empty()) throw Error("BLEU: no references given");
  for (const auto& stream : reference_streams) {
    if (stream.size() != hypotheses.size()) {
      throw Error("BLEU: " + std::to_string(hypotheses.size()) + " hypotheses but " + std::to_string(stream.size()) +
                  " references; give one reference per hypothesis");
    }
  }
  BleuStats sum;
  std::vector<std::string> refs(reference_streams.size());
  for (size_t i = 0; i < hypotheses.size(); ++i) {
    for (size_t k = 0; k < reference_streams.size(); ++k) refs[k] = reference_streams[k][i];
    const BleuStats s = bleu_statistics(hypotheses[i], refs);
    sum.hyp_len += s.hyp_len;
    sum.ref_len += s.ref_len;
    for (int n = 0; n < kBleuOrder; ++n) {
      sum.correct[n] += s.correct[n];
      sum.total[n] += s.total[n];
    }
  }
  return bleu_from_statistics(sum, /*effective_order=*/false);
}

BleuScore sentence_bleu(std::string_view hypothesis, std::string_view reference) {
  return bleu_from_statistics(bleu_statistics(hypothesis, reference), /*effective_order=*/true);
}

}  // namespace smol
