// One row at a time, the logits processors of transformers' logits_process.py: each is the
// row-wise meaning of the batched tensor code there.
#include "generate/logits_processors.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include <fmt/format.h>

#include "smol/error.hpp"
#include "smol/kernels.hpp"

namespace smol::search_detail {

namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

bool contains(std::span<const int32_t> ids, int32_t id) { return std::find(ids.begin(), ids.end(), id) != ids.end(); }

void check_ids(std::span<const int32_t> ids, int vocab, const char* what) {
  for (int32_t id : ids) {
    if (id < 0 || id >= vocab) {
      throw Error(fmt::format("{} holds token id {}, outside the vocabulary of {} ids", what, id, vocab));
    }
  }
}

// Every entry -inf except `keep`, which become 0 (ForcedBOS/ForcedEOS).
void force(std::span<float> scores, std::span<const int32_t> keep) {
  std::fill(scores.begin(), scores.end(), kNegInf);
  for (int32_t id : keep) scores[id] = 0.0f;
}

}  // namespace

void log_softmax(std::span<float> scores) { log_softmax(scores, scores); }

void log_softmax(std::span<const float> in, std::span<float> out) {
  float max_f = -std::numeric_limits<float>::infinity();
  for (float s : in) max_f = std::max(max_f, s);
  const double max = max_f;
  if (!std::isfinite(max)) {  // all -inf (or +inf/NaN): nothing sensible to normalise
    if (in.data() != out.data()) std::copy(in.begin(), in.end(), out.begin());
    return;
  }
  // Beam search normalises every beam's 50k-60k scores each step: the exponentials run in
  // float vectors (a double exp per score was a tenth of a beam step).
  const double log_sum = std::log(sum_exp_shifted(in.data(), static_cast<int>(in.size()), max_f));
  for (size_t i = 0; i < in.size(); ++i) out[i] = static_cast<float>(static_cast<double>(in[i]) - max - log_sum);
}

void softmax(std::span<const float> scores, std::vector<double>& probs) {
  probs.resize(scores.size());
  double max = -std::numeric_limits<double>::infinity();
  for (float s : scores) max = std::max(max, static_cast<double>(s));
  if (!std::isfinite(max)) throw Error("cannot sample: every token has probability 0 (all scores are -inf)");
  double sum = 0.0;
  for (size_t i = 0; i < scores.size(); ++i) {
    probs[i] = std::exp(static_cast<double>(scores[i]) - max);
    sum += probs[i];
  }
  for (double& p : probs) p /= sum;
}

LogitsProcessors::LogitsProcessors(const GenerationConfig& config, int vocab_size, bool beam)
    : config_(config), vocab_size_(vocab_size), eos_(config.eos_token_id) {
  const int n_eos = static_cast<int>(eos_.size());
  min_tokens_to_keep_ = beam ? (n_eos > 0 ? n_eos + 1 : 2) : 1;
  check_ids(eos_, vocab_size, "eos_token_id");
  check_ids(config.forced_eos_token_id, vocab_size, "forced_eos_token_id");
  if (config.forced_bos_token_id) {
    const int32_t id = *config.forced_bos_token_id;
    check_ids(std::span<const int32_t>(&id, 1), vocab_size, "forced_bos_token_id");
  }
  if (config.bad_words_ids) {
    for (const auto& word : *config.bad_words_ids) {
      // NoBadWordsLogitsProcessor drops a bad word that is exactly one eos id.
      if (word.size() == 1 && contains(eos_, word[0])) continue;
      check_ids(word, vocab_size, "bad_words_ids");
      bad_words_.push_back(word);
    }
  }
}

void LogitsProcessors::apply(std::span<float> scores, const RowState& row) {
  const int cur_len = static_cast<int>(row.tokens.size());
  if (config_.repetition_penalty != 1.0) repetition_penalty(scores, row.tokens);
  if (config_.no_repeat_ngram_size > 0) no_repeat_ngram(scores, row.tokens);
  if (config_.bad_words_ids) bad_words(scores, row.tokens);
  if (!eos_.empty() && row.min_length > 0 && cur_len < row.min_length) {
    for (int32_t id : eos_) scores[id] = kNegInf;
  }
  if (!eos_.empty() && config_.min_new_tokens && *config_.min_new_tokens > 0 &&
      cur_len - row.prefix_length < *config_.min_new_tokens) {
    for (int32_t id : eos_) scores[id] = kNegInf;
  }
  if (config_.forced_bos_token_id && cur_len == 1) {
    const int32_t id = *config_.forced_bos_token_id;
    force(scores, std::span<const int32_t>(&id, 1));
  }
  if (!config_.forced_eos_token_id.empty() && cur_len == row.max_length - 1) force(scores, config_.forced_eos_token_id);

  if (!config_.do_sample) return;
  if (config_.temperature != 1.0) {
    // A float32 tensor divided by a Python float: the divisor is a float32 too.
    const float t = static_cast<float>(config_.temperature);
    for (float& s : scores) s /= t;
  }
  if (config_.top_k != 0) top_k(scores);
  if (config_.top_p < 1.0) top_p(scores);
  if (config_.min_p) min_p(scores);
}

