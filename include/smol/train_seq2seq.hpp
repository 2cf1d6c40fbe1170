#pragma once
// The encoder-decoder as the trainer sees it: a batch of (source, target) pairs under teacher
// forcing, the activations its forward saves, and model_forward / model_backward overloads
// for it. The parameters are the same flat buffer (ParamLayout(Seq2SeqConfig)); the forward
// computes what Seq2SeqModel (src/model/seq2seq_forward.cpp) computes, with transformers'
// dropout placement, over padded batches.
#include <cstdint>
#include <span>
#include <vector>

#include "smol/seq2seq.hpp"
#include "smol/train_model.hpp"

namespace smol {

// A padded batch, row-major: batch x source_len source ids (row b has source_lengths[b] real
// tokens, then pad_token_id: the encoder's padding mask), batch x target_len decoder inputs
// and labels (labels < 0 are not scored).
struct Seq2SeqBatch {
  int batch = 0, source_len = 0, target_len = 0;
  std::vector<int32_t> source, source_lengths, decoder_inputs, labels;
};

// Teacher forcing as BartForConditionalGeneration does with `labels`: labels = the target ids,
// decoder inputs = the labels shifted right, starting from decoder_start_token_id (padding
// positions hold pad_token_id, their labels -1). Lengths 0: the longest of the batch.
Seq2SeqBatch make_seq2seq_batch(const Seq2SeqConfig& config, std::span<const std::vector<int32_t>> sources,
                                std::span<const std::vector<int32_t>> targets, int source_len = 0,
                                int target_len = 0);

template <typename T>
class BasicSeq2SeqActivations {
 public:
  BasicSeq2SeqActivations(const Seq2SeqConfig& config, int batch, int source_len, int target_len);
  // Re-sizes for another batch shape (vectors only grow in capacity).
  void reshape(int batch, int source_len, int target_len);
  // Sizes the dropout masks (all 1), so a test can write its own and run with fixed_masks.
  void allocate_masks();
  int batch() const { return batch_; }
  int source_len() const { return source_len_; }
  int target_len() const { return target_len_; }
  size_t bytes() const;

  // One residual sublayer x -> x' (pre-norm: x' = x + drop(f(LN(x))); post-norm:
  // x' = LN(x + drop(f(x)))).
  struct Residual {
    std::vector<T> x;           // the sublayer's input (the residual stream)
    std::vector<T> normed;      // pre-norm: LN(x), the branch input
    std::vector<T> sum;         // post-norm: x + drop(branch), the LN input
    std::vector<T> mean, rstd;  // of the LN
    std::vector<T> mask;        // `dropout` on the branch output [row][d_model]
  };
  struct Attention {
    std::vector<T> q, k, v, probs, ctx;
    std::vector<T> mask;  // `attention_dropout`, laid out like probs
  };
  struct Ffn {
    std::vector<T> h, act, dropped;  // fc1 output, activation, activation after its dropout
    std::vector<T> mask;             // `activation_dropout` [row][ffn]
  };
  struct Layer {
    Residual self_res, cross_res, ffn_res;
    Attention self, cross;
    Ffn ffn;
  };
  struct Stack {
    std::vector<T> embedded;                        // token x embed_scale + position
    std::vector<T> emb_normed, emb_mean, emb_rstd;  // layernorm_embedding
    std::vector<T> emb_mask;                        // `dropout` after the embeddings
    std::vector<Layer> layers;
    std::vector<T> last;                    // the last layer's output
    std::vector<T> final_mean, final_rstd;  // the final layer_norm (pre-norm families)
    std::vector<T> out;                     // the stack's output
  };
  Stack encoder, decoder;
  // The LM head runs on the scored rows only (labels >= 0, in order): padding positions are
  // ~10% of a bucketed batch and their logits, softmax and gradients would all be thrown away.
  // logits/losses hold those rows, head_labels their labels, head_rows their row in the batch
  // (empty when every row is scored).
  std::vector<T> logits, losses;
  std::vector<int32_t> head_rows, head_labels;
  std::vector<T> head_in, head_din;  // the scored rows of the decoder output, and their gradient
  std::vector<T> positions;  // sinusoidal table rows (Marian)
  // Which masks the last forward applied.
  bool hidden_masks = false, attention_masks = false, activation_masks = false;
  // Scratch shared by both passes.
  std::vector<T> branch, dres, dsum, dbranch, dnorm, dq, dk, dv, dctx, dh, dact, ddropped, denc;

 private:
  void size_stack(Stack& s, bool encoder, int rows, int heads, int ffn, int q_len, int kv_len, bool masks);
  Seq2SeqConfig config_;
  int batch_ = 0, source_len_ = 0, target_len_ = 0;
};
using Seq2SeqActivations = BasicSeq2SeqActivations<float>;

// Returns the SUM over scored labels of the (label-smoothed) cross-entropy of the decoder's
// logits (options.label_smoothing: LabelSmoother's epsilon). Dropout rates and masks as
// ForwardOptions describes them; masks of batch row b depend on options.first_row + b.
template <typename T>
double model_forward(const Seq2SeqConfig& config, const BasicParamPtrs<T>& params, const Seq2SeqBatch& batch,
                     BasicSeq2SeqActivations<T>& acts, ThreadPool& pool, const ForwardOptions& options);

// Accumulates into `grads` the gradient of dloss * (summed loss of the last forward); every
// use of a shared or tied embedding adds to its one gradient. final_logits_bias gets none.
template <typename T>
void model_backward(const Seq2SeqConfig& config, const BasicParamPtrs<T>& params, const BasicParamPtrs<T>& grads,
                    const Seq2SeqBatch& batch, double dloss, BasicSeq2SeqActivations<T>& acts, ThreadPool& pool,
                    const ForwardOptions& options);

}  // namespace smol
