// Linear layers without bias, y = x · Wᵀ, and their gradients. float goes through the packed
// GEMM; double (gradient checks) through plain loops that are obviously right.
#include <type_traits>

#include "smol/thread_pool.hpp"
#include "smol/train_layers.hpp"
#include "train/gemm.hpp"

namespace smol {

template <typename T>
void matmul_forward(ThreadPool& pool, T* out, const T* inp, const T* weight, int n_tokens, int in_dim, int out_dim,
                    Precision precision) {
  if constexpr (std::is_same_v<T, float>) {
    gemm(pool, n_tokens, out_dim, in_dim, {inp, in_dim, 1}, {weight, 1, in_dim}, out, out_dim, false, precision);
  } else {
    pool.parallel_for(static_cast<size_t>(n_tokens), [&](size_t begin, size_t end) {
      for (size_t n = begin; n < end; ++n) {
        for (int o = 0; o < out_dim; ++o) {
          T s = 0;
          for (int i = 0; i < in_dim; ++i) s += inp[n * in_dim + i] * weight[static_cast<size_t>(o) * in_dim + i];
          out[n * out_dim + o] = s;
        }
      }
    });
  }
}

template <typename T>
void matmul_backward(ThreadPool& pool, T* dinp, T* dweight, const T* dout, const T* inp, const T* weight,
                     int n_tokens, int in_dim, int out_dim, Precision precision) {
  if constexpr (std::is_same_v<T, float>) {
    if (dinp) {
      gemm(pool, n_tokens, in_dim, out_dim, {dout, out_dim, 1}, {weight, in_dim, 1}, dinp, in_dim, true, precision);
    }
    gemm(pool, out_dim, in_dim, n_tokens, {dout, 1, out_dim}, {inp, in_dim, 1}, dweight, in_dim, true, precision);
  } else {
    if (dinp) {
      pool.parallel_for(static_cast<size_t>(n_tokens), [&](size_t begin, size_t end) {
        for (size_t n = begin; n < end; ++n) {
          for (int o = 0; o < out_dim; ++o) {
            const T d = dout[n * out_dim + o];
            for (int i = 0; i < in_dim; ++i) dinp[n * in_dim + i] += d * weight[static_cast<size_t>(o) * in_dim + i];
          }
        }
      });
    }
    pool.parallel_for(static_cast<size_t>(out_dim), [&](size_t begin, size_t end) {
      for (size_t o = begin; o < end; ++o) {
        for (int n = 0; n < n_tokens; ++n) {
          const T d = dout[static_cast<size_t>(n) * out_dim + o];
          for (int i = 0; i < in_dim; ++i) dweight[o * in_dim + i] += d * inp[static_cast<size_t>(n) * in_dim + i];
        }
      }
    });
  }
}

template void matmul_forward<float>(ThreadPool&, float*, const float*, const float*, int, int, int, Precision);
template void matmul_forward<double>(ThreadPool&, double*, const double*, const double*, int, int, int, Precision);
template void matmul_backward<float>(ThreadPool&, float*, float*, const float*, const float*, const float*, int, int,
                                     int, Precision);
template void matmul_backward<double>(ThreadPool&, double*, double*, const double*, const double*, const double*, int,
                                      int, int, Precision);

}  // namespace smol
