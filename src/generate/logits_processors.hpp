#pragma once
// transformers' logits processors and warpers for one row of scores, in the order
// _get_logits_processor builds them (see smol/search.hpp for the rules).
#include <cstdint>
#include <span>
#include <vector>

#include "smol/generation_config.hpp"

namespace smol::search_detail {

// What the processors need to know about one row.
struct RowState {
  std::span<const int32_t> tokens;  // the whole row: prefix + generated
  int prefix_length = 0;
  int max_length = 0;
  int min_length = 0;
};

class LogitsProcessors {
 public:
  // `beam`: min_tokens_to_keep of the warpers is (eos ids + 1) instead of 1.
  LogitsProcessors(const GenerationConfig& config, int vocab_size, bool beam);
  // Processors, then (with do_sample) the warpers, in place.
  void apply(std::span<float> scores, const RowState& row);

 private:
  void repetition_penalty(std::span<float> scores, std::span<const int32_t> tokens) const;
  void no_repeat_ngram(std::span<float> scores, std::span<const int32_t> tokens) const;
  void bad_words(std::span<float> scores, std::span<const int32_t> tokens) const;
  void top_k(std::span<float> scores);
  void top_p(std::span<float> scores);
  void min_p(std::span<float> scores);

  const GenerationConfig& config_;
  int vocab_size_;
  int min_tokens_to_keep_;
  std::vector<int32_t> eos_;
  std::vector<std::vector<int32_t>> bad_words_;  // without the [eos] entries
  std::vector<float> sorted_;                    // scratch
  std::vector<int32_t> order_;                   // scratch
};

// log_softmax of a row in place: the normaliser's exponentials in float32 vectors summed in
// double, the subtraction in double, rounded to float (torch computes it all in float32; the
// two agree to the last bit or so).
void log_softmax(std::span<float> scores);
// The same from `in` into `out` (same size; may be the same row).
void log_softmax(std::span<const float> in, std::span<float> out);
// softmax of a row into `probs` (double), -inf entries give 0.
void softmax(std::span<const float> scores, std::vector<double>& probs);

}  // namespace smol::search_detail
