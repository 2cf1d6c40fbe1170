#pragma once
// transformers' `generate` for any model that extends rows of tokens one step at a time:
// greedy search, multinomial sampling, beam search and beam sampling, with the logits
// processors of a GenerationConfig. The model side is the small StepModel interface, so a
// decoder-only model (DecoderStepModel below) and an encoder-decoder model plug in alike.
//
// Reference: huggingface/transformers, src/transformers/generation/utils.py at commit
// 000034a44ef887621d9b36001a5eb7c46e64cb3f (the vectorised beam search that replaced
// BeamSearchScorer/BeamHypotheses, v4.5x; deprecations there target v4.62),
// logits_process.py at 00857b6c, stopping_criteria.py at 0008722d, configuration_utils.py at
// 008f5c8c. The choices that differ between transformers versions, as followed here:
//
// Lengths
// - A row is prefix + generated tokens; prefix is the prompt (decoder-only) or
//   {decoder_start_token_id} (encoder-decoder). cur_len, max_length, min_length and the
//   processors all count the whole row, as transformers' input_ids.shape[-1].
// - max_new_tokens set: max_length = prefix + max_new_tokens. Otherwise, unless the caller
//   set max_length itself (GenerationConfig::max_length_set_by_caller), a max_length of
//   exactly 20 becomes 20 + prefix, capped at StepModel::max_position_embeddings() (so an
//   encoder-decoder with the default gets 21 = 20 new tokens). min_new_tokens set:
//   min_length = prefix + min_new_tokens (MinNewTokensLength applies too; both agree).
//   prefix >= max_length is an error, as transformers' ValueError.
// - Each source is resolved with its own prefix length: a batch of decoder-only prompts of
//   different lengths behaves as each prompt run alone (transformers would left-pad them).
//
// Processors, in transformers' order (on raw float32 logits for greedy/sampling, on
// log_softmax(logits) for beam search): repetition_penalty (every token of the row,
// prompt included: s < 0 ? s * p : s / p), no_repeat_ngram_size (n-grams of the whole row),
// bad_words_ids (a bad word equal to [eos] is dropped; single ids always -inf; longer ones
// -inf on their last id when the row ends with the rest, skipped while the row is shorter
// than the whole bad word), min_length (eos -inf while cur_len < min_length),
// min_new_tokens, forced_bos_token_id (at cur_len == 1), forced_eos_token_id (at
// cur_len == max_length - 1; every listed id gets 0, the rest -inf); then, only with
// do_sample: temperature (!= 1), top_k (!= 0), top_p (< 1), min_p (if set), each keeping at
// least min_tokens_to_keep = 1, or (number of eos ids + 1) in beam sampling (2 with no eos).
//
// Stopping: a row stops when its last token is one of eos_token_id or cur_len >= max_length.
// Greedy/sampling rows that stop leave the batch (transformers pads them until all stop).
//
// Beam search (_beam_search), per source:
// - Scores are float32 sums of processed log-probs. The first step starts beam 0 at 0 and
//   beams 1.. at -1e9 (all rows hold the same prefix), so only beam 0's tokens can win until
//   real candidates run out (tiny vocabularies keep such beams, as transformers does).
// - Each step keeps the top K = max(2, 1 + number of eos ids) * num_beams candidates of
//   num_beams * vocab (beam sampling: K drawn without replacement from softmax of the
//   accumulated scores, kept in drawn order). A candidate "hits" when its token is an eos id
//   or its row reaches max_length. The next running beams are the top num_beams of the K
//   with hits pushed down by -1e9.
// - Only hits among the first num_beams of the K (the top_num_beam_mask) may become
//   finished hypotheses; an eos candidate ranked below num_beams is dropped.
// - A finished hypothesis scores sum / (generated length) ** length_penalty, where the
//   generated length counts the tokens after the prefix including the eos (cur_len + 1 -
//   prefix). Candidates get a further -1e9 when all num_beams finished slots are filled and
//   early_stopping is true, or when the early-stop heuristic already said stop; the
//   finished set is the top num_beams of old slots (initially empty at -1e9) and these.
// - Early-stop heuristic (sticky): continue while the best running score divided by
//   (best length) ** length_penalty beats the worst finished score (-1e9 for empty slots),
//   best length = max_length - prefix for early_stopping "never" with length_penalty > 0,
//   else the current generated length. A source stops when the heuristic says so, when
//   early_stopping is true and all num_beams slots are finished, or when every candidate hit
//   (max_length). transformers evaluates the loop condition over the whole batch, but a
//   stopped source can no longer change (its candidates carry -1e9), so each source here
//   stops on its own and leaves the batch.
// - The result is the finished slots, best first; num_return_sequences of them.
// Ties (topk, sorting): the larger score first, equal scores in index order (lower flat
// index beam * vocab + token first; old finished slots before new candidates). -1e9 and
// the length division are applied in float32, as the tensors are.
//
// Results: ids are the tokens after the prefix, as transformers' sequences[:, prefix:]
// without padding, so they end with the eos id when the row stopped on one (and start with
// the forced BOS when there is one). score: beam search, the length-penalised score
// (sequences_scores); greedy and sampling, the sum over generated tokens of
// log_softmax(processed scores)[token] (compute_transition_scores with normalize_logits).
// Sampling draws from our own RNG (std::mt19937_64), not torch's: same seed, same sample.
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "smol/generation_config.hpp"

