#pragma once
// `smol serve`: an OpenAI-compatible HTTP server (chat and text completions, streaming,
// /v1/models, /health, /metrics) and a web chat page at /, generating for many clients at
// once with continuous batching over one model.
#include <memory>
#include <string>

#include "smol/kernels.hpp"

namespace smol {

class Engine;
class Seq2SeqEngine;

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;        // 0: any free port (bind() tells which)
  int parallel = 4;       // sequences generating at once, each with its own KV cache
  int queue = 16;         // requests that may wait for a slot; more get 503 at once
  int context = 0;        // tokens per sequence, prompt + completion; 0: min(2048, model's maximum)
                          // (encoder-decoder: the longest source; 0: max_position_embeddings)
  std::string api_key;    // when set, /v1/* requires "Authorization: Bearer <key>"
  // The one browser origin (scheme://host[:port], or "*") that may call the API from its
  // pages; empty: CORS off, only the built-in page (same origin) and non-browser clients.
  std::string cors_origin;
  size_t max_body_bytes = 8u << 20;  // larger request bodies are answered 413
  std::string model_name; // the id /v1/models reports and responses carry
  int batch_tokens = 256; // tokens per forward step (prompt chunks + one per active sequence); decoder-only
  WeightType cache_type = WeightType::F32;  // KV cache storage: F32, F16, BF16 or Q8_0
  int shutdown_grace_ms = 5000;  // how long stop() lets active requests finish
  int step_delay_ms = 0;  // test hook: sleep after every step so timing tests are not races
};

class Server {
 public:
  // The engine must outlive the server; from here on only the server's scheduler thread
  // runs the model.
  Server(Engine& engine, const ServerOptions& options);
  // An encoder-decoder (BART, mBART, Marian): the prompt of /v1/completions, or the last user
  // message of /v1/chat/completions, is the source; up to `parallel` waiting requests run as
  // one batch (one encoder pass, one decoder pass per step). Request fields override the
  // folder's generation config: max_tokens, temperature (0: no sampling), top_p, seed, stop,
  // and smol's num_beams (beam search; streamed as one delta at the end).
  Server(Seq2SeqEngine& engine, const ServerOptions& options);
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
