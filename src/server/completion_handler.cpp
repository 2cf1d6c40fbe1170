// POST /v1/chat/completions and /v1/completions: request → prompt tokens → scheduler job →
// one JSON response, or Server-Sent Events as the text arrives.
#include <fmt/format.h>

#include "server/server_state.hpp"
#include "smol/chat_template.hpp"
#include "smol/error.hpp"

namespace smol::server {

using nlohmann::json;

namespace {

// With no client text for this long, a stream sends an SSE comment: the write fails once the
// client is gone, which frees its slot even while nothing is generated (queued, or a long
// prompt being read).
constexpr std::chrono::milliseconds kProbeInterval{500};

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

// Encoder-decoder models translate or summarize one text: the prompt, or in a chat the last
// user message (the earlier turns have no place in the encoder's input).
std::string source_text(const CompletionParams& params) {
  if (params.endpoint == Endpoint::Completion) return params.prompt;
  for (auto m = params.messages.rbegin(); m != params.messages.rend(); ++m) {
    if (m->role == "user") return m->content;
  }
  throw ApiError(400, "this is an encoder-decoder model: the last user message is its source, and there is none",
                 "invalid_request_error", "messages");
}

const ChatTemplate& chat_template(const ServerState& state) {
  if (!state.model.chat_template) {
    throw ApiError(400, "this model has no chat template: use /v1/completions", "invalid_request_error", "messages");
  }
  return *state.model.chat_template;
}

std::string chat_prompt(const ServerState& state, const CompletionParams& params) {
  return render_chat_prompt(chat_template(state), params);
}

std::vector<int32_t> prompt_tokens(ServerState& state, const CompletionParams& params) {
  const ModelInfo& model = state.model;
  const Tokenizer& tokenizer = model.tokenizer;
  const char* param = params.endpoint == Endpoint::Chat ? "messages" : "prompt";
  std::vector<int32_t> ids;
  try {
    if (params.endpoint == Endpoint::Completion && !params.prompt_ids.empty()) {
      ids = params.prompt_ids;
      const int vocab = model.vocab_size;
      for (int32_t id : ids) {
        if (id < 0 || id >= vocab) throw Error(fmt::format("token id {} is outside the vocabulary of {} ids", id, vocab));
      }
    } else if (model.encoder_decoder) {
      const std::string text = source_text(params);
      if (!text.empty()) ids = tokenizer.encode_with_special(text);
    } else if (params.endpoint == Endpoint::Chat) {
      ids = tokenizer.encode(chat_prompt(state, params));
    } else {
      ids = tokenizer.encode(params.prompt);
    }
  } catch (const Error& e) {  // invalid UTF-8, a template's raise_exception, a bad id
    throw ApiError(400, e.what(), "invalid_request_error", param);
  }
  if (ids.empty()) throw ApiError(400, "the prompt is empty", "invalid_request_error", param);
  const int context = state.options.context;
  if (model.encoder_decoder && static_cast<int>(ids.size()) > context) {
    throw ApiError(400,
                   fmt::format("the source has {} tokens, but the encoder reads at most {}: shorten it or split it",
                               ids.size(), context),
                   "invalid_request_error", param, "context_length_exceeded");
  }
  if (!model.encoder_decoder) check_prompt_fits(state, ids.size(), param);
  return ids;
}

// The state of one SSE response between calls of httplib's content provider.
struct Stream {
  std::shared_ptr<InFlight> in_flight;
  std::shared_ptr<Job> job;
  Endpoint endpoint = Endpoint::Chat;
  ResponseMeta meta;
  bool include_usage = false;
  std::optional<ToolCallStream> tool_calls;  // the text is read for tool calls
  size_t calls_sent = 0;
  bool started = false;
  std::chrono::steady_clock::time_point last_write = std::chrono::steady_clock::now();
};

bool send_event(httplib::DataSink& sink, Stream& s, const std::string& data) {
  const std::string event = "data: " + data + "\n\n";
  s.last_write = std::chrono::steady_clock::now();
  return sink.write(event.data(), event.size());
}

// New text as content chunks, or through the tool-call reader as content and tool-call chunks;
// `end`: the text is complete (the reader gives back what it held).
bool send_text(httplib::DataSink& sink, Stream& s, const std::string& text, bool end) {
  if (!s.tool_calls) {
    return text.empty() ||
           send_event(sink, s, dump(stream_chunk(s.endpoint, s.meta, text, false, std::nullopt, s.include_usage)));
  }
  std::vector<ToolCallPiece> pieces = text.empty() ? std::vector<ToolCallPiece>() : s.tool_calls->push(text);
  if (end) {
    for (ToolCallPiece& p : s.tool_calls->finish()) pieces.push_back(std::move(p));
  }
  for (const ToolCallPiece& p : pieces) {
    if (!p.call) {
      if (!send_event(sink, s, dump(stream_chunk(s.endpoint, s.meta, p.content, false, std::nullopt, s.include_usage)))) {
        return false;
      }
      continue;
    }
    for (const json& chunk : tool_call_chunks(s.meta, *p.call, s.calls_sent++, s.include_usage)) {
      if (!send_event(sink, s, dump(chunk))) return false;
    }
  }
  return true;
}

// One call of the content provider: writes what is ready. false ends the response early
// (the client is gone); sink.done() ends it normally.
bool pump(Stream& s, httplib::DataSink& sink) {
  if (!s.started) {
    s.started = true;
    if (s.endpoint == Endpoint::Chat) {
      return send_event(sink, s, dump(stream_chunk(s.endpoint, s.meta, "", true, std::nullopt, s.include_usage)));
    }
  }
  JobEvent ev = s.job->next(std::chrono::milliseconds(100));
  if (ev.timed_out) {
    if (std::chrono::steady_clock::now() - s.last_write < kProbeInterval) return true;
    s.last_write = std::chrono::steady_clock::now();
    static constexpr char kProbe[] = ": keep-alive\n\n";
    return sink.write(kProbe, sizeof(kProbe) - 1);
  }
  if (!send_text(sink, s, ev.text, false)) return false;
  if (!ev.finished) return true;
  if (!ev.result.error.empty()) {
    // Mid-stream there is no status line left to change: report in the stream and stop.
    if (!send_event(sink, s, dump(error_body(job_error(ev.result))))) return false;
  } else {
    if (!send_text(sink, s, "", true)) return false;
    const std::string reason = finish_reason_with_calls(ev.result, s.calls_sent > 0);
    if (!send_event(sink, s, dump(stream_chunk(s.endpoint, s.meta, "", false, reason, s.include_usage)))) {
      return false;
    }
    if (s.include_usage && !send_event(sink, s, dump(usage_chunk(s.endpoint, s.meta, ev.result)))) return false;
    if (!send_event(sink, s, "[DONE]")) return false;
  }
  sink.done();
  return true;
}

}  // namespace

void check_prompt_fits(const ServerState& state, size_t prompt_tokens, const char* param) {
  const int context = state.options.context;
  if (static_cast<int64_t>(prompt_tokens) >= context) {
    throw ApiError(400,
                   fmt::format("the prompt has {} tokens, but the context holds {} (prompt + completion): "
                               "shorten it or restart the server with a larger --ctx",
                               prompt_tokens, context),
                   "invalid_request_error", param, "context_length_exceeded");
  }
}

std::shared_ptr<Job> submit_job(ServerState& state, GenerationRequest request) {
  Rejection why = Rejection::None;
  std::shared_ptr<Job> job;
  try {
    job = state.runner->submit(std::move(request), why);
  } catch (const Error& e) {  // a generation setting this model cannot run
    throw ApiError(400, e.what());
  }
  if (job) return job;
  if (why == Rejection::ShuttingDown) throw ApiError(503, "the server is shutting down", "server_error", "", "shutting_down");
  throw ApiError(503,
                 fmt::format("the server is busy: {} requests are generating and the queue is full; retry later",
                             state.options.parallel),
                 "server_error", "", "queue_full");
}

ApiError job_error(const JobResult& result) {
  if (result.error == "the server is shutting down") return ApiError(503, result.error, "server_error", "", "shutting_down");
  return ApiError(500, result.error, "server_error");
}

void send_error(httplib::Response& res, const ApiError& error) {
  res.status = error.status;
  res.set_content(dump(error_body(error)), "application/json");
}

void handle_completion(ServerState& state, Endpoint endpoint, const std::string& body, httplib::Response& res) {
  ++state.metrics.requests_total;
  auto in_flight = std::make_shared<InFlight>(state.in_flight);
  try {
    if (!state.accepting) throw ApiError(503, "the server is shutting down", "server_error", "", "shutting_down");
    const CompletionParams params = parse_completion_request(body, endpoint);
    if (!state.model.encoder_decoder && params.num_beams.value_or(1) > 1) {
      throw ApiError(400, "'num_beams' needs an encoder-decoder model: this server samples or decodes greedily",
                     "invalid_request_error", "num_beams");
    }
    if (state.model.encoder_decoder && params.grammar) {
      throw ApiError(400, "response_format/grammar need a decoder-only model: this server runs an encoder-decoder",
                     "invalid_request_error", "response_format");
    }
    if (state.model.encoder_decoder && params.tools) {
      throw ApiError(400, "'tools' need a decoder-only chat model: this server runs an encoder-decoder",
                     "invalid_request_error", "tools");
    }
    GenerationRequest request;
    request.grammar = params.grammar;
    request.prompt = prompt_tokens(state, params);
    if (params.tools && (params.tools->choice == ToolChoice::Required || params.tools->choice == ToolChoice::Function)) {
      request.grammar = tool_call_grammar(*params.tools, tool_call_syntax(chat_template(state)));
    }
    if (state.model.encoder_decoder) {
      // Without max_tokens the folder's generation config decides, as `smol translate` does;
      // the runner caps it at the decoder's positions.
      request.max_tokens = params.max_tokens.value_or(0);
      request.max_tokens_set = params.max_tokens.has_value();
    } else {
      const int room = state.options.context - static_cast<int>(request.prompt.size());
      // OpenAI's defaults: 16 tokens for text completions, as many as fit for chat.
      const int wanted = params.max_tokens.value_or(endpoint == Endpoint::Chat ? room : 16);
      request.max_tokens = std::min(wanted, room);
    }
    request.temperature_set = params.temperature_set;
    request.top_p_set = params.top_p_set;
    request.num_beams = params.num_beams;
    request.sampling = params.sampling;
    try {
      request.sampling.validate();
    } catch (const Error& e) {
      throw ApiError(400, e.what());
    }
    request.stop = params.stop;

    std::shared_ptr<Job> job = submit_job(state, std::move(request));
    const ResponseMeta meta = new_response_meta(endpoint, state.options.model_name, state.serial++);

    if (!params.stream) {
      JobEvent ev = job->wait();
      if (!ev.result.error.empty()) throw job_error(ev.result);
      const json response = parses_tool_calls(params)
                                ? chat_answer_response(meta, parse_tool_calls(ev.text, params.tools->names), ev.result)
                                : completion_response(endpoint, meta, ev.text, ev.result);
      res.set_content(dump(response), "application/json");
      return;
    }
    auto stream = std::make_shared<Stream>();
    stream->in_flight = in_flight;
    stream->job = job;
    stream->endpoint = endpoint;
    stream->meta = meta;
    stream->include_usage = params.include_usage;
    if (parses_tool_calls(params)) stream->tool_calls.emplace(params.tools->names);
    res.set_header("Cache-Control", "no-cache");
    res.set_chunked_content_provider(
        "text/event-stream",
        [stream](size_t, httplib::DataSink& sink) {
          if (pump(*stream, sink)) return true;
          stream->job->cancel();
          return false;
        },
        [stream](bool success) {
          if (!success) stream->job->cancel();
        });
  } catch (const ApiError& e) {
    ++state.metrics.requests_rejected;
    send_error(res, e);
  }
}

void handle_apply_template(ServerState& state, const std::string& body, httplib::Response& res) {
  try {
    const CompletionParams params = parse_completion_request(body, Endpoint::Chat);
    if (state.model.encoder_decoder) {
      throw ApiError(400, "this is an encoder-decoder model: it has no chat template", "invalid_request_error", "messages");
    }
    std::string prompt;
    try {
      prompt = chat_prompt(state, params);
    } catch (const Error& e) {  // a template's raise_exception
      throw ApiError(400, e.what(), "invalid_request_error", "messages");
    }
    res.set_content(dump(json{{"prompt", prompt}}), "application/json");
  } catch (const ApiError& e) {
    send_error(res, e);
  }
}

}  // namespace smol::server
