#pragma once
#include <functional>
#include <string>
#include <vector>

#include "smol/model.hpp"

namespace smol {

// Finds a tensor by its Hugging Face name; nullptr if absent.
using TensorLookup = std::function<const TensorView*(const std::string& name)>;

// The tensor `name` as a rows x cols matrix of a supported weight type; a missing tensor or
// a shape other than the config implies is an error naming both.
MatrixView bind_matrix(const TensorLookup& find, const std::string& name, int64_t rows, int64_t cols,
                       const std::string& source);
// A vector of n values (norm weights, biases), widened to float32 once.
std::vector<float> bind_vector(const TensorLookup& find, const std::string& name, int64_t n, const std::string& source);

// Finds every tensor the architecture needs through `find`, checks dtype and shape against
// `config`, and returns views into the tensors' data.
ModelWeights bind_weights(const ModelConfig& config, const TensorLookup& find, const std::string& source);

// Finds every tensor the architecture needs in `store`, checks dtype and shape against
// `config`, and returns views into the mapped data.
ModelWeights bind_weights(const ModelConfig& config, const TensorStore& store, const std::string& source);

}  // namespace smol
