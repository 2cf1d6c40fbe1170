// smol::Server: the HTTP routes, authentication, and the order of shutdown.
#include <filesystem>
#include <optional>
#include <thread>

#include <fmt/format.h>

#include "server/request_guard.hpp"
#include "server/scheduler.hpp"
#include "server/seq2seq_scheduler.hpp"
#include "server/server_state.hpp"
#include "server/web_page.hpp"
#include "smol/error.hpp"
#include "smol/generate.hpp"
#include "smol/seq2seq_generate.hpp"
#include "smol/server.hpp"

namespace smol {

using nlohmann::json;
using server::ApiError;
using server::Endpoint;

namespace {

std::string folder_name(const std::filesystem::path& dir) {
  const auto normal = dir.lexically_normal();
  return (normal.has_filename() ? normal : normal.parent_path()).filename().string();
}

ServerOptions resolved(const Engine& engine, ServerOptions options) {
  if (options.context == 0) options.context = std::min(2048, engine.model().config().max_position_embeddings);
  if (options.model_name.empty()) options.model_name = folder_name(engine.model_dir());
  return options;
}

// An encoder-decoder's context is the source: at most max_position_embeddings tokens.
ServerOptions resolved(const Seq2SeqEngine& engine, ServerOptions options) {
  const int positions = engine.model().config().max_position_embeddings;
  if (options.context == 0) options.context = positions;
  if (options.context > positions) {
    throw Error(fmt::format("--ctx {} exceeds the model's max_position_embeddings of {}", options.context, positions));
  }
  if (options.model_name.empty()) options.model_name = folder_name(engine.model_dir());
  return options;
}

server::ModelInfo model_info(const Engine& engine) {
  server::ModelInfo info{.tokenizer = engine.tokenizer(), .vocab_size = engine.model().config().vocab_size};
  // Built once here: rendering is thread-safe, building lazily from many handlers is not.
  try {
    info.chat_template = &engine.chat_template();
  } catch (const Error&) {
    info.chat_template = nullptr;
  }
  return info;
}

ApiError body_too_large(size_t limit) {
  return ApiError(413, fmt::format("request body larger than {} bytes (smol serve --max-body-bytes)", limit),
                  "invalid_request_error", "", "request_too_large");
}

// A POST body, read up to `limit` bytes whatever its framing: httplib refuses a Content-Length
// above its payload limit (and skips that body), but reads a chunked body to any size. Past
// the limit the rest is read and dropped, up to a bound, so the client is reading its 413 when
// the connection closes rather than being reset in the middle of writing.
std::optional<std::string> read_body(const httplib::ContentReader& reader, httplib::Response& res, size_t limit) {
  constexpr size_t kDrainBytes = 64u << 20;
  std::string body;
  size_t dropped = 0;
  const bool complete = reader([&](const char* data, size_t n) {
    if (dropped == 0 && body.size() + n <= limit) {
      body.append(data, n);
      return true;
    }
    dropped += n;
    return dropped <= kDrainBytes;
  });
  if (complete && dropped == 0) return body;
  res.set_header("Connection", "close");
  send_error(res, dropped > 0 || res.status == 413 ? body_too_large(limit)
                                                   : ApiError(400, "the request body could not be read"));
  return std::nullopt;
}

server::ModelInfo model_info(const Seq2SeqEngine& engine) {
  // Without tokenizer files there is no text to serve: tokenizer() says what is missing.
  return server::ModelInfo{.tokenizer = engine.tokenizer(),
                           .encoder_decoder = true,
                           .vocab_size = engine.model().config().vocab_size};
}

}  // namespace

struct Server::Impl {
  Impl(server::ModelInfo model, const ServerOptions& options) : state(std::move(model), options) {}
  void configure_http();
  void install_routes();
  bool authorized(const httplib::Request& req) const;

