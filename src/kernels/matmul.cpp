// matmul: validates shapes, picks the path by batch size and splits the work over the pool.
//   few tokens (decode, and every batch on MatmulPath::BatchInvariant): rows in chunks handed
//     out dynamically, each chunk a run of dot-product kernels (integer ones against
//     once-quantized activations for quantized weights) that take several tokens per weight
//     load but give each token the bits a one-token call gives it; a late or descheduled
//     thread then costs one chunk, not half the matrix.
//   many tokens (prefill): tokens packed once, then weight panels handed out dynamically,
//     each decoded to float32 and multiplied by every token tile while it sits in cache.
//   12 tokens and more (batched and beam decoder steps, prefill): blocks of weight rows
//     decoded (copied, for float32) as they lie and multiplied by every token tile, in chunks
//     of 256 tokens; bit-identical to the panel GEMM, which transposes the rows first and
//     remains for 8-11 tokens (its 12-token tiles waste less there than 16-lane ones).
//   Q8_0 weights from 8 tokens on, on AVX-512 VNNI machines: the activations quantized as
//     for the dot products and multiplied in int8, blocks of weight rows against 16-token
//     tiles (gemm_q8_vnni.cpp), 2.5-3x the float GEMMs.
#include <algorithm>
#include <atomic>
#include <cstring>

#include <fmt/format.h>

#include "kernels/matmul_internal.hpp"
#include "smol/error.hpp"
#include "smol/quant.hpp"
#include "smol/thread_pool.hpp"

