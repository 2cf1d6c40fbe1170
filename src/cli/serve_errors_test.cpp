// `smol serve` when things go wrong: each error class with its status and OpenAI-shaped body,
// a client that disconnects mid-stream, a full queue, and SIGTERM.
#include <gtest/gtest.h>

#include <future>

#include "test_support/serve_process.hpp"

namespace smol {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing::post_json;
using testing::ServeProcess;

const json kChat = {{"messages", {{{"role", "user"}, {"content", "Hi"}}}}, {"max_tokens", 4}, {"temperature", 0}};

void expect_error(const std::string& body, int status, int expected_status, const std::string& type) {
  EXPECT_EQ(status, expected_status) << body;
  const json j = json::parse(body, nullptr, false);
  ASSERT_TRUE(j.is_object()) << body;
  ASSERT_TRUE(j.contains("error")) << body;
  EXPECT_EQ(j["error"]["type"], type) << body;
  EXPECT_TRUE(j["error"]["message"].is_string());
  EXPECT_FALSE(j["error"]["message"].get<std::string>().empty());
}

// Reads /metrics and returns one sample's value.
double metric(httplib::Client& c, const std::string& name) {
  auto res = c.Get("/metrics");
  if (!res) return -1;
  const auto at = res->body.find("\n" + name + " ");
  if (at == std::string::npos) return -1;
  return std::stod(res->body.substr(at + name.size() + 2));
}

TEST(ServeErrors, MalformedRequestsAre400) {
  ServeProcess server({"--ctx", "64"});
  ASSERT_GT(server.port(), 0) << server.log();
  auto c = server.client();
  auto raw = c.Post("/v1/chat/completions", "{\"messages\": [", "application/json");
  ASSERT_TRUE(raw);
  expect_error(raw->body, raw->status, 400, "invalid_request_error");

  int status = 0;
  json bad = kChat;
  bad["temperature"] = "warm";
  std::string body = post_json(c, "/v1/chat/completions", bad, status);
  expect_error(body, status, 400, "invalid_request_error");
  EXPECT_EQ(json::parse(body)["error"]["param"], "temperature");

  body = post_json(c, "/v1/chat/completions", {{"model", "x"}}, status);
  expect_error(body, status, 400, "invalid_request_error");
  EXPECT_EQ(json::parse(body)["error"]["param"], "messages");

  json two = kChat;
  two["n"] = 2;
  expect_error(post_json(c, "/v1/chat/completions", two, status), status, 400, "invalid_request_error");

  body = post_json(c, "/v1/completions", {{"prompt", 12}}, status);
  expect_error(body, status, 400, "invalid_request_error");

  // Longer than --ctx 64 once tokenized.
  std::string long_prompt;
  for (int i = 0; i < 100; ++i) long_prompt += "word ";
  body = post_json(c, "/v1/completions", {{"prompt", long_prompt}, {"max_tokens", 4}}, status);
  expect_error(body, status, 400, "invalid_request_error");
  EXPECT_EQ(json::parse(body)["error"]["code"], "context_length_exceeded");

  auto missing = c.Get("/v1/nothing");
  ASSERT_TRUE(missing);
  expect_error(missing->body, missing->status, 404, "not_found_error");

  // The server still answers properly afterwards.
  post_json(c, "/v1/chat/completions", kChat, status);
  EXPECT_EQ(status, 200);
}

TEST(ServeErrors, ApiKeyIsRequiredOnV1) {
  ServeProcess server({"--api-key", "sk-test-123"});
  ASSERT_GT(server.port(), 0) << server.log();
  auto c = server.client();
  int status = 0;
  std::string body = post_json(c, "/v1/chat/completions", kChat, status);
  expect_error(body, status, 401, "invalid_request_error");
  EXPECT_EQ(json::parse(body)["error"]["code"], "invalid_api_key");
  body = post_json(c, "/v1/chat/completions", kChat, status, {{"Authorization", "Bearer sk-wrong"}});
  expect_error(body, status, 401, "invalid_request_error");
  // Every byte counts: a prefix, one byte more, the last byte or the scheme's case wrong.
  for (const char* wrong : {"Bearer sk-test-12", "Bearer sk-test-1234", "Bearer sk-test-124", "bearer sk-test-123",
                            "sk-test-123", "Bearer "}) {
    post_json(c, "/v1/chat/completions", kChat, status, {{"Authorization", wrong}});
    EXPECT_EQ(status, 401) << wrong;
  }
  auto models = c.Get("/v1/models");
  ASSERT_TRUE(models);
  EXPECT_EQ(models->status, 401);

  post_json(c, "/v1/chat/completions", kChat, status, {{"Authorization", "Bearer sk-test-123"}});
  EXPECT_EQ(status, 200);
  auto health = c.Get("/health");  // probes need no key
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
}

// A streaming request that the client abandons after the first few chunks.
void stream_and_hang_up(httplib::Client& c, int chunks_to_read, std::promise<void>* started = nullptr) {
  httplib::Request req;
  req.method = "POST";
  req.path = "/v1/completions";
  req.set_header("Content-Type", "application/json");
  req.body = json{{"prompt", "Once upon a time"}, {"max_tokens", 2000}, {"temperature", 0}, {"stream", true}}.dump();
  int seen = 0;
  req.content_receiver = [&](const char*, size_t, uint64_t, uint64_t) {
    if (++seen == 1 && started) started->set_value();
    return seen < chunks_to_read;  // false: the client closes the connection
  };
  httplib::Response res;
  httplib::Error error;
  c.send(req, res, error);
}

TEST(ServeErrors, DisconnectFreesTheSlotAtOnce) {
  // 2000 tokens at >= 20 ms a step would hold the only slot for 40 s.
  ServeProcess server({"--parallel", "1", "--ctx", "4096", "--debug-step-delay-ms", "20"});
  ASSERT_GT(server.port(), 0) << server.log();
  auto c = server.client();
  stream_and_hang_up(c, 3);
  const auto start = std::chrono::steady_clock::now();
  auto probe = server.client();
  while (metric(probe, "smol_active_slots") != 0 && std::chrono::steady_clock::now() - start < 5s) {
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
  EXPECT_EQ(metric(probe, "smol_active_slots"), 0);
  EXPECT_EQ(metric(probe, "smol_requests_cancelled_total"), 1);
  EXPECT_LT(metric(probe, "smol_generated_tokens_total"), 200);

  // The slot serves the next request.
  int status = 0;
  post_json(probe, "/v1/chat/completions", kChat, status);
  EXPECT_EQ(status, 200);
}

TEST(ServeErrors, FullQueueIs503AtOnce) {
  ServeProcess server({"--parallel", "1", "--queue", "0", "--ctx", "4096", "--debug-step-delay-ms", "20"});
  ASSERT_GT(server.port(), 0) << server.log();
  std::promise<void> started;
  auto first_started = started.get_future();
  auto busy = std::async(std::launch::async, [&] {
    auto c = server.client();
    stream_and_hang_up(c, 40, &started);  // holds the slot for ~1 s of chunks
  });
  ASSERT_EQ(first_started.wait_for(10s), std::future_status::ready);
  auto c = server.client();
  const auto start = std::chrono::steady_clock::now();
  int status = 0;
  const std::string body = post_json(c, "/v1/chat/completions", kChat, status);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);
  expect_error(body, status, 503, "server_error");
  EXPECT_EQ(json::parse(body)["error"]["code"], "queue_full");
  busy.get();
}

TEST(ServeErrors, SigtermEndsInFlightRequestsAndExitsZero) {
  ServeProcess server({"--parallel", "2", "--ctx", "4096", "--debug-step-delay-ms", "20", "--shutdown-grace", "300"});
  ASSERT_GT(server.port(), 0) << server.log();
  std::promise<void> started;
  auto first_started = started.get_future();
  auto streaming = std::async(std::launch::async, [&] {
    auto c = server.client();
    std::string body;
    httplib::Request req;
    req.method = "POST";
    req.path = "/v1/completions";
    req.set_header("Content-Type", "application/json");
    req.body = json{{"prompt", "Hello"}, {"max_tokens", 2000}, {"temperature", 0}, {"stream", true}}.dump();
    bool first = true;
    req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
      if (first) started.set_value();
      first = false;
      body.append(data, n);
      return true;
    };
    httplib::Response res;
    httplib::Error error;
    c.send(req, res, error);
    return body;
  });
  ASSERT_EQ(first_started.wait_for(10s), std::future_status::ready);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(server.signal_and_wait(SIGTERM, 10s), 0) << server.log();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  // The stream was ended with an error event (the request could not finish in the grace).
  const std::string body = streaming.get();
  EXPECT_NE(body.find("shutting down"), std::string::npos) << body.substr(body.size() > 300 ? body.size() - 300 : 0);
  EXPECT_NE(server.log().find("smol serve: stopped"), std::string::npos) << server.log();
}

TEST(ServeErrors, SigintExitsZeroWhenIdle) {
  ServeProcess server({});
  ASSERT_GT(server.port(), 0) << server.log();
  EXPECT_EQ(server.signal_and_wait(SIGINT, 10s), 0) << server.log();
}

}  // namespace
}  // namespace smol
