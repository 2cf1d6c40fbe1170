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

void send_error(httplib::Response& res, const ApiError& error);
// POST /v1/chat/completions and /v1/completions, streamed or not.
void handle_completion(ServerState& state, Endpoint endpoint, const std::string& body, httplib::Response& res);

}  // namespace smol::server
