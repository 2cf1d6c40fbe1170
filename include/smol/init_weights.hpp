#pragma once
// Randomly initialised SmolLM2-architecture models: for pretraining from scratch and for
// benchmarks at the real shapes (no real weights are needed to measure speed).
#include <cstdint>
#include <filesystem>

#include "smol/dtype.hpp"
#include "smol/model_config.hpp"

namespace smol {

// Writes `out_dir` as a Hugging Face folder: config.json, generation_config.json and
// model.safetensors with matrices ~ normal(0, initializer_range) and norms at 1, in `dtype`
// (F32, BF16 or F16). Tokenizer files found beside `config_path` are copied too.
void init_random_model(const std::filesystem::path& config_path, const std::filesystem::path& out_dir, DType dtype,
                       uint64_t seed);

// Writes `out_dir` as a copy of the model folder `source_dir` (safetensors, one file or shards)
// whose matrices get Gaussian noise of `relative_noise` times each matrix's RMS; vectors (norms,
// biases) are copied. Same dtypes, one model.safetensors; config and tokenizer files copied. A
// draft of controllable agreement with its source, for speculative decoding's tests and benchmarks.
void perturb_model(const std::filesystem::path& source_dir, const std::filesystem::path& out_dir,
                   float relative_noise, uint64_t seed);

}  // namespace smol
