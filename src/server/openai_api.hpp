#pragma once
// The OpenAI wire format: reading /v1/chat/completions and /v1/completions request bodies
// (with the checks OpenAI makes, as 400 errors naming the field) and writing responses,
// stream chunks and errors.
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "server/chat_request.hpp"
#include "server/job.hpp"
#include "server/tool_call_parser.hpp"
#include "smol/chat_template.hpp"
#include "smol/grammar.hpp"
#include "smol/sampler.hpp"

namespace smol::server {

// An error answered as {"error": {"message", "type", "param", "code"}} with an HTTP status.
class ApiError : public std::runtime_error {
 public:
  ApiError(int status, const std::string& message, std::string type = "invalid_request_error",
           std::string param = "", std::string code = "")
      : std::runtime_error(message), status(status), type(std::move(type)), param(std::move(param)),
        code(std::move(code)) {}
  int status;
  std::string type;
  std::string param;
  std::string code;
};

nlohmann::json error_body(const ApiError& error);
// The 400 for one field: "'FIELD' WHAT", with param = FIELD.
ApiError bad_field(const std::string& field, const std::string& what);

enum class Endpoint { Chat, Completion };

struct CompletionParams {
  Endpoint endpoint = Endpoint::Chat;
  std::string model;
  std::vector<ChatMessage> messages;   // chat: role and content of each message
  nlohmann::ordered_json chat_messages;  // chat: the messages as the template reads them
  std::optional<ChatTools> tools;        // chat: tools, tool_choice, parallel_tool_calls
  std::string prompt;                  // completion, as text...
  std::vector<int32_t> prompt_ids;     // ...or as token ids
  std::optional<int> max_tokens;
  SamplingParams sampling;
  bool temperature_set = false;  // the request gave these itself (encoder-decoder models
  bool top_p_set = false;        // otherwise keep their generation config's values)
  std::optional<int> num_beams;  // smol's extension: beam search, encoder-decoder models only
  std::vector<std::string> stop;
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage
  // response_format (json_object, json_schema), or llama.cpp's grammar / json_schema fields.
  std::optional<Grammar> grammar;
};

// Throws ApiError(400) for malformed JSON, a field of the wrong type or range, or a field
// smol cannot honour (unknown, logprobs, functions, ...).
CompletionParams parse_completion_request(const std::string& body, Endpoint endpoint);

// OpenAI's sampling fields (temperature, top_p, penalties, seed) and llama.cpp's (top_k,
// min_p, repeat_penalty), with OpenAI's defaults.
SamplingParams parse_sampling(const nlohmann::json& body);

// A chat request's prompt: transformers' apply_chat_template(messages, tools=tools,
// add_generation_prompt=True) with the messages in template form. Throws smol::Error for a
// template's raise_exception.
std::string render_chat_prompt(const ChatTemplate& chat_template, const CompletionParams& params);

// request_fields.cpp: a 400 naming the first field smol would have to ignore.
void refuse_unsupported_fields(const nlohmann::json& body, Endpoint endpoint);
// The compiled grammar response_format / grammar / json_schema ask for (nullopt: free text).
std::optional<Grammar> parse_output_constraint(const nlohmann::json& body);

// Response ids and the creation time shared by every chunk of one response.
struct ResponseMeta {
  std::string id;
  int64_t created = 0;
  std::string model;
};
// `serial` numbers the responses of one server.
ResponseMeta new_response_meta(Endpoint endpoint, const std::string& model, uint64_t serial);

nlohmann::json usage_json(const JobResult& result);
nlohmann::json completion_response(Endpoint endpoint, const ResponseMeta& meta, const std::string& text,
                                   const JobResult& result);
// Tool calls in an answer: parsed when the request has tools and tool_choice is not "none".
bool parses_tool_calls(const CompletionParams& params);
// OpenAI's finish_reason "tool_calls" for an answer that stopped after calling tools.
std::string finish_reason_with_calls(const JobResult& result, bool made_calls);
// A chat response whose answer was read for tool calls: content (null when there is none
// beside the calls) and message.tool_calls with ids call_<response>_<index>.
nlohmann::json chat_answer_response(const ResponseMeta& meta, const ParsedAnswer& answer, const JobResult& result);
// The stream chunks of one tool call: its index, id, type and name with empty arguments,
// then the arguments.
std::vector<nlohmann::json> tool_call_chunks(const ResponseMeta& meta, const ParsedToolCall& call, size_t index,
                                             bool include_usage);

// One stream chunk: `text` as a delta; `role` adds the assistant role (chat's first chunk);
// `finish_reason` marks the last choice chunk.
nlohmann::json stream_chunk(Endpoint endpoint, const ResponseMeta& meta, const std::string& text, bool role,
                            const std::optional<std::string>& finish_reason, bool include_usage);
// The extra chunk stream_options.include_usage asks for: no choices, the usage.
nlohmann::json usage_chunk(Endpoint endpoint, const ResponseMeta& meta, const JobResult& result);

}  // namespace smol::server
