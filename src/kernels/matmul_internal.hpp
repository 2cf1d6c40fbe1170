#pragma once
// The per-type inner kernels behind matmul(); matmul.cpp splits the work and calls these.
// Not part of the public API.
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "smol/kernels.hpp"

namespace smol::detail {

// Activations quantized for the integer dot products: per token, `cols` int8 values in
// blocks of 32 sharing a float scale d (x ~ d * q), plus the sums d * sum(q) per 32 and per
// 16 (the K-quants' min and offset terms use them).
// For the VNNI kernel also, per group of 4 values, -128 times their sum of q and the block's
// scale d (each block's d repeated over its 8 groups).
struct QuantizedActs {
  int8_t* q = nullptr;         // n_tokens x cols, 32-byte aligned rows
  float* d = nullptr;          // n_tokens x cols/32
  float* sum32 = nullptr;      // n_tokens x cols/32
  float* sum16 = nullptr;      // n_tokens x cols/16
  int32_t* corr128 = nullptr;  // n_tokens x cols/4
  float* d8 = nullptr;         // n_tokens x cols/4
  int64_t cols = 0;
};

// How a decode kernel walks a matrix: `rows` rows at a time (8 or 4, so that a group spans
// about 10 KB and each activation load serves several rows), each row's stream prefetched
// `ahead` bytes on. `ahead` is a whole number of groups and at least 8 KB: the next groups'
// rows at the same column, so the prefetches run one steady distance ahead of the reads.
// Measured on 576- and 1536-column F16 and Q8_0 matrices streamed from memory, one and two
// threads: 1.3-1.5x the bandwidth of 4-row groups prefetched 4 KB on.
struct RowGrouping {
  int rows;
  int64_t ahead;
};
inline RowGrouping row_grouping(int64_t row_bytes) {
  const int rows = 8 * row_bytes <= 10240 ? 8 : 4;
  const int64_t group = rows * row_bytes;
  return {rows, (8192 + group - 1) / group * group};
}

// Calls fn(std::integral_constant<int, R>(), r0) for rows [r0, r0 + R) covering [0, n_rows):
// groups of `group_rows` (8 or 4) first, then of 4, then single rows.
template <class Fn>
inline void for_row_groups(int64_t n_rows, int group_rows, Fn&& fn) {
  int64_t r = 0;
  if (group_rows == 8) {
    for (; r + 8 <= n_rows; r += 8) fn(std::integral_constant<int, 8>(), r);
  }
  for (; r + 4 <= n_rows; r += 4) fn(std::integral_constant<int, 4>(), r);
  for (; r < n_rows; ++r) fn(std::integral_constant<int, 1>(), r);
}

// The same with groups of kGroup rows, then single rows (the multi-token kernels' tiles).
template <int kGroup, class Fn>
inline void for_fixed_row_groups(int64_t n_rows, Fn&& fn) {
  int64_t r = 0;
  for (; r + kGroup <= n_rows; r += kGroup) fn(std::integral_constant<int, kGroup>(), r);
  for (; r < n_rows; ++r) fn(std::integral_constant<int, 1>(), r);
}

// Calls fn(std::integral_constant<int, T>(), t0) for tokens [t0, t0 + T) covering
// [0, n_tokens): tiles of kTile tokens, then one tile of the rest. The multi-token kernels
// keep a tile's accumulators in registers, so T must be a compile-time constant.
template <int N, class Fn>
inline void call_with_tile(int n, int t0, Fn& fn) {
  if constexpr (N > 0) {
    if (n == N) {
      fn(std::integral_constant<int, N>(), t0);
    } else {
      call_with_tile<N - 1>(n, t0, fn);
    }
  }
}
template <int kTile, class Fn>
inline void for_token_tiles(int n_tokens, Fn&& fn) {
  int t = 0;
  for (; t + kTile <= n_tokens; t += kTile) fn(std::integral_constant<int, kTile>(), t);
  if (t < n_tokens) call_with_tile<kTile - 1>(n_tokens - t, t, fn);
}

// Bytes of scratch QuantizedActs needs for n_tokens, and carving it out of `scratch`
// (64-byte aligned).
size_t quantized_acts_bytes(int n_tokens, int64_t cols);
QuantizedActs carve_quantized_acts(void* scratch, int n_tokens, int64_t cols);

// Quantizes token t's row of x (cols floats) into acts.
void quantize_activation_row(const float* x, const QuantizedActs& acts, int t);

// y[t * y_stride + r] = row r of the quantized matrix `w` (rows back to back, row_bytes apart)
// dotted with token t of acts, for r < n_rows and t < n_tokens.
// Batch-invariant: each (row, token) sum runs the instructions a one-token call runs for it,
// in the same order, whatever n_tokens, n_rows or the row's place in w; with several tokens a
// weight block is loaded and decoded once for a tile of tokens (the multi-token kernels), not
// once per token. MatmulPath::BatchInvariant relies on it (speculative decoding's checking pass).
void quant_dot_rows(WeightType type, const uint8_t* w, int64_t row_bytes, int64_t n_rows,
                    const QuantizedActs& acts, int n_tokens, float* y, int64_t y_stride);

// Whether this machine runs the AVX-512 VNNI kernel, and that kernel: quant_dot_rows for
// Q8_0 and Q4_0 weights.
bool cpu_has_avx512_vnni();
void legacy_dot_rows_vnni(WeightType type, const uint8_t* w, int64_t row_bytes, int64_t n_rows,
                          const QuantizedActs& acts, int n_tokens, float* y, int64_t y_stride);

// Q8_0 weights against quantized activations for 8 tokens and more, on AVX-512 VNNI
// machines (gemm_q8_vnni.cpp). The activations (only q and d of acts are read) are packed in
// tiles of 16 tokens, q8_gemm_packed_bytes(n_tokens, cols) in all (64-byte aligned);
// q8_gemm_rows writes y[t * y_stride + r] for n_rows rows of w (row_bytes apart) and all
// n_tokens tokens, with the calling thread's scratch of q8_gemm_row_scratch_bytes(cols).
int64_t q8_gemm_packed_bytes(int n_tokens, int64_t cols);
int64_t q8_gemm_row_scratch_bytes(int64_t cols);
void q8_gemm_pack_tile(const QuantizedActs& acts, int n_tokens, int tile, uint8_t* packed);
void q8_gemm_rows(const uint8_t* w, int64_t row_bytes, int64_t n_rows, const uint8_t* packed, int n_tokens,
                  int64_t cols, float* y, int64_t y_stride, void* scratch);

// The same for float weights (F32/BF16/F16) against float activations x (n_tokens x cols),
// batch-invariant in the same way.
void float_dot_rows(WeightType type, const void* w, int64_t cols, int64_t n_rows, const float* x, int n_tokens,
                    float* y, int64_t y_stride);

// Cache-blocked float GEMM for prefill. Weights are decoded into k-major panels of
// gemm_panel_rows() rows; tokens are packed k-major in tiles of gemm_tile_tokens().
struct GemmShape {
  int panel_rows;   // rows per weight panel (NR)
  int tile_tokens;  // tokens per packed token tile (MR)
};
GemmShape gemm_shape();

// Packs tokens [tile * MR, tile * MR + MR) of x (n_tokens rows of cols floats, x_stride
// apart), times scale, into xp (cols x MR floats, zero for tokens past n_tokens).
void gemm_pack_tokens(const float* x, int64_t x_stride, int n_tokens, int64_t cols, int tile, float scale,
                      float* xp);

// Row `row` of w decoded to cols floats (the values every float path multiplies by).
void gemm_decode_row(const MatrixView& w, int64_t row, float* out);

// Decodes rows [row0, row0 + NR) of w (rows past w.rows are zero) into panel (cols x NR
// floats, k-major); rows_tmp is scratch of NR x cols floats.
void gemm_pack_panel(const MatrixView& w, int64_t row0, float* panel, float* rows_tmp);

// y[t * y_stride + r] = sum_k panel[k][r] * tokens[t][k] for r < n_rows (<= NR) and the
// n_tokens tokens of the packed tiles xp (tile i at xp + i * MR * cols).
void gemm_panel(const float* panel, const float* xp, int n_tokens, int64_t cols, int n_rows, float* y,
                int64_t y_stride);

// GEMM on row blocks of the weights (gemm_rows.cpp): tokens packed k-major in tiles of
// rows_gemm_tile_tokens(n_tokens) (zero past n_tokens); rows_gemm writes y[t * y_stride + r]
// for rows [row0, row0 + n_rows) of w and all n_tokens tokens, bit-identical to gemm_panel on
// the same weights; block_tmp is the calling thread's scratch of rows_gemm_block_floats(cols)
// floats, 64-byte aligned.
int rows_gemm_tile_tokens(int n_tokens);
int64_t rows_gemm_block_floats(int64_t cols);
void rows_gemm_pack_tokens(const float* x, int n_tokens, int64_t cols, int tile, float* xp);
void rows_gemm(const MatrixView& w, int64_t row0, int64_t n_rows, const float* xp, int n_tokens, float* y,
               int64_t y_stride, float* block_tmp);

// Several queries of one attention head over one cache range in a single pass over the keys
// (attention.cpp): query i at q + i * q_stride sees keys 0 .. n_keys[i] - 1 (nondecreasing
// in i); scores is scratch of n_queries rows of scores_stride >= n_keys[n_queries - 1] floats.
// Every query's output is bit for bit attention_head's for it alone, at any n_queries.
struct HeadQueries {
  const float* q;
  size_t q_stride;
  int n_queries;
  const int* n_keys;
  int head_dim;
  float scale;
  float* scores;
  size_t scores_stride;
  float* out;
  size_t out_stride;
};
void attention_head_queries(const HeadQueries& h, const KvView& keys, const KvView& values, size_t offset);

}  // namespace smol::detail
