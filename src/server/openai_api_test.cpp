// Request parsing as OpenAI defines the fields, and the response shapes its clients read.
#include "server/openai_api.hpp"

#include <gtest/gtest.h>

namespace smol::server {
namespace {

using nlohmann::json;

int status_of(const std::string& body, Endpoint endpoint = Endpoint::Chat) {
  try {
    parse_completion_request(body, endpoint);
  } catch (const ApiError& e) {
    return e.status;
  }
  return 200;
}

std::string param_of(const std::string& body, Endpoint endpoint = Endpoint::Chat) {
  try {
    parse_completion_request(body, endpoint);
  } catch (const ApiError& e) {
    return e.param;
  }
  return "";
}

TEST(OpenAiApi, ParsesAChatRequest) {
  const auto p = parse_completion_request(R"({
      "model": "m", "messages": [{"role": "system", "content": "be brief"},
                                 {"role": "user", "content": [{"type": "text", "text": "hi "}, {"type": "text", "text": "there"}]}],
      "max_tokens": 7, "temperature": 0, "top_p": 0.5, "stop": "\n", "seed": 42, "n": 1, "stream": true,
      "stream_options": {"include_usage": true}})",
                                          Endpoint::Chat);
  ASSERT_EQ(p.messages.size(), 2u);
  EXPECT_EQ(p.messages[0].role, "system");
  EXPECT_EQ(p.messages[1].content, "hi there");
  EXPECT_EQ(p.max_tokens, 7);
  EXPECT_EQ(p.sampling.temperature, 0.0f);
  EXPECT_EQ(p.sampling.top_p, 0.5f);
  EXPECT_EQ(p.sampling.seed, 42u);
  EXPECT_EQ(p.stop, std::vector<std::string>{"\n"});
  EXPECT_TRUE(p.stream);
  EXPECT_TRUE(p.include_usage);
}

TEST(OpenAiApi, DefaultsAreOpenAis) {
  const auto p = parse_completion_request(R"({"prompt": "x"})", Endpoint::Completion);
  EXPECT_EQ(p.prompt, "x");
  EXPECT_FALSE(p.max_tokens.has_value());
  EXPECT_EQ(p.sampling.temperature, 1.0f);
  EXPECT_EQ(p.sampling.top_p, 1.0f);
  EXPECT_EQ(p.sampling.top_k, 0);
  EXPECT_EQ(p.sampling.min_p, 0.0f);
  EXPECT_FALSE(p.stream);
}

TEST(OpenAiApi, PromptAsTokenIdsOrSingleItemList) {
  EXPECT_EQ(parse_completion_request(R"({"prompt": [1, 2, 3]})", Endpoint::Completion).prompt_ids,
            (std::vector<int32_t>{1, 2, 3}));
  EXPECT_EQ(parse_completion_request(R"({"prompt": ["one"]})", Endpoint::Completion).prompt, "one");
}

// Found by fuzz/server_request_fuzz (its crashing input, then the smallest form): a number
// too large for a double is nlohmann's out_of_range, not a parse_error, and escaped as a 500.
TEST(OpenAiApi, NumberOverflowIsA400) {
  EXPECT_EQ(status_of("{\"messages\": [{\"role\": \"user\", \"content\": [{\"type\": \"tgxt\", \"text\": 1e337tone\"}, "
                      "{\"type\": \"text\", \"text\"2147483648\202], \"max_compleoion_tokens\": 4, \"seed\": 7, \"n\": 1}\n"),
            400);
  EXPECT_EQ(status_of(R"({"messages": [{"role": "user", "content": "x"}], "temperature": 1e400})"), 400);
  EXPECT_EQ(status_of(R"({"prompt": "x", "top_p": -1e400})", Endpoint::Completion), 400);
}

// Found while writing fuzz/server_request_fuzz.cpp: ids beyond int32 wrapped to small valid ids.
TEST(OpenAiApi, TokenIdsOutsideInt32Are400) {
  EXPECT_EQ(param_of(R"({"prompt": [4294967297]})", Endpoint::Completion), "prompt");
  EXPECT_EQ(param_of(R"({"prompt": [1, -2147483649]})", Endpoint::Completion), "prompt");
  EXPECT_EQ(param_of(R"({"prompt": [18446744073709551615]})", Endpoint::Completion), "prompt");
  EXPECT_EQ(parse_completion_request(R"({"prompt": [2147483647, -2147483648]})", Endpoint::Completion).prompt_ids,
            (std::vector<int32_t>{2147483647, -2147483648}));
}

