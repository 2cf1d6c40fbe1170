#pragma once
// The model being converted, whichever format it came in, with tensors found by their
// Hugging Face names (GGUF Q/K rows already back in Hugging Face order), and the row-by-row
// type conversion both output formats use.
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "model/gguf_model.hpp"
#include "smol/convert.hpp"
#include "smol/safetensors.hpp"

namespace smol {

class ThreadPool;

struct ConvertSource {
  std::filesystem::path path;
  ModelConfig config;
  std::string name;                          // general.name, or the folder's name
  TensorStore store;                         // a Hugging Face folder ...
  std::shared_ptr<const GgufWeights> gguf;   // ... or a GGUF file

  static ConvertSource open(const std::filesystem::path& path);
  const TensorView& get(const std::string& hf_name) const;  // smol::Error when absent
};

// The tensors of the architecture, by Hugging Face name, in the order they are written.
std::vector<std::string> hf_tensor_names(const ModelConfig& config);

// Writes `src` as `dtype` into `out`, output row r taken from source row row_order[r] (all rows
// in order when row_order is empty). Rows are widened to float32 and re-encoded, except when
// the type does not change, where the bytes are copied exactly.
void convert_rows(const TensorView& src, DType dtype, std::span<const int64_t> row_order, std::span<std::byte> out,
                  ThreadPool& pool);

}  // namespace smol
