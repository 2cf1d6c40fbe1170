#pragma once
// The model as the trainer sees it: every parameter an owned float32 tensor in one flat
// buffer (so the optimizer, clipping and the MPI all-reduce each see one array), the
// activations a forward pass saves for the backward, and the forward/backward pair itself.
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "smol/dtype.hpp"
#include "smol/model_config.hpp"
#include "smol/seq2seq.hpp"
#include "smol/train_layers.hpp"

namespace smol {

class ThreadPool;

struct ParamTensor {
  std::string name;  // Hugging Face name, e.g. "model.layers.0.self_attn.q_proj.weight"
  std::vector<int64_t> shape;
  size_t offset = 0;  // in floats, into the flat buffer
  size_t numel = 0;
  // Depth for layer-wise LR decay: -1 embeddings, 0..L-1 transformer blocks, L final norm and
  // lm_head. Encoder-decoders number both stacks in one sequence: -1 embeddings (token,
  // position, layernorm_embedding), 0..Le-1 encoder layers (the encoder's final layer_norm
  // with the last of them), Le..Le+Ld-1 decoder layers, Le+Ld the decoder's final layer_norm,
  // lm_head and final_logits_bias.
  int depth = 0;
  bool is_matrix = false;  // ndim >= 2: gets weight decay by default
  // false for a buffer saved with the weights but never updated (final_logits_bias): no
  // gradient is computed for it and the optimizer leaves it alone.
  bool trainable = true;
};

// What the trainer trains: a decoder-only stack (SmolLM2 / Llama: ModelConfig) or an
// encoder-decoder (BART, mBART, Marian: Seq2SeqConfig, whose arch says which norms,
// positions and layer order). One ParamLayout, optimizer, Trainer and checkpoint format.
enum class TrainArch { DecoderOnly, EncoderDecoder };

// The model's code is templated on the scalar like the layers (train_layers.hpp): the trainer
// runs float, the whole-model finite-difference gradient check runs the same code in double.
template <typename T>
struct BasicLayerParams {
  T *attn_norm, *q, *k, *v, *o, *mlp_norm, *gate, *up, *down;
};
using LayerParams = BasicLayerParams<float>;

// The encoder-decoder's tensors (names as transformers' BartForConditionalGeneration,
// MBartForConditionalGeneration and MarianMTModel state_dicts have them).
template <typename T>
struct BasicLinearParams {
  T* w = nullptr;
  T* b = nullptr;
};
template <typename T>
struct BasicNormParams {
  T* w = nullptr;
  T* b = nullptr;
};
template <typename T>
struct BasicAttentionParams {
  BasicLinearParams<T> q, k, v, o;
};
template <typename T>
struct BasicSeq2SeqLayerParams {
  BasicNormParams<T> self_norm;
  BasicAttentionParams<T> self_attn;
  BasicNormParams<T> cross_norm;        // decoder only
  BasicAttentionParams<T> cross_attn;   // decoder only
  BasicNormParams<T> ffn_norm;
  BasicLinearParams<T> fc1, fc2;
};
template <typename T>
struct BasicSeq2SeqStackParams {
  T* embed = nullptr;      // the shared table when the embeddings are shared
  T* positions = nullptr;  // learned table (max_position_embeddings + offset rows); null: sinusoidal
  BasicNormParams<T> embedding_norm;  // layernorm_embedding, when the family has it
  std::vector<BasicSeq2SeqLayerParams<T>> layers;
  BasicNormParams<T> final_norm;      // pre-norm families
};
template <typename T>
struct BasicSeq2SeqParams {
  BasicSeq2SeqStackParams<T> encoder, decoder;
  T* lm_head = nullptr;            // == decoder.embed when tied
  T* final_logits_bias = nullptr;  // a buffer: read, never trained
};

// Pointers to each tensor of one flat buffer: parameters, gradients, or optimizer moments.
template <typename T>
struct BasicParamPtrs {
  T* embed = nullptr;
  std::vector<BasicLayerParams<T>> layers;
  T* final_norm = nullptr;
  T* lm_head = nullptr;  // == embed when the embeddings are tied: one tensor, two uses
  BasicSeq2SeqParams<T> seq2seq;  // the encoder-decoder's tensors (the fields above stay null)
};
using ParamPtrs = BasicParamPtrs<float>;

class ParamLayout {
 public:
  ParamLayout() = default;
  explicit ParamLayout(const ModelConfig& config);
  explicit ParamLayout(const Seq2SeqConfig& config);
  TrainArch arch() const { return arch_; }
  const std::vector<ParamTensor>& tensors() const { return tensors_; }
  const ParamTensor* find(const std::string& name) const;
  size_t size() const { return size_; }  // floats in the flat buffer
  template <typename T>  // float or double
  BasicParamPtrs<T> bind(T* base) const;
  ParamPtrs bind(const float* base) const { return bind(const_cast<float*>(base)); }