TEST(OpenAiApi, MalformedRequestsAre400WithTheField) {
  EXPECT_EQ(status_of("{not json"), 400);
  EXPECT_EQ(status_of("[1, 2]"), 400);
  EXPECT_EQ(param_of("{}"), "messages");
  EXPECT_EQ(param_of(R"({"messages": []})"), "messages");
  EXPECT_EQ(param_of(R"({"messages": [{"role": "wizard", "content": "x"}]})"), "messages[0].role");
  EXPECT_EQ(param_of(R"({"messages": [{"role": "user"}]})"), "messages[0].content");
  EXPECT_EQ(param_of(R"({"messages": [{"role": "user", "content": [{"type": "image_url"}]}]})"),
            "messages[0].content");
  const std::string ok = R"("messages": [{"role": "user", "content": "x"}])";
  EXPECT_EQ(status_of("{" + ok + "}"), 200);
  EXPECT_EQ(param_of("{" + ok + R"(, "temperature": "hot"})"), "temperature");
  EXPECT_EQ(param_of("{" + ok + R"(, "temperature": 3})"), "temperature");
  EXPECT_EQ(param_of("{" + ok + R"(, "top_p": 0})"), "top_p");
  EXPECT_EQ(param_of("{" + ok + R"(, "max_tokens": 0})"), "max_tokens");
  EXPECT_EQ(param_of("{" + ok + R"(, "max_tokens": 1.5})"), "max_tokens");
  EXPECT_EQ(param_of("{" + ok + R"(, "n": 2})"), "n");
  EXPECT_EQ(param_of("{" + ok + R"(, "stop": 5})"), "stop");
  EXPECT_EQ(param_of("{" + ok + R"(, "stop": ["a","b","c","d","e"]})"), "stop");
  EXPECT_EQ(param_of("{" + ok + R"(, "stream": "yes"})"), "stream");
  EXPECT_EQ(param_of("{" + ok + R"(, "seed": "x"})"), "seed");
  EXPECT_EQ(param_of(R"({"prompt": 5})", Endpoint::Completion), "prompt");
  EXPECT_EQ(param_of(R"({"prompt": ["a", "b"]})", Endpoint::Completion), "prompt");
  EXPECT_EQ(param_of(R"({"messages": []})", Endpoint::Completion), "prompt");
}

TEST(OpenAiApi, ErrorBodyShape) {
  const json body = error_body(ApiError(401, "invalid API key", "invalid_request_error", "", "invalid_api_key"));
  EXPECT_EQ(body["error"]["message"], "invalid API key");
  EXPECT_EQ(body["error"]["type"], "invalid_request_error");
  EXPECT_TRUE(body["error"]["param"].is_null());
  EXPECT_EQ(body["error"]["code"], "invalid_api_key");
}

TEST(OpenAiApi, ResponseShapes) {
  const ResponseMeta meta = new_response_meta(Endpoint::Chat, "tiny", 7);
  EXPECT_EQ(meta.id.rfind("chatcmpl-", 0), 0u);
  JobResult result;
  result.finish_reason = "length";
  result.prompt_tokens = 5;
  result.completion_tokens = 3;
  const json chat = completion_response(Endpoint::Chat, meta, "abc", result);
  EXPECT_EQ(chat["object"], "chat.completion");
  EXPECT_EQ(chat["choices"][0]["message"]["content"], "abc");
  EXPECT_EQ(chat["choices"][0]["finish_reason"], "length");
  EXPECT_EQ(chat["usage"]["total_tokens"], 8);
  const json text = completion_response(Endpoint::Completion, meta, "abc", result);
  EXPECT_EQ(text["object"], "text_completion");
  EXPECT_EQ(text["choices"][0]["text"], "abc");

  const json first = stream_chunk(Endpoint::Chat, meta, "", true, std::nullopt, false);
  EXPECT_EQ(first["choices"][0]["delta"], (json{{"role", "assistant"}, {"content", ""}}));
  EXPECT_TRUE(first["choices"][0]["finish_reason"].is_null());
  const json last = stream_chunk(Endpoint::Chat, meta, "", false, "stop", true);
  EXPECT_EQ(last["choices"][0]["delta"], json::object());
  EXPECT_EQ(last["choices"][0]["finish_reason"], "stop");
  EXPECT_TRUE(last["usage"].is_null());
  const json usage = usage_chunk(Endpoint::Chat, meta, result);
  EXPECT_TRUE(usage["choices"].empty());
  EXPECT_EQ(usage["usage"]["completion_tokens"], 3);
}

