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
      if (!model.chat_template) {
        throw ApiError(400, "this model has no chat template: use /v1/completions", "invalid_request_error", param);
      }
      ids = tokenizer.encode(model.chat_template->render(params.messages, /*add_generation_prompt=*/true));
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
  if (!model.encoder_decoder && static_cast<int>(ids.size()) >= context) {
    throw ApiError(400,
                   fmt::format("the prompt has {} tokens, but the context holds {} (prompt + completion): "
                               "shorten it or restart the server with a larger --ctx",
                               ids.size(), context),
                   "invalid_request_error", param, "context_length_exceeded");
  }
  return ids;
}

ApiError job_error(const JobResult& result) {
  if (result.error == "the server is shutting down") return ApiError(503, result.error, "server_error", "", "shutting_down");
  return ApiError(500, result.error, "server_error");
}

// Counts a response in ServerState::in_flight for as long as it lives.
class InFlight {
 public:
  explicit InFlight(std::atomic<int>& n) : n_(n) { ++n_; }
  ~InFlight() { --n_; }
  InFlight(const InFlight&) = delete;
  InFlight& operator=(const InFlight&) = delete;

 private:
  std::atomic<int>& n_;
};

// The state of one SSE response between calls of httplib's content provider.
struct Stream {
  std::shared_ptr<InFlight> in_flight;
  std::shared_ptr<Job> job;
  Endpoint endpoint;
  ResponseMeta meta;
  bool include_usage;
  bool started = false;
  std::chrono::steady_clock::time_point last_write = std::chrono::steady_clock::now();
};

bool send_event(httplib::DataSink& sink, Stream& s, const std::string& data) {
  const std::string event = "data: " + data + "\n\n";
  s.last_write = std::chrono::steady_clock::now();
  return sink.write(event.data(), event.size());
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
  if (!ev.text.empty() &&
      !send_event(sink, s, dump(stream_chunk(s.endpoint, s.meta, ev.text, false, std::nullopt, s.include_usage)))) {
    return false;
  }
  if (!ev.finished) return true;
  if (!ev.result.error.empty()) {
    // Mid-stream there is no status line left to change: report in the stream and stop.
    if (!send_event(sink, s, dump(error_body(job_error(ev.result))))) return false;
  } else {
    if (!send_event(sink, s, dump(stream_chunk(s.endpoint, s.meta, "", false, ev.result.finish_reason,
                                               s.include_usage)))) {
      return false;
    }
    if (s.include_usage && !send_event(sink, s, dump(usage_chunk(s.endpoint, s.meta, ev.result)))) return false;
    if (!send_event(sink, s, "[DONE]")) return false;
  }
  sink.done();
  return true;
}

}  // namespace

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
    GenerationRequest request;
    request.grammar = params.grammar;
    request.prompt = prompt_tokens(state, params);
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

    Rejection why = Rejection::None;
    std::shared_ptr<Job> job;
    try {
      job = state.runner->submit(std::move(request), why);
    } catch (const Error& e) {  // a generation setting this model cannot run
      throw ApiError(400, e.what());
    }
    if (!job) {
      if (why == Rejection::ShuttingDown) {
        throw ApiError(503, "the server is shutting down", "server_error", "", "shutting_down");
      }
      throw ApiError(503,
                     fmt::format("the server is busy: {} requests are generating and the queue is full; retry later",
                                 state.options.parallel),
                     "server_error", "", "queue_full");
    }
    const ResponseMeta meta = new_response_meta(endpoint, state.options.model_name, state.serial++);

    if (!params.stream) {
      JobEvent ev = job->wait();
      if (!ev.result.error.empty()) throw job_error(ev.result);
      res.set_content(dump(completion_response(endpoint, meta, ev.text, ev.result)), "application/json");
      return;
    }
    auto stream = std::make_shared<Stream>(Stream{in_flight, job, endpoint, meta, params.include_usage});
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

}  // namespace smol::server
