#pragma once
// Helpers shared by the encoder-decoder's layout, forward and backward.
#include <string>
#include <vector>

#include "smol/seq2seq.hpp"

namespace smol {

// The names a checkpoint may store layout tensor `name` under, most likely first: a shared
// or tied embedding is saved once, under whichever of its names the writer kept.
std::vector<std::string> seq2seq_stored_names(const Seq2SeqConfig& config, const std::string& name);

// Row `pos` of Marian's sinusoidal table (MarianSinusoidalPositionalEmbedding): computed in
// double and rounded to float32, as transformers stores the table.
void sinusoidal_position_row(int pos, int dim, float* out);

}  // namespace smol
