#pragma once
#include "smol/model.hpp"

namespace smol {

// Finds every tensor the architecture needs in `store`, checks dtype and shape against
// `config`, and returns views into the mapped data.
ModelWeights bind_weights(const ModelConfig& config, const TensorStore& store, const std::string& source);

}  // namespace smol
