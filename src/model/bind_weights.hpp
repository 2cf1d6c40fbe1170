#pragma once
#include <functional>
#include <string>

#include "smol/model.hpp"

namespace smol {

// Finds a tensor by its Hugging Face name; nullptr if absent.
using TensorLookup = std::function<const TensorView*(const std::string& name)>;

// Finds every tensor the architecture needs through `find`, checks dtype and shape against
// `config`, and returns views into the tensors' data.
ModelWeights bind_weights(const ModelConfig& config, const TensorLookup& find, const std::string& source);

// Finds every tensor the architecture needs in `store`, checks dtype and shape against
// `config`, and returns views into the mapped data.
ModelWeights bind_weights(const ModelConfig& config, const TensorStore& store, const std::string& source);

}  // namespace smol
