#pragma once
// A .gguf file as a set of weights named the Hugging Face way, so bind_weights() treats GGUF
// and safetensors models alike.
#include <cstddef>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "smol/gguf.hpp"
#include "smol/model_config.hpp"

namespace smol {

struct GgufWeights {
  GgufFile file;
  ModelConfig config;
  // Q and K in Hugging Face row order (the file holds llama.cpp's) and Q5_0 tensors as Q8_0;
  // other views point into the mapping.
  std::vector<std::vector<std::byte>> repacked;
  std::map<std::string, TensorView> by_hf_name;
};

// Opens `path`, reads the llama metadata and maps every tensor to its Hugging Face name.
// Tensors with no Hugging Face counterpart (e.g. rope_freqs) are refused: smol would
// otherwise silently compute something other than what the file describes.
std::shared_ptr<const GgufWeights> open_gguf_weights(const std::filesystem::path& path, LoadMode mode);

}  // namespace smol
