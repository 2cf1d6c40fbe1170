#pragma once
// `smol serve`: an OpenAI-compatible HTTP server (chat and text completions, streaming,
// /v1/models, /health, /metrics) and a web chat page at /, generating for many clients at
// once with continuous batching over one model.
#include <memory>
#include <string>

#include "smol/kernels.hpp"

namespace smol {

class Engine;

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;        // 0: any free port (bind() tells which)
  int parallel = 4;       // sequences generating at once, each with its own KV cache
  int queue = 16;         // requests that may wait for a slot; more get 503 at once
  int context = 0;        // tokens per sequence, prompt + completion; 0: min(2048, model's maximum)
  std::string api_key;    // when set, /v1/* requires "Authorization: Bearer <key>"
  std::string model_name; // the id /v1/models reports and responses carry
  int batch_tokens = 256; // tokens per forward step (prompt chunks + one per active sequence)
  WeightType cache_type = WeightType::F32;  // KV cache storage: F32, F16, BF16 or Q8_0
  int shutdown_grace_ms = 5000;  // how long stop() lets active requests finish
  int step_delay_ms = 0;  // test hook: sleep after every step so timing tests are not races
};

class Server {
 public:
  // The engine must outlive the server; from here on only the server's scheduler thread
  // runs the model.
  Server(Engine& engine, const ServerOptions& options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Opens the listening socket; returns the port. Throws smol::Error when it cannot.
  int bind();
  // Serves until stop() and returns once every connection's handler has finished.
  void run();
  // Safe from any thread: stops accepting, ends queued requests, lets active ones finish
  // for shutdown_grace_ms and cancels the rest. run() then returns.
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace smol
