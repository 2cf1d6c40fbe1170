// `smol serve` over HTTP with a fixture model: every answer is checked against
// `smol generate --temp 0` and the fixture's independent greedy continuation.
#include <gtest/gtest.h>

#include <fstream>
#include <future>

#include "test_support/serve_process.hpp"

namespace smol {
namespace {

using nlohmann::json;
using testing::post_json;
using testing::ServeProcess;
using testing::sse_data;

json fixture_prompts() {
  std::ifstream in(testing::fixtures_dir() / "tiny-f32" / "expected.json");
  return json::parse(in)["prompts"];
}

std::string model_dir() { return (testing::fixtures_dir() / "tiny-f32").string(); }

class Serve : public ::testing::Test {
 protected:
  ServeProcess server{{"--parallel", "4", "--ctx", "256"}};
  void SetUp() override { ASSERT_GT(server.port(), 0) << server.log(); }
};

// Fixture prompt 1 is SmolLM2's template around this question (with its default system
// prompt), so the reference continuation is known independently of smol.
const char* kQuestion = "What is 2+2?";

TEST_F(Serve, ChatCompletionEqualsGenerate) {
  const json ref = fixture_prompts()[1];
  const std::string generated =
      testing::smol_generate({"-m", model_dir(), "--chat", "-p", kQuestion, "-n", "24", "--temp", "0"});
  ASSERT_EQ(generated, ref["greedy_text"].get<std::string>());

  auto c = server.client();
  int status = 0;
  const json body = json::parse(post_json(c, "/v1/chat/completions",
                                          {{"model", "tiny"},
                                           {"messages", {{{"role", "user"}, {"content", kQuestion}}}},
                                           {"max_tokens", 24},
                                           {"temperature", 0}},
                                          status));
  ASSERT_EQ(status, 200) << body;
  EXPECT_EQ(body["object"], "chat.completion");
  EXPECT_EQ(body["choices"][0]["message"]["role"], "assistant");
  EXPECT_EQ(body["choices"][0]["message"]["content"], generated);
  EXPECT_EQ(body["choices"][0]["finish_reason"], "length");
  EXPECT_EQ(body["usage"]["prompt_tokens"], ref["ids"].size());
  EXPECT_EQ(body["usage"]["completion_tokens"], 24);
  EXPECT_EQ(body["usage"]["total_tokens"], ref["ids"].size() + 24);
}

TEST_F(Serve, StreamedChatCompletionEqualsGenerate) {
  const std::string generated =
      testing::smol_generate({"-m", model_dir(), "--chat", "-p", kQuestion, "-n", "24", "--temp", "0"});
  auto c = server.client();
  int status = 0;
  const std::string raw = post_json(c, "/v1/chat/completions",
                                    {{"messages", {{{"role", "user"}, {"content", kQuestion}}}},
                                     {"max_tokens", 24},
                                     {"temperature", 0},
                                     {"stream", true},
                                     {"stream_options", {{"include_usage", true}}}},
                                    status);
  ASSERT_EQ(status, 200) << raw;
  const auto events = sse_data(raw);
  ASSERT_GE(events.size(), 4u) << raw;
  EXPECT_EQ(events.back(), "[DONE]");
  std::string text;
  int content_chunks = 0;
  std::string finish;
  json usage;
  for (size_t i = 0; i + 1 < events.size(); ++i) {
    const json chunk = json::parse(events[i]);
    EXPECT_EQ(chunk["object"], "chat.completion.chunk");
    if (i == 0) {
      EXPECT_EQ(chunk["choices"][0]["delta"]["role"], "assistant");
    }
    if (chunk["choices"].empty()) {
      usage = chunk["usage"];
      continue;
    }
    const json& choice = chunk["choices"][0];
    if (choice["delta"].contains("content") && !choice["delta"]["content"].get<std::string>().empty()) {
      text += choice["delta"]["content"].get<std::string>();
      ++content_chunks;
    }
    if (!choice["finish_reason"].is_null()) finish = choice["finish_reason"];
  }
  EXPECT_EQ(text, generated);
  EXPECT_GT(content_chunks, 1);  // really streamed, not one blob
  EXPECT_EQ(finish, "length");
  EXPECT_EQ(usage["completion_tokens"], 24);
}

TEST_F(Serve, CompletionsEndpointStreamedAndNot) {
  const json ref = fixture_prompts()[0];
  const std::string prompt = ref["text"];
  const std::string generated = testing::smol_generate({"-m", model_dir(), "-p", prompt, "-n", "24", "--temp", "0"});
  ASSERT_EQ(generated, ref["greedy_text"].get<std::string>());
  auto c = server.client();
  int status = 0;
  const json body = json::parse(post_json(
      c, "/v1/completions", {{"prompt", prompt}, {"max_tokens", 24}, {"temperature", 0}}, status));
  ASSERT_EQ(status, 200) << body;
  EXPECT_EQ(body["object"], "text_completion");
  EXPECT_EQ(body["choices"][0]["text"], generated);
  EXPECT_EQ(body["usage"]["prompt_tokens"], ref["ids"].size());

  const std::string raw = post_json(
      c, "/v1/completions", {{"prompt", prompt}, {"max_tokens", 24}, {"temperature", 0}, {"stream", true}}, status);
  ASSERT_EQ(status, 200);
  std::string text;
  const auto events = sse_data(raw);
  EXPECT_EQ(events.back(), "[DONE]");
  for (size_t i = 0; i + 1 < events.size(); ++i) text += json::parse(events[i])["choices"][0]["text"].get<std::string>();
  EXPECT_EQ(text, generated);

  // OpenAI's default for text completions is 16 tokens.
  const json short_body = json::parse(post_json(c, "/v1/completions", {{"prompt", prompt}, {"temperature", 0}}, status));
  EXPECT_EQ(short_body["usage"]["completion_tokens"], 16);
}

TEST_F(Serve, StopStringsCutTheText) {
  const json ref = fixture_prompts()[0];
  const std::string full = ref["greedy_text"];
  const std::string stop = full.substr(10, 4);
  auto c = server.client();
  int status = 0;
  const json body = json::parse(post_json(
      c, "/v1/completions",
      {{"prompt", ref["text"]}, {"max_tokens", 24}, {"temperature", 0}, {"stop", {"never-there", stop}}}, status));
  ASSERT_EQ(status, 200);
  EXPECT_EQ(body["choices"][0]["text"], full.substr(0, full.find(stop)));
  EXPECT_EQ(body["choices"][0]["finish_reason"], "stop");
}

TEST_F(Serve, FourConcurrentRequestsGiveTheSequentialTexts) {
  const json refs = fixture_prompts();
  std::vector<std::string> sequential;
  for (int i = 0; i < 4; ++i) {
    sequential.push_back(testing::smol_generate(
        {"-m", model_dir(), "-p", refs[i]["text"].get<std::string>(), "-n", "24", "--temp", "0"}));
  }
  std::vector<std::future<std::string>> results;
  for (int i = 0; i < 4; ++i) {
    results.push_back(std::async(std::launch::async, [&, i] {
      auto c = server.client();
      int status = 0;
      const std::string raw = post_json(
          c, "/v1/completions",
          {{"prompt", refs[i]["text"]}, {"max_tokens", 24}, {"temperature", 0}, {"stream", i % 2 == 0}}, status);
      if (status != 200) return "HTTP " + std::to_string(status) + ": " + raw;
      if (i % 2 != 0) return json::parse(raw)["choices"][0]["text"].get<std::string>();
      std::string text;
      const auto events = sse_data(raw);
      for (size_t e = 0; e + 1 < events.size(); ++e) text += json::parse(events[e])["choices"][0]["text"].get<std::string>();
      return text;
    }));
  }
  for (int i = 0; i < 4; ++i) EXPECT_EQ(results[i].get(), sequential[i]) << "request " << i;
}

TEST_F(Serve, SameSeedSameSample) {
  auto c = server.client();
  auto sample = [&](int seed) {
    int status = 0;
    const json body = json::parse(post_json(
        c, "/v1/completions", {{"prompt", "Once upon a time"}, {"max_tokens", 12}, {"temperature", 1.0}, {"seed", seed}},
        status));
    return body["choices"][0]["text"].get<std::string>();
  };
  EXPECT_EQ(sample(42), sample(42));
  EXPECT_NE(sample(42), sample(7));
}

TEST_F(Serve, ModelsHealthMetricsAndPage) {
  auto c = server.client();
  auto models = c.Get("/v1/models");
  ASSERT_TRUE(models);
  EXPECT_EQ(models->status, 200);
  const json m = json::parse(models->body);
  EXPECT_EQ(m["object"], "list");
  EXPECT_EQ(m["data"][0]["id"], "tiny-f32");
  EXPECT_EQ(m["data"][0]["object"], "model");

  auto health = c.Get("/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  EXPECT_EQ(json::parse(health->body)["status"], "ok");

  int status = 0;
  post_json(c, "/v1/completions", {{"prompt", "Hello"}, {"max_tokens", 5}, {"temperature", 0}}, status);
  ASSERT_EQ(status, 200);
  auto metrics = c.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->status, 200);
  EXPECT_NE(metrics->body.find("# TYPE smol_requests_total counter\nsmol_requests_total 1\n"), std::string::npos)
      << metrics->body;
  EXPECT_NE(metrics->body.find("\nsmol_generated_tokens_total 5\n"), std::string::npos) << metrics->body;
  EXPECT_NE(metrics->body.find("\nsmol_queue_length 0\n"), std::string::npos);
  EXPECT_NE(metrics->body.find("\nsmol_slots_total 4\n"), std::string::npos);
  EXPECT_NE(metrics->body.find("\nsmol_tokens_per_second "), std::string::npos);

  auto page = c.Get("/");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  EXPECT_EQ(page->get_header_value("Content-Type"), "text/html; charset=utf-8");
  EXPECT_NE(page->body.find("<title>smol chat</title>"), std::string::npos);
  EXPECT_EQ(page->body.find("://"), std::string::npos) << "the page must not load anything remote";
}

}  // namespace
}  // namespace smol
