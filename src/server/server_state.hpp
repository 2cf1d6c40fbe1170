#pragma once
// What the HTTP handlers of one server share.
#include <atomic>
#include <cstdint>
#include <string>

#include <httplib.h>

#include "server/metrics.hpp"
#include "server/openai_api.hpp"
#include "server/scheduler.hpp"
#include "smol/server.hpp"

namespace smol::server {

struct ServerState {
  ServerState(Engine& engine_, const ServerOptions& options_, const SchedulerOptions& scheduler_options)
      : engine(engine_), options(options_), scheduler(engine_, scheduler_options, metrics) {}
  Engine& engine;
  ServerOptions options;
  Metrics metrics;  // before the scheduler, which holds a reference to it
  Scheduler scheduler;
  bool has_chat_template = false;  // base models have none: chat requests are then a 400
  std::atomic<bool> accepting{true};
  // Completion responses not yet fully written; stop() waits for them before closing the
  // HTTP server, which would cut a stream off mid-way.
  std::atomic<int> in_flight{0};
  std::atomic<uint64_t> serial{0};
};

void send_error(httplib::Response& res, const ApiError& error);
// POST /v1/chat/completions and /v1/completions, streamed or not.
void handle_completion(ServerState& state, Endpoint endpoint, const httplib::Request& req, httplib::Response& res);

}  // namespace smol::server
