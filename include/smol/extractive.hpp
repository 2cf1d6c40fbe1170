#pragma once
// Extractive summarization with an encoder-decoder: whole sentences of the source, verbatim
// and in source order, chosen by the model. Each sentence alone is taken as a source and
// scored by how likely it makes the model's own abstractive summary of the whole text
// (log p(summary | sentence), teacher-forced); the best `count` sentences are kept.
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "smol/seq2seq.hpp"
#include "smol/thread_pool.hpp"
#include "smol/tokenizer.hpp"

namespace smol {

// Sentences of `text` as views into it: a sentence ends after '.', '!' or '?' (with any
// closing quotes or brackets) followed by whitespace, or at a line break; the whitespace
// between sentences belongs to neither.
std::vector<std::string_view> split_sentences(std::string_view text);

struct ExtractiveSummary {
  std::string text;                 // the chosen sentences joined by a space
  std::vector<int> chosen;          // their indices among split_sentences(source)
  std::vector<double> log_likelihood;  // log p(summary | sentence) of every sentence
};

// `summary`: the abstractive summary's ids after the decoder start token (ending with EOS
// when generation stopped on it).
ExtractiveSummary extract_sentences(const Seq2SeqModel& model, ThreadPool& pool, const Tokenizer& tokenizer,
                                    std::string_view source, std::span<const int32_t> summary,
                                    int32_t decoder_start_token_id, int count);

}  // namespace smol
