#include "server/openai_api.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>

#include <fmt/format.h>

namespace smol::server {

using nlohmann::json;

ApiError bad_field(const std::string& field, const std::string& what) {
  return ApiError(400, fmt::format("'{}' {}", field, what), "invalid_request_error", field);
}

namespace {

const json* field(const json& body, const char* name) {
  auto it = body.find(name);
  if (it == body.end() || it->is_null()) return nullptr;
  return &*it;
}

std::optional<double> number_in(const json& body, const char* name, double low, double high) {
  const json* v = field(body, name);
  if (!v) return std::nullopt;
  if (!v->is_number()) throw bad_field(name, "must be a number");
  const double x = v->get<double>();
  if (!std::isfinite(x) || x < low || x > high) {
    throw bad_field(name, fmt::format("must be between {} and {}, got {}", low, high, x));
  }
  return x;
}

std::optional<int64_t> integer(const json& body, const char* name) {
  const json* v = field(body, name);
  if (!v) return std::nullopt;
  if (!v->is_number_integer()) throw bad_field(name, "must be an integer");
  return v->get<int64_t>();
}

std::optional<bool> boolean(const json& body, const char* name) {
  const json* v = field(body, name);
  if (!v) return std::nullopt;
  if (!v->is_boolean()) throw bad_field(name, "must be true or false");
  return v->get<bool>();
}

void parse_prompt(const json& body, CompletionParams& params) {
  const json* prompt = field(body, "prompt");
  if (!prompt) throw ApiError(400, "'prompt' is required", "invalid_request_error", "prompt");
  if (prompt->is_string()) {
    params.prompt = prompt->get<std::string>();
    return;
  }
  if (prompt->is_array() && prompt->size() == 1 && (*prompt)[0].is_string()) {
    params.prompt = (*prompt)[0].get<std::string>();
    return;
  }
  if (prompt->is_array() && !prompt->empty() && std::all_of(prompt->begin(), prompt->end(), [](const json& x) {
        return x.is_number_integer();
      })) {
    for (const json& id : *prompt) {
      // get<int32_t> would wrap 4294967297 to id 1: an id outside int32 is no id.
      if (id.is_number_unsigned() ? id.get<uint64_t>() > INT32_MAX
                                  : id.get<int64_t>() < INT32_MIN || id.get<int64_t>() > INT32_MAX) {
        throw bad_field("prompt", fmt::format("token id {} is out of range", id.dump()));
      }
      params.prompt_ids.push_back(id.get<int32_t>());
    }
    return;
  }
  if (prompt->is_array() && prompt->size() > 1) throw bad_field("prompt", "with several prompts is not supported (n=1)");
  throw bad_field("prompt", "must be a string or a list of token ids");
}

std::vector<std::string> parse_stop(const json& body) {
  const json* stop = field(body, "stop");
  if (!stop) return {};
  if (stop->is_string()) return {stop->get<std::string>()};
  if (!stop->is_array()) throw bad_field("stop", "must be a string or a list of strings");
  if (stop->size() > 4) throw bad_field("stop", "may hold at most 4 strings");
  std::vector<std::string> out;
  for (const json& s : *stop) {
    if (!s.is_string()) throw bad_field("stop", "must be a string or a list of strings");
    out.push_back(s.get<std::string>());
  }
  return out;
}

}  // namespace

// OpenAI's defaults (temperature 1, top_p 1, nothing else), not the command line's.
SamplingParams parse_sampling(const json& body) {
  SamplingParams p;
  p.temperature = 1.0f;
  p.top_p = 1.0f;
  p.top_k = 0;
  p.min_p = 0.0f;
  p.repeat_penalty = 1.0f;
  if (auto t = number_in(body, "temperature", 0.0, 2.0)) p.temperature = static_cast<float>(*t);
  if (auto t = number_in(body, "top_p", 0.0, 1.0)) {
    if (*t <= 0.0) throw bad_field("top_p", "must be greater than 0");
    p.top_p = static_cast<float>(*t);
  }
  if (auto v = number_in(body, "presence_penalty", -2.0, 2.0)) p.presence_penalty = static_cast<float>(*v);
  if (auto v = number_in(body, "frequency_penalty", -2.0, 2.0)) p.frequency_penalty = static_cast<float>(*v);
  // Extensions llama.cpp's server also accepts.
  if (auto k = integer(body, "top_k")) {
    if (*k < 0) throw bad_field("top_k", "must be >= 0");
    p.top_k = static_cast<int>(std::min<int64_t>(*k, 1 << 30));
  }
  if (auto v = number_in(body, "min_p", 0.0, 1.0)) p.min_p = static_cast<float>(*v);
  if (auto v = number_in(body, "repeat_penalty", 0.0, 100.0)) {
    if (*v <= 0.0) throw bad_field("repeat_penalty", "must be greater than 0");
    p.repeat_penalty = static_cast<float>(*v);
  }
  if (const json* seed = field(body, "seed")) {
    if (!seed->is_number_integer()) throw bad_field("seed", "must be an integer");
    p.seed = seed->is_number_unsigned() ? seed->get<uint64_t>() : static_cast<uint64_t>(seed->get<int64_t>());
  }
  return p;
}

json error_body(const ApiError& error) {
  return {{"error",
           {{"message", error.what()},
            {"type", error.type},
            {"param", error.param.empty() ? json(nullptr) : json(error.param)},
            {"code", error.code.empty() ? json(nullptr) : json(error.code)}}}};
}

CompletionParams parse_completion_request(const std::string& body_text, Endpoint endpoint) {
  json body;
  try {
    body = json::parse(body_text);
  } catch (const json::exception& e) {  // parse_error, and out_of_range for 1e400
    throw ApiError(400, fmt::format("the request body is not valid JSON: {}", e.what()));
  }
  if (!body.is_object()) throw ApiError(400, "the request body must be a JSON object");

  CompletionParams params;
  params.endpoint = endpoint;
  if (const json* model = field(body, "model")) {
    if (!model->is_string()) throw bad_field("model", "must be a string");
    params.model = model->get<std::string>();
  }
  if (endpoint == Endpoint::Chat) {
    // Again with the client's key order, which templates show (tools | tojson).
    const auto ordered = nlohmann::ordered_json::parse(body_text);
    if (!field(body, "messages")) throw ApiError(400, "'messages' is required", "invalid_request_error", "messages");
    ChatMessages messages = parse_chat_messages(ordered["messages"]);
    params.messages = std::move(messages.plain);
    params.chat_messages = std::move(messages.for_template);
    refuse_unsupported_fields(body, endpoint);
    params.tools = parse_chat_tools(ordered);
  } else {
    parse_prompt(body, params);
    refuse_unsupported_fields(body, endpoint);
  }
  params.grammar = parse_output_constraint(body);
  if (params.grammar && params.tools &&
      (params.tools->choice == ToolChoice::Required || params.tools->choice == ToolChoice::Function)) {
    throw ApiError(400, "a forced tool call ('tool_choice') and response_format/grammar both constrain the output: give one",
                   "invalid_request_error", "tool_choice");
  }
  auto max_tokens = integer(body, "max_tokens");
  if (endpoint == Endpoint::Chat) {
    if (auto m = integer(body, "max_completion_tokens")) max_tokens = m;
  }
  if (max_tokens) {
    if (*max_tokens < 1) throw bad_field("max_tokens", "must be at least 1");
    params.max_tokens = static_cast<int>(std::min<int64_t>(*max_tokens, 1 << 30));
  }
  if (auto n = integer(body, "n"); n && *n != 1) throw bad_field("n", "must be 1: only one choice is supported");
  params.sampling = parse_sampling(body);
  params.temperature_set = field(body, "temperature") != nullptr;
  params.top_p_set = field(body, "top_p") != nullptr;
  if (auto beams = integer(body, "num_beams")) {
    if (*beams < 1 || *beams > 64) throw bad_field("num_beams", "must be between 1 and 64");
    params.num_beams = static_cast<int>(*beams);
  }
  params.stop = parse_stop(body);
  params.stream = boolean(body, "stream").value_or(false);
  if (const json* options = field(body, "stream_options")) {
    if (!options->is_object()) throw bad_field("stream_options", "must be an object");
    params.include_usage = boolean(*options, "include_usage").value_or(false);
  }
  return params;
}

std::string render_chat_prompt(const ChatTemplate& chat_template, const CompletionParams& params) {
  nlohmann::ordered_json context = {{"messages", params.chat_messages}, {"add_generation_prompt", true}};
  if (params.tools) context["tools"] = params.tools->tools;
  return chat_template.render_ordered(context);
}

ResponseMeta new_response_meta(Endpoint endpoint, const std::string& model, uint64_t serial) {
  ResponseMeta meta;
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  meta.created = std::chrono::duration_cast<std::chrono::seconds>(now).count();
  // The start time in microseconds keeps ids of different server runs apart.
  meta.id = fmt::format("{}-{:x}{:06x}", endpoint == Endpoint::Chat ? "chatcmpl" : "cmpl",
                        std::chrono::duration_cast<std::chrono::microseconds>(now).count(), serial & 0xffffff);
  meta.model = model;
  return meta;
}

json usage_json(const JobResult& result) {
  return {{"prompt_tokens", result.prompt_tokens},
          {"completion_tokens", result.completion_tokens},
          {"total_tokens", result.prompt_tokens + result.completion_tokens}};
}

json completion_response(Endpoint endpoint, const ResponseMeta& meta, const std::string& text,
                         const JobResult& result) {
  json choice = {{"index", 0}, {"logprobs", nullptr}, {"finish_reason", result.finish_reason}};
  if (endpoint == Endpoint::Chat) {
    choice["message"] = {{"role", "assistant"}, {"content", text}};
  } else {
    choice["text"] = text;
  }
  return {{"id", meta.id},
          {"object", endpoint == Endpoint::Chat ? "chat.completion" : "text_completion"},
          {"created", meta.created},
          {"model", meta.model},
          {"choices", json::array({choice})},
          {"usage", usage_json(result)}};
}

bool parses_tool_calls(const CompletionParams& params) {
  return params.tools && params.tools->choice != ToolChoice::None;
}

std::string finish_reason_with_calls(const JobResult& result, bool made_calls) {
  return made_calls && result.finish_reason == "stop" ? "tool_calls" : result.finish_reason;
}

namespace {

// call_<the response id's unique part>_<index>: unique within a server's responses.
std::string tool_call_id(const ResponseMeta& meta, size_t index) {
  const size_t dash = meta.id.find('-');
  return fmt::format("call_{}_{}", dash == std::string::npos ? meta.id : meta.id.substr(dash + 1), index);
}

json chunk_with_delta(const ResponseMeta& meta, json delta, bool include_usage) {
  json chunk = {{"id", meta.id},
                {"object", "chat.completion.chunk"},
                {"created", meta.created},
                {"model", meta.model},
                {"choices", json::array({{{"index", 0}, {"logprobs", nullptr}, {"finish_reason", nullptr},
                                          {"delta", std::move(delta)}}})}};
  if (include_usage) chunk["usage"] = nullptr;
  return chunk;
}

}  // namespace

json chat_answer_response(const ResponseMeta& meta, const ParsedAnswer& answer, const JobResult& result) {
  json response = completion_response(Endpoint::Chat, meta, answer.content, result);
  json& choice = response["choices"][0];
  if (answer.calls.empty()) return response;
  json calls = json::array();
  for (size_t i = 0; i < answer.calls.size(); ++i) {
    calls.push_back({{"id", tool_call_id(meta, i)},
                     {"type", "function"},
                     {"function", {{"name", answer.calls[i].name}, {"arguments", answer.calls[i].arguments}}}});
  }
  if (answer.content.empty()) choice["message"]["content"] = nullptr;
  choice["message"]["tool_calls"] = std::move(calls);
  choice["finish_reason"] = finish_reason_with_calls(result, true);
  return response;
}

std::vector<json> tool_call_chunks(const ResponseMeta& meta, const ParsedToolCall& call, size_t index,
                                   bool include_usage) {
  json head = {{"index", index},
               {"id", tool_call_id(meta, index)},
               {"type", "function"},
               {"function", {{"name", call.name}, {"arguments", ""}}}};
  json args = {{"index", index}, {"function", {{"arguments", call.arguments}}}};
  return {chunk_with_delta(meta, {{"tool_calls", json::array({head})}}, include_usage),
          chunk_with_delta(meta, {{"tool_calls", json::array({args})}}, include_usage)};
}

json stream_chunk(Endpoint endpoint, const ResponseMeta& meta, const std::string& text, bool role,
                  const std::optional<std::string>& finish_reason, bool include_usage) {
  json choice = {{"index", 0}, {"logprobs", nullptr},
                 {"finish_reason", finish_reason ? json(*finish_reason) : json(nullptr)}};
  if (endpoint == Endpoint::Chat) {
    json delta = json::object();
    if (role) delta["role"] = "assistant";
    if (role || !text.empty()) delta["content"] = text;
    choice["delta"] = delta;
  } else {
    choice["text"] = text;
  }
  json chunk = {{"id", meta.id},
                {"object", endpoint == Endpoint::Chat ? "chat.completion.chunk" : "text_completion"},
                {"created", meta.created},
                {"model", meta.model},
                {"choices", json::array({choice})}};
  if (include_usage) chunk["usage"] = nullptr;
  return chunk;
}

json usage_chunk(Endpoint endpoint, const ResponseMeta& meta, const JobResult& result) {
  return {{"id", meta.id},
          {"object", endpoint == Endpoint::Chat ? "chat.completion.chunk" : "text_completion"},
          {"created", meta.created},
          {"model", meta.model},
          {"choices", json::array()},
          {"usage", usage_json(result)}};
}

}  // namespace smol::server
