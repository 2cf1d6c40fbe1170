#pragma once
// What proposes tokens for speculative decoding: a smaller draft model, or prompt lookup.
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "smol/generate.hpp"

namespace smol::detail {

// Proposed tokens and, for each, the distribution it was drawn from (q).
struct Draft {
  std::vector<int32_t> tokens;
  std::vector<std::vector<TokenProb>> q;  // q[i] for tokens[i]; entries past tokens.size() are spare
  size_t size() const { return tokens.size(); }
  void clear() { tokens.clear(); }
  std::vector<TokenProb>& next_q() {  // the slot for the next token's distribution
    if (q.size() <= tokens.size()) q.resize(tokens.size() + 1);
    return q[tokens.size()];
  }
};

class Drafter {
 public:
  virtual ~Drafter() = default;
  // Called once with the prompt before the first proposal.
  virtual void prefill(std::span<const int32_t> prompt) = 0;
  // Replaces `draft` with up to `max_tokens` tokens to follow `history` (prompt and output).
  virtual void propose(std::span<const int32_t> history, int max_tokens, Draft& draft) = 0;
  // The target kept the first `n` tokens of the history it was last given plus its proposal.
  virtual void keep(int n) = 0;
};

// A draft model sampling with the target's parameters (its own random numbers), on the
// target's threads, with a KV cache of `capacity` positions in `cache_type`. It stops
// proposing at a stop id, or before a token whose probability is below `p_min` (for greedy,
// the probability is the softmax of its logits).
std::unique_ptr<Drafter> make_model_drafter(const Model& draft, ThreadPool& pool, const GenerateOptions& options,
                                            int capacity, const std::vector<int32_t>& stop_ids);

// Prompt lookup: the tokens that followed the most recent earlier occurrence of the history's
// last `ngram` tokens; each a point mass.
std::unique_ptr<Drafter> make_prompt_lookup(int ngram);

}  // namespace smol::detail
