// POST /v1/qa, smol's extension: {"context", "question", "extractive", "max_tokens", sampling
// fields} → {"answer", "start", "end", "extractive", "finish_reason", "usage"}. The question is
// asked through the chat template as `smol qa` asks it; with "extractive": true the answer is
// a verbatim span of the context (SpanConstraint). start/end are code-point offsets of the
// answer's first occurrence in the context (null when a free answer does not occur in it).
#include <fmt/format.h>

#include <set>

#include "server/server_state.hpp"
#include "smol/error.hpp"
#include "smol/qa.hpp"

namespace smol::server {

using nlohmann::json;

namespace {

const std::set<std::string> kQaFields = {"model", "context", "question", "extractive", "max_tokens", "temperature",
                                         "top_p", "top_k", "min_p", "seed", "repeat_penalty", "presence_penalty",
                                         "frequency_penalty"};

struct QaRequest {
  std::string context;
  std::string question;
  bool extractive = false;
  int max_tokens = 64;
  SamplingParams sampling;
};

std::string required_string(const json& body, const char* name) {
  auto it = body.find(name);
  if (it == body.end() || it->is_null()) throw ApiError(400, fmt::format("'{}' is required", name), "invalid_request_error", name);
  if (!it->is_string()) throw bad_field(name, "must be a string");
  return it->get<std::string>();
}

QaRequest parse_qa_request(const std::string& text) {
  json body;
  try {
    body = json::parse(text);
  } catch (const json::exception& e) {
    throw ApiError(400, fmt::format("the request body is not valid JSON: {}", e.what()));
  }
  if (!body.is_object()) throw ApiError(400, "the request body must be a JSON object");
  for (const auto& [name, value] : body.items()) {
    if (!kQaFields.count(name)) {
      throw ApiError(400, fmt::format("Unrecognized request argument supplied: {}", name), "invalid_request_error", name,
                     "unknown_parameter");
    }
  }
  QaRequest r;
  r.context = required_string(body, "context");
  r.question = required_string(body, "question");
  if (r.context.empty()) throw bad_field("context", "must not be empty");
  if (auto it = body.find("extractive"); it != body.end() && !it->is_null()) {
    if (!it->is_boolean()) throw bad_field("extractive", "must be true or false");
    r.extractive = it->get<bool>();
  }
  if (auto it = body.find("max_tokens"); it != body.end() && !it->is_null()) {
    if (!it->is_number_integer() || it->get<int64_t>() < 1) throw bad_field("max_tokens", "must be an integer >= 1");
    r.max_tokens = static_cast<int>(std::min<int64_t>(it->get<int64_t>(), 1 << 30));
  }
  r.sampling = parse_sampling(body);
  if (!body.contains("temperature") || body["temperature"].is_null()) r.sampling.temperature = 0.0f;  // greedy
  try {
    r.sampling.validate();
  } catch (const Error& e) {
    throw ApiError(400, e.what());
  }
  return r;
}

json answer_json(const QaRequest& r, const JobResult& result, const std::string& text, const Tokenizer& tokenizer) {
  json out = {{"object", "qa.answer"}, {"extractive", r.extractive}};
  std::optional<AnswerSpan> span;
  if (r.extractive) {
    span = extractive_span(r.context, generated_bytes(tokenizer, result.completion_ids));
  } else {
    const std::string_view answer = trim_answer(text);
    out["answer"] = std::string(answer);
    span = find_span(r.context, answer);
  }
  if (span) out["answer"] = span->answer;
  out["start"] = span ? json(span->start) : json(nullptr);
  out["end"] = span ? json(span->end) : json(nullptr);
  out["finish_reason"] = result.finish_reason;
  out["usage"] = usage_json(result);
  return out;
}

}  // namespace

void handle_qa(ServerState& state, const std::string& body, httplib::Response& res) {
  ++state.metrics.requests_total;
  InFlight in_flight(state.in_flight);
  try {
    if (!state.accepting) throw ApiError(503, "the server is shutting down", "server_error", "", "shutting_down");
    const QaRequest r = parse_qa_request(body);
    if (state.model.encoder_decoder) {
      throw ApiError(400, "/v1/qa needs a decoder-only chat model: this server runs an encoder-decoder");
    }
    if (!state.model.chat_template) throw ApiError(400, "/v1/qa needs a chat model: this model has no chat template");
    GenerationRequest request;
    try {
      const std::string prompt = state.model.chat_template->render(qa_messages(r.context, r.question, r.extractive),
                                                                   /*add_generation_prompt=*/true);
      request.prompt = state.model.tokenizer.encode(prompt);
    } catch (const Error& e) {
      throw ApiError(400, e.what(), "invalid_request_error", "context");
    }
    check_prompt_fits(state, request.prompt.size(), "context");
    request.max_tokens = std::min(r.max_tokens, state.options.context - static_cast<int>(request.prompt.size()));
    request.sampling = r.sampling;
    if (r.extractive) request.span_of = r.context;
    const JobEvent ev = submit_job(state, std::move(request))->wait();
    if (!ev.result.error.empty()) throw job_error(ev.result);
    res.set_content(answer_json(r, ev.result, ev.text, state.model.tokenizer).dump(-1, ' ', false,
                                                                                   json::error_handler_t::replace),
                    "application/json");
  } catch (const ApiError& e) {
    ++state.metrics.requests_rejected;
    send_error(res, e);
  }
}

}  // namespace smol::server
