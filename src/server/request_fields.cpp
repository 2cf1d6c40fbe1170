// The request fields beyond the sampling ones: what constrains the output (response_format,
// llama.cpp's grammar and json_schema), and the check that every field is one smol honours.
// OpenAI answers an unknown field with a 400, and so does smol: a field that would be
// silently ignored changes what the client gets without telling it.
#include <fmt/format.h>

#include <set>

#include "server/openai_api.hpp"
#include "smol/error.hpp"

namespace smol::server {

using nlohmann::json;

namespace {

// Honoured, or without effect on the output (user, metadata, store, ...).
const std::set<std::string> kCommon = {
    "model",  "stream",          "stream_options", "max_tokens",   "temperature", "top_p",
    "n",      "stop",            "seed",           "presence_penalty", "frequency_penalty", "user",
    "metadata", "store",         "service_tier",   "response_format",  "grammar",  "json_schema",
    "top_k",  "min_p",           "repeat_penalty", "num_beams",    "logprobs",    "top_logprobs",
    "logit_bias", "cache_prompt", "functions", "function_call"};
const std::set<std::string> kChat = {"messages", "max_completion_tokens", "modalities", "tools", "tool_choice",
                                     "parallel_tool_calls"};
const std::set<std::string> kCompletion = {"prompt", "echo", "best_of", "suffix"};

ApiError unsupported(const std::string& field, const std::string& why) {
  return ApiError(400, fmt::format("'{}' is not supported{}", field, why), "invalid_request_error", field,
                  "unsupported_parameter");
}

bool present(const json& body, const char* name) {
  auto it = body.find(name);
  return it != body.end() && !it->is_null();
}

Grammar compile(const std::string& gbnf, const std::string& param) {
  try {
    return Grammar::from_gbnf(gbnf);
  } catch (const Error& e) {
    throw ApiError(400, fmt::format("'{}': {}", param, e.what()), "invalid_request_error", param);
  }
}

Grammar from_schema(const json& schema, const std::string& param) {
  if (!schema.is_object() && !schema.is_boolean()) {
    throw ApiError(400, fmt::format("'{}' must be a JSON Schema object", param), "invalid_request_error", param);
  }
  std::string gbnf;
  try {
    gbnf = json_schema_to_gbnf(schema.dump());
  } catch (const Error& e) {
    throw ApiError(400, fmt::format("'{}': {}", param, e.what()), "invalid_request_error", param);
  }
  return compile(gbnf, param).with_unique_json_keys();
}

}  // namespace

void refuse_unsupported_fields(const json& body, Endpoint endpoint) {
  for (const auto& [name, value] : body.items()) {
    const bool known = kCommon.count(name) || (endpoint == Endpoint::Chat ? kChat : kCompletion).count(name);
    if (!known) {
      throw ApiError(400, fmt::format("Unrecognized request argument supplied: {}", name), "invalid_request_error", name,
                     "unknown_parameter");
    }
  }
  for (const char* name : {"functions", "function_call"}) {
    if (present(body, name)) throw unsupported(name, ": it is deprecated, use 'tools' and 'tool_choice'");
  }
  if (present(body, "logprobs") && body["logprobs"] != json(false)) throw unsupported("logprobs", "");
  if (present(body, "top_logprobs")) throw unsupported("top_logprobs", "");
  if (present(body, "logit_bias") && !(body["logit_bias"].is_object() && body["logit_bias"].empty())) {
    throw unsupported("logit_bias", "");
  }
  if (present(body, "echo") && body["echo"] != json(false)) throw unsupported("echo", "");
  if (present(body, "best_of") && body["best_of"] != json(1)) throw unsupported("best_of", ": only 1");
  if (present(body, "suffix") && body["suffix"] != json("")) throw unsupported("suffix", "");
  if (present(body, "modalities") && body["modalities"] != json::array({"text"})) {
    throw unsupported("modalities", ": only [\"text\"]");
  }
}

std::optional<Grammar> parse_output_constraint(const json& body) {
  std::vector<std::string> given;
  for (const char* name : {"response_format", "grammar", "json_schema"}) {
    if (present(body, name)) given.push_back(name);
  }
  if (given.empty()) return std::nullopt;
  if (given.size() > 1) {
    throw ApiError(400, fmt::format("'{}' and '{}' both constrain the output: give one", given[0], given[1]),
                   "invalid_request_error", given[1]);
  }
  if (given[0] == "grammar") {
    if (!body["grammar"].is_string()) throw ApiError(400, "'grammar' must be a GBNF string", "invalid_request_error", "grammar");
    return compile(body["grammar"].get<std::string>(), "grammar");
  }
  if (given[0] == "json_schema") return from_schema(body["json_schema"], "json_schema");
  const json& format = body["response_format"];
  if (!format.is_object() || !format.contains("type") || !format["type"].is_string()) {
    throw ApiError(400, "'response_format' must be an object with a string 'type'", "invalid_request_error",
                   "response_format");
  }
  const std::string type = format["type"].get<std::string>();
  if (type == "text") return std::nullopt;
  if (type == "json_object") return compile(json_object_gbnf(), "response_format").with_unique_json_keys();
  if (type == "json_schema") {
    const std::string param = "response_format.json_schema";
    if (!format.contains("json_schema") || !format["json_schema"].is_object()) {
      throw ApiError(400, fmt::format("'{}' must be an object with a 'schema'", param), "invalid_request_error", param);
    }
    const json& js = format["json_schema"];
    if (!js.contains("name") || !js["name"].is_string()) {
      throw ApiError(400, fmt::format("'{}.name' is required", param), "invalid_request_error", param + ".name");
    }
    if (js.contains("strict") && !js["strict"].is_boolean() && !js["strict"].is_null()) {
      throw ApiError(400, fmt::format("'{}.strict' must be true or false", param), "invalid_request_error", param + ".strict");
    }
    // strict or not, the output follows the schema: smol only ever samples valid tokens.
    return from_schema(js.contains("schema") ? js["schema"] : json::object(), param + ".schema");
  }
  throw ApiError(400,
                 fmt::format("'response_format.type' '{}' is not supported: use 'text', 'json_object' or 'json_schema'", type),
                 "invalid_request_error", "response_format.type");
}

}  // namespace smol::server
