// Causal GQA attention over a whole layer, and attention of many queries over one shared set
// of keys (no mask). Few tokens: one attention_head per (token, head).
// Many tokens (prefill): attention is two small matrix products per (head, tile of
// queries), S = Q K^T and O = softmax(S) V, so both go through the prefill GEMM tile:
//   1. each kv head's keys are packed once, transposed into k-major panels of NR keys
//      (head_dim x NR), and its values into panels of NR dims (keys x NR) -- shared by
//      every query tile and every query head of the group; an F16/BF16/Q8_0 cache is
//      widened to float32 here, once per key;
//   2. per (head, tile of MR queries): S over the keys the tile's last query may see, a
//      masked softmax per row, then O = P V, all in per-thread scratch.
#include <algorithm>
#include <atomic>
#include <cstring>

#include <fmt/format.h>

#include "kernels/matmul_internal.hpp"
#include "smol/error.hpp"
#include "smol/kernels.hpp"
#include "smol/quant.hpp"
#include "smol/thread_pool.hpp"

namespace smol {

namespace {

// From this many tokens on, packing the cache pays for itself: the per-head path then
// repeats each key's loads for every query (3 query heads per kv head, times the tokens).
constexpr int kTiledMinTokens = 4;

size_t round64(size_t bytes) { return (bytes + 63) / 64 * 64; }

// The keys query t of the call may see: a causal prefix, or every shared key.
struct Visibility {
  bool causal;
  int start_pos, shared_keys;
  int keys_for(int t) const { return causal ? start_pos + t + 1 : shared_keys; }
  int max_keys(int n_tokens) const { return causal ? start_pos + n_tokens : shared_keys; }
};

void validate(const AttentionArgs& a) {
  if (a.n_tokens < 0 || a.start_pos < 0 || a.n_keys < 0 || a.head_dim <= 0 || a.n_kv_heads <= 0 || a.n_heads % a.n_kv_heads != 0) {
    throw Error(fmt::format("causal_attention: bad shape ({} tokens at {}, {} heads, {} kv heads, head_dim {})",
                            a.n_tokens, a.start_pos, a.n_heads, a.n_kv_heads, a.head_dim));
  }
  if (a.kv_stride < static_cast<size_t>(a.n_kv_heads) * a.head_dim) {
    throw Error("causal_attention: kv_stride is smaller than n_kv_heads * head_dim");
  }
  const WeightType t = a.kv_type;
  if (t != WeightType::F32 && t != WeightType::F16 && t != WeightType::BF16 && t != WeightType::Q8_0) {
    throw Error(fmt::format("causal_attention: a KV cache cannot be {} (use F32, F16, BF16 or Q8_0)",
                            weight_type_name(t)));
  }
  if (t == WeightType::Q8_0 && a.kv_stride % 32 != 0) {
    throw Error(fmt::format("causal_attention: a Q8_0 KV cache needs kv_stride to be a multiple of 32, got {}",
                            a.kv_stride));
  }
}

KvView keys_view(const AttentionArgs& a) { return {a.kv_type, a.keys, a.kv_stride}; }
KvView values_view(const AttentionArgs& a) { return {a.kv_type, a.values, a.kv_stride}; }

// Per head, the batch's tokens in groups of kQueryGroup through one pass over the head's keys
// (attention_head_queries): each query's bits are attention_head's for it alone.
constexpr int kQueryGroup = 16;

void attention_per_head(ThreadPool& pool, const AttentionArgs& a, const Visibility& vis) {
  const int n_keys_max = vis.max_keys(a.n_tokens);
  const size_t row = static_cast<size_t>(a.n_heads) * a.head_dim;
  const size_t scores_stride = round64(n_keys_max * sizeof(float)) / sizeof(float);
  const size_t scores_bytes = kQueryGroup * scores_stride * sizeof(float);
  auto* scratch = static_cast<uint8_t*>(pool.scratch(scores_bytes * pool.size()));
  const int group = a.n_heads / a.n_kv_heads;
  const int token_groups = (a.n_tokens + kQueryGroup - 1) / kQueryGroup;
  const int items = token_groups * a.n_heads;
  const KvView keys = keys_view(a), values = values_view(a);
  pool.run([&](int thread, int n_threads) {
    auto* scores = reinterpret_cast<float*>(scratch + thread * scores_bytes);
    for (int item = thread; item < items; item += n_threads) {
      const int t0 = item / a.n_heads * kQueryGroup, h = item % a.n_heads;
      const int n = std::min(kQueryGroup, a.n_tokens - t0);
      int n_keys[kQueryGroup];
      for (int i = 0; i < n; ++i) n_keys[i] = vis.keys_for(t0 + i);
      const detail::HeadQueries queries{a.q + t0 * row + h * a.head_dim, row, n, n_keys, a.head_dim, a.scale,
                                        scores, scores_stride, a.out + t0 * row + h * a.head_dim, row};
      detail::attention_head_queries(queries, keys, values, static_cast<size_t>(h / group) * a.head_dim);
    }
  });
}

void attention_tiled(ThreadPool& pool, const AttentionArgs& a, const Visibility& vis,
                     const detail::GemmShape& shape) {
  const int nr = shape.panel_rows, mr = shape.tile_tokens;
  const int hd = a.head_dim;
  const int n_keys_max = vis.max_keys(a.n_tokens);
  const int key_panels = (n_keys_max + nr - 1) / nr;
  const int keys_padded = key_panels * nr;
  const int dim_panels = hd / nr;
  const int group = a.n_heads / a.n_kv_heads;
  const size_t row = static_cast<size_t>(a.n_heads) * hd;

  // Shared: K panels [g][p][d][NR], V panels [g][q][j][NR]. Per thread: the query tile
  // [d][MR], scores S [MR][keys] and their packed transpose P [keys][MR], and one widened key
  // row for packing a cache that is not float32.
  const size_t k_panel = static_cast<size_t>(hd) * nr;
  const size_t k_bytes = round64(static_cast<size_t>(a.n_kv_heads) * key_panels * k_panel * sizeof(float));
  const size_t v_panel = static_cast<size_t>(keys_padded) * nr;
  const size_t v_bytes = round64(static_cast<size_t>(a.n_kv_heads) * dim_panels * v_panel * sizeof(float));
  const size_t q_bytes = round64(static_cast<size_t>(hd) * mr * sizeof(float));
  const size_t s_bytes = round64(static_cast<size_t>(mr) * keys_padded * sizeof(float));
  const size_t row_bytes = round64(static_cast<size_t>(hd) * sizeof(float));
  const size_t thread_bytes = q_bytes + 2 * s_bytes + row_bytes;
  auto* scratch = static_cast<uint8_t*>(pool.scratch(k_bytes + v_bytes + pool.size() * thread_bytes));
  auto* kp = reinterpret_cast<float*>(scratch);
  auto* vp = reinterpret_cast<float*>(scratch + k_bytes);

  const bool f32 = a.kv_type == WeightType::F32;
  const KvView keys = keys_view(a), values = values_view(a);
  pool.run([&](int thread, int n_threads) {
    auto* widened = reinterpret_cast<float*>(scratch + k_bytes + v_bytes + thread * thread_bytes + q_bytes +
                                             2 * s_bytes);
    for (int item = thread; item < a.n_kv_heads * key_panels; item += n_threads) {
      const int g = item / key_panels, p = item % key_panels;
      float* kpanel = kp + (static_cast<size_t>(g) * key_panels + p) * k_panel;
      for (int j = 0; j < nr; ++j) {
        const int key = p * nr + j;
        const bool real = key < n_keys_max;
        const size_t offset = real ? key * a.kv_stride + g * hd : 0;
        const float* key_row = nullptr;
        if (real && f32) {
          key_row = static_cast<const float*>(a.keys) + offset;
        } else if (real) {
          widen_kv(keys, key, static_cast<size_t>(g) * hd, hd, widened);
          key_row = widened;
        }
        for (int d = 0; d < hd; ++d) kpanel[d * nr + j] = real ? key_row[d] : 0.0f;
        for (int q = 0; q < dim_panels; ++q) {
          float* vrow = vp + (static_cast<size_t>(g) * dim_panels + q) * v_panel + static_cast<size_t>(key) * nr;
          if (real) {
            widen_kv(values, key, static_cast<size_t>(g) * hd + q * nr, nr, vrow);
          } else {
            std::memset(vrow, 0, nr * sizeof(float));
          }
        }
      }
    }
  });

  const int tiles = (a.n_tokens + mr - 1) / mr;
  std::atomic<int> next{0};
  pool.run([&](int thread, int) {
    uint8_t* mine = scratch + k_bytes + v_bytes + thread * thread_bytes;
    auto* qtile = reinterpret_cast<float*>(mine);
    auto* s = reinterpret_cast<float*>(mine + q_bytes);
    auto* pt = reinterpret_cast<float*>(mine + q_bytes + s_bytes);
    // Heads of one tile run back to back so the tile's keys stay in cache; later tiles
    // (more keys) are handed out first for a better balance at the end.
    for (int item = next.fetch_add(1); item < tiles * a.n_heads; item = next.fetch_add(1)) {
      const int tile = tiles - 1 - item / a.n_heads, h = item % a.n_heads, g = h / group;
      const int t0 = tile * mr, m = std::min(mr, a.n_tokens - t0);
      const int n_keys = vis.keys_for(t0 + m - 1);
      detail::gemm_pack_tokens(a.q + t0 * row + h * hd, static_cast<int64_t>(row), m, hd, 0, a.scale, qtile);
      for (int p = 0; p * nr < n_keys; ++p) {
        const float* kpanel = kp + (static_cast<size_t>(g) * key_panels + p) * k_panel;
        detail::gemm_panel(kpanel, qtile, m, hd, std::min(nr, n_keys - p * nr), s + p * nr, n_keys);
      }
      for (int i = 0; i < m; ++i) {
        const int visible = vis.keys_for(t0 + i);
        softmax(s + i * n_keys, visible);
        std::fill(s + i * n_keys + visible, s + (i + 1) * n_keys, 0.0f);
      }
      detail::gemm_pack_tokens(s, n_keys, m, n_keys, 0, 1.0f, pt);
      for (int q = 0; q < dim_panels; ++q) {
        const float* vpanel = vp + (static_cast<size_t>(g) * dim_panels + q) * v_panel;
        detail::gemm_panel(vpanel, pt, m, n_keys, nr, a.out + t0 * row + h * hd + q * nr, static_cast<int64_t>(row));
      }
    }
  });
}

void run_attention(ThreadPool& pool, const AttentionArgs& a, const Visibility& vis) {
  validate(a);
  if (a.n_tokens == 0 || a.n_heads == 0) return;
  const detail::GemmShape shape = detail::gemm_shape();
  if (!a.per_token && a.n_tokens >= kTiledMinTokens && a.head_dim % shape.panel_rows == 0) {
    attention_tiled(pool, a, vis, shape);
  } else {
    attention_per_head(pool, a, vis);
  }
}

}  // namespace

void causal_attention(ThreadPool& pool, const AttentionArgs& a) {
  run_attention(pool, a, Visibility{true, a.start_pos, 0});
}

void shared_keys_attention(ThreadPool& pool, const AttentionArgs& a) {
  if (a.n_keys <= 0) throw Error("shared_keys_attention: n_keys must be positive");
  run_attention(pool, a, Visibility{false, 0, a.n_keys});
}

}  // namespace smol
