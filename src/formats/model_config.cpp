// config.json -> ModelConfig, refusing anything the Llama forward pass would compute wrongly.
#include "smol/model_config.hpp"

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <limits>

#include <fmt/format.h>

#include "formats/text_util.hpp"
#include "smol/error.hpp"
#include "smol/json_file.hpp"

namespace smol {
namespace {

using formats_detail::json_type_name;
using formats_detail::printable;
using nlohmann::json;

constexpr const char* kArchitecture = "LlamaForCausalLM";

// Typed reads of one key of one file; every failure names both.
class Reader {
 public:
  Reader(const json& object, const std::string& source) : object_(object), source_(source) {}

  const json* find(const char* key) const {
    const auto it = object_.find(key);
    return it == object_.end() ? nullptr : &*it;
  }
  bool has(const char* key) const {
    const json* v = find(key);
    return v != nullptr && !v->is_null();
  }

  [[noreturn]] void fail(const char* key, const std::string& what) const {
    throw Error(fmt::format("{}: key '{}' {}", source_, key, what));
  }
  [[noreturn]] void wrong_type(const char* key, const char* expected, const json& got) const {
    fail(key, fmt::format("must be {}, got {} {}", expected, json_type_name(got), printable(got.dump(), 40)));
  }

  int integer(const char* key, const json& v) const {
    if (!v.is_number_integer()) wrong_type(key, "an integer", v);
    if (v.is_number_unsigned() ? v.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int>::max())
                               : v.get<int64_t>() < std::numeric_limits<int>::min()) {
      fail(key, fmt::format("value {} is out of range", v.dump()));
    }
    return v.get<int>();
  }
  int required_positive(const char* key) const {
    if (!has(key)) fail(key, "is missing");
    return positive(key, integer(key, *find(key)));
  }
  int optional_positive(const char* key, int fallback) const {
    return has(key) ? positive(key, integer(key, *find(key))) : fallback;
  }
  int positive(const char* key, int value) const {
    if (value <= 0) fail(key, fmt::format("must be positive, got {}", value));
    return value;
  }
  float positive_number(const char* key, float fallback) const {
    if (!has(key)) return fallback;
    const json& v = *find(key);
    if (!v.is_number()) wrong_type(key, "a number", v);
    const double d = v.get<double>();
    if (!(d > 0) || d > std::numeric_limits<float>::max()) fail(key, fmt::format("must be positive and finite, got {}", v.dump()));
    return static_cast<float>(d);
  }
  bool boolean(const char* key, bool fallback) const {
    if (!has(key)) return fallback;
    const json& v = *find(key);
    if (!v.is_boolean()) wrong_type(key, "true or false", v);
    return v.get<bool>();
  }
  std::string string(const char* key, const std::string& fallback) const {
    if (!has(key)) return fallback;
    const json& v = *find(key);
    if (!v.is_string()) wrong_type(key, "a string", v);
    return v.get<std::string>();
  }
  // A token id, or a list of them (eos_token_id may be either).
  std::vector<int> token_ids(const char* key) const {
    std::vector<int> ids;
    if (!has(key)) return ids;
    const json& v = *find(key);
    if (v.is_array()) {
      for (const json& item : v) ids.push_back(token_id(key, item));
    } else {
      ids.push_back(token_id(key, v));
    }
    return ids;
  }
  int token_id(const char* key, const json& v) const {
    if (!v.is_number_integer()) wrong_type(key, "a token id or a list of token ids", v);
    const int id = integer(key, v);
    if (id < 0) fail(key, fmt::format("must not be negative, got {}", id));
    return id;
  }

 private:
  const json& object_;
  const std::string& source_;
};

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
