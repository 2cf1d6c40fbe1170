#pragma once
// Shared by the greedy/sampling loop (search.cpp) and beam search (search_beam.cpp).
#include <cstdint>
#include <random>
#include <span>
#include <vector>

#include "smol/search.hpp"

namespace smol::search_detail {

struct SourceSetup {
  std::vector<int32_t> prefix;
  LengthLimits limits;
};

bool is_eos(const GenerationConfig& config, int32_t token);

// One RNG per (source, sequence): a source draws the same tokens whatever else is in the batch.
std::mt19937_64 make_rng(uint64_t seed, int source, int sequence);
// A uniform double in [0, 1).
double uniform01(std::mt19937_64& rng);

// Draws an index with probability probs[i] (which sum to 1; zeros are never drawn).
int draw(std::span<const double> probs, std::mt19937_64& rng);

std::vector<SearchResult> beam_search(StepModel& model, std::span<const SourceSetup> sources,
                                      const GenerationConfig& config, uint64_t seed);

}  // namespace smol::search_detail