void LogitsProcessors::repetition_penalty(std::span<float> scores, std::span<const int32_t> tokens) const {
  const float p = static_cast<float>(config_.repetition_penalty);
  // gather then scatter: a token seen twice is penalised once, from its original score.
  std::vector<int32_t> seen(tokens.begin(), tokens.end());
  std::sort(seen.begin(), seen.end());
  seen.erase(std::unique(seen.begin(), seen.end()), seen.end());
  for (int32_t id : seen) {
    if (id < 0 || id >= vocab_size_) continue;
    float& s = scores[id];
    s = s < 0.0f ? s * p : s / p;
  }
}

void LogitsProcessors::no_repeat_ngram(std::span<float> scores, std::span<const int32_t> tokens) const {
  const size_t n = static_cast<size_t>(config_.no_repeat_ngram_size);
  const size_t len = tokens.size();
  if (len < n) return;
  // The next token completes an n-gram whose first n-1 tokens are the row's last n-1; every
  // earlier window with that start bans its own last token.
  const std::span<const int32_t> suffix = tokens.subspan(len + 1 - n);
  for (size_t start = 0; start + n <= len; ++start) {
    if (std::equal(suffix.begin(), suffix.end(), tokens.begin() + start)) {
      const int32_t banned = tokens[start + n - 1];
      if (banned >= 0 && banned < vocab_size_) scores[banned] = kNegInf;
    }
  }
}

void LogitsProcessors::bad_words(std::span<float> scores, std::span<const int32_t> tokens) const {
  for (const auto& word : bad_words_) {
    if (word.size() == 1) {
      scores[word[0]] = kNegInf;
      continue;
    }
    // SequenceBiasLogitsProcessor skips a sequence longer than the row, then compares the
    // row's last len-1 tokens with the sequence's first len-1.
    if (word.size() > tokens.size()) continue;
    const size_t prefix = word.size() - 1;
    if (std::equal(word.begin(), word.begin() + prefix, tokens.end() - prefix)) scores[word.back()] = kNegInf;
  }
}

void LogitsProcessors::top_k(std::span<float> scores) {
  const size_t k = std::min(static_cast<size_t>(std::max(config_.top_k, min_tokens_to_keep_)), scores.size());
  sorted_.assign(scores.begin(), scores.end());
  std::nth_element(sorted_.begin(), sorted_.begin() + (k - 1), sorted_.end(), std::greater<float>());
  const float kth = sorted_[k - 1];
  for (float& s : scores) {
    if (s < kth) s = kNegInf;
  }
}

void LogitsProcessors::top_p(std::span<float> scores) {
  // Ascending sort (stable: equal scores keep id order), softmax, cumulative sum; drop the
  // low tail whose cumulative mass is <= 1 - top_p, but never the last min_tokens_to_keep.
  const size_t v = scores.size();
  order_.resize(v);
  std::iota(order_.begin(), order_.end(), 0);
  std::stable_sort(order_.begin(), order_.end(), [&](int32_t a, int32_t b) { return scores[a] < scores[b]; });
  sorted_.resize(v);
  for (size_t i = 0; i < v; ++i) sorted_[i] = scores[order_[i]];
  std::vector<double> probs;
  softmax(sorted_, probs);
  const float threshold = static_cast<float>(1.0 - config_.top_p);
  float cumulative = 0.0f;
  const size_t keep_from = v > static_cast<size_t>(min_tokens_to_keep_) ? v - min_tokens_to_keep_ : 0;
  for (size_t i = 0; i < keep_from; ++i) {
    cumulative += static_cast<float>(probs[i]);
    if (cumulative <= threshold) scores[order_[i]] = kNegInf;
  }
}

void LogitsProcessors::min_p(std::span<float> scores) {
  std::vector<double> probs;
  softmax(scores, probs);
  const double top = *std::max_element(probs.begin(), probs.end());
  const float limit = static_cast<float>(*config_.min_p) * static_cast<float>(top);
  // The min_tokens_to_keep most probable tokens always stay.
  order_.resize(scores.size());
  std::iota(order_.begin(), order_.end(), 0);
  const size_t k = std::min(static_cast<size_t>(min_tokens_to_keep_), scores.size());
  std::partial_sort(order_.begin(), order_.begin() + k, order_.end(),
                    [&](int32_t a, int32_t b) { return probs[a] > probs[b] || (probs[a] == probs[b] && a < b); });
  std::vector<char> keep(scores.size(), 0);
  for (size_t i = 0; i < k; ++i) keep[order_[i]] = 1;
  for (size_t i = 0; i < scores.size(); ++i) {
    if (!keep[i] && static_cast<float>(probs[i]) < limit) scores[i] = kNegInf;
  }
}

}  // namespace smol::search_detail
