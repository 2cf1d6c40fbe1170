#pragma once
// The SmolLM2 (Llama) architecture: weights bound to a checkpoint's tensors and the forward
// pass over a KV cache. Follows DESIGN.md § Numeric conventions.
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <vector>

#include "smol/kernels.hpp"
#include "smol/model_config.hpp"
#include "smol/safetensors.hpp"

namespace smol {

class ThreadPool;
class GgufFile;
struct GgufWeights;
class MatrixConverter;

struct LayerWeights {
  std::vector<float> attn_norm;  // widened once: tiny, and used every token
  MatrixView q, k, v, o;
  std::vector<float> mlp_norm;
  MatrixView gate, up, down;
};

struct ModelWeights {
  MatrixView embed;  // vocab x hidden
  std::vector<LayerWeights> layers;
  std::vector<float> final_norm;
  MatrixView lm_head;  // the embedding itself when tie_word_embeddings
};

// Keys (after RoPE) and values of every layer for the positions seen so far, stored as F32
// (the default), F16, BF16 or Q8_0 (blocks of 32 values with an f16 scale; needs
// num_key_value_heads * head_dim to be a multiple of 32). Each position's rows are converted
// once when written; attention reads them in that type.
class KvCache {
 public:
  KvCache(const ModelConfig& config, int capacity, WeightType type = WeightType::F32);
  // A cache of `n_layers` layers of kv_dim keys and values per position (encoder-decoder
  // self-attention, whose shape is not a ModelConfig's).
  KvCache(int n_layers, int kv_dim, int capacity, WeightType type = WeightType::F32);
  int capacity() const { return capacity_; }
  int size() const { return size_; }
  WeightType type() const { return type_; }
  void clear() { size_ = 0; }
  // Forgets everything from position `n` on (used to rewind a sequence).
  void truncate(int n);
  // Becomes a copy of `other`'s positions (beam search forking a hypothesis); both caches
  // must have the same shape, type and capacity. Copies only the positions in use.
  void copy_from(const KvCache& other);
  // Stores position `pos` of `layer`: kv_dim floats each of keys and values, converted.
  void store(int layer, int pos, const float* keys, const float* values);
  KvView keys(int layer) const { return view(layer, 0); }
  KvView values(int layer) const { return view(layer, 1); }
  // Bytes held for all layers and the whole capacity.
  size_t bytes() const { return data_.size(); }
  // Bytes one position takes over all layers, keys and values.
  static size_t bytes_per_token(const ModelConfig& config, WeightType type);

 private:
  friend class Model;
  friend class Seq2SeqModel;
  uint8_t* row(int layer, int pos, int which) {
    return data_.data() + ((static_cast<size_t>(layer) * 2 + which) * capacity_ + pos) * row_bytes_;
  }
  KvView view(int layer, int which) const {
    return {type_, data_.data() + (static_cast<size_t>(layer) * 2 + which) * capacity_ * row_bytes_,
            static_cast<size_t>(kv_dim_)};
  }
  WeightType type_;
  int capacity_;
  int kv_dim_;
  size_t row_bytes_;
  int size_ = 0;
  std::vector<uint8_t> data_;
};

// Where one token of a batch goes: its sequence's cache and its position in that sequence.
struct TokenSlot {
  KvCache* kv;
  int pos;
};

// Activations for a batch of up to `max_tokens` tokens, allocated once and reused.
struct ForwardBuffers {
  ForwardBuffers(const ModelConfig& config, int max_tokens, int n_threads, int max_context);
  int max_tokens;
  int max_context;
  std::vector<TokenSlot> slots;  // scratch for forward()
  std::vector<int> rows;
  std::vector<KeyRange> key_ranges;  // scratch for batched attention
  std::vector<float> residual, normed, q, k, v, attn_out, proj, gate, up, logits, rope_cos, rope_sin;
  std::vector<float> scores;  // one row of max_context per thread
  // Compute every token of a batch as a one-token step would (MatmulPath::BatchInvariant's
  // multi-token matvecs, per-head attention), so its logits and cache rows are bit for bit
  // those a step with that token alone gives: speculative decoding verifies its drafts this way.
  bool per_token_kernels = false;
};

enum class Logits { Last, All };

class Model {
 public:
  // Loads a Hugging Face folder (config.json (+ generation_config.json), model.safetensors or
  // a sharded index) or a llama-architecture .gguf file. The weights are read into private
  // memory on huge pages (LoadMode::Read) or stay memory-mapped (LoadMode::Map); a GGUF's Q/K
  // rows are copied once, back into Hugging Face's order.
  static std::unique_ptr<Model> load(const std::filesystem::path& path, LoadMode mode = LoadMode::Read);

  const ModelConfig& config() const { return config_; }
  const ModelWeights& weights() const { return weights_; }
  // The GGUF file the model came from (its tokenizer and chat template), or nullptr.
  const GgufFile* gguf() const;

  // Converts every weight matrix to `type` (F32, BF16 or Q8_0; --weights) once, after loading.
  // Matrices whose rows are not whole blocks of `type` keep their stored type.
  void convert_weights(WeightType type);

  // Runs `tokens` at positions kv.size() ... and appends them to `kv`. Writes logits
  // (vocab floats per row) to buf.logits: one row per token, or only the last token's.
  // Throws smol::Error when the tokens would not fit the cache or the model's context.
  void forward(std::span<const int32_t> tokens, KvCache& kv, ForwardBuffers& buf, ThreadPool& pool,
               Logits which) const;

  // One step over tokens of several sequences at once (continuous batching): the weights are
  // read once for the whole batch; each token attends only to its own sequence's cache.
  // Every sequence's tokens must be at consecutive positions starting at its cache's size.
  // Logits are written for the tokens listed in `logit_rows` (indices into `tokens`), in order.
  void forward_batch(std::span<const int32_t> tokens, std::span<const TokenSlot> slots,
                     std::span<const int> logit_rows, ForwardBuffers& buf, ThreadPool& pool) const;

 private:
  Model(ModelConfig config, TensorStore store, const std::string& source);
  Model(ModelConfig config, std::shared_ptr<const GgufWeights> gguf, const std::string& source);
  void check_batch(std::span<const int32_t> tokens, std::span<const TokenSlot> slots, const ForwardBuffers& buf,
                   const ThreadPool& pool) const;
  void attention(int layer, std::span<const TokenSlot> slots, ForwardBuffers& buf, ThreadPool& pool) const;

  ModelConfig config_;
  TensorStore store_;
  std::shared_ptr<const GgufWeights> gguf_;  // instead of store_ for a .gguf model
  ModelWeights weights_;
  std::shared_ptr<MatrixConverter> converter_;  // owns matrices converted by convert_weights
};

}  // namespace smol
