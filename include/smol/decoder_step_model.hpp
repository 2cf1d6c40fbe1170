#pragma once
// The decoder-only Model (SmolLM2) as a StepModel for generate_search.
#include <memory>
#include <span>
#include <vector>

#include "smol/model.hpp"
#include "smol/search.hpp"

namespace smol {

class ThreadPool;

// One KV cache per row: reorder() copies a parent's cache for every extra child and moves
// the original to its last child; each step runs all rows' tokens through one forward_batch
// (one pass over the weights for all rows). `capacity` is each row's cache size in positions
// (prompt + new tokens, at most max_position_embeddings).
class DecoderStepModel : public StepModel {
 public:
  DecoderStepModel(const Model& model, ThreadPool& pool, int capacity, WeightType cache_type = WeightType::F32,
                   int prefill_batch = 256);
  ~DecoderStepModel() override;
  int vocab_size() const override;
  int max_position_embeddings() const override;
  std::span<const float> start(std::span<const std::vector<int32_t>> prefixes) override;
  void reorder(std::span<const int> parents) override;
  std::span<const float> step(std::span<const int32_t> tokens) override;
  int rows() const { return static_cast<int>(rows_.size()); }

 private:
  std::unique_ptr<KvCache> take_cache();
  void ensure_buffers(int tokens);

  const Model& model_;
  ThreadPool& pool_;
  int capacity_;
  WeightType cache_type_;
  int prefill_batch_;
  std::vector<std::unique_ptr<KvCache>> rows_;
  std::vector<std::unique_ptr<KvCache>> spare_;  // caches of dropped rows, reused
  std::unique_ptr<ForwardBuffers> buf_;
  std::vector<float> start_logits_;
  std::vector<TokenSlot> slots_;
  std::vector<int> logit_rows_;
};

}  // namespace smol
