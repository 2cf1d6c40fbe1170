// smol serve: the OpenAI-compatible server. SIGINT/SIGTERM stop it cleanly (exit status 0).
#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <thread>

#include <fmt/format.h>

#include "cli/commands.hpp"
#include "cli/options.hpp"
#include "cli/seq2seq_options.hpp"
#include "smol/generate.hpp"
#include "smol/hub.hpp"
#include "smol/seq2seq_generate.hpp"
#include "smol/server.hpp"

namespace smol::cli {

namespace {

struct ServeArgs {
  std::string model;
  LoadMode load = LoadMode::Read;
  std::string weights;  // --weights: convert the matrices at load time
  int threads = 1;
  ServerOptions server;
};

int run_serve(ServeArgs& args) {
  // SIGINT/SIGTERM are blocked in every thread (threads created from here on inherit the
  // mask) and taken by one thread with sigwait, which may call anything, unlike a handler:
  // no signal handler and no global flag.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);  // a client that vanished is a failed write, not a dead server

  const std::filesystem::path dir = resolve_model(args.model);
  const std::optional<WeightType> weights =
      args.weights.empty() ? std::nullopt : std::optional(weight_type_from_flag(args.weights));
  // A Hub id names the model as clients know it; a folder is named by its last component.
  if (args.server.model_name.empty() && !std::filesystem::exists(args.model) && is_hub_repo_id(args.model)) {
    args.server.model_name = args.model;
  }
  // An encoder-decoder folder (BART, mBART, Marian) gets the seq2seq engine; the prompt or
  // the last user message is its source.
  std::unique_ptr<Engine> engine;
  std::unique_ptr<Seq2SeqEngine> seq2seq;
  std::unique_ptr<Server> owned;
  if (is_seq2seq_folder(dir)) {
    seq2seq = std::make_unique<Seq2SeqEngine>(dir, args.threads, args.load, weights);
    owned = std::make_unique<Server>(*seq2seq, args.server);
  } else {
    engine = std::make_unique<Engine>(dir, args.threads, args.load, weights);
    owned = std::make_unique<Server>(*engine, args.server);
  }
  Server& server = *owned;
  const int port = server.bind();
  std::fprintf(stderr, "%s", fmt::format("smol serve: listening on http://{}:{} (model {}, {} slots, {} threads, {} KV "
                                         "cache)\n",
                                         args.server.host, port, args.model, args.server.parallel, args.threads,
                                         cache_type_name(args.server.cache_type)).c_str());
  std::fflush(stderr);

  std::atomic<bool> signalled{false};
  std::thread waiter([&] {
    int sig = 0;
    sigwait(&stop_signals, &sig);
    signalled = true;
    server.stop();
  });
  server.run();
  // run() returns after stop(); should it ever return on its own, wake the waiter.
  if (!signalled) pthread_kill(waiter.native_handle(), SIGTERM);
  waiter.join();
  std::fprintf(stderr, "smol serve: stopped\n");
  return 0;
}

}  // namespace

Command add_serve_command(CLI::App& root) {
  auto args = std::make_shared<ServeArgs>();
  ServerOptions& o = args->server;
  CLI::App* app = root.add_subcommand("serve", "Serve the model over an OpenAI-compatible HTTP API and a web chat page");
  add_model_option(*app, args->model);
  add_mmap_option(*app, args->load);
  app->add_option("--host", o.host, "Address to listen on")->capture_default_str();
  app->add_option("--port", o.port, "Port to listen on (0: any free port)")->check(CLI::Range(0, 65535))
      ->capture_default_str();
  app->add_option("--parallel", o.parallel, "Requests generating at once (continuous batching slots)")
      ->check(CLI::Range(1, 1024))->capture_default_str();
  app->add_option("--queue", o.queue, "Requests that may wait for a slot; beyond that: 503")
      ->check(CLI::Range(0, 1 << 20))->capture_default_str();
  app->add_option("-c,--ctx", o.context, "Context size per request in tokens, prompt + completion (default: 2048 or the model's maximum)")
      ->check(CLI::Range(2, 1 << 20));
  app->add_option("--api-key", o.api_key, "Require 'Authorization: Bearer KEY' on /v1/*")->envname("SMOL_API_KEY");
  app->add_option("--cors", o.cors_origin,
                  "Let web pages of this origin (scheme://host[:port], or *) call the API; default: off, only the "
                  "built-in page and non-browser clients");
  app->add_option("--max-body-bytes", o.max_body_bytes, "Largest request body; larger ones are answered 413")
      ->check(CLI::Range(size_t{1}, size_t{1} << 30))->capture_default_str();
  app->add_option("--model-name", o.model_name, "Model id reported by /v1/models (default: the -m value)");
  app->add_option("--batch", o.batch_tokens, "Tokens per forward step (prompt chunks + one per active request)")
      ->check(CLI::Range(1, 1 << 16))->capture_default_str();
  app->add_option("--shutdown-grace", o.shutdown_grace_ms,
                  "On SIGTERM, milliseconds active requests may take to finish before they are cancelled")
      ->check(CLI::Range(0, 1 << 30))->capture_default_str();
  // Test hook, hidden from --help: slows each scheduler step so timing tests are not races.
  app->add_option("--debug-step-delay-ms", o.step_delay_ms)->check(CLI::Range(0, 10000))->group("");
  add_threads_option(*app, args->threads);
  add_cache_type_option(*app, o.cache_type);
  add_weights_option(*app, args->weights);
  return {app, [args] { return run_serve(*args); }};
}

}  // namespace smol::cli
