#pragma once
// What plain and speculative generation share: the checks and sizes of a call, and the prompt
// pass.
#include <chrono>
#include <cstdint>
#include <span>
#include <vector>

#include "smol/generate.hpp"

namespace smol::detail {

struct GenerationPlan {
  int prompt_len = 0;
  int capacity = 0;        // of the KV cache: prompt + max_new_tokens, within the context
  int prefill_batch = 0;   // prompt tokens per forward pass
  int max_tokens = 0;      // most tokens this call can emit (the last one needs no forward pass)
  std::vector<int32_t> stop_ids;
};

// Validates the prompt and sizes against the model; throws smol::Error with what to change.
GenerationPlan plan_generation(const ModelConfig& config, std::span<const int32_t> prompt,
                               const GenerateOptions& options);

// Runs the prompt through `model` into `kv` in batches of `batch` tokens (at most
// buf.max_tokens); the last token's logits are left in buf.logits.
void prefill(const Model& model, std::span<const int32_t> prompt, KvCache& kv, ForwardBuffers& buf, ThreadPool& pool,
             int batch);

inline double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

GenerateResult generate_speculative(Engine& engine, std::span<const int32_t> prompt, const GenerateOptions& options,
                                    const GenerationPlan& plan, const TextCallback& on_text);

}  // namespace smol::detail