namespace smol {

namespace {

using detail::GemmShape;
using detail::QuantizedActs;

// From this many tokens on, decoding weight panels to float32 pays for itself (measured on
// 1536 x 576 Q8_0/F16, one thread: the two paths cross near 8 tokens; at 16 the GEMM is
// 1.5x faster, at 512 it runs at ~180 GFLOP/s against ~75 for the dot products).
constexpr int kGemmMinTokens = 8;
// From here on the row-block GEMM (gemm_rows.cpp) beats the panel GEMM (kernels_bench --batch,
// one thread, 2048 x 512: Q8_0 16 tokens 1.7x, 64 tokens 1.35x, 512 tokens 1.2x; F32 and
// BF16 alike); below it a tile of 16 lanes is mostly padding, and float32 weights do better
// with the dot products.
constexpr int kRowsGemmMinTokens = 12;
// Longer batches go through it in chunks of this many tokens, whose packed copy (1 MB at
// 1024 columns) stays in L2 while every block of weight rows passes over it.
constexpr int kRowsGemmChunkTokens = 256;
// Rows per work unit of the row-major GEMM: whole register blocks on every target.
constexpr int64_t kRowsGemmChunk = 96;
// Q8_0 weights on AVX-512 VNNI machines take the integer GEMM from here on (kernels_bench
// --batch, one thread, 2048 x 512: 139 us at 12 tokens and at 16, against 437 us for the panel
// GEMM at 8 and 168 us for the dot products at 4).
constexpr int kQ8VnniMinTokens = 8;
// Outputs fused in one dispatch; more are processed in groups.
constexpr size_t kMaxOutputs = 8;

size_t round64(size_t bytes) { return (bytes + 63) / 64 * 64; }

void check_outputs(std::span<const MatmulOutput> outputs) {
  const int64_t cols = outputs[0].w.cols;
  for (const MatmulOutput& o : outputs) {
    if (o.w.cols != cols) {
      throw Error(fmt::format("matmul_multi: matrices share an input but have {} and {} columns", cols, o.w.cols));
    }
    if (o.w.rows < 0 || (o.w.rows > 0 && (!o.w.data || !o.y))) throw Error("matmul: null matrix or output");
    if (cols % block_elements(o.w.type) != 0) {
      throw Error(fmt::format("matmul: {} weights need a multiple of {} columns, got {}", weight_type_name(o.w.type),
                              block_elements(o.w.type), cols));
    }
  }
}

// Work units numbered across the outputs: unit u is piece u - first[i] of output i.
struct Units {
  int64_t first[kMaxOutputs + 1] = {};
  size_t n_outputs = 0;
  int64_t total() const { return first[n_outputs]; }
  size_t output_of(int64_t u) const {
    size_t i = 0;
    while (u >= first[i + 1]) ++i;
    return i;
  }
};

Units split_rows(std::span<const MatmulOutput> outputs, int64_t rows_per_unit) {
  Units units;
  units.n_outputs = outputs.size();
  for (size_t i = 0; i < outputs.size(); ++i) {
    units.first[i + 1] = units.first[i] + (outputs[i].w.rows + rows_per_unit - 1) / rows_per_unit;
  }
  return units;
}

// Hands out the outputs' rows in chunks of `chunk` (a matrix's last one shorter) to the pool,
// dynamically: fn(thread, output index, first row, rows).
template <class Fn>
void for_each_row_chunk(ThreadPool& pool, std::span<const MatmulOutput> outputs, int64_t chunk, Fn&& fn) {
  const Units units = split_rows(outputs, chunk);
  std::atomic<int64_t> next{0};
  pool.run([&](int thread, int) {
    for (int64_t u = next.fetch_add(1, std::memory_order_relaxed); u < units.total();
         u = next.fetch_add(1, std::memory_order_relaxed)) {
      const size_t i = units.output_of(u);
      const int64_t row0 = (u - units.first[i]) * chunk;
      fn(thread, i, row0, std::min(chunk, outputs[i].w.rows - row0));
    }
  });
}

void matmul_dots(ThreadPool& pool, const float* x, int n_tokens, std::span<const MatmulOutput> outputs) {
  const int64_t cols = outputs[0].w.cols;
  bool any_quantized = false;
  int64_t total_rows = 0;
  for (const MatmulOutput& o : outputs) {
    any_quantized |= is_quantized(o.w.type);
    total_rows += o.w.rows;
  }
  QuantizedActs acts;
  if (any_quantized) {
    acts = detail::carve_quantized_acts(pool.scratch(detail::quantized_acts_bytes(n_tokens, cols)), n_tokens, cols);
    for (int t = 0; t < n_tokens; ++t) detail::quantize_activation_row(x, acts, t);
  }
  // About four chunks per thread, in multiples of the kernels' 8-row groups.
  const int64_t chunk = pool.size() == 1 ? std::max<int64_t>(total_rows, 8)
                                         : std::max<int64_t>(16, (total_rows / (4 * pool.size()) + 7) / 8 * 8);
  for_each_row_chunk(pool, outputs, chunk, [&](int, size_t i, int64_t row0, int64_t n_rows) {
    const MatrixView& w = outputs[i].w;
    float* y = outputs[i].y + row0;
    if (is_quantized(w.type)) {
      const int64_t rb = row_bytes(w.type, cols);
      detail::quant_dot_rows(w.type, static_cast<const uint8_t*>(w.data) + row0 * rb, rb, n_rows, acts, n_tokens, y,
                             w.rows);
    } else {
      const int64_t elem = block_bytes(w.type);
      detail::float_dot_rows(w.type, static_cast<const uint8_t*>(w.data) + row0 * cols * elem, cols, n_rows, x,
                             n_tokens, y, w.rows);
    }
  });
}

void matmul_gemm(ThreadPool& pool, const float* x, int n_tokens, std::span<const MatmulOutput> outputs) {
  const int64_t cols = outputs[0].w.cols;
  const GemmShape shape = detail::gemm_shape();
  const int n_tiles = (n_tokens + shape.tile_tokens - 1) / shape.tile_tokens;
  const size_t tile_bytes = static_cast<size_t>(shape.tile_tokens) * cols * sizeof(float);
  const size_t xp_bytes = round64(n_tiles * tile_bytes);
  const size_t panel_bytes = round64(static_cast<size_t>(shape.panel_rows) * cols * sizeof(float));
  auto* scratch = static_cast<uint8_t*>(pool.scratch(xp_bytes + pool.size() * 2 * panel_bytes));
  auto* xp = reinterpret_cast<float*>(scratch);

  pool.run([&](int thread, int n_threads) {
    for (int tile = thread; tile < n_tiles; tile += n_threads) {
      detail::gemm_pack_tokens(x, cols, n_tokens, cols, tile, 1.0f, xp + tile * tile_bytes / sizeof(float));
    }
  });

  for_each_row_chunk(pool, outputs, shape.panel_rows, [&](int thread, size_t i, int64_t row0, int64_t n_rows) {
    uint8_t* mine = scratch + xp_bytes + thread * 2 * panel_bytes;
    auto* panel = reinterpret_cast<float*>(mine);
    auto* rows_tmp = reinterpret_cast<float*>(mine + panel_bytes);
    detail::gemm_pack_panel(outputs[i].w, row0, panel, rows_tmp);
    detail::gemm_panel(panel, xp, n_tokens, cols, static_cast<int>(n_rows), outputs[i].y + row0, outputs[i].w.rows);
  });
}

void matmul_gemm_rows(ThreadPool& pool, const float* x, int n_tokens, std::span<const MatmulOutput> outputs) {
  const int64_t cols = outputs[0].w.cols;
  const int width = detail::rows_gemm_tile_tokens(n_tokens);
  const int n_tiles = (n_tokens + width - 1) / width;
  const size_t xp_bytes = round64(static_cast<size_t>(n_tiles) * width * cols * sizeof(float));
  const size_t block_bytes = round64(detail::rows_gemm_block_floats(cols) * sizeof(float));
  auto* scratch = static_cast<uint8_t*>(pool.scratch(xp_bytes + pool.size() * block_bytes));
  auto* xp = reinterpret_cast<float*>(scratch);
  pool.run([&](int thread, int n_threads) {
    for (int tile = thread; tile < n_tiles; tile += n_threads) {
      detail::rows_gemm_pack_tokens(x, n_tokens, cols, tile, xp + static_cast<int64_t>(tile) * width * cols);
    }
  });
  for_each_row_chunk(pool, outputs, kRowsGemmChunk, [&](int thread, size_t i, int64_t row0, int64_t n_rows) {
    auto* block_tmp = reinterpret_cast<float*>(scratch + xp_bytes + thread * block_bytes);
    detail::rows_gemm(outputs[i].w, row0, n_rows, xp, n_tokens, outputs[i].y + row0, outputs[i].w.rows, block_tmp);
  });
}

// Q8_0 weights on AVX-512 VNNI machines: activations quantized once, as for the dot
// products, packed in 16-token tiles, then blocks of weight rows multiplied in int8
// (gemm_q8_vnni.cpp).
void matmul_q8_vnni(ThreadPool& pool, const float* x, int n_tokens, std::span<const MatmulOutput> outputs) {
  const int64_t cols = outputs[0].w.cols;
  const size_t q_bytes = round64(static_cast<size_t>(n_tokens) * cols);
  const size_t d_bytes = round64(static_cast<size_t>(n_tokens) * cols / 32 * sizeof(float));
  const size_t packed_bytes = round64(detail::q8_gemm_packed_bytes(n_tokens, cols));
  const size_t row_bytes_scratch = round64(detail::q8_gemm_row_scratch_bytes(cols));
  auto* scratch = static_cast<uint8_t*>(pool.scratch(q_bytes + d_bytes + packed_bytes + pool.size() * row_bytes_scratch));
  QuantizedActs acts;
  acts.cols = cols;
  acts.q = reinterpret_cast<int8_t*>(scratch);
  acts.d = reinterpret_cast<float*>(scratch + q_bytes);
  uint8_t* packed = scratch + q_bytes + d_bytes;
  const int n_tiles = static_cast<int>(detail::q8_gemm_packed_bytes(n_tokens, cols) /
                                       detail::q8_gemm_packed_bytes(1, cols));
  pool.run([&](int thread, int n_threads) {
    for (int tile = thread; tile < n_tiles; tile += n_threads) {
      for (int t = tile * 16; t < std::min(n_tokens, tile * 16 + 16); ++t) detail::quantize_activation_row(x, acts, t);
      detail::q8_gemm_pack_tile(acts, n_tokens, tile, packed);
    }
  });
  for_each_row_chunk(pool, outputs, kRowsGemmChunk, [&](int thread, size_t i, int64_t row0, int64_t n_rows) {
    const MatrixView& w = outputs[i].w;
    const int64_t rb = row_bytes(w.type, cols);
    detail::q8_gemm_rows(static_cast<const uint8_t*>(w.data) + row0 * rb, rb, n_rows, packed, n_tokens, cols,
                         outputs[i].y + row0, w.rows, scratch + q_bytes + d_bytes + packed_bytes + thread * row_bytes_scratch);
  });
}

bool all_q8_0(std::span<const MatmulOutput> outputs) {
  return std::all_of(outputs.begin(), outputs.end(),
                     [](const MatmulOutput& o) { return o.w.type == WeightType::Q8_0; });
}

// Float32 weights take the dot products up to kRowsGemmMinTokens (no decoding to amortise).
bool all_f32(std::span<const MatmulOutput> outputs) {
  return std::all_of(outputs.begin(), outputs.end(), [](const MatmulOutput& o) { return o.w.type == WeightType::F32; });
}

}  // namespace

bool matmul_quantizes_activations(WeightType type, int n_tokens) {
  if (!is_quantized(type)) return false;
  if (n_tokens < kGemmMinTokens) return true;
  return type == WeightType::Q8_0 && n_tokens >= kQ8VnniMinTokens && detail::cpu_has_avx512_vnni();
}

void widen_row(const MatrixView& m, int64_t row, float* out) {
  const int64_t bytes = row_bytes(m.type, m.cols);
  dequantize_row(m.type, static_cast<const uint8_t*>(m.data) + row * bytes, out, m.cols);
}

void matmul_multi(ThreadPool& pool, const float* x, int n_tokens, std::span<const MatmulOutput> outputs,
                  MatmulPath path) {
  if (outputs.empty() || n_tokens <= 0) return;
  if (outputs.size() > kMaxOutputs) {
    for (size_t i = 0; i < outputs.size(); i += kMaxOutputs) {
      matmul_multi(pool, x, n_tokens, outputs.subspan(i, std::min(kMaxOutputs, outputs.size() - i)), path);
    }
    return;
  }
  check_outputs(outputs);
  // The dot products give every (row, token) pair the same instructions at any batch size.
  if (path == MatmulPath::BatchInvariant) {
    matmul_dots(pool, x, n_tokens, outputs);
    return;
  }
  const bool vnni = detail::cpu_has_avx512_vnni() && n_tokens >= kQ8VnniMinTokens;
  const bool q8_vnni = vnni && all_q8_0(outputs);
  if (vnni && !q8_vnni && std::any_of(outputs.begin(), outputs.end(), [](const MatmulOutput& o) {
        return o.w.type == WeightType::Q8_0;
      })) {
    // Each output's path (and its bits) must not depend on what it is grouped with.
    MatmulOutput q8[kMaxOutputs], other[kMaxOutputs];
    size_t n_q8 = 0, n_other = 0;
    for (const MatmulOutput& o : outputs) (o.w.type == WeightType::Q8_0 ? q8[n_q8++] : other[n_other++]) = o;
    matmul_multi(pool, x, n_tokens, std::span<const MatmulOutput>(q8, n_q8));
    matmul_multi(pool, x, n_tokens, std::span<const MatmulOutput>(other, n_other));
    return;
  }
  const bool f32 = all_f32(outputs);
  if (n_tokens >= kRowsGemmMinTokens || q8_vnni) {
    for (int t0 = 0; t0 < n_tokens; t0 += kRowsGemmChunkTokens) {
      MatmulOutput chunk[kMaxOutputs];
      for (size_t i = 0; i < outputs.size(); ++i) chunk[i] = {outputs[i].w, outputs[i].y + t0 * outputs[i].w.rows};
      const std::span<const MatmulOutput> part(chunk, outputs.size());
      const int n = std::min(kRowsGemmChunkTokens, n_tokens - t0);
      if (q8_vnni) {
        matmul_q8_vnni(pool, x + t0 * outputs[0].w.cols, n, part);
      } else {
        matmul_gemm_rows(pool, x + t0 * outputs[0].w.cols, n, part);
      }
    }
  } else if (n_tokens >= kGemmMinTokens && !f32) {
    matmul_gemm(pool, x, n_tokens, outputs);
  } else {
    matmul_dots(pool, x, n_tokens, outputs);
  }
}

void matmul(ThreadPool& pool, const float* x, int n_tokens, const MatrixView& w, float* y, MatmulPath path) {
  const MatmulOutput out{w, y};
  matmul_multi(pool, x, n_tokens, std::span<const MatmulOutput>(&out, 1), path);
}

}  // namespace smol
