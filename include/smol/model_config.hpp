#pragma once
// The hyper-parameters of a Llama-architecture (SmolLM2) checkpoint, from config.json.
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace smol {

struct ModelConfig {
  std::string architecture = "LlamaForCausalLM";
  int hidden_size = 0;
  int intermediate_size = 0;
  int num_hidden_layers = 0;
  int num_attention_heads = 0;
  int num_key_value_heads = 0;  // defaults to num_attention_heads
  int head_dim = 0;             // defaults to hidden_size / num_attention_heads
  int vocab_size = 0;
  int max_position_embeddings = 2048;
  float rms_norm_eps = 1e-6f;
  float rope_theta = 10000.0f;
  bool tie_word_embeddings = false;
  int bos_token_id = -1;            // -1: the model has none
  std::vector<int> eos_token_ids;   // config.json then generation_config.json, deduplicated
  float initializer_range = 0.02f;
  std::string torch_dtype;          // e.g. "bfloat16"; empty if not given

  // Reads <dir>/config.json and, if present, <dir>/generation_config.json.
  static ModelConfig from_folder(const std::filesystem::path& dir);
  // Validates and converts; errors read "<source_name>: key 'x' ...".
  static ModelConfig from_json(const nlohmann::json& config, const std::string& source_name);
  // A config.json Hugging Face transformers can load (model_type llama).
  nlohmann::json to_json() const;

  bool operator==(const ModelConfig&) const = default;
};

}  // namespace smol
