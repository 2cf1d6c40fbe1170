#pragma once
// What the HTTP handlers of one server share.
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include <httplib.h>

#include "server/job_runner.hpp"
#include "server/metrics.hpp"
#include "server/openai_api.hpp"
#include "smol/chat_template.hpp"
#include "smol/server.hpp"
#include "smol/tokenizer.hpp"

namespace smol::server {

// What the handlers need of the model, whichever kind it is.
struct ModelInfo {
  Tokenizer tokenizer;
  // Decoder-only models: a chat request is this template around the messages; base models
  // have none, and chat requests are then a 400.
  const ChatTemplate* chat_template = nullptr;
  // Encoder-decoder models: the prompt, or the last user message, is the source, encoded with
  // the tokenizer's special tokens as transformers' tokenizer(text) does, and it may hold up
  // to options.context tokens; the target has its own positions.
  bool encoder_decoder = false;
  int vocab_size = 0;  // prompt token ids must be below it
};

struct ServerState {
  ServerState(ModelInfo model_, const ServerOptions& options_) : model(std::move(model_)), options(options_) {}
  ModelInfo model;
  ServerOptions options;
  Metrics metrics;  // before the runner, which holds a reference to it
  std::unique_ptr<JobRunner> runner;
  std::atomic<bool> accepting{true};
  // Completion responses not yet fully written; stop() waits for them before closing the
  // HTTP server, which would cut a stream off mid-way.
  std::atomic<int> in_flight{0};
  std::atomic<uint64_t> serial{0};
};

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

void send_error(httplib::Response& res, const ApiError& error);
// A 400 context_length_exceeded when a decoder-only prompt leaves no room to generate.
void check_prompt_fits(const ServerState& state, size_t prompt_tokens, const char* param);
// Hands a request to the runner; a 503 when it is shutting down or its queue is full, a 400
// for a setting the model cannot run.
std::shared_ptr<Job> submit_job(ServerState& state, GenerationRequest request);
// The HTTP error for a job that failed.
ApiError job_error(const JobResult& result);
// POST /v1/chat/completions and /v1/completions, streamed or not.
void handle_completion(ServerState& state, Endpoint endpoint, const std::string& body, httplib::Response& res);
// POST /apply-template (llama.cpp's extension): a chat request's prompt, as the template
// renders it, without generating: {"prompt": "..."}.
void handle_apply_template(ServerState& state, const std::string& body, httplib::Response& res);
// POST /v1/qa (smol's extension): an answer to a question about a context, optionally a
// verbatim span of it, with its offsets (qa_handler.cpp).
void handle_qa(ServerState& state, const std::string& body, httplib::Response& res);

}  // namespace smol::server
