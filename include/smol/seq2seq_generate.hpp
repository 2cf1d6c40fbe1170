#pragma once
// Encoder-decoder generation: the encoder runs once over a batch of sources, then the search
// of search.hpp (greedy, sampling, beam) steps every hypothesis of every source together,
// one decoder pass per step.
#include <cstdint>
#include <span>
#include <vector>

#include <filesystem>
#include <functional>
#include <memory>
#include <optional>

#include "smol/generation_config.hpp"
#include "smol/search.hpp"
#include "smol/seq2seq.hpp"
#include "smol/thread_pool.hpp"
#include "smol/tokenizer.hpp"

namespace smol {

// The StepModel of an encoder-decoder: row i of start() belongs to source i; reorder fans
// sources out to beams and follows beam search's choices. Each row has its own decoder
// self-attention cache (stored as `cache_type`); the cross-attention K/V stay with the source.
class Seq2SeqStepModel final : public StepModel {
 public:
  // `capacity`: the most decoder positions a row may reach (the resolved max_length).
  Seq2SeqStepModel(const Seq2SeqModel& model, ThreadPool& pool, std::span<const EncodedSource> sources, int capacity,
                   WeightType cache_type = WeightType::F32);
  int vocab_size() const override { return model_.config().decoder_vocab_size; }
  int max_position_embeddings() const override { return model_.config().max_position_embeddings; }
  std::span<const float> start(std::span<const std::vector<int32_t>> prefixes) override;
  void reorder(std::span<const int> parents) override;
  std::span<const float> step(std::span<const int32_t> tokens) override;

 private:
  struct Row {
    int source;
    KvCache kv;
  };
  const Seq2SeqModel& model_;
  ThreadPool& pool_;
  std::span<const EncodedSource> sources_;
  int capacity_;
  WeightType cache_type_;
  std::vector<Row> rows_;
  std::vector<Row> spare_;  // caches of dropped rows, reused instead of reallocated
  std::vector<DecoderSlot> slots_;
  std::vector<int> logit_rows_;
  std::vector<float> logits_;
  Seq2SeqBuffers buf_;
};

// What a loaded encoder-decoder folder gives: weights, tokenizer, generation defaults
// (generation_config.json, else config.json) and the threads to run them.
class Seq2SeqEngine {
 public:
  Seq2SeqEngine(const std::filesystem::path& dir, int n_threads, LoadMode load = LoadMode::Read,
                std::optional<WeightType> weights = std::nullopt);
  const Seq2SeqModel& model() const { return *model_; }
  // Throws smol::Error when the folder has no tokenizer files (ids-only use needs none).
  const Tokenizer& tokenizer() const;
  const GenerationConfig& generation() const { return generation_; }
  ThreadPool& pool() { return pool_; }
  const std::filesystem::path& model_dir() const { return dir_; }

 private:
  std::unique_ptr<Seq2SeqModel> model_;
  std::filesystem::path dir_;
  std::optional<Tokenizer> tokenizer_;
  std::string tokenizer_error_;
  GenerationConfig generation_;
  ThreadPool pool_;
};

struct Seq2SeqRequest {
  GenerationConfig generation;
  uint64_t seed = 0;
  WeightType cache_type = WeightType::F32;
  // Called before every decoder pass (the server paces, counts and cancels batches there;
  // it may throw to end the search). Empty: nothing.
  std::function<void()> before_pass;
};

// The decoder's first token as transformers picks it: generation_config.json, config.json,
// then bos_token_id; an error when none is set.
int32_t decoder_start_token(const Seq2SeqModel& model, const GenerationConfig& generation);

// Encodes every source in one batch and generates for all of them together; one result per
// source, in order. Prefixes are {decoder_start_token_id}.
std::vector<SearchResult> generate_seq2seq(const Seq2SeqModel& model, ThreadPool& pool,
                                           std::span<const std::vector<int32_t>> sources, const Seq2SeqRequest& request,
                                           const TokenCallback& on_token = {});

}  // namespace smol
