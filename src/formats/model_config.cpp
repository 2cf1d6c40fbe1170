// config.json -> ModelConfig, refusing anything the Llama forward pass would compute wrongly.
#include "smol/model_config.hpp"

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <limits>

#include <fmt/format.h>

#include "formats/json_reader.hpp"
#include "formats/text_util.hpp"
#include "smol/error.hpp"
#include "smol/json_file.hpp"

namespace smol {
namespace {

using formats_detail::json_type_name;
using formats_detail::printable;
using nlohmann::json;

constexpr const char* kArchitecture = "LlamaForCausalLM";

using Reader = JsonReader;

void check_architecture(const Reader& r, ModelConfig& config) {
  const std::string model_type = r.string("model_type", "");
  if (r.has("architectures")) {
    const json& list = *r.find("architectures");
    if (!list.is_array() || list.empty() || !list[0].is_string()) {
      r.wrong_type("architectures", "a non-empty list of names", list);
    }
    const auto& name = list[0].get_ref<const std::string&>();
    if (name != kArchitecture) r.fail("architectures", fmt::format("names unsupported architecture '{}'", printable(name)));
  } else if (model_type != "llama") {
    if (model_type.empty()) r.fail("architectures", "is missing (and model_type is not 'llama')");
    r.fail("model_type", fmt::format("names unsupported architecture '{}'", printable(model_type)));
  }
  if (!model_type.empty() && model_type != "llama") {
    r.fail("model_type", fmt::format("names unsupported architecture '{}'", printable(model_type)));
  }
  config.architecture = kArchitecture;
}

// Options that change the arithmetic: anything but plain Llama must be refused, not ignored.
void check_unsupported_options(const Reader& r) {
  const std::string act = r.string("hidden_act", "silu");
  if (act != "silu") r.fail("hidden_act", fmt::format("'{}' is not supported (only silu)", printable(act)));
  if (r.boolean("attention_bias", false)) r.fail("attention_bias", "true is not supported");
  if (r.boolean("mlp_bias", false)) r.fail("mlp_bias", "true is not supported");
  if (r.has("rope_scaling")) {
    const json& scaling = *r.find("rope_scaling");
    if (!scaling.is_object()) r.wrong_type("rope_scaling", "null or an object", scaling);
    const char* type_key = scaling.contains("rope_type") ? "rope_type" : "type";
    const auto it = scaling.find(type_key);
    if (it == scaling.end() || !it->is_string()) r.fail("rope_scaling", "has no 'rope_type'/'type' string");
    const auto& type = it->get_ref<const std::string&>();
    if (type != "default") {
      r.fail("rope_scaling", fmt::format("type '{}' is not supported", printable(type)));
    }
  }
}

void check_shapes(const Reader& r, const ModelConfig& c) {
  if (c.num_attention_heads % c.num_key_value_heads != 0) {
    r.fail("num_key_value_heads", fmt::format("{} does not divide num_attention_heads {}", c.num_key_value_heads,
                                              c.num_attention_heads));
  }
  if (c.head_dim % 2 != 0) r.fail("head_dim", fmt::format("{} must be even for rotary embeddings", c.head_dim));
}

// Shortest decimal that reads back as the same float, so 1e-5f is written as 1e-05 rather
// than 9.99999974737875e-06.
double shortest(float value) {
  char text[32];
  const auto result = std::to_chars(text, text + sizeof text, value);
  *result.ptr = '\0';
  return std::strtod(text, nullptr);
}

}  // namespace

ModelConfig ModelConfig::from_json(const json& config, const std::string& source_name) {
  if (!config.is_object()) {
    throw Error(fmt::format("{}: must be a JSON object, got {}", source_name, json_type_name(config)));
  }
  const Reader r(config, source_name);
  ModelConfig c;
  check_architecture(r, c);
  check_unsupported_options(r);
  c.hidden_size = r.required_positive("hidden_size");
  c.intermediate_size = r.required_positive("intermediate_size");
  c.num_hidden_layers = r.required_positive("num_hidden_layers");
  c.num_attention_heads = r.required_positive("num_attention_heads");
  c.vocab_size = r.required_positive("vocab_size");
  c.num_key_value_heads = r.optional_positive("num_key_value_heads", c.num_attention_heads);
  if (r.has("head_dim")) {
    c.head_dim = r.optional_positive("head_dim", 0);
  } else {
    if (c.hidden_size % c.num_attention_heads != 0) {
      r.fail("num_attention_heads",
             fmt::format("{} does not divide hidden_size {}", c.num_attention_heads, c.hidden_size));
    }
    c.head_dim = c.hidden_size / c.num_attention_heads;
  }
  check_shapes(r, c);
  c.max_position_embeddings = r.optional_positive("max_position_embeddings", 2048);
  c.rms_norm_eps = r.positive_number("rms_norm_eps", 1e-6f);
  c.rope_theta = r.positive_number("rope_theta", 10000.0f);
  c.tie_word_embeddings = r.boolean("tie_word_embeddings", false);
  const std::vector<int> bos = r.token_ids("bos_token_id");
  if (bos.size() > 1) r.fail("bos_token_id", "must be a single token id");
  c.bos_token_id = bos.empty() ? -1 : bos[0];
  c.eos_token_ids = r.token_ids("eos_token_id");
  c.initializer_range = r.positive_number("initializer_range", 0.02f);
  c.torch_dtype = r.string("torch_dtype", "");
  for (const int id : c.eos_token_ids) {
    if (id >= c.vocab_size) r.fail("eos_token_id", fmt::format("{} is not below vocab_size {}", id, c.vocab_size));
  }
  if (c.bos_token_id >= c.vocab_size) {
    r.fail("bos_token_id", fmt::format("{} is not below vocab_size {}", c.bos_token_id, c.vocab_size));
  }
  return c;
}

ModelConfig ModelConfig::from_folder(const std::filesystem::path& dir) {
  const std::filesystem::path config_path = dir / "config.json";
  ModelConfig config = from_json(read_json_file(config_path), config_path.string());

  const std::filesystem::path generation_path = dir / "generation_config.json";
  std::error_code ec;
  if (!std::filesystem::exists(generation_path, ec)) return config;
  const json generation = read_json_file(generation_path);
  const std::string source = generation_path.string();
  if (!generation.is_object()) {
    throw Error(fmt::format("{}: must be a JSON object, got {}", source, json_type_name(generation)));
  }
  const Reader r(generation, source);
  // generation_config.json can add stop tokens (chat models often list several).
  for (const int id : r.token_ids("eos_token_id")) {
    if (id >= config.vocab_size) r.fail("eos_token_id", fmt::format("{} is not below vocab_size {}", id, config.vocab_size));
    if (std::find(config.eos_token_ids.begin(), config.eos_token_ids.end(), id) == config.eos_token_ids.end()) {
      config.eos_token_ids.push_back(id);
    }
  }
  if (config.bos_token_id < 0) {
    const std::vector<int> bos = r.token_ids("bos_token_id");
    if (bos.size() == 1 && bos[0] < config.vocab_size) config.bos_token_id = bos[0];
  }
  return config;
}

json ModelConfig::to_json() const {
  json eos = eos_token_ids.size() == 1 ? json(eos_token_ids[0]) : json(eos_token_ids);
  json out = {
      {"architectures", {architecture}},
      {"model_type", "llama"},
      {"hidden_act", "silu"},
      {"attention_bias", false},
      {"mlp_bias", false},
      {"hidden_size", hidden_size},
      {"intermediate_size", intermediate_size},
      {"num_hidden_layers", num_hidden_layers},
      {"num_attention_heads", num_attention_heads},
      {"num_key_value_heads", num_key_value_heads},
      {"head_dim", head_dim},
      {"vocab_size", vocab_size},
      {"max_position_embeddings", max_position_embeddings},
      {"rms_norm_eps", shortest(rms_norm_eps)},
      {"rope_theta", shortest(rope_theta)},
      {"rope_scaling", nullptr},
      {"tie_word_embeddings", tie_word_embeddings},
      {"bos_token_id", bos_token_id >= 0 ? json(bos_token_id) : json(nullptr)},
      {"eos_token_id", eos},
      {"initializer_range", shortest(initializer_range)},
  };
  if (!torch_dtype.empty()) out["torch_dtype"] = torch_dtype;
  return out;
}

}  // namespace smol
