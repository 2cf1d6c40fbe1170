#pragma once
// The building blocks every architecture's forward pass is composed of: row loops split over
// the pool, projections with optional bias, norms, positions (rotary, sinusoidal, learned)
// and multi-head attention of query rows over per-row key ranges (causal self-attention over
// a KV cache, bidirectional self-attention over a source, cross-attention over an encoded
// source are all this one block with different ranges). The arithmetic is in kernels/.
#include <cstdint>
#include <span>
#include <vector>

#include "smol/kernels.hpp"
#include "smol/seq2seq.hpp"
#include "smol/thread_pool.hpp"

namespace smol::blocks {

// From this many rows on, per-row work (norms, positions) is split over the pool: for a
// decode step one row costs far less than waking the threads.
constexpr int kParallelRows = 16;

template <class Fn>
void for_rows(ThreadPool& pool, int n, Fn&& fn) {
  if (n < kParallelRows) {
    fn(0, n);
  } else {
    pool.parallel_for(n, [&](size_t begin, size_t end) { fn(static_cast<int>(begin), static_cast<int>(end)); });
  }
}

inline void add_in_place(float* acc, const float* x, size_t n) {
  for (size_t i = 0; i < n; ++i) acc[i] += x[i];
}

// One output of a fused projection: y = x W^T (+ bias).
struct Projection {
  const Linear* linear;
  float* y;
};
// Projections sharing their input in one dispatch (Q/K/V), biases added after.
void project(ThreadPool& pool, const float* x, int n, std::span<const Projection> outputs);
void project(ThreadPool& pool, const float* x, int n, const Linear& linear, float* y);

// LayerNorm (weight and bias) of every row.
void layer_norm_rows(ThreadPool& pool, const Norm& norm, float eps, const float* x, int n, int dim, float* y);

// cos/sin of pos * theta^(-2i/head_dim) for i < head_dim/2, in double before rounding.
void rope_row(float theta, int head_dim, int pos, float* cos_out, float* sin_out);
// Marian's sinusoidal table row: sin(pos / 10000^(2i/dim)) in the first half of the dims,
// cos of the same angles in the second half.
void sinusoidal_row(int pos, int dim, float* out);

// out[t][h] = softmax(scale * q[t][h] . K_t^T) V_t over the row's own key range, with kv head
// h / (n_heads / n_kv_heads). Runs of 4 or more consecutive rows over the same keys go
// through shared_keys_attention (tiled matrix products); every other (row, head) pair is one
// work item on the pool. `scores` holds scores_per_thread floats per pool thread (at least
// the longest range).
void attend(ThreadPool& pool, const float* q, std::span<const KeyRange> ranges, int n_heads, int n_kv_heads,
            int head_dim, float scale, float* scores, size_t scores_per_thread, float* out);

}  // namespace smol::blocks
