#pragma once
// Turns one row of next-token logits into a token id. The chain follows llama.cpp's default
// order so that the same flags mean the same thing in both tools:
//   penalties → (greedy if temperature <= 0) → top-k → temperature → softmax → top-p → min-p
//   → renormalize → draw.
#include <cstdint>
#include <random>
#include <span>
#include <vector>

namespace smol {

struct SamplingParams {
  float temperature = 0.8f;     // <= 0 means greedy (argmax); negative is rejected by validate()
  int top_k = 40;               // <= 0 or >= vocab size disables
  float top_p = 0.95f;          // 1 disables; keep the smallest set with mass >= top_p
  float min_p = 0.05f;          // 0 disables; keep tokens with p >= min_p * p_max
  // CTRL / llama.cpp repetition penalty over the distinct ids of the last repeat_last_n
  // tokens: a positive logit is divided by it, a non-positive one multiplied. 1 disables.
  float repeat_penalty = 1.0f;
  int repeat_last_n = 64;       // 0: no penalties; -1: the whole history
  // OpenAI-style, over the same window: logit -= count * frequency + (count > 0) * presence.
  float presence_penalty = 0.0f;
  float frequency_penalty = 0.0f;
  // This value means "pick one from std::random_device"; Sampler::seed() reports the choice
  // so a run can be reproduced.
  static constexpr uint64_t kRandomSeed = 0xFFFFFFFF'FFFFFFFFull;
  uint64_t seed = kRandomSeed;

  // Throws smol::Error naming the first field that makes no sense: temperature < 0,
  // top_p outside (0, 1], min_p outside [0, 1], repeat_penalty <= 0, repeat_last_n < -1,
  // or a non-finite penalty.
  void validate() const;

  bool penalties_enabled() const {
    return repeat_last_n != 0 &&
           (repeat_penalty != 1.0f || presence_penalty != 0.0f || frequency_penalty != 0.0f);
  }
};

// A constraint on which tokens may be sampled (a grammar): sample() checks the token it drew
// first and masks the row only when that token is refused.
class TokenConstraint {
 public:
  virtual ~TokenConstraint() = default;
  virtual bool allows(int32_t token) = 0;
  virtual void mask(std::span<float> logits) = 0;  // -inf for every refused token
};

// A constraint that follows the generation token by token (a grammar, an extractive span):
// the generation loop calls set_remaining before sampling, then accept with the sampled token,
// and stops once finished(). End tokens are allowed only where can_end().
class SequenceConstraint : public TokenConstraint {
 public:
  virtual void accept(int32_t token) = 0;  // throws smol::Error for a token allows() refuses
  virtual bool can_end() const = 0;        // the output so far is complete
  virtual bool finished() const = 0;       // ... and nothing can follow it but an end token
  // Tokens that may still be generated, this one included (INT64_MAX: no limit).
  virtual void set_remaining(int64_t tokens) = 0;
};

// One token of a sampling distribution.
struct TokenProb {
  int32_t id;
  float p;
};

// Index of the largest logit; the lowest index wins ties, NaN never wins. Requires a
// non-empty span.
int32_t argmax(std::span<const float> logits);

// One sampler per generation stream: it owns its RNG and scratch buffers, so after the first
// call sample() does not allocate (for a fixed vocab size and history window).
class Sampler {
 public:
  explicit Sampler(const SamplingParams& params);  // validates params

  // logits: one row of vocab_size floats, used as scratch (penalties are applied in place).
  // history: every token so far (prompt + generated), read for the penalties.
  // Throws smol::Error on an empty row, NaN logits, a row that is all -inf, or a history id
  // outside [0, vocab_size).
  int32_t sample(std::span<float> logits, std::span<const int32_t> history);
  // The same under a constraint, in llama.cpp's order: draw from the unconstrained chain; if
  // the constraint refuses the token, mask the row and draw again from the chain. Without
  // top-k/top-p/min-p this is exactly sampling from the masked distribution (greedy is the
  // best allowed token); with them, the second draw truncates the masked row. Throws
  // smol::Error when the constraint allows no token at all.
  int32_t sample(std::span<float> logits, std::span<const int32_t> history, TokenConstraint* constraint);

  // The penalty stage alone, in place; sample() calls it first. Public so callers that only
  // want greedy-with-penalties (and tests) can see its effect.
  void apply_penalties(std::span<float> logits, std::span<const int32_t> history);

  // The distribution sample() draws from, written to `out`: the tokens the chain keeps and
  // their probabilities, renormalized (they sum to 1 up to rounding); one token with p = 1
  // when greedy. Penalties are applied to `logits` in place, as sample() does. Speculative
  // sampling needs these: the target's p(x) and the draft's q(x). Throws as sample() does.
  void distribution(std::span<float> logits, std::span<const int32_t> history, std::vector<TokenProb>& out);
  // Draws one id from `dist` (weights >= 0, not all 0; they need not sum to 1) with this
  // sampler's generator.
  int32_t draw_from(std::span<const TokenProb> dist);
  // A uniform number in [0, 1) from this sampler's generator.
  double uniform() { return uniform01(); }

  uint64_t seed() const { return seed_; }  // the effective seed (after std::random_device)
  const SamplingParams& params() const { return params_; }

 private:
  struct Candidate {
    float logit;
    float p;
    int32_t id;
  };

  int32_t draw(std::span<const float> logits);  // the chain after penalties
  // With temperature > 0: the chain after penalties up to the draw. Leaves the kept tokens in
  // cands_[0, n) with probabilities that sum to `kept_mass`, and returns n.
  size_t keep_candidates(std::span<const float> logits, int32_t best, double& kept_mass);
  void select_top_k(std::span<const float> logits, size_t k);
  size_t keep_top_p(size_t n, bool sorted);
  size_t keep_min_p(size_t n, bool sorted);
  double uniform01();

  SamplingParams params_;
  uint64_t seed_;
  std::mt19937_64 rng_;
  std::vector<Candidate> cands_;   // scratch, vocab-sized
  std::vector<int32_t> window_;    // scratch, repeat_last_n-sized
};

}  // namespace smol
