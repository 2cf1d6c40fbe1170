#pragma once
// Encoder-decoder transformers (BART, mBART, Marian): one configuration of the shared blocks
// per family, an encoder run once per source, and a decoder stepped one token per hypothesis
// over its own KV cache and the source's cross-attention keys/values. Numerics follow
// transformers' modeling_bart.py / modeling_mbart.py / modeling_marian.py (DESIGN.md).
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "smol/kernels.hpp"
#include "smol/model.hpp"
#include "smol/safetensors.hpp"

namespace smol {

class ThreadPool;
class MatrixConverter;

enum class PositionKind { Learned, Sinusoidal };

// How one family builds its stacks: which norms, positions and layer order.
struct Seq2SeqArch {
  std::string family;              // "bart", "mbart", "marian"
  PositionKind positions = PositionKind::Learned;
  int position_offset = 0;         // BART/mBART's learned table starts at row 2
  bool embedding_norm = false;     // layernorm_embedding after token + position embeddings
  bool pre_norm = false;           // mBART: norm before each sublayer, plus a final norm
  bool final_norm = false;
};

struct Seq2SeqStack {
  int layers = 0;
  int heads = 0;
  int ffn = 0;
};

struct Seq2SeqConfig {
  std::string model_type;  // bart, mbart, marian
  Seq2SeqArch arch;
  int d_model = 0;
  Seq2SeqStack encoder, decoder;
  int vocab_size = 0;          // encoder (source) vocabulary
  int decoder_vocab_size = 0;  // target vocabulary (Marian may differ; else vocab_size)
  int max_position_embeddings = 1024;
  Activation activation = Activation::GELU;
  bool scale_embedding = false;     // token embeddings x sqrt(d_model)
  bool tie_word_embeddings = true;  // lm_head is the decoder's token embedding
  bool share_embeddings = true;     // one token embedding for encoder and decoder
  float layer_norm_eps = 1e-5f;
  int pad_token_id = -1, bos_token_id = -1, eos_token_id = -1, decoder_start_token_id = -1;
  std::string torch_dtype;

  int head_dim() const { return d_model / decoder.heads; }
  // Reads <dir>/config.json; throws smol::Error naming what is wrong or unsupported.
  static Seq2SeqConfig from_folder(const std::filesystem::path& dir);
  static Seq2SeqConfig from_json(const nlohmann::json& config, const std::string& source_name);
  // True when config.json describes an encoder-decoder this file can run.
  static bool is_seq2seq(const nlohmann::json& config);
};

struct Linear {
  MatrixView w;
  std::vector<float> bias;  // empty: no bias
};

struct Norm {
  std::vector<float> weight, bias;
};

struct AttentionWeights {
  Linear q, k, v, o;
};

struct Seq2SeqLayer {
  Norm self_norm;
  AttentionWeights self_attn;
  Norm cross_norm;              // decoder only
  AttentionWeights cross_attn;  // decoder only
  Norm ffn_norm;
  Linear fc1, fc2;
};

struct Seq2SeqStackWeights {
  MatrixView embed;      // vocab x d_model
  MatrixView positions;  // learned table (max_position_embeddings + offset) x d_model; unset for sinusoidal
  Norm embedding_norm;
  std::vector<Seq2SeqLayer> layers;
  Norm final_norm;
};

struct Seq2SeqWeights {
  Seq2SeqStackWeights encoder, decoder;
  MatrixView lm_head;
  std::vector<float> final_logits_bias;  // empty when the checkpoint has none
};

// What the decoder needs of one encoded source: the encoder's last hidden states and, for
// every decoder layer, cross-attention keys and values computed once from them.
struct EncodedSource {
  int length = 0;
  std::vector<float> hidden;        // length x d_model
  std::vector<float> cross_keys;    // [decoder layer][position][d_model]
  std::vector<float> cross_values;
  KvView keys(int layer, int d_model) const;
  KvView values(int layer, int d_model) const;
};

// One decoder token of a batch: its hypothesis' self-attention cache, its position there,
// and the source it attends to.
struct DecoderSlot {
  KvCache* kv;
  int pos;
  const EncodedSource* source;
};

// Scratch for encoder and decoder passes, grown on demand and reused across calls.
struct Seq2SeqBuffers {
  std::vector<float> x, normed, q, k, v, attn, proj, ffn, scores;
};

class Seq2SeqModel {
 public:
  // Loads a Hugging Face folder of model_type bart, mbart or marian (safetensors, or
  // pytorch_model.bin when the formats layer reads it). `weights` converts every matrix once
  // at load time (F32, BF16 or Q8_0); unset keeps the stored type.
  static std::unique_ptr<Seq2SeqModel> load(const std::filesystem::path& dir, LoadMode mode = LoadMode::Read,
                                            std::optional<WeightType> weights = std::nullopt);

  const Seq2SeqConfig& config() const { return config_; }
  const Seq2SeqWeights& weights() const { return weights_; }

  // A KV cache for one hypothesis' decoder self-attention.
  KvCache make_cache(int capacity, WeightType type = WeightType::F32) const;

  // Runs the encoder over every source at once (no padding: each source attends to its own
  // tokens only, which is what the padding mask gives) and the cross-attention projections.
  std::vector<EncodedSource> encode(std::span<const std::vector<int32_t>> sources, ThreadPool& pool,
                                    Seq2SeqBuffers& buf) const;

  // Runs tokens[t] at slots[t] (one decoder step for many hypotheses, or a teacher-forced
  // run of consecutive positions of one hypothesis, or both) and writes decoder_vocab_size
  // logits for each token listed in `logit_rows`, in order, to `logits`.
  void decode(std::span<const int32_t> tokens, std::span<const DecoderSlot> slots, std::span<const int> logit_rows,
              std::vector<float>& logits, ThreadPool& pool, Seq2SeqBuffers& buf) const;

 private:
  Seq2SeqModel(Seq2SeqConfig config, TensorStore store, const std::string& source,
               std::optional<WeightType> weights);
  Seq2SeqConfig config_;
  TensorStore store_;
  std::shared_ptr<MatrixConverter> converter_;  // owns matrices converted at load time
  Seq2SeqWeights weights_;
};

}  // namespace smol
