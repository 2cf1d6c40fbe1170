#pragma once
// `smol convert`: a model (Hugging Face folder or .gguf) rewritten as a GGUF file llama.cpp
// loads, with its weights in another type, or as a Hugging Face folder (f32/f16/bf16).
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "smol/dtype.hpp"

namespace smol {

enum class ConvertType { F32, F16, BF16, Q8_0, Q4_0, Q4_K };

std::optional<ConvertType> parse_convert_type(std::string_view name);  // "f32", "q4_k", ...
std::string_view convert_type_name(ConvertType type);

// What each weight becomes. Norms stay F32 (as llama.cpp keeps them). For q4_0 and q4_k the
// token embeddings (and a separate output matrix) are Q6_K, as llama.cpp's quantizer does,
// and every type falls back when a matrix's columns are not a whole number of its blocks:
// Q4_K and Q6_K (256-wide) -> Q4_0 and Q8_0 (32-wide) -> F16. SmolLM2-135M/360M have 576/960
// columns, so their q4_k files are Q4_K only where the columns are 1536/2560 (ffn_down),
// Q4_0 elsewhere; llama.cpp picks Q5_0 there, which smol's kernels lack.
DType convert_dtype(ConvertType type, std::string_view gguf_name, int64_t rows, int64_t cols);

struct ConvertedTensor {
  std::string name;  // as written (GGUF or Hugging Face name)
  DType dtype;
  uint64_t bytes;
};

struct ConvertOptions {
  ConvertType type = ConvertType::F16;
  int threads = 1;  // for quantizing
};

// Writes `in` (a Hugging Face folder or a .gguf file) to `out`: a .gguf file when `out` ends in
// .gguf (GGUF v3: llama metadata, tokenizer.ggml.* with the chat template, Q/K rows in
// llama.cpp's order), otherwise a Hugging Face folder (config.json, generation_config.json,
// tokenizer files, model.safetensors; f32/f16/bf16 only). Returns what was written.
std::vector<ConvertedTensor> convert_model(const std::filesystem::path& in, const std::filesystem::path& out,
                                           const ConvertOptions& options);

}  // namespace smol