 private:
  void add(std::string name, std::vector<int64_t> shape, int depth, bool trainable = true);
  template <typename T>
  BasicSeq2SeqParams<T> bind_seq2seq(T* base) const;

  TrainArch arch_ = TrainArch::DecoderOnly;
  std::vector<ParamTensor> tensors_;
  size_t size_ = 0;
  int n_layers_ = 0;
  bool tied_ = false;
  Seq2SeqConfig seq2seq_;
};

// The trainer's float32 master copy of a model.
struct TrainModel {
  TrainArch arch = TrainArch::DecoderOnly;
  ModelConfig config;     // decoder-only
  Seq2SeqConfig seq2seq;  // encoder-decoder
  nlohmann::json config_json;  // the source config.json, so checkpoints keep its other fields
  ParamLayout layout;
  std::vector<float> params;

  // Reads a Hugging Face folder (F32/BF16/F16 safetensors, sharded or not) into float32.
  static TrainModel load(const std::filesystem::path& folder);
  // Writes the weights as a safetensors file in `dtype` (F32, BF16 or F16), atomically.
  void write_weights(const std::filesystem::path& file, DType dtype,
                     const std::map<std::string, std::string>& metadata = {{"format", "pt"}}) const;
};

struct ForwardOptions {
  Precision precision = Precision::FP32;
  float dropout = 0.0f;        // on attention probabilities and residual branches; 0: off
  // Encoder-decoders name three rates as their configs do: `dropout` (embeddings and every
  // residual branch), `attention_dropout` (attention probabilities), `activation_dropout`
  // (after the FFN activation). The decoder-only model uses `dropout` alone.
  float attention_dropout = 0.0f;
  float activation_dropout = 0.0f;
  // Use the masks already in the activations instead of drawing them (tests that feed the
  // masks of another implementation). Encoder-decoder only.
  bool fixed_masks = false;
  double label_smoothing = 0.0;  // encoder-decoder: LabelSmoother's epsilon
  // Masks of batch row b are drawn from (dropout_seed, first_row + b), so they depend on the
  // row's place in the global batch, not on how it is split into micro-batches or ranks.
  uint64_t dropout_seed = 0;
  int64_t first_row = 0;
};

// Everything the backward needs from the forward, for batch x seq_len tokens, plus the
// backward's scratch. Allocated once and reused every step.
template <typename T>
class BasicActivations {
 public:
  BasicActivations(const ModelConfig& config, int batch, int seq_len, bool with_dropout);
  int batch() const { return batch_; }
  int seq_len() const { return seq_len_; }
  size_t bytes() const;

  struct Layer {
    std::vector<T> x, rstd1, norm1, q, k, v, probs, attn, h, rstd2, norm2, gate, up, act;
    std::vector<T> attn_mask, res1_mask, res2_mask;  // dropout scales, empty when off
  };
  std::vector<Layer> layers;
  std::vector<T> x_final, rstd_final, norm_final, logits, losses;
  std::vector<T> rope_cos, rope_sin;
  // Backward scratch, reused by every layer.
  std::vector<T> dres, dres_prev, dbranch, dnorm, dq, dk, dv, dattn, dact, dgate, dup;
  std::vector<T> branch;  // forward scratch: a projection before the residual add

 private:
  int batch_, seq_len_;
};
using Activations = BasicActivations<float>;

// Runs the model on `inputs` (batch x seq_len ids) and returns the SUM of the cross-entropy
// over the targets that are >= 0 (negative targets are not scored). Dropout is applied
// when options.dropout > 0 (pass 0 for evaluation). T is float or double (where the
// precision option is ignored: double matmuls are plain loops).
template <typename T>
double model_forward(const ModelConfig& config, const BasicParamPtrs<T>& params, const int32_t* inputs,
                     const int32_t* targets, BasicActivations<T>& acts, ThreadPool& pool,
                     const ForwardOptions& options);

// Accumulates into `grads` the gradient of dloss * (summed loss of the last forward).
// Uses (and destroys) what model_forward left in `acts`.
template <typename T>
void model_backward(const ModelConfig& config, const BasicParamPtrs<T>& params, const BasicParamPtrs<T>& grads,
                    const int32_t* inputs, const int32_t* targets, double dloss, BasicActivations<T>& acts,
                    ThreadPool& pool, const ForwardOptions& options);

}  // namespace smol
