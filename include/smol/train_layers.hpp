#pragma once
// The layers of the SmolLM2 training graph, each a *_forward / *_backward pair over plain
// arrays (llm.c style), so the backward pass reads as the forward pass run in reverse.
//
// Every function is a template over the scalar: the trainer runs them in float, the
// finite-difference gradient checks run the very same code in double.
//
// Conventions: token-major layouts ([n_tokens][dim]); a batch is `batch` rows of `seq_len`
// tokens, so token n sits at position n % seq_len. Backward functions ACCUMULATE (+=) into
// parameter gradients and into input gradients (an input may feed several consumers, e.g. the
// normed activations feed q, k and v); the caller zeroes them once per step.
#include <cstddef>
#include <cstdint>

#include "smol/kernels.hpp"  // Activation

namespace smol {

class ThreadPool;

// Arithmetic of the matmuls: operands (and non-accumulated outputs) rounded to bf16/fp16,
// products accumulated in float32. Everything outside the matmuls stays float32.
enum class Precision { FP32, BF16, FP16 };

// Rounds x to the precision's format and back to float (identity for FP32).
float round_to_precision(float x, Precision p);

// out[n] = table[tokens[n]]
template <typename T>
void embedding_forward(T* out, const int32_t* tokens, const T* table, int n_tokens, int dim);
template <typename T>
void embedding_backward(T* dtable, const T* dout, const int32_t* tokens, int n_tokens, int dim);

// out = x * rstd * weight with rstd = 1/sqrt(mean(x^2) + eps), one row per token; rstd saved.
template <typename T>
void rmsnorm_forward(T* out, T* rstd, const T* inp, const T* weight, int n_tokens, int dim, double eps);
template <typename T>
void rmsnorm_backward(T* dinp, T* dweight, const T* dout, const T* inp, const T* weight, const T* rstd,
                      int n_tokens, int dim);

// out = inp · weightᵀ (inp: n_tokens x in_dim, weight: out_dim x in_dim as HF stores Linear).
template <typename T>
void matmul_forward(ThreadPool& pool, T* out, const T* inp, const T* weight, int n_tokens, int in_dim,
                    int out_dim, Precision precision = Precision::FP32);
// dinp += dout · weight (skipped when dinp is null), dweight += doutᵀ · inp.
template <typename T>
void matmul_backward(ThreadPool& pool, T* dinp, T* dweight, const T* dout, const T* inp, const T* weight,
                     int n_tokens, int in_dim, int out_dim, Precision precision = Precision::FP32);

// cos/sin of position * theta^(-2i/head_dim) for positions 0..seq_len-1, [seq_len][head_dim/2],
// computed in double as the inference path does.
template <typename T>
void rope_tables(T* cos_out, T* sin_out, int seq_len, int head_dim, double theta);
// In place on x (n_tokens x n_heads x head_dim), Hugging Face rotate_half layout: dim i pairs
// with dim i + head_dim/2. The backward is the inverse rotation applied to the gradient.
template <typename T>
void rope_forward(T* x, const T* cos, const T* sin, int n_tokens, int seq_len, int n_heads, int head_dim);
template <typename T>
void rope_backward(T* dx, const T* cos, const T* sin, int n_tokens, int seq_len, int n_heads, int head_dim);

struct AttentionShape {
  int batch, seq_len, n_heads, n_kv_heads, head_dim;
};
// Causal grouped-query attention. q: [token][n_heads][head_dim], k/v: [token][n_kv_heads][head_dim],
// out like q. probs [batch][n_heads][seq_len][seq_len] saves softmax(q·kᵀ/√d + mask) (before
// dropout). drop_mask (same layout as probs, or null) multiplies the probabilities: 0 for a
// dropped entry, 1/(1-p) for a kept one. The backward OVERWRITES dq, dk, dv (one consumer each).
template <typename T>
void attention_forward(ThreadPool& pool, T* out, T* probs, const T* q, const T* k, const T* v, const T* drop_mask,
                       const AttentionShape& s);
template <typename T>
void attention_backward(ThreadPool& pool, T* dq, T* dk, T* dv, const T* dout, const T* probs, const T* q,
                        const T* k, const T* v, const T* drop_mask, const AttentionShape& s);

// out = silu(gate) * up, elementwise.
template <typename T>
void swiglu_forward(T* out, const T* gate, const T* up, size_t n);
template <typename T>
void swiglu_backward(T* dgate, T* dup, const T* dout, const T* gate, const T* up, size_t n);

// out = x + branch * mask (mask: null, or 0 / 1/(1-p) per element: dropout on the branch).
template <typename T>
void residual_forward(T* out, const T* x, const T* branch, const T* mask, size_t n);
template <typename T>
void residual_backward(T* dx, T* dbranch, const T* dout, const T* mask, size_t n);

// losses[n] = -log softmax(logits[n])[targets[n]]; a negative target is ignored (loss 0).
// probs receives the softmax and may alias logits. Returns the sum of the losses (double).
template <typename T>
double cross_entropy_forward(ThreadPool& pool, T* losses, T* probs, const T* logits, const int32_t* targets,
                             int n_tokens, int vocab);
// dlogits = (probs - onehot(target)) * dloss for every counted row, 0 for ignored rows;
// dlogits may alias probs. dloss is d(objective)/d(loss of one token), e.g. 1/n_counted.
template <typename T>
void cross_entropy_backward(ThreadPool& pool, T* dlogits, const T* probs, const int32_t* targets, double dloss,
                            int n_tokens, int vocab);

// ---- Encoder-decoder layers (BART / mBART / Marian) ----

// nn.LayerNorm: out = (x - mean) * rstd * weight + bias, rstd = 1/sqrt(var + eps) with the
// biased variance, one row per token; mean and rstd saved. out must not alias inp.
template <typename T>
void layernorm_forward(T* out, T* mean, T* rstd, const T* inp, const T* weight, const T* bias, int n_tokens,
                       int dim, double eps);
template <typename T>
void layernorm_backward(T* dinp, T* dweight, T* dbias, const T* dout, const T* inp, const T* weight, const T* mean,
                        const T* rstd, int n_tokens, int dim);

// nn.Linear: out = inp · weightᵀ + bias (bias may be null). The backward adds the column sums
// of dout to dbias (when not null) on top of matmul_backward.
template <typename T>
void linear_forward(ThreadPool& pool, T* out, const T* inp, const T* weight, const T* bias, int n_tokens, int in_dim,
                    int out_dim, Precision precision = Precision::FP32);
template <typename T>
void linear_backward(ThreadPool& pool, T* dinp, T* dweight, T* dbias, const T* dout, const T* inp, const T* weight,
                     int n_tokens, int in_dim, int out_dim, Precision precision = Precision::FP32);

// out = act(inp) elementwise (GELU with erf, GELU tanh, ReLU, SiLU); dinp += dout * act'(inp).
template <typename T>
void activation_forward(Activation act, T* out, const T* inp, size_t n);
template <typename T>
void activation_backward(Activation act, T* dinp, const T* dout, const T* inp, size_t n);

// Dropout with a given mask (0 or 1/(1-p)): out = inp * mask; dinp += dout * mask.
template <typename T>
void dropout_forward(T* out, const T* inp, const T* mask, size_t n);
template <typename T>
void dropout_backward(T* dinp, const T* dout, const T* mask, size_t n);

// Multi-head attention of q_len queries over kv_len keys per batch row, for bidirectional
// self-attention (padding mask: key j of row b counts only when j < key_lengths[b]; null: all
// keys), causal self-attention (causal: also j <= t) and cross-attention (keys from the
// encoder, masked by the source lengths). q: [batch][q_len][n_heads][head_dim], k/v:
// [batch][kv_len][n_heads][head_dim]; probs [batch][n_heads][q_len][kv_len] saves the softmax
// of q·kᵀ/√head_dim (0 where masked), drop_mask (same layout, or null) the attention dropout.
struct MhaShape {
  int batch, q_len, kv_len, n_heads, head_dim;
  bool causal;
};
template <typename T>
void mha_forward(ThreadPool& pool, T* out, T* probs, const T* q, const T* k, const T* v, const T* drop_mask,
                 const int32_t* key_lengths, const MhaShape& s);
// OVERWRITES dq, dk and dv.
template <typename T>
void mha_backward(ThreadPool& pool, T* dq, T* dk, T* dv, const T* dout, const T* probs, const T* q, const T* k,
                  const T* v, const T* drop_mask, const int32_t* key_lengths, const MhaShape& s);

// transformers' LabelSmoother (Seq2SeqTrainer's --label_smoothing_factor): per scored token
// (1 - epsilon) * (-log p[target]) + epsilon / vocab * Σ_i (-log p[i]); a negative target is
// ignored. epsilon 0 is plain cross-entropy. probs may alias logits; returns the summed loss.
template <typename T>
double smoothed_cross_entropy_forward(ThreadPool& pool, T* losses, T* probs, const T* logits, const int32_t* targets,
                                      int n_tokens, int vocab, double epsilon);
// dlogits = (probs - (1 - epsilon) onehot(target) - epsilon / vocab) * dloss; may alias probs.
template <typename T>
void smoothed_cross_entropy_backward(ThreadPool& pool, T* dlogits, const T* probs, const int32_t* targets,
                                     double dloss, int n_tokens, int vocab, double epsilon);

}  // namespace smol
