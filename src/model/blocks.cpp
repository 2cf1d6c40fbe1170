#include "model/blocks.hpp"

#include <algorithm>
#include <cmath>

namespace smol::blocks {

void project(ThreadPool& pool, const float* x, int n, std::span<const Projection> outputs) {
  MatmulOutput fused[4];
  size_t done = 0;
  // matmul_multi needs a common column count; Q/K/V always have it.
  while (done < outputs.size()) {
    const size_t count = std::min<size_t>(4, outputs.size() - done);
    for (size_t i = 0; i < count; ++i) fused[i] = {outputs[done + i].linear->w, outputs[done + i].y};
    matmul_multi(pool, x, n, std::span<const MatmulOutput>(fused, count));
    for (size_t i = 0; i < count; ++i) {
      const Linear& l = *outputs[done + i].linear;
      if (!l.bias.empty()) add_bias_rows(outputs[done + i].y, l.bias.data(), n, static_cast<int>(l.w.rows));
    }
    done += count;
  }
}

void project(ThreadPool& pool, const float* x, int n, const Linear& linear, float* y) {
  matmul(pool, x, n, linear.w, y);
  if (!linear.bias.empty()) add_bias_rows(y, linear.bias.data(), n, static_cast<int>(linear.w.rows));
}

void layer_norm_rows(ThreadPool& pool, const Norm& norm, float eps, const float* x, int n, int dim, float* y) {
  const float* bias = norm.bias.empty() ? nullptr : norm.bias.data();
  for_rows(pool, n, [&](int begin, int end) {
    for (int t = begin; t < end; ++t) {
      layer_norm(x + static_cast<size_t>(t) * dim, norm.weight.data(), bias, eps, dim, y + static_cast<size_t>(t) * dim);
    }
  });
}

void rope_row(float theta, int head_dim, int pos, float* cos_out, float* sin_out) {
  const int half = head_dim / 2;
  for (int i = 0; i < half; ++i) {
    const double inv_freq = std::pow(static_cast<double>(theta), -2.0 * i / head_dim);
    cos_out[i] = static_cast<float>(std::cos(pos * inv_freq));
    sin_out[i] = static_cast<float>(std::sin(pos * inv_freq));
  }
}

void sinusoidal_row(int pos, int dim, float* out) {
  // transformers builds the table in float64 numpy and stores it as float32; so do we.
  const int half = dim / 2;
  const int sin_dims = dim % 2 == 0 ? half : half + 1;
  for (int i = 0; i < sin_dims; ++i) {
    const double angle = pos / std::pow(10000.0, 2.0 * i / dim);
    out[i] = static_cast<float>(std::sin(angle));
  }
  for (int i = 0; i < half; ++i) {
    const double angle = pos / std::pow(10000.0, 2.0 * i / dim);
    out[sin_dims + i] = static_cast<float>(std::cos(angle));
  }
}

namespace {

bool same_keys(const KeyRange& a, const KeyRange& b) {
  return a.n_keys == b.n_keys && a.keys.data == b.keys.data && a.values.data == b.values.data &&
         a.keys.type == b.keys.type && a.keys.stride == b.keys.stride && a.values.type == b.values.type &&
         a.values.stride == b.values.stride;
}

// Runs of at least this many consecutive rows over the same keys (a source's encoder rows,
// a source's beams in cross-attention) go through the tiled kernel: two small matrix
// products instead of a dot product and a horizontal sum per (row, head, key).
constexpr size_t kSharedRunMin = 4;

}  // namespace

void attend(ThreadPool& pool, const float* q, std::span<const KeyRange> ranges, int n_heads, int n_kv_heads,
            int head_dim, float scale, float* scores, size_t scores_per_thread, float* out) {
  const int group = n_heads / n_kv_heads;
  const size_t q_dim = static_cast<size_t>(n_heads) * head_dim;
  std::vector<size_t> loose;
  for (size_t t0 = 0; t0 < ranges.size();) {
    size_t t1 = t0 + 1;
    while (t1 < ranges.size() && same_keys(ranges[t1], ranges[t0])) ++t1;
    if (t1 - t0 >= kSharedRunMin && ranges[t0].keys.type == ranges[t0].values.type &&
        ranges[t0].keys.stride == ranges[t0].values.stride) {
      AttentionArgs a;
      a.q = q + t0 * q_dim;
      a.keys = ranges[t0].keys.data;
      a.values = ranges[t0].values.data;
      a.kv_type = ranges[t0].keys.type;
      a.kv_stride = ranges[t0].keys.stride;
      a.out = out + t0 * q_dim;
      a.n_tokens = static_cast<int>(t1 - t0);
      a.n_heads = n_heads;
      a.n_kv_heads = n_kv_heads;
      a.head_dim = head_dim;
      a.scale = scale;
      a.n_keys = ranges[t0].n_keys;
      shared_keys_attention(pool, a);
    } else {
      for (size_t t = t0; t < t1; ++t) loose.push_back(t);
    }
    t0 = t1;
  }
  if (loose.empty()) return;
  const size_t items = loose.size() * n_heads;
  pool.run([&](int thread, int n_threads) {
    float* s = scores + static_cast<size_t>(thread) * scores_per_thread;
    for (size_t item = thread; item < items; item += n_threads) {
      const size_t t = loose[item / n_heads];
      const int h = static_cast<int>(item % n_heads);
      const KeyRange& r = ranges[t];
      const size_t kv_offset = static_cast<size_t>(h / group) * head_dim;
      attention_head(q + t * q_dim + static_cast<size_t>(h) * head_dim, r.keys, r.values, kv_offset, r.n_keys,
                     head_dim, scale, s, out + t * q_dim + static_cast<size_t>(h) * head_dim);
    }
  });
}

}  // namespace smol::blocks
