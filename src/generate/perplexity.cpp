#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "smol/error.hpp"
#include "smol/generate.hpp"

namespace smol {

double PerplexityResult::ppl() const { return std::exp(nll_mean()); }

double token_nll(std::span<const float> logits, int32_t target) {
  double max_logit = logits[0];
  for (float x : logits) max_logit = std::max(max_logit, static_cast<double>(x));
  double sum = 0.0;
  for (float x : logits) sum += std::exp(static_cast<double>(x) - max_logit);
  return std::log(sum) + max_logit - static_cast<double>(logits[target]);
}

PerplexityResult perplexity(const Model& model, ThreadPool& pool, std::span<const int32_t> tokens, int context,
                            int batch, WeightType cache_type) {
  const ModelConfig& config = model.config();
  if (context < 2) throw Error(fmt::format("--ctx must be at least 2 to score anything, got {}", context));
  if (context > config.max_position_embeddings) {
    throw Error(fmt::format("--ctx {} exceeds the model's max_position_embeddings of {}", context,
                            config.max_position_embeddings));
  }
  if (tokens.size() < 2) throw Error("the text has fewer than 2 tokens: nothing to score");

  const int window = std::min<int>(context, static_cast<int>(tokens.size()));
  const int step = std::min(batch, window);
  KvCache kv(config, window, cache_type);
  ForwardBuffers buf(config, step, pool.size(), window);
  const size_t vocab = config.vocab_size;

  PerplexityResult result;
  for (size_t begin = 0; begin + 1 < tokens.size(); begin += window) {
    const size_t end = std::min(tokens.size(), begin + window);
    kv.clear();
    for (size_t pos = begin; pos < end; pos += step) {
      const size_t n = std::min<size_t>(step, end - pos);
      model.forward(tokens.subspan(pos, n), kv, buf, pool, Logits::All);
      // Row i predicts the token after pos + i, if that token is in this window.
      for (size_t i = 0; i < n && pos + i + 1 < end; ++i) {
        result.nll_sum += token_nll({buf.logits.data() + i * vocab, vocab}, tokens[pos + i + 1]);
        ++result.tokens_scored;
      }
    }
  }
  return result;
}

}  // namespace smol
