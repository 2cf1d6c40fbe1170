#include "smol/extractive.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "smol/error.hpp"
#include "smol/generate.hpp"

namespace smol {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
bool is_closing(char c) { return c == '"' || c == '\'' || c == ')' || c == ']'; }

}  // namespace

std::vector<std::string_view> split_sentences(std::string_view text) {
  std::vector<std::string_view> out;
  size_t i = 0;
  const size_t n = text.size();
  while (i < n) {
    while (i < n && is_space(text[i])) ++i;
    if (i >= n) break;
    const size_t begin = i;
    size_t end = n;
    for (size_t j = i; j < n; ++j) {
      if (text[j] == '\n' || text[j] == '\r') {
        end = j;
        break;
      }
      if (text[j] == '.' || text[j] == '!' || text[j] == '?') {
        size_t k = j + 1;
        while (k < n && (text[k] == '.' || text[k] == '!' || text[k] == '?' || is_closing(text[k]))) ++k;
        if (k == n || is_space(text[k])) {
          end = k;
          break;
        }
        j = k - 1;
      }
    }
    size_t trimmed = end;
    while (trimmed > begin && is_space(text[trimmed - 1])) --trimmed;
    out.push_back(text.substr(begin, trimmed - begin));
    i = end;
  }
  return out;
}

ExtractiveSummary extract_sentences(const Seq2SeqModel& model, ThreadPool& pool, const Tokenizer& tokenizer,
                                    std::string_view source, std::span<const int32_t> summary,
                                    int32_t decoder_start_token_id, int count) {
  if (count <= 0) throw Error("the number of sentences must be positive");
  const std::vector<std::string_view> sentences = split_sentences(source);
  ExtractiveSummary result;
  if (sentences.empty()) return result;
  if (summary.empty()) throw Error("the abstractive summary is empty: nothing to score the sentences against");

  std::vector<std::vector<int32_t>> sources;
  for (const std::string_view s : sentences) sources.push_back(tokenizer.encode_with_special(s));
  Seq2SeqBuffers buf;
  const std::vector<EncodedSource> encoded = model.encode(sources, pool, buf);

  // Every sentence's teacher-forced decoder run goes through one decode call: decoder inputs
  // are the start token and the summary without its last token; targets are the summary.
  const int m = static_cast<int>(summary.size());
  std::vector<KvCache> caches;
  caches.reserve(sentences.size());
  std::vector<int32_t> tokens;
  std::vector<DecoderSlot> slots;
  std::vector<int> rows;
  for (size_t s = 0; s < sentences.size(); ++s) {
    caches.push_back(model.make_cache(m));
    for (int t = 0; t < m; ++t) {
      tokens.push_back(t == 0 ? decoder_start_token_id : summary[t - 1]);
      slots.push_back({&caches.back(), t, &encoded[s]});
      rows.push_back(static_cast<int>(rows.size()));
    }
  }
  std::vector<float> logits;
  model.decode(tokens, slots, rows, logits, pool, buf);
  const size_t vocab = model.config().decoder_vocab_size;
  for (size_t s = 0; s < sentences.size(); ++s) {
    double ll = 0.0;
    for (int t = 0; t < m; ++t) {
      const size_t row = s * m + t;
      ll -= token_nll(std::span<const float>(logits.data() + row * vocab, vocab), summary[t]);
    }
    result.log_likelihood.push_back(ll);
  }

  std::vector<int> order(sentences.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](int a, int b) { return result.log_likelihood[a] > result.log_likelihood[b]; });
  order.resize(std::min<size_t>(order.size(), count));
  std::sort(order.begin(), order.end());
  result.chosen = order;
  for (const int i : order) {
    if (!result.text.empty()) result.text += ' ';
    result.text += sentences[i];
  }
  return result;
}

}  // namespace smol
