// mha_forward / mha_backward for float32 training, as a handful of small GEMMs per (batch
// row, head) instead of one query row at a time. A row at a time, every (query, key) pair
// reloaded and rewrote a head_dim-long row of dK and dV and reduced a dot product across
// lanes: attention was ~18% of an opus-mt-shaped step for ~2% of its FLOPs. Per head:
//   forward:  S = Q·Kᵀ·scale, P = softmax(S) over the visible keys, A = P∘M, O = A·V
//   backward: dA = dO·Vᵀ, dP = dA∘M, dS = P∘(dP - rowsum(P∘dP))·scale,
//             dV = Aᵀ·dO, dQ = dS·K, dK = dSᵀ·Q
// The GEMMs are train/gemm.cpp's, run on the task's own thread (gemm_serial). The float64
// instantiation (gradient checks) keeps the plain loops of layers_seq2seq.cpp.
#include <algorithm>
#include <cmath>
#include <vector>

#include "smol/kernels.hpp"
#include "smol/thread_pool.hpp"
#include "train/gemm.hpp"
#include "train/mha_float.hpp"

namespace smol {

namespace {

struct Head {
  const MhaShape& s;
  int b, h;
  int64_t stride() const { return static_cast<int64_t>(s.n_heads) * s.head_dim; }
  // Rows of batch row b, columns of head h, in a [rows][n_heads * head_dim] array.
  size_t q_offset() const { return static_cast<size_t>(b) * s.q_len * stride() + static_cast<size_t>(h) * s.head_dim; }
  size_t kv_offset() const { return static_cast<size_t>(b) * s.kv_len * stride() + static_cast<size_t>(h) * s.head_dim; }
  size_t p_offset() const { return (static_cast<size_t>(b) * s.n_heads + h) * s.q_len * s.kv_len; }
};

float* thread_scratch(void* base, int thread) {
  return static_cast<float*>(base) + static_cast<size_t>(thread) * kGemmScratchWordsPerThread;
}

}  // namespace

void mha_forward_f32(ThreadPool& pool, float* out, float* probs, const float* q, const float* k, const float* v,
                     const float* drop_mask, const int32_t* key_lengths, const MhaShape& s) {
  const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(s.head_dim)));
  const size_t items = static_cast<size_t>(s.batch) * s.n_heads;
  void* scratch = pool.scratch(kGemmScratchWordsPerThread * sizeof(float) * pool.size());
  pool.run([&](int thread, int n_threads) {
    float* gemm_scratch = thread_scratch(scratch, thread);
    std::vector<float> dropped(drop_mask ? static_cast<size_t>(s.q_len) * s.kv_len : 0);
    for (size_t item = thread; item < items; item += n_threads) {
      const Head hd{s, static_cast<int>(item / s.n_heads), static_cast<int>(item % s.n_heads)};
      const int64_t st = hd.stride(), L = s.kv_len;
      const int keys = mha_visible_keys(s, key_lengths, hd.b, s.q_len - 1);  // the most any row sees
      float* p = probs + hd.p_offset();
      const float* qh = q + hd.q_offset();
      const float* kh = k + hd.kv_offset();
      gemm_serial(s.q_len, keys, s.head_dim, {qh, st, 1}, {kh, 1, st}, p, L, false, Precision::FP32, gemm_scratch);
      for (int t = 0; t < s.q_len; ++t) {
        float* row = p + t * L;
        const int n = mha_visible_keys(s, key_lengths, hd.b, t);
        for (int j = 0; j < n; ++j) row[j] *= scale;
        if (n > 0) softmax(row, n);
        std::fill(row + n, row + L, 0.0f);
      }
      const float* a = p;
      if (drop_mask) {
        const float* m = drop_mask + hd.p_offset();
        for (size_t i = 0; i < dropped.size(); ++i) dropped[i] = p[i] * m[i];
        a = dropped.data();
      }
      gemm_serial(s.q_len, s.head_dim, keys, {a, L, 1}, {v + hd.kv_offset(), st, 1}, out + hd.q_offset(), st, false,
                  Precision::FP32, gemm_scratch);
    }
  });
}

void mha_backward_f32(ThreadPool& pool, float* dq, float* dk, float* dv, const float* dout, const float* probs,
                      const float* q, const float* k, const float* v, const float* drop_mask,
                      const int32_t* key_lengths, const MhaShape& s) {
  const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(s.head_dim)));
  const size_t items = static_cast<size_t>(s.batch) * s.n_heads;
  void* scratch = pool.scratch(kGemmScratchWordsPerThread * sizeof(float) * pool.size());
  pool.run([&](int thread, int n_threads) {
    float* gemm_scratch = thread_scratch(scratch, thread);
    const size_t block = static_cast<size_t>(s.q_len) * s.kv_len;
    std::vector<float> ds(block), dropped(drop_mask ? block : 0);
    for (size_t item = thread; item < items; item += n_threads) {
      const Head hd{s, static_cast<int>(item / s.n_heads), static_cast<int>(item % s.n_heads)};
      const int64_t st = hd.stride(), L = s.kv_len;
      const int keys = mha_visible_keys(s, key_lengths, hd.b, s.q_len - 1);
      const float* p = probs + hd.p_offset();
      const float* m = drop_mask ? drop_mask + hd.p_offset() : nullptr;
      const float* doh = dout + hd.q_offset();
      const float* qh = q + hd.q_offset();
      const size_t kv0 = hd.kv_offset();
      // Keys no query sees get no gradient.
      for (int j = keys; j < s.kv_len; ++j) {
        std::fill_n(dk + kv0 + j * st, s.head_dim, 0.0f);
        std::fill_n(dv + kv0 + j * st, s.head_dim, 0.0f);
      }
      if (keys == 0) {
        for (int t = 0; t < s.q_len; ++t) std::fill_n(dq + hd.q_offset() + t * st, s.head_dim, 0.0f);
        continue;
      }
      const float* a = p;
      if (m) {
        for (size_t i = 0; i < block; ++i) dropped[i] = p[i] * m[i];
        a = dropped.data();
      }
      // dV = Aᵀ·dO
      gemm_serial(keys, s.head_dim, s.q_len, {a, 1, L}, {doh, st, 1}, dv + kv0, st, false, Precision::FP32,
                  gemm_scratch);
      // dA = dO·Vᵀ, then dS in place
      gemm_serial(s.q_len, keys, s.head_dim, {doh, st, 1}, {v + kv0, 1, st}, ds.data(), L, false, Precision::FP32,
                  gemm_scratch);
      for (int t = 0; t < s.q_len; ++t) {
        const int n = mha_visible_keys(s, key_lengths, hd.b, t);
        const float* pt = p + t * L;
        float* d = ds.data() + t * L;
        float row_sum = 0.0f;
        for (int j = 0; j < n; ++j) {
          if (m) d[j] *= m[t * L + j];
          row_sum += pt[j] * d[j];
        }
        for (int j = 0; j < n; ++j) d[j] = pt[j] * (d[j] - row_sum) * scale;
        std::fill(d + n, d + keys, 0.0f);
      }
      // dQ = dS·K, dK = dSᵀ·Q
      gemm_serial(s.q_len, s.head_dim, keys, {ds.data(), L, 1}, {k + kv0, st, 1}, dq + hd.q_offset(), st, false,
                  Precision::FP32, gemm_scratch);
      gemm_serial(keys, s.head_dim, s.q_len, {ds.data(), 1, L}, {qh, st, 1}, dk + kv0, st, false, Precision::FP32,
                  gemm_scratch);
    }
  });
}

}  // namespace smol
