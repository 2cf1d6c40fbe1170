#pragma once
// Counter-based randomness for training: every random number is a pure function of
// (seed, stream, index), so dropout masks and data order are reproducible across thread
// counts, MPI ranks and resumes without any generator state to save.
#include <cstddef>
#include <cstdint>
#include <vector>

namespace smol {

inline uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// Mixes values into one seed (order matters).
inline uint64_t mix_seed(uint64_t seed, uint64_t a, uint64_t b = 0, uint64_t c = 0) {
  return splitmix64(splitmix64(splitmix64(seed ^ splitmix64(a)) ^ b) ^ c);
}

// Uniform in [0, 1) with 24 bits, element `index` of stream `seed`.
inline float uniform01(uint64_t seed, uint64_t index) {
  return static_cast<float>(splitmix64(seed + index * 0x9e3779b97f4a7c15ull) >> 40) * 0x1p-24f;
}

// mask[i] = 0 with probability p, else 1/(1-p) (inverted dropout: the expectation is kept).
void fill_dropout_mask(float* mask, size_t n, float p, uint64_t seed);

// A permutation of 0..n-1 (Fisher-Yates driven by splitmix64, identical on every platform).
std::vector<int64_t> random_permutation(int64_t n, uint64_t seed);

}  // namespace smol
