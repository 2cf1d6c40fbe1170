// `smol serve` on an encoder-decoder folder (Marian, random weights, real SentencePiece
// tokenizer): the prompt or the last user message is the source, and every answer equals the
// independent reference's decoded output for the folder's own generation config (4 beams,
// max_length 24) in tests/fixtures/seq2seq/marian-tied/expected.json.
#include <gtest/gtest.h>

#include <fstream>
#include <future>

#include "test_support/serve_process.hpp"

namespace smol {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing::post_json;
using testing::ServeProcess;
using testing::sse_data;

std::string marian_dir() {
  return (testing::source_dir() / "tests" / "fixtures" / "seq2seq" / "marian-tied").string();
}

json fixture_texts() {
  std::ifstream in(std::filesystem::path(marian_dir()) / "expected.json");
  return json::parse(in)["texts"];
}

double metric(httplib::Client& c, const std::string& name) {
  auto res = c.Get("/metrics");
  if (!res) return -1;
  const auto at = res->body.find("\n" + name + " ");
  if (at == std::string::npos) return -1;
  return std::stod(res->body.substr(at + name.size() + 2));
}

// The text of an SSE completion or chat stream, and how many non-empty deltas carried it.
struct Streamed {
  std::string text;
  int chunks = 0;
  std::string finish_reason;
  bool done = false;
};

Streamed read_stream(const std::string& raw) {
  Streamed s;
  for (const std::string& event : sse_data(raw)) {
    if (event == "[DONE]") {
      s.done = true;
      continue;
    }
    const json chunk = json::parse(event);
    if (chunk.contains("error") || chunk["choices"].empty()) continue;
    const json& choice = chunk["choices"][0];
    const json piece = choice.contains("delta") ? choice["delta"].value("content", json("")) : choice["text"];
    if (!piece.get<std::string>().empty()) {
      s.text += piece.get<std::string>();
      ++s.chunks;
    }
    if (!choice["finish_reason"].is_null()) s.finish_reason = choice["finish_reason"];
  }
  return s;
}

class ServeSeq2Seq : public ::testing::Test {
 protected:
  ServeProcess server{{"--parallel", "4"}, marian_dir()};
  void SetUp() override { ASSERT_GT(server.port(), 0) << server.log(); }
};

TEST_F(ServeSeq2Seq, CompletionEqualsTheFolderGeneration) {
  auto c = server.client();
  for (const json& t : fixture_texts()) {
    int status = 0;
    const json body = json::parse(post_json(c, "/v1/completions", {{"prompt", t["text"]}}, status));
    ASSERT_EQ(status, 200) << body;
    EXPECT_EQ(body["object"], "text_completion");
    EXPECT_EQ(body["model"], "marian-tied");
    EXPECT_EQ(body["choices"][0]["text"], t["generation_config"]["text"]);
    const json& ids = t["generation_config"]["ids"];  // decoder start, generated..., eos
    ASSERT_EQ(ids.back(), 0);
    EXPECT_EQ(body["choices"][0]["finish_reason"], "stop");
    EXPECT_EQ(body["usage"]["prompt_tokens"], t["input_ids"].size());
    EXPECT_EQ(body["usage"]["completion_tokens"], ids.size() - 2);
    EXPECT_EQ(body["usage"]["total_tokens"], t["input_ids"].size() + ids.size() - 2);
  }
}

TEST(ServeSeq2SeqStreaming, StreamedEqualsNotStreamed) {
  // Paced, so that tokens reach the client over time rather than all within one read.
  ServeProcess server({"--debug-step-delay-ms", "15"}, marian_dir());
  ASSERT_GT(server.port(), 0) << server.log();
  auto c = server.client();
  const json t = fixture_texts()[1];
  int status = 0;
  // temperature 0 does not sample; the folder's 4 beams stay, and beam search's text comes
  // as one delta at the end.
  const std::string raw = post_json(c, "/v1/completions",
                                    {{"prompt", t["text"]}, {"temperature", 0}, {"stream", true}}, status);
  ASSERT_EQ(status, 200) << raw;
  Streamed s = read_stream(raw);
  EXPECT_TRUE(s.done) << raw;
  EXPECT_EQ(s.text, t["generation_config"]["text"]);
  EXPECT_EQ(s.finish_reason, "stop");

  // Greedy (num_beams 1) streams token by token and concatenates to the non-streamed text.
  const json greedy = {{"prompt", t["text"]}, {"temperature", 0}, {"num_beams", 1}, {"max_tokens", 16}};
  const json whole = json::parse(post_json(c, "/v1/completions", greedy, status));
  ASSERT_EQ(status, 200) << whole;
  EXPECT_EQ(whole["usage"]["completion_tokens"], 15);  // forced_eos_token_id takes the 16th
  json streamed = greedy;
  streamed["stream"] = true;
  s = read_stream(post_json(c, "/v1/completions", streamed, status));
  ASSERT_EQ(status, 200);
  EXPECT_EQ(s.text, whole["choices"][0]["text"]);
  EXPECT_FALSE(s.text.empty());
  EXPECT_GT(s.chunks, 1) << "really streamed, not one blob";
  EXPECT_EQ(s.finish_reason, whole["choices"][0]["finish_reason"]);
}

TEST_F(ServeSeq2Seq, ChatTakesTheLastUserMessageAsTheSource) {
  auto c = server.client();
  const json texts = fixture_texts();
  const json messages = {{{"role", "system"}, {"content", "Translate."}},
                         {{"role", "user"}, {"content", texts[0]["text"]}},
                         {{"role", "assistant"}, {"content", "..."}},
                         {{"role", "user"}, {"content", texts[2]["text"]}}};
  int status = 0;
  const json body = json::parse(post_json(c, "/v1/chat/completions", {{"messages", messages}}, status));
  ASSERT_EQ(status, 200) << body;
  EXPECT_EQ(body["object"], "chat.completion");
  EXPECT_EQ(body["choices"][0]["message"]["role"], "assistant");
  EXPECT_EQ(body["choices"][0]["message"]["content"], texts[2]["generation_config"]["text"]);

  const Streamed s = read_stream(
      post_json(c, "/v1/chat/completions", {{"messages", messages}, {"stream", true}}, status));
  ASSERT_EQ(status, 200);
  EXPECT_TRUE(s.done);
  EXPECT_EQ(s.text, texts[2]["generation_config"]["text"]);

  const std::string none = post_json(
      c, "/v1/chat/completions", {{"messages", {{{"role", "system"}, {"content", "hi"}}}}}, status);
  EXPECT_EQ(status, 400) << none;
  EXPECT_EQ(json::parse(none)["error"]["param"], "messages");
}

TEST_F(ServeSeq2Seq, StopStringsCutTheText) {
  auto c = server.client();
  const json t = fixture_texts()[1];
  const std::string full = t["generation_config"]["text"];
  const size_t cut = full.find("able");
  ASSERT_NE(cut, std::string::npos);
  int status = 0;
  const json body = json::parse(
      post_json(c, "/v1/completions", {{"prompt", t["text"]}, {"stop", {"never-there", "able"}}}, status));
  ASSERT_EQ(status, 200) << body;
  EXPECT_EQ(body["choices"][0]["text"], full.substr(0, cut));
  EXPECT_EQ(body["choices"][0]["finish_reason"], "stop");
}

// Decoder passes a request takes alone, read from /metrics.
double steps_of(httplib::Client& c, const json& body, std::string* text) {
  const double before = metric(c, "smol_forward_steps_total");
  int status = 0;
  const json answer = json::parse(post_json(c, "/v1/completions", body, status));
  if (text) *text = status == 200 ? answer["choices"][0]["text"].get<std::string>() : answer.dump();
  return metric(c, "smol_forward_steps_total") - before;
}

TEST(ServeSeq2SeqBatching, ConcurrentRequestsShareOneBatch) {
  ServeProcess server({"--parallel", "4", "--debug-step-delay-ms", "40"}, marian_dir());
  ASSERT_GT(server.port(), 0) << server.log();
  auto c = server.client();
  const json texts = fixture_texts();
  ASSERT_EQ(texts.size(), 3u);
  // A greedy request holds the model while the others queue; it has other settings, so it
  // runs in its own batch.
  const json blocker = {{"prompt", texts[0]["text"]}, {"num_beams", 1}, {"max_tokens", 30}};
  const double blocker_steps = steps_of(c, blocker, nullptr);
  std::vector<std::string> one_by_one(3);
  double longest = 0;
  for (int i = 0; i < 3; ++i) {
    longest = std::max(longest, steps_of(c, {{"prompt", texts[i]["text"]}}, &one_by_one[i]));
    EXPECT_EQ(one_by_one[i], texts[i]["generation_config"]["text"]) << i;
  }

  const double before = metric(c, "smol_forward_steps_total");
  std::promise<void> started;
  auto started_future = started.get_future();
  auto first = std::async(std::launch::async, [&] {
    auto bc = server.client();
    json streamed = blocker;
    streamed["stream"] = true;
    httplib::Request req;
    req.method = "POST";
    req.path = "/v1/completions";
    req.set_header("Content-Type", "application/json");
    req.body = streamed.dump();
    bool once = true;
    req.content_receiver = [&](const char*, size_t, uint64_t, uint64_t) {
      if (once) started.set_value();
      once = false;
      return true;
    };
    httplib::Response res;
    httplib::Error error;
    bc.send(req, res, error);
  });
  ASSERT_EQ(started_future.wait_for(10s), std::future_status::ready);
  std::vector<std::future<std::string>> results;
  for (int i = 0; i < 3; ++i) {
    results.push_back(std::async(std::launch::async, [&, i] {
      auto rc = server.client();
      int status = 0;
      const std::string raw = post_json(rc, "/v1/completions", {{"prompt", texts[i]["text"]}}, status);
      if (status != 200) return "HTTP " + std::to_string(status) + ": " + raw;
      return json::parse(raw)["choices"][0]["text"].get<std::string>();
    }));
  }
  for (int i = 0; i < 3; ++i) EXPECT_EQ(results[i].get(), one_by_one[i]) << "request " << i;
  first.get();
  // One batch for the three: its passes are those of the longest alone, not their sum.
  EXPECT_EQ(metric(c, "smol_forward_steps_total") - before, blocker_steps + longest);
}

// A streaming greedy request that the client abandons after a few chunks.
void stream_and_hang_up(httplib::Client& c, const json& body, int chunks_to_read, std::promise<void>* started = nullptr) {
  httplib::Request req;
  req.method = "POST";
  req.path = "/v1/completions";
  req.set_header("Content-Type", "application/json");
  json streamed = body;
  streamed["stream"] = true;
  req.body = streamed.dump();
  int seen = 0;
  req.content_receiver = [&](const char*, size_t, uint64_t, uint64_t) {
    if (++seen == 1 && started) started->set_value();
    return seen < chunks_to_read;
  };
  httplib::Response res;
  httplib::Error error;
  c.send(req, res, error);
}

const json kLongGreedy = {{"prompt", "You may copy it."}, {"num_beams", 1}, {"max_tokens", 60}};

TEST(ServeSeq2SeqErrors, DisconnectFreesTheSlot) {
  // 60 tokens at >= 50 ms a pass would hold the only slot for 3 s.
  ServeProcess server({"--parallel", "1", "--debug-step-delay-ms", "50"}, marian_dir());
  ASSERT_GT(server.port(), 0) << server.log();
  auto c = server.client();
  stream_and_hang_up(c, kLongGreedy, 3);
  const auto start = std::chrono::steady_clock::now();
  auto probe = server.client();
  while (metric(probe, "smol_active_slots") != 0 && std::chrono::steady_clock::now() - start < 5s) {
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1500ms);
  EXPECT_EQ(metric(probe, "smol_active_slots"), 0);
  EXPECT_EQ(metric(probe, "smol_requests_cancelled_total"), 1);
  EXPECT_LT(metric(probe, "smol_generated_tokens_total"), 40);

  int status = 0;
  const json t = fixture_texts()[0];
  const json body = json::parse(post_json(probe, "/v1/completions", {{"prompt", t["text"]}}, status));
  EXPECT_EQ(status, 200);
  EXPECT_EQ(body["choices"][0]["text"], t["generation_config"]["text"]);
}

void expect_error(const std::string& body, int status, int expected_status, const std::string& type,
                  const std::string& code = "") {
  EXPECT_EQ(status, expected_status) << body;
  const json j = json::parse(body, nullptr, false);
  ASSERT_TRUE(j.is_object() && j.contains("error")) << body;
  EXPECT_EQ(j["error"]["type"], type) << body;
  EXPECT_FALSE(j["error"]["message"].get<std::string>().empty());
  if (!code.empty()) {
    EXPECT_EQ(j["error"]["code"], code) << body;
  }
}

TEST(ServeSeq2SeqErrors, BadRequestsAre400AndModelsWorks) {
  ServeProcess server({}, marian_dir());
  ASSERT_GT(server.port(), 0) << server.log();
  auto c = server.client();
  auto raw = c.Post("/v1/completions", "{\"prompt\": ", "application/json");
  ASSERT_TRUE(raw);
  expect_error(raw->body, raw->status, 400, "invalid_request_error");

  // The model reads at most max_position_embeddings (64) source tokens.
  std::string long_source;
  for (int i = 0; i < 40; ++i) long_source += "You may copy it. ";
  int status = 0;
  std::string body = post_json(c, "/v1/completions", {{"prompt", long_source}}, status);
  expect_error(body, status, 400, "invalid_request_error", "context_length_exceeded");
  body = post_json(c, "/v1/chat/completions", {{"messages", {{{"role", "user"}, {"content", long_source}}}}}, status);
  expect_error(body, status, 400, "invalid_request_error", "context_length_exceeded");

  body = post_json(c, "/v1/completions", {{"prompt", ""}}, status);
  expect_error(body, status, 400, "invalid_request_error");
  body = post_json(c, "/v1/completions", {{"prompt", {5, 9000}}}, status);  // ids beyond the vocabulary
  expect_error(body, status, 400, "invalid_request_error");
  body = post_json(c, "/v1/completions", {{"prompt", "x"}, {"num_beams", "four"}}, status);
  expect_error(body, status, 400, "invalid_request_error");

  auto models = c.Get("/v1/models");
  ASSERT_TRUE(models);
  ASSERT_EQ(models->status, 200);
  const json m = json::parse(models->body);
  EXPECT_EQ(m["object"], "list");
  EXPECT_EQ(m["data"][0]["id"], "marian-tied");
  EXPECT_EQ(m["data"][0]["meta"]["context"], 64);
  EXPECT_EQ(m["data"][0]["meta"]["vocab_size"], 171);

  // Still serving, and counting.
  const json t = fixture_texts()[1];
  const json ok = json::parse(post_json(c, "/v1/completions", {{"prompt", t["text"]}}, status));
  EXPECT_EQ(status, 200);
  EXPECT_EQ(metric(c, "smol_requests_total"), 7);
  EXPECT_EQ(metric(c, "smol_requests_rejected_total"), 6);
  EXPECT_EQ(metric(c, "smol_prompt_tokens_total"), t["input_ids"].size());
  EXPECT_EQ(metric(c, "smol_generated_tokens_total"), ok["usage"]["completion_tokens"].get<int>());
}

TEST(ServeSeq2SeqErrors, ApiKeyAndFullQueue) {
  ServeProcess server({"--parallel", "1", "--queue", "0", "--api-key", "sk-s2s", "--debug-step-delay-ms", "50"},
                      marian_dir());
  ASSERT_GT(server.port(), 0) << server.log();
  auto c = server.client();
  int status = 0;
  std::string body = post_json(c, "/v1/completions", {{"prompt", "You may copy it."}}, status);
  expect_error(body, status, 401, "invalid_request_error", "invalid_api_key");

  const httplib::Headers auth = {{"Authorization", "Bearer sk-s2s"}};
  std::promise<void> started;
  auto first_started = started.get_future();
  auto busy = std::async(std::launch::async, [&] {
    auto bc = server.client();
    bc.set_default_headers(auth);
    stream_and_hang_up(bc, kLongGreedy, 15, &started);
  });
  ASSERT_EQ(first_started.wait_for(10s), std::future_status::ready);
  const auto start = std::chrono::steady_clock::now();
  body = post_json(c, "/v1/completions", {{"prompt", "You may copy it."}}, status, auth);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);
  expect_error(body, status, 503, "server_error", "queue_full");
  busy.get();
}

TEST(ServeSeq2SeqErrors, SigtermEndsInFlightRequestsAndExitsZero) {
  ServeProcess server({"--parallel", "2", "--debug-step-delay-ms", "50", "--shutdown-grace", "200"}, marian_dir());
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
    json streamed = kLongGreedy;
    streamed["stream"] = true;
    req.body = streamed.dump();
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
  EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);
  const std::string body = streaming.get();
  EXPECT_NE(body.find("shutting down"), std::string::npos) << body.substr(body.size() > 300 ? body.size() - 300 : 0);
  EXPECT_NE(server.log().find("smol serve: stopped"), std::string::npos) << server.log();
}

}  // namespace
}  // namespace smol
