// `smol serve` against what a hostile web page or client can send: CORS is off unless
// --cors, other origins are refused, bodies above --max-body-bytes are a 413 whatever their
// framing, and the default bind address. (The API key: ServeErrors.ApiKeyIsRequiredOnV1.)
#include <gtest/gtest.h>

#include "test_support/serve_process.hpp"

namespace smol {
namespace {

using nlohmann::json;
using testing::post_json;
using testing::ServeProcess;

const json kCompletion = {{"prompt", "Hi"}, {"max_tokens", 2}, {"temperature", 0}};

void expect_error(const httplib::Result& res, int status, const std::string& code) {
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, status) << res->body;
  const json j = json::parse(res->body, nullptr, false);
  ASSERT_TRUE(j.is_object() && j.contains("error")) << res->body;
  EXPECT_EQ(j["error"]["code"], code) << res->body;
  EXPECT_FALSE(j["error"]["message"].get<std::string>().empty());
}

std::string own_origin(const ServeProcess& server) { return "http://127.0.0.1:" + std::to_string(server.port()); }

TEST(ServeSecurity, NoCorsByDefaultAndOtherOriginsAreRefused) {
  ServeProcess server({});
  ASSERT_GT(server.port(), 0) << server.log();
  EXPECT_NE(server.log().find("listening on http://127.0.0.1:"), std::string::npos) << server.log();  // default bind
  auto c = server.client();
  for (const char* path : {"/health", "/v1/models", "/metrics", "/"}) {
    auto res = c.Get(path);
    ASSERT_TRUE(res) << path;
    EXPECT_EQ(res->status, 200) << path;
    EXPECT_FALSE(res->has_header("Access-Control-Allow-Origin")) << path;
  }
  // A page elsewhere: its preflight fails, and so does a "simple" POST that skips it.
  auto preflight = c.Options("/v1/completions", {{"Origin", "http://evil.example"},
                                                  {"Access-Control-Request-Method", "POST"}});
  expect_error(preflight, 403, "origin_not_allowed");
  EXPECT_FALSE(preflight->has_header("Access-Control-Allow-Origin"));
  auto simple = c.Post("/v1/completions", {{"Origin", "http://evil.example"}}, kCompletion.dump(), "text/plain");
  expect_error(simple, 403, "origin_not_allowed");
  auto metrics = c.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_NE(metrics->body.find("\nsmol_requests_total 0\n"), std::string::npos) << metrics->body;  // nothing ran

  // The built-in page is served from the same origin: its requests go through.
  auto page = c.Post("/v1/completions", {{"Origin", own_origin(server)}}, kCompletion.dump(), "application/json");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200) << page->body;
}

TEST(ServeSecurity, CorsOriginGetsPreflightAndHeaders) {
  ServeProcess server({"--cors", "http://localhost:3000"});
  ASSERT_GT(server.port(), 0) << server.log();
  auto c = server.client();
  auto preflight = c.Options("/v1/chat/completions", {{"Origin", "http://localhost:3000"},
                                                       {"Access-Control-Request-Method", "POST"},
                                                       {"Access-Control-Request-Headers", "authorization, content-type"}});
  ASSERT_TRUE(preflight);
  EXPECT_EQ(preflight->status, 204);
  EXPECT_EQ(preflight->get_header_value("Access-Control-Allow-Origin"), "http://localhost:3000");
  EXPECT_NE(preflight->get_header_value("Access-Control-Allow-Methods").find("POST"), std::string::npos);
  EXPECT_NE(preflight->get_header_value("Access-Control-Allow-Headers").find("Authorization"), std::string::npos);
  auto res = c.Post("/v1/completions", {{"Origin", "http://localhost:3000"}}, kCompletion.dump(), "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(res->get_header_value("Access-Control-Allow-Origin"), "http://localhost:3000");
  expect_error(c.Post("/v1/completions", {{"Origin", "http://localhost:3001"}}, kCompletion.dump(), "application/json"),
               403, "origin_not_allowed");
}

TEST(ServeSecurity, BadCorsValueIsAOneLineError) {
  const auto r = testing::run_process({testing::smol_binary().string(), "serve", "-m",
                                       (testing::fixtures_dir() / "tiny-f32").string(), "--port", "0", "--cors",
                                       "localhost:3000"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("--cors 'localhost:3000' is not an origin"), std::string::npos) << r.err;
}

TEST(ServeSecurity, OversizedBodiesAre413WhateverTheirFraming) {
  ServeProcess server({"--max-body-bytes", "4096"});
  ASSERT_GT(server.port(), 0) << server.log();
  auto c = server.client();
  json big = kCompletion;
  big["prompt"] = std::string(8000, 'a');
  expect_error(c.Post("/v1/completions", big.dump(), "application/json"), 413, "request_too_large");
  expect_error(c.Post("/v1/chat/completions", big.dump(), "application/json"), 413, "request_too_large");
  // Chunked: no Content-Length for httplib to check; 1 MiB in 4 KiB chunks. (A client that
  // writes to a closed connection gets SIGPIPE: an error here, not the end of the test.)
  signal(SIGPIPE, SIG_IGN);
  auto chunked = server.client().Post(
      "/v1/completions",
      [sent = size_t{0}](size_t, httplib::DataSink& sink) mutable {
        const std::string chunk(4096, 'a');
        if (sent < (1u << 20)) {
          sent += chunk.size();
          return sink.write(chunk.data(), chunk.size());
        }
        sink.done();
        return true;
      },
      "application/json");
  expect_error(chunked, 413, "request_too_large");
  // Small chunked bodies are fine, and so is a body right at the limit.
  auto small = server.client().Post(
      "/v1/completions",
      [sent = false](size_t, httplib::DataSink& sink) mutable {
        if (sent) {
          sink.done();
          return true;
        }
        sent = true;
        const std::string body = kCompletion.dump();
        return sink.write(body.data(), body.size());
      },
      "application/json");
  ASSERT_TRUE(small);
  EXPECT_EQ(small->status, 200) << small->body;
  json edge = kCompletion;
  edge["user"] = "";  // an OpenAI field the server ignores: padding that adds no tokens
  edge["user"] = std::string(4096 - edge.dump().size(), 'u');
  ASSERT_EQ(edge.dump().size(), 4096u);
  int status = 0;
  post_json(c, "/v1/completions", edge, status);
  EXPECT_EQ(status, 200);
}

}  // namespace
}  // namespace smol
