#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "model/bind_weights.hpp"
#include "smol/seq2seq.hpp"

namespace smol {

// Finds every tensor of the family through `find` (names from arch_tables.hpp), checking
// shapes against the config.
Seq2SeqWeights bind_seq2seq_weights(const Seq2SeqConfig& config, const TensorLookup& find, const std::string& source);

}  // namespace smol