TEST(OpenAiApi, RecordsWhichSearchFieldsTheRequestSet) {
  const auto set = parse_completion_request(R"({"prompt": "x", "temperature": 0, "top_p": 0.9, "num_beams": 3})",
                                            Endpoint::Completion);
  EXPECT_TRUE(set.temperature_set);
  EXPECT_TRUE(set.top_p_set);
  EXPECT_EQ(set.num_beams, 3);
  const auto unset = parse_completion_request(R"({"prompt": "x", "temperature": null})", Endpoint::Completion);
  EXPECT_FALSE(unset.temperature_set);
  EXPECT_FALSE(unset.top_p_set);
  EXPECT_FALSE(unset.num_beams.has_value());
  EXPECT_EQ(param_of(R"({"prompt": "x", "num_beams": 0})", Endpoint::Completion), "num_beams");
  EXPECT_EQ(param_of(R"({"prompt": "x", "num_beams": 2.5})", Endpoint::Completion), "num_beams");
}

}  // namespace
}  // namespace smol::server

namespace smol::server {
namespace {

std::string param_for(const std::string& body, Endpoint endpoint = Endpoint::Chat) {
  try {
    parse_completion_request(body, endpoint);
  } catch (const ApiError& e) {
    return e.status == 400 ? e.param : "status " + std::to_string(e.status);
  }
  return "";
}

TEST(OpenAiApi, OutputConstraintsAndFieldsSmolCannotHonour) {
  const std::string chat = R"({"messages": [{"role": "user", "content": "x"}], )";
  EXPECT_TRUE(parse_completion_request(chat + R"("response_format": {"type": "json_object"}})", Endpoint::Chat).grammar);
  EXPECT_FALSE(parse_completion_request(chat + R"("response_format": {"type": "text"}})", Endpoint::Chat).grammar);
  EXPECT_TRUE(parse_completion_request(
                  chat + R"("response_format": {"type": "json_schema", "json_schema": {"name": "n", "strict": true,
                            "schema": {"type": "object", "properties": {"a": {"type": "integer"}}}}}})",
                  Endpoint::Chat)
                  .grammar);
  EXPECT_TRUE(parse_completion_request(R"({"prompt": "x", "grammar": "root ::= \"a\"\n"})", Endpoint::Completion).grammar);
  EXPECT_EQ(param_for(chat + R"("tools": []})"), "tools");
  EXPECT_EQ(param_for(chat + R"("tool_choice": "none"})"), "tool_choice");
  EXPECT_EQ(param_for(chat + R"("logit_bias": {"1": 5}})"), "logit_bias");
  EXPECT_EQ(param_for(chat + R"("logit_bias": {}, "user": "u", "logprobs": false})"), "");
  EXPECT_EQ(param_for(chat + R"("wat": 1})"), "wat");
  EXPECT_EQ(param_for(R"({"prompt": "x", "suffix": "y"})", Endpoint::Completion), "suffix");
  EXPECT_EQ(param_for(R"({"prompt": "x", "max_completion_tokens": 3})", Endpoint::Completion), "max_completion_tokens");
  EXPECT_EQ(param_for(chat + R"("response_format": {"type": "json_schema"}})"), "response_format.json_schema");
  EXPECT_EQ(param_for(chat + R"("response_format": {"type": "json_schema", "json_schema": {"schema": {}}}})"),
            "response_format.json_schema.name");
  EXPECT_EQ(param_for(chat + R"("response_format": "json"})"), "response_format");
  EXPECT_EQ(param_for(chat + R"("json_schema": {"type": "integer", "multipleOf": 2}})"), "json_schema");
  EXPECT_EQ(param_for(chat + R"("grammar": 5})"), "grammar");
}

}  // namespace
}  // namespace smol::server
