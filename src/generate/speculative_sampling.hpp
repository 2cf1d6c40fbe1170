#pragma once
// Speculative sampling's acceptance rule (Leviathan et al. 2023, Chen et al. 2023) for one
// drafted token x drawn from the draft's distribution q, against the target's p: keep x with
// probability min(1, p(x) / q(x)); otherwise draw from norm(max(0, p - q)). Whatever q is, the
// token that comes out is distributed exactly as p. A deterministic draft (prompt lookup) is
// q = {x: 1}; greedy p and q are point masses, so x is kept exactly when it is p's argmax.
#include <cstdint>
#include <span>
#include <vector>

#include "smol/sampler.hpp"

namespace smol::detail {

struct DraftVerdict {
  bool accepted;
  int32_t token;  // x when accepted, else the replacement drawn from the residual
};

class DraftJudge {
 public:
  explicit DraftJudge(size_t vocab_size) : q_dense_(vocab_size, 0.0f) {}
  // `sampler` supplies the random numbers (the target's sampler).
  DraftVerdict judge(std::span<const TokenProb> p, std::span<const TokenProb> q, int32_t x, Sampler& sampler);

 private:
  std::vector<float> q_dense_;      // q spread over the vocabulary, all zero between calls
  std::vector<TokenProb> residual_;  // scratch
};

}  // namespace smol::detail