  server::ServerState state;
  httplib::Server http;
  std::mutex stop_mutex;
  bool stopped = false;
};

namespace {

void check_options(const ServerOptions& options) {
  if (options.queue < 0) throw Error("--queue must be >= 0");
  if (options.max_body_bytes == 0) throw Error("--max-body-bytes must be > 0");
  if (!options.cors_origin.empty() && !server::is_cors_origin(options.cors_origin)) {
    throw Error(fmt::format("--cors '{}' is not an origin: give scheme://host[:port] (e.g. http://localhost:3000) or *",
                            options.cors_origin));
  }
}

}  // namespace

Server::Server(Engine& engine, const ServerOptions& options) {
  check_options(options);
  impl_ = std::make_unique<Impl>(model_info(engine), resolved(engine, options));
  const ServerOptions& o = impl_->state.options;
  impl_->state.runner = std::make_unique<server::Scheduler>(
      engine,
      server::SchedulerOptions{.parallel = o.parallel,
                               .queue_limit = o.queue,
                               .context = o.context,
                               .batch_tokens = o.batch_tokens,
                               .cache_type = o.cache_type,
                               .step_delay = std::chrono::milliseconds(o.step_delay_ms)},
      impl_->state.metrics);
  impl_->configure_http();
}

Server::Server(Seq2SeqEngine& engine, const ServerOptions& options) {
  check_options(options);
  impl_ = std::make_unique<Impl>(model_info(engine), resolved(engine, options));
  const ServerOptions& o = impl_->state.options;
  impl_->state.runner = std::make_unique<server::Seq2SeqScheduler>(
      engine,
      server::Seq2SeqSchedulerOptions{.parallel = o.parallel,
                                      .queue_limit = o.queue,
                                      .cache_type = o.cache_type,
                                      .step_delay = std::chrono::milliseconds(o.step_delay_ms)},
      impl_->state.metrics);
  impl_->configure_http();
}

void Server::Impl::configure_http() {
  const ServerOptions& o = state.options;
  // Each streaming client holds one handler thread for its whole response, and idle
  // keep-alive connections hold theirs for a while: size the pool well above the slots and
  // the queue, so a request beyond them is answered 503 rather than left waiting for a thread.
  const size_t threads = static_cast<size_t>(2 * (o.parallel + o.queue) + 16);
  http.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  http.set_keep_alive_timeout(2);
  // httplib answers a larger Content-Length with 413 before reading the body (the error
  // handler below gives it the JSON body); a chunked body is checked in the handlers.
  http.set_payload_max_length(o.max_body_bytes);
  install_routes();
}

Server::~Server() = default;

int Server::bind() {
  const ServerOptions& o = impl_->state.options;
  if (o.port == 0) {
    const int port = impl_->http.bind_to_any_port(o.host);
    if (port <= 0) throw Error(fmt::format("cannot listen on {}: no free port", o.host));
    return port;
  }
  if (!impl_->http.bind_to_port(o.host, o.port)) {
    throw Error(fmt::format("cannot listen on {}:{} (in use, or not an address of this machine)", o.host, o.port));
  }
  return o.port;
}

void Server::run() { impl_->http.listen_after_bind(); }

void Server::stop() {
  std::lock_guard lock(impl_->stop_mutex);
  if (impl_->stopped) return;
  impl_->stopped = true;
  // New requests are refused (503) from here on. httplib stops writing every stream the
  // moment its listening socket closes, so that comes last: first the scheduler finishes or
  // cancels what is in flight, then the handlers write their final events.
  impl_->state.accepting = false;
  impl_->state.runner->shutdown(std::chrono::milliseconds(impl_->state.options.shutdown_grace_ms));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (impl_->state.in_flight > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  impl_->http.stop();
}

bool Server::Impl::authorized(const httplib::Request& req) const {
  const std::string& key = state.options.api_key;
  if (key.empty()) return true;
  return server::constant_time_equal(req.get_header_value("Authorization"), "Bearer " + key);
}

void Server::Impl::install_routes() {
  const std::string& cors = state.options.cors_origin;
  if (!cors.empty()) {  // off by default: any page the user visits could drive the server
    http.set_default_headers({{"Access-Control-Allow-Origin", cors}, {"Vary", "Origin"}});
  }
  http.set_pre_routing_handler([this, cors](const httplib::Request& req, httplib::Response& res) {
    const std::string origin = req.get_header_value("Origin");
    if (!server::origin_allowed(origin, req.get_header_value("Host"), cors)) {
      send_error(res, ApiError(403,
                               fmt::format("cross-origin request from {} refused: start smol serve with --cors {} to "
                                           "allow that origin",
                                           origin, origin),
                               "invalid_request_error", "", "origin_not_allowed"));
      return httplib::Server::HandlerResponse::Handled;
    }
    if (req.method == "OPTIONS") {  // CORS preflight from the --cors origin's pages
      res.set_header("Access-Control-Allow-Methods", "GET, POST, OPTIONS");
      res.set_header("Access-Control-Allow-Headers", "Authorization, Content-Type");
      res.set_header("Access-Control-Max-Age", "600");
      res.status = 204;
      return httplib::Server::HandlerResponse::Handled;
    }
    if ((req.path.rfind("/v1/", 0) == 0 || req.path == "/apply-template") && !authorized(req)) {
      send_error(res, ApiError(401,
                               req.has_header("Authorization") ? "invalid API key"
                                                               : "missing API key: send 'Authorization: Bearer KEY'",
                               "invalid_request_error", "", "invalid_api_key"));
      return httplib::Server::HandlerResponse::Handled;
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });
  http.set_error_handler([this](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;  // a handler's own error body
    if (res.status == 413) return send_error(res, body_too_large(state.options.max_body_bytes));
    const std::string message = res.status == 404 ? fmt::format("no route for {} {}", req.method, req.path)
                                                  : fmt::format("HTTP {}", res.status);
    send_error(res, ApiError(res.status, message, res.status == 404 ? "not_found_error" : "invalid_request_error"));
  });
  http.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
    std::string what = "internal error";
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    send_error(res, ApiError(500, what, "server_error"));
  });

  for (const auto& [path, endpoint] : {std::pair{"/v1/chat/completions", Endpoint::Chat},
                                        std::pair{"/v1/completions", Endpoint::Completion}}) {
    http.Post(path, [this, endpoint](const httplib::Request& req, httplib::Response& res,
                                     const httplib::ContentReader& reader) {
      if (const auto body = read_body(reader, res, state.options.max_body_bytes)) {
        handle_completion(state, endpoint, *body, res);
      }
    });
  }
  http.Post("/apply-template", [this](const httplib::Request&, httplib::Response& res,
                                      const httplib::ContentReader& reader) {
    if (const auto body = read_body(reader, res, state.options.max_body_bytes)) {
      server::handle_apply_template(state, *body, res);
    }
  });
  http.Post("/v1/qa", [this](const httplib::Request&, httplib::Response& res, const httplib::ContentReader& reader) {
    if (const auto body = read_body(reader, res, state.options.max_body_bytes)) server::handle_qa(state, *body, res);
  });
  http.Get("/v1/models", [this](const httplib::Request&, httplib::Response& res) {
    const json model = {{"id", state.options.model_name},
                        {"object", "model"},
                        {"created", 0},
                        {"owned_by", "smol"},
                        {"meta", {{"context", state.options.context},
                                  {"parallel", state.options.parallel},
                                  {"vocab_size", state.model.vocab_size}}}};
    res.set_content(json{{"object", "list"}, {"data", json::array({model})}}.dump(), "application/json");
  });
  http.Get("/health", [this](const httplib::Request&, httplib::Response& res) {
    const bool ok = state.accepting.load();
    res.status = ok ? 200 : 503;
    res.set_content(json{{"status", ok ? "ok" : "shutting down"}}.dump(), "application/json");
  });
  http.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(state.metrics.prometheus_text(state.options.parallel), "text/plain; version=0.0.4");
  });
  http.Get("/", [](const httplib::Request&, httplib::Response& res) {
    const std::string_view page = server::web_page_html();
    res.set_content(page.data(), page.size(), "text/html; charset=utf-8");
  });
}

}  // namespace smol