namespace smol {

// A batch of rows (hypotheses); each row is a sequence the model extends one token per step.
class StepModel {
 public:
  virtual ~StepModel() = default;
  virtual int vocab_size() const = 0;
  // The model's max_position_embeddings (caps the default max_length of 20 new tokens);
  // 0 when it has none.
  virtual int max_position_embeddings() const { return 0; }
  // Starts one row per prefix (decoder-only: the prompt; encoder-decoder: {decoder_start_token_id},
  // with row i belonging to source i). Returns logits of each prefix's last position, rows x vocab.
  virtual std::span<const float> start(std::span<const std::vector<int32_t>> prefixes) = 0;
  // Row i continues the sequence that row parents[i] held (parents may repeat or drop rows):
  // called after start() to fan each source out to several rows, and after each step.
  virtual void reorder(std::span<const int> parents) = 0;
  // Appends tokens[i] to row i and returns the next logits, rows x vocab.
  virtual std::span<const float> step(std::span<const int32_t> tokens) = 0;
};

enum class FinishReason { Eos, Length, Stopped };
const char* finish_reason_name(FinishReason reason);  // "stop" (eos or callback) or "length"

struct GeneratedSequence {
  std::vector<int32_t> ids;  // after the prefix; ends with the eos id when it stopped on one
  double score = 0.0;
  FinishReason finish = FinishReason::Length;
};

struct SearchResult {
  // num_return_sequences sequences; beam search: best first.
  std::vector<GeneratedSequence> sequences;
  const GeneratedSequence& best() const { return sequences.front(); }
};

// Called for every token greedy search or sampling picks (source index, sequence index
// within the source, token); returning false stops that sequence (FinishReason::Stopped, the
// token kept). Beam search has no final tokens until it ends, so it never calls it.
using TokenCallback = std::function<bool(int source, int sequence, int32_t token)>;

// One result per prefix. Throws smol::Error for an invalid config, an empty prefix, a
// prefix that already fills max_length, or token ids outside the vocabulary.
std::vector<SearchResult> generate_search(StepModel& model, std::span<const std::vector<int32_t>> prefixes,
                                          const GenerationConfig& config, uint64_t seed,
                                          const TokenCallback& on_token = {});

// The lengths transformers' _prepare_generated_length gives a row with this prefix.
struct LengthLimits {
  int max_length = 0;
  int min_length = 0;
};
LengthLimits resolve_lengths(const GenerationConfig& config, int prefix_length, int max_position_embeddings);

}  // namespace smol
