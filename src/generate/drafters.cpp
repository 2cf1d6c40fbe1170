// Speculative decoding's drafters. The draft model has its own KV cache, fed the tokens the
// target kept, then one token at a time while it proposes; prompt lookup searches the history.
#include <algorithm>
#include <cmath>

#include "generate/drafters.hpp"
#include "generate/generate_internal.hpp"

namespace smol::detail {

namespace {

// Probability of the largest logit under a softmax at temperature 1.
float top_probability(std::span<const float> logits) {
  const float top = *std::max_element(logits.begin(), logits.end());
  double sum = 0.0;
  for (float x : logits) sum += std::exp(static_cast<double>(x - top));
  return static_cast<float>(1.0 / sum);
}

SamplingParams draft_sampling(SamplingParams params) {
  // Its own stream of random numbers, still reproducible from the one seed.
  if (params.seed != SamplingParams::kRandomSeed) params.seed ^= 0x9E3779B97F4A7C15ull;
  return params;
}

class ModelDrafter final : public Drafter {
 public:
  ModelDrafter(const Model& model, ThreadPool& pool, const GenerateOptions& options, int capacity,
               const std::vector<int32_t>& stop_ids)
      : model_(model),
        pool_(pool),
        kv_(model.config(), std::min(capacity, model.config().max_position_embeddings), options.cache_type),
        buf_(model.config(), std::max(2, std::min(options.prefill_batch, capacity)), pool.size(), kv_.capacity()),
        sampler_(draft_sampling(options.sampling)),
        p_min_(options.speculative.draft_p_min),
        stop_ids_(stop_ids) {}

  void prefill(std::span<const int32_t> prompt) override {
    // All but the last token: propose() feeds whatever the cache lacks.
    if (prompt.size() > 1 && static_cast<int>(prompt.size()) <= kv_.capacity()) {
      detail::prefill(model_, prompt.first(prompt.size() - 1), kv_, buf_, pool_, buf_.max_tokens);
    }
  }

  void propose(std::span<const int32_t> history, int max_tokens, Draft& draft) override {
    draft.clear();
    const int have = static_cast<int>(history.size());
    // Proposing k tokens forwards the history and k - 1 of them.
    max_tokens = std::min(max_tokens, kv_.capacity() - have + 1);
    if (max_tokens <= 0) return;
    detail::prefill(model_, history.subspan(static_cast<size_t>(kv_.size())), kv_, buf_, pool_, buf_.max_tokens);
    context_.assign(history.begin(), history.end());
    const bool greedy = sampler_.params().temperature <= 0.0f;
    const std::span<float> logits(buf_.logits.data(), static_cast<size_t>(model_.config().vocab_size));
    for (int i = 0; i < max_tokens; ++i) {
      std::vector<TokenProb>& q = draft.next_q();
      sampler_.distribution(logits, context_, q);
      float confidence = 0.0f;
      if (p_min_ > 0.0f) {
        if (greedy) {
          confidence = top_probability(logits);  // the penalised logits
        } else {
          for (const TokenProb& t : q) confidence = std::max(confidence, t.p);
        }
        if (confidence < p_min_) break;
      }
      const int32_t x = greedy ? q[0].id : sampler_.draw_from(q);
      draft.tokens.push_back(x);
      context_.push_back(x);
      if (std::find(stop_ids_.begin(), stop_ids_.end(), x) != stop_ids_.end()) break;
      if (i + 1 == max_tokens) break;
      const int32_t token[1] = {x};
      model_.forward(token, kv_, buf_, pool_, Logits::Last);
    }
  }

  void keep(int n) override { kv_.truncate(std::min(kv_.size(), n)); }

 private:
  const Model& model_;
  ThreadPool& pool_;
  KvCache kv_;
  ForwardBuffers buf_;
  Sampler sampler_;
  float p_min_;
  std::vector<int32_t> stop_ids_;
  std::vector<int32_t> context_;  // history and the tokens proposed so far, for the penalties
};

class PromptLookup final : public Drafter {
 public:
  explicit PromptLookup(int ngram) : ngram_(static_cast<size_t>(ngram)) {}
  void prefill(std::span<const int32_t>) override {}
  void keep(int) override {}

  void propose(std::span<const int32_t> history, int max_tokens, Draft& draft) override {
    draft.clear();
    const size_t n = ngram_, size = history.size();
    if (max_tokens <= 0 || size <= n) return;
    const std::span<const int32_t> tail = history.last(n);
    // The most recent earlier occurrence: its continuation is the likeliest to repeat.
    for (size_t start = size - n; start-- > 0;) {
      if (!std::equal(tail.begin(), tail.end(), history.begin() + static_cast<std::ptrdiff_t>(start))) continue;
      const size_t from = start + n;
      const size_t count = std::min(static_cast<size_t>(max_tokens), size - from);
      for (size_t i = 0; i < count; ++i) {
        const int32_t x = history[from + i];
        std::vector<TokenProb>& q = draft.next_q();
        q.assign(1, TokenProb{x, 1.0f});
        draft.tokens.push_back(x);
      }
      return;
    }
  }

 private:
  size_t ngram_;
};

}  // namespace

std::unique_ptr<Drafter> make_model_drafter(const Model& draft, ThreadPool& pool, const GenerateOptions& options,
                                            int capacity, const std::vector<int32_t>& stop_ids) {
  return std::make_unique<ModelDrafter>(draft, pool, options, capacity, stop_ids);
}

std::unique_ptr<Drafter> make_prompt_lookup(int ngram) { return std::make_unique<PromptLookup>(ngram); }

}  // namespace smol::detail
