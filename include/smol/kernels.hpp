#pragma once
// Arithmetic on arrays, nothing about models. Weights stay in their stored type (bf16/f16
// are widened inside the kernels, quantized blocks are decoded inside the kernels), never
// copied into a float32 model.
#include <cstddef>
#include <cstdint>
#include <span>

namespace smol {

class ThreadPool;

// Q8_0, Q4_0, Q4_K and Q6_K are GGML's block layouts byte for byte (see smol/quant.hpp).
enum class WeightType { F32, BF16, F16, Q8_0, Q4_0, Q4_K, Q6_K };

// A row-major matrix of `rows` outputs by `cols` inputs, as Hugging Face stores Linear weights.
// For quantized types each row is cols / block_elements(type) consecutive blocks, rows packed
// back to back (GGUF's layout), and cols must be a multiple of the block size.
struct MatrixView {
  WeightType type = WeightType::F32;
  const void* data = nullptr;
  int64_t rows = 0;
  int64_t cols = 0;
};

// Dot products of a float32 vector with a stored row, accumulated in float32.
float dot_f32(const float* x, const float* w, size_t n);
float dot_bf16(const float* x, const uint16_t* w, size_t n);
float dot_f16(const float* x, const uint16_t* w, size_t n);

// Widens one stored row to float32 (embedding lookups, norm weights).
void widen_row(const MatrixView& m, int64_t row, float* out);

// y[t][r] = sum_k x[t][k] * W[r][k] for t < n_tokens (x: n_tokens x cols, y: n_tokens x rows).
// Quantized weights with few tokens use integer dot products against the activations
// quantized to 8 bits in blocks of 32 (as llama.cpp does); with many tokens the weights are
// decoded into float32 and multiplied exactly, except Q8_0 on AVX-512 VNNI machines, which
// stays in integers (quantized activations) at every batch size. Throws smol::Error when
// cols is not a multiple of the weight type's block size.
//
// MatmulPath::BatchInvariant instead sends every batch through the multi-token dot products,
// which load and decode each weight block once for a tile of tokens but give every token the
// instructions of a one-token call: every token's output is bit for bit what a call with that
// token alone gives, and the weights are read from memory once. Speculative decoding verifies
// drafted tokens in one batch and must reproduce plain decoding exactly. (ByBatchSize takes
// the same kernels below 8 tokens.)
enum class MatmulPath { ByBatchSize, BatchInvariant };
void matmul(ThreadPool& pool, const float* x, int n_tokens, const MatrixView& w, float* y,
            MatmulPath path = MatmulPath::ByBatchSize);

// Whether matmul on `type` weights and n_tokens tokens quantizes the activations to 8 bits
// (else it multiplies the decoded weights and float32 activations exactly).
bool matmul_quantizes_activations(WeightType type, int n_tokens);

// One output of a fused matmul: ys[i][t][r] = sum_k x[t][k] * ws[i][r][k].
struct MatmulOutput {
  MatrixView w;
  float* y = nullptr;
};

// Several matrices sharing the same input and cols (Q/K/V, gate/up) in one pool dispatch:
// the input is prepared once and the threads are woken once.
void matmul_multi(ThreadPool& pool, const float* x, int n_tokens, std::span<const MatmulOutput> outputs,
                  MatmulPath path = MatmulPath::ByBatchSize);

// y = x * rsqrt(mean(x^2) + eps) * weight, in float32.
void rms_norm(const float* x, const float* weight, float eps, int dim, float* y);

// Rotates each head of `vec` (n_heads x head_dim) in Hugging Face's rotate_half layout:
// dim i pairs with dim i + head_dim/2, using cos/sin of length head_dim/2.
void rope_rotate_half(float* vec, int n_heads, int head_dim, const float* cos, const float* sin);

// In-place numerically stable softmax.
void softmax(float* x, int n);

// sum_i exp(x[i] - shift), the normaliser of a log-softmax (shift = max x): exp in float32
// vectors, summed in double; relative error a few float epsilons.
double sum_exp_shifted(const float* x, int n, float shift);

// gate[i] = silu(gate[i]) * up[i]
void silu_mul(float* gate, const float* up, int n);

// p = softmax(x) over n values (p may be x), and what a cross-entropy needs besides: max x, the
// normaliser sum exp(x - max) and sum (x - max), both summed in double over float chunks.
struct SoftmaxStats {
  float max;
  double sum_exp;
  double sum_shifted;
};
SoftmaxStats softmax_with_stats(const float* x, float* p, int n);

// One AdamW step over n parameters p with gradients g and moments m, v (training):
//   m = b1 m + (1 - b1) g,  v = b2 v + (1 - b2) g g,
//   p -= lr ((m inv_bc1) / (sqrt(v) inv_sqrt_bc2 + eps) + weight_decay p),
// in float32 without fused multiply-adds (the same bits as the plain scalar loop).
struct AdamWScalars {
  float beta1, beta2, inv_bc1, inv_sqrt_bc2, eps, lr, weight_decay;
};
void adamw_step(float* p, const float* g, float* m, float* v, size_t n, const AdamWScalars& c);

// One query row of an attention head's backward pass (training). With the row's softmax
// probabilities p and dropout multipliers mask (null: none) over its n_keys keys and its
// output gradient dout:
//   dV[j] += p_j m_j dout,  dP_j = (dout . V[j]) m_j,  dS_j = p_j (dP_j - sum_i p_i dP_i) scale,
//   dq = sum_j dS_j K[j] (overwritten),  dK[j] += dS_j q.
// Rows of k, v, dk and dv are `stride` floats apart; dp is scratch of n_keys floats.
struct AttentionRowGrads {
  const float* dout;
  const float* q;
  const float* p;
  const float* mask;
  const float* k;
  const float* v;
  float* dq;
  float* dk;
  float* dv;
  float* dp;
};
void attention_backward_row(const AttentionRowGrads& a, int n_keys, int head_dim, int64_t stride, float scale);

// y = (x - mean(x)) / sqrt(var(x) + eps) * weight + bias (bias may be null), the biased
// variance as torch.nn.LayerNorm computes it.
void layer_norm(const float* x, const float* weight, const float* bias, float eps, int dim, float* y);

// The activations of plain (non-gated) FFNs, as transformers' ACT2FN names them: "gelu" (the
// erf form), "gelu_new" (tanh approximation), "relu", "silu"/"swish".
enum class Activation { GELU, GELUTanh, ReLU, SiLU };
void activate(Activation act, float* x, size_t n);
// Training's forward out = f(in) and backward din += dout * f'(in), vectorised (SiLU, ReLU and
// the tanh GELU to 1-2 ulp of the scalar forms; the erf GELU is scalar std::erf).
void activation_forward_f32(Activation act, float* out, const float* in, size_t n);
void activation_backward_f32(Activation act, float* din, const float* dout, const float* in, size_t n);
const char* activation_name(Activation act);

// y[t][i] += bias[i] for t < n_rows.
void add_bias_rows(float* y, const float* bias, int n_rows, int dim);

// Cached keys or values in their stored type (F32, F16, BF16 or Q8_0): element e of position
// j is element j * stride + e of one array of `type`. For Q8_0, stride is a multiple of 32, so
// every position is whole blocks.
struct KvView {
  WeightType type = WeightType::F32;
  const void* data = nullptr;
  size_t stride = 0;
};

// Where one query row's keys are: positions 0 .. n_keys-1 of `keys` and `values`.
struct KeyRange {
  KvView keys, values;
  int n_keys = 0;
};

// Widens elements first .. first + n - 1 of position `pos` to float32.
void widen_kv(const KvView& kv, size_t pos, size_t first, int n, float* out);

// One attention head over cached keys/values: out = softmax(scale * q . K^T) . V, where key j
// is keys[j * stride .. + head_dim) (likewise values) for j < n_keys. `scores` is caller
// scratch of n_keys floats. Computed in float32.
void attention_head(const float* q, const float* keys, const float* values, size_t stride, int n_keys,
                    int head_dim, float scale, float* scores, float* out);

// The same over a cache of any KvView type: key j is elements offset .. offset + head_dim - 1
// of position j. Keys and values are widened in registers; the math stays float32, and an F32
// cache gives exactly what the overload above gives.
void attention_head(const float* q, const KvView& keys, const KvView& values, size_t offset, int n_keys,
                    int head_dim, float scale, float* scores, float* out);

// Causal multi-head attention with grouped KV heads (GQA) for n_tokens queries at positions
// start_pos .. start_pos + n_tokens - 1 over a KV cache that already holds positions
// 0 .. start_pos + n_tokens - 1:
//   out[t][h] = softmax_j<=start_pos+t(scale * q[t][h] . k[j][h / group]) . v[j][h / group]
// q and out are n_tokens rows of n_heads * head_dim floats; key/value j of kv head g is
// elements j * kv_stride + g * head_dim .. + head_dim - 1 of keys/values, stored as kv_type
// (F32, F16, BF16 or Q8_0, see KvView; the math is float32 either way). Splits (head, token
// tile) over the pool; many tokens go through the same register-tiled kernel as prefill
// matmuls.
struct AttentionArgs {
  const float* q = nullptr;
  const void* keys = nullptr;
  const void* values = nullptr;
  WeightType kv_type = WeightType::F32;
  size_t kv_stride = 0;  // in elements
  float* out = nullptr;
  int n_tokens = 0;
  int start_pos = 0;
  int n_heads = 0;
  int n_kv_heads = 0;
  int head_dim = 0;
  float scale = 1.0f;
  // Used by shared_keys_attention only: every query sees keys 0 .. n_keys - 1.
  int n_keys = 0;
  // Every (token, head) through the one-token kernel, never the tiled one: each token's output
  // is then bit for bit what a call with that token alone gives (speculative verification).
  bool per_token = false;
};
void causal_attention(ThreadPool& pool, const AttentionArgs& args);

// The same kernels for n_tokens queries that all see the same keys 0 .. args.n_keys - 1, with
// no mask (start_pos unused): bidirectional self-attention over a source, cross-attention of
// a source's decoder rows (beams) over its encoder output.
void shared_keys_attention(ThreadPool& pool, const AttentionArgs& args);

}  // namespace smol
