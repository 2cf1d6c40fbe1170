// Tool calling through `smol serve` (random weights, the real SmolLM2 template): a forced call
// comes back parsed, streamed or not, with arguments valid under the tool's schema; the next
// turn's prompt (POST /apply-template) is what transformers renders (renders.json).
#include <gtest/gtest.h>

#include "test_support/json_validate.hpp"
#include "test_support/serve_process.hpp"

namespace smol {
namespace {

using nlohmann::json;
using nlohmann::ordered_json;
using testing::post_json;

const json kWeather = json::parse(R"({"type": "function", "function": {"name": "get_weather",
    "parameters": {"type": "object", "properties": {"city": {"type": "string", "maxLength": 12},
      "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}}, "required": ["city", "unit"],
      "additionalProperties": false}}})");
const json kTime = json::parse(R"({"type": "function", "function": {"name": "get_time"}})");

class ToolServe : public ::testing::Test {
 protected:
  testing::ServeProcess server{{"--parallel", "2", "--ctx", "1024"}};
  void SetUp() override { ASSERT_GT(server.port(), 0) << server.log(); }

  json request(json extra) const {
    json body = {{"messages", {{{"role", "user"}, {"content", "Weather in Paris?"}}}},
                 {"tools", {kWeather, kTime}},
                 {"temperature", 1.0},
                 {"max_tokens", 200}};
    body.update(extra);
    return body;
  }
};

void expect_weather_arguments(const std::string& arguments) {
  json args;
  ASSERT_EQ(testing::strict_json_parse(arguments, args), "") << arguments;
  EXPECT_EQ(testing::SchemaValidator(kWeather["function"]["parameters"]).validate(args), "") << arguments;
}

TEST_F(ToolServe, RequiredCallComesBackParsed) {
  auto c = server.client();
  for (int seed = 1; seed <= 4; ++seed) {
    int status = 0;
    const json r = json::parse(post_json(c, "/v1/chat/completions",
                                         request({{"tool_choice", "required"}, {"seed", seed}}), status));
    ASSERT_EQ(status, 200) << r;
    const json& choice = r["choices"][0];
    EXPECT_EQ(choice["finish_reason"], "tool_calls") << r;
    EXPECT_TRUE(choice["message"]["content"].is_null()) << r;
    const json& calls = choice["message"]["tool_calls"];
    ASSERT_GE(calls.size(), 1u) << r;
    for (size_t i = 0; i < calls.size(); ++i) {
      EXPECT_EQ(calls[i]["type"], "function");
      EXPECT_TRUE(calls[i]["id"].get<std::string>().starts_with("call_"));
      const std::string name = calls[i]["function"]["name"];
      const std::string arguments = calls[i]["function"]["arguments"];
      if (name == "get_weather") {
        expect_weather_arguments(arguments);
      } else {
        EXPECT_EQ(name, "get_time");
        EXPECT_EQ(arguments, "{}");
      }
    }
  }
}

TEST_F(ToolServe, NamedCallStreamsAsToolCallDeltas) {
  auto c = server.client();
  int status = 0;
  const json body = request({{"tool_choice", {{"type", "function"}, {"function", {{"name", "get_weather"}}}}},
                             {"stream", true}, {"seed", 9}});
  const std::string raw = post_json(c, "/v1/chat/completions", body, status);
  ASSERT_EQ(status, 200) << raw;
  std::string name, arguments, id, finish, content;
  int heads = 0;
  for (const std::string& data : testing::sse_data(raw)) {
    if (data == "[DONE]") break;
    const json chunk = json::parse(data);
    const json& choice = chunk["choices"][0];
    if (!choice["finish_reason"].is_null()) finish = choice["finish_reason"];
    const json& delta = choice["delta"];
    if (delta.contains("content")) content += delta["content"].get<std::string>();
    if (!delta.contains("tool_calls")) continue;
    for (const json& call : delta["tool_calls"]) {
      EXPECT_EQ(call["index"], 0) << "a named function is called once";
      if (call.contains("id")) {
        ++heads;
        id = call["id"];
        name = call["function"]["name"];
      }
      arguments += call["function"]["arguments"].get<std::string>();
    }
  }
  EXPECT_EQ(heads, 1);
  EXPECT_EQ(name, "get_weather");
  EXPECT_TRUE(id.starts_with("call_"));
  EXPECT_EQ(content, "");
  EXPECT_EQ(finish, "tool_calls");
  expect_weather_arguments(arguments);
}

TEST_F(ToolServe, NoneAndAutoAnswerWithText) {
  auto c = server.client();
  for (const char* choice : {"none", "auto"}) {
    int status = 0;
    const json r = json::parse(post_json(
        c, "/v1/chat/completions", request({{"tool_choice", choice}, {"max_tokens", 12}, {"temperature", 0}}), status));
    ASSERT_EQ(status, 200) << r;
    EXPECT_TRUE(r["choices"][0]["message"]["content"].is_string()) << r;
    EXPECT_FALSE(r["choices"][0]["message"].contains("tool_calls")) << r;
  }
}

TEST_F(ToolServe, TheNextTurnRendersAsTransformersDoes) {
  auto c = server.client();
  const auto cases = ordered_json::parse(
      testing::slurp(testing::source_dir() / "tests" / "fixtures" / "tool-calling" / "renders.json"));
  int checked = 0;
  for (const ordered_json& cs : cases) {
    if (cs["template"] != "smollm2") continue;  // the served fixture has SmolLM2's template
    auto res = c.Post("/apply-template", cs["request"].dump(), "application/json");
    ASSERT_TRUE(res);
    ASSERT_EQ(res->status, 200) << res->body;
    EXPECT_EQ(json::parse(res->body)["prompt"], cs["prompt"]) << cs["name"];
    // The same conversation generates (the tool result goes back to the model).
    ordered_json body = cs["request"];
    body["max_tokens"] = 4;
    res = c.Post("/v1/chat/completions", body.dump(), "application/json");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200) << res->body;
    ++checked;
  }
  EXPECT_EQ(checked, 2);
}

TEST_F(ToolServe, MistakesAre400) {
  auto c = server.client();
  const std::vector<std::pair<json, std::string>> cases = {
      {{{"tool_choice", {{"type", "function"}, {"function", {{"name", "launch"}}}}}}, "tool_choice.function.name"},
      {{{"tool_choice", "always"}}, "tool_choice"},
      {{{"tools", json::array({{{"type", "function"}, {"function", {{"name", "x"}, {"parameters",
          {{"type", "object"}, {"properties", {{"a", {{"type", "string"}, {"pattern", "a+"}}}}}}}}}}})},
        {"tool_choice", "required"}},
       "tools[0].function.parameters"},
      {{{"messages", {{{"role", "assistant"}, {"tool_calls", {{{"type", "function"},
          {"function", {{"name", "get_time"}, {"arguments", "{oops"}}}}}}}}}},
       "messages[0].tool_calls[0].function.arguments"},
  };
  for (const auto& [extra, param] : cases) {
    int status = 0;
    const json r = json::parse(post_json(c, "/v1/chat/completions", request(extra), status));
    EXPECT_EQ(status, 400) << extra;
    EXPECT_EQ(r["error"]["param"], param) << r;
  }
  auto res = c.Post("/apply-template", "{\"messages\": 3}", "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 400);
}

}  // namespace
}  // namespace smol
