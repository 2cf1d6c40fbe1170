#include "train/random.hpp"

#include <numeric>
#include <utility>

namespace smol {

void fill_dropout_mask(float* mask, size_t n, float p, uint64_t seed) {
  const float keep = 1.0f / (1.0f - p);
  for (size_t i = 0; i < n; ++i) mask[i] = uniform01(seed, i) < p ? 0.0f : keep;
}

std::vector<int64_t> random_permutation(int64_t n, uint64_t seed) {
  std::vector<int64_t> perm(static_cast<size_t>(n));
  std::iota(perm.begin(), perm.end(), int64_t{0});
  uint64_t state = seed;
  for (int64_t i = n - 1; i > 0; --i) {
    state = splitmix64(state);
    // Multiply-shift maps 64 random bits onto [0, i]; the bias is below 2^-40 for any n here.
    const auto j = static_cast<int64_t>((static_cast<unsigned __int128>(state) * static_cast<uint64_t>(i + 1)) >> 64);
    std::swap(perm[static_cast<size_t>(i)], perm[static_cast<size_t>(j)]);
  }
  return perm;
}

}  // namespace smol
