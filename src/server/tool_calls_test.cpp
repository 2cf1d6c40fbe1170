// Tool calling: reading calls out of model text (whole and streamed), the request's tools and
// tool_choice, the grammar of a forced call, and the next turn's prompt, which must equal what
// Jinja2 renders as transformers configures it (tests/fixtures/tool-calling/renders.json,
// written by tests/oracle/render_chat_template.py).
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "server/openai_api.hpp"
#include "test_support/fixtures.hpp"

namespace smol::server {
namespace {

using nlohmann::json;
using nlohmann::ordered_json;

const std::vector<std::string> kNames = {"get_weather", "get_time"};

TEST(ToolCallParser, HermesBlocksBecomeCalls) {
  const ParsedAnswer a = parse_tool_calls(
      "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"n\": 2}}\n</tool_call>\n"
      "<tool_call>\n{\"name\": \"get_time\", \"arguments\": {}}\n</tool_call>",
      kNames);
  ASSERT_EQ(a.calls.size(), 2u);
  EXPECT_EQ(a.calls[0].name, "get_weather");
  EXPECT_EQ(a.calls[0].arguments, R"({"city":"Paris","n":2})");  // compact, keys as written
  EXPECT_EQ(a.calls[1].arguments, "{}");
  EXPECT_EQ(a.content, "");
}

TEST(ToolCallParser, SmolLM2ListsAndArgumentsGivenAsStrings) {
  ParsedAnswer a = parse_tool_calls(
      "<tool_call>[\n{\"name\": \"get_time\", \"arguments\": \"{\\\"city\\\": \\\"Oslo\\\"}\"},\n"
      "{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Rome\"}}\n]</tool_call>",
      kNames);
  ASSERT_EQ(a.calls.size(), 2u);
  EXPECT_EQ(a.calls[0].arguments, R"({"city":"Oslo"})");
  EXPECT_EQ(a.calls[1].name, "get_weather");
  a = parse_tool_calls("<tool_call>[]</tool_call>", kNames);  // SmolLM2's "no call needed"
  EXPECT_TRUE(a.calls.empty());
  EXPECT_EQ(a.content, "");
}

TEST(ToolCallParser, ContentAroundCallsAndTextWithoutCalls) {
  ParsedAnswer a = parse_tool_calls("Let me look.\n<tool_call>{\"name\": \"get_time\"}</tool_call>\n", kNames);
  ASSERT_EQ(a.calls.size(), 1u);
  EXPECT_EQ(a.calls[0].arguments, "{}");
  EXPECT_EQ(a.content, "Let me look.");
  const std::string plain = "  no tools <tool here, just </tool_call> text\n\n";
  a = parse_tool_calls(plain, kNames);
  EXPECT_TRUE(a.calls.empty());
  EXPECT_EQ(a.content, plain);
}

TEST(ToolCallParser, BadBlocksStayContent) {
  for (const std::string& text : std::vector<std::string>{
           "<tool_call>{\"name\": \"rm_rf\", \"arguments\": {}}</tool_call>",        // not a tool
           "<tool_call>{\"name\": \"get_time\", \"arguments\": [1]}</tool_call>",     // not an object
           "<tool_call>{\"name\": \"get_time\", \"arguments\": {</tool_call>",       // not JSON
           "<tool_call>[{\"name\": \"get_time\"}, 3]</tool_call>",                    // a list with a non-call
           "<tool_call>{\"name\": \"get_time\", \"arguments\": {\"a\": 1",            // cut off
       }) {
    const ParsedAnswer a = parse_tool_calls(text, kNames);
    EXPECT_TRUE(a.calls.empty()) << text;
    EXPECT_EQ(a.content, text);
  }
  // An unclosed last block whose JSON is complete is a call (the end token came first).
  const ParsedAnswer a = parse_tool_calls("<tool_call>\n{\"name\": \"get_time\", \"arguments\": {}}\n", kNames);
  EXPECT_EQ(a.calls.size(), 1u);
}

TEST(ToolCallParser, StreamingByteByByteGivesTheSameAnswer) {
  for (const std::string& text : std::vector<std::string>{
           std::string("Sure <tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Zürich\"}}\n</tool_call>"
                       "\n<tool_call>[{\"name\": \"get_time\", \"arguments\": {}}]</tool_call>  "),
           std::string("plain <tool_ text < <tool_call <tool_call>{bad}</tool_call> end\n"),
       }) {
    ToolCallStream stream(kNames);
    std::string content;
    std::vector<ParsedToolCall> calls;
    auto take = [&](std::vector<ToolCallPiece> pieces) {
      for (auto& p : pieces) {
        if (p.call) {
          calls.push_back(*p.call);
        } else {
          EXPECT_FALSE(p.content.empty());
          content += p.content;
        }
      }
    };
    for (char c : text) take(stream.push(std::string(1, c)));
    take(stream.finish());
    const ParsedAnswer whole = parse_tool_calls(text, kNames);
    EXPECT_EQ(content, whole.content) << text;
    ASSERT_EQ(calls.size(), whole.calls.size()) << text;
    for (size_t i = 0; i < calls.size(); ++i) EXPECT_EQ(calls[i].arguments, whole.calls[i].arguments);
  }
}

TEST(ToolCallParser, HoldsBackOnlyWhatMayBeATag) {
  ToolCallStream stream(kNames);
  auto pieces = stream.push("Hello <tool");
  ASSERT_EQ(pieces.size(), 1u);
  EXPECT_EQ(pieces[0].content, "Hello");  // the space waits, "<tool" may open a block
  pieces = stream.push("box> here");
  ASSERT_EQ(pieces.size(), 1u);
  EXPECT_EQ(pieces[0].content, " <toolbox> here");
}

std::string chat_body(const std::string& extra) {
  return R"({"messages": [{"role": "user", "content": "x"}], "tools": [
      {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object",
        "properties": {"city": {"type": "string"}, "unit": {"enum": ["c", "f"]}}, "required": ["city"]}}},
      {"type": "function", "function": {"name": "get_time"}}])" +
         extra + "}";
}

std::string param_for(const std::string& body) {
  try {
    parse_completion_request(body, Endpoint::Chat);
  } catch (const ApiError& e) {
    return e.status == 400 ? e.param : "status " + std::to_string(e.status);
  }
  return "";
}

TEST(ChatTools, ParsesToolsAndToolChoice) {
  CompletionParams p = parse_completion_request(chat_body(""), Endpoint::Chat);
  ASSERT_TRUE(p.tools);
  EXPECT_EQ(p.tools->choice, ToolChoice::Auto);
  EXPECT_EQ(p.tools->names, kNames);
  EXPECT_TRUE(p.tools->parallel);
  EXPECT_TRUE(parses_tool_calls(p));
  EXPECT_EQ(p.tools->tools[0]["function"]["parameters"].begin().key(), "type") << "the client's key order";
  p = parse_completion_request(chat_body(R"(, "tool_choice": {"type": "function", "function": {"name": "get_time"}},
                                             "parallel_tool_calls": false)"),
                               Endpoint::Chat);
  EXPECT_EQ(p.tools->choice, ToolChoice::Function);
  EXPECT_EQ(p.tools->function, "get_time");
  EXPECT_FALSE(p.tools->parallel);
  p = parse_completion_request(chat_body(R"(, "tool_choice": "none")"), Endpoint::Chat);
  EXPECT_FALSE(parses_tool_calls(p));
  EXPECT_FALSE(parse_completion_request(R"({"messages": [{"role": "user", "content": "x"}]})", Endpoint::Chat).tools);
}

TEST(ChatTools, MistakesAre400NamingTheField) {
  const std::string user = R"({"messages": [{"role": "user", "content": "x"}], )";
  EXPECT_EQ(param_for(chat_body(R"(, "tool_choice": "sometimes")")), "tool_choice");
  EXPECT_EQ(param_for(chat_body(R"(, "tool_choice": {"type": "function", "function": {"name": "nope"}})")),
            "tool_choice.function.name");
  EXPECT_EQ(param_for(chat_body(R"(, "tool_choice": {"type": "function"})")), "tool_choice");
  EXPECT_EQ(param_for(chat_body(R"(, "parallel_tool_calls": "yes")")), "parallel_tool_calls");
  EXPECT_EQ(param_for(chat_body(R"(, "tool_choice": "required", "response_format": {"type": "json_object"})")),
            "tool_choice");
  EXPECT_EQ(param_for(user + R"("tool_choice": "auto"})"), "tool_choice");
  EXPECT_EQ(param_for(user + R"("tools": {}})"), "tools");
  EXPECT_EQ(param_for(user + R"("tools": [{"type": "retrieval"}]})"), "tools[0].type");
  EXPECT_EQ(param_for(user + R"("tools": [{"type": "function", "function": {"name": "a b"}}]})"), "tools[0].function.name");
  EXPECT_EQ(param_for(user + R"("tools": [{"type": "function", "function": {"name": "f"}},
                                          {"type": "function", "function": {"name": "f"}}]})"),
            "tools[1].function.name");
  EXPECT_EQ(param_for(user + R"("tools": [{"type": "function", "function": {"name": "f", "parameters": 3}}]})"),
            "tools[0].function.parameters");
  // Only a forced call compiles the schema: a keyword smol cannot follow is refused then.
  const std::string pattern = user + R"("tools": [{"type": "function", "function": {"name": "f", "parameters":
      {"type": "object", "properties": {"a": {"type": "string", "pattern": "x+"}}}}}])";
  EXPECT_EQ(param_for(pattern + "}"), "");
  EXPECT_EQ(param_for(pattern + R"(, "tool_choice": "required"})"), "tools[0].function.parameters");
  EXPECT_EQ(param_for(user + R"("functions": [{"name": "f"}]})"), "functions");
  try {
    parse_completion_request(R"({"prompt": "x", "tools": [{"type": "function", "function": {"name": "f"}}]})",
                             Endpoint::Completion);
    FAIL() << "tools on /v1/completions";
  } catch (const ApiError& e) {
    EXPECT_EQ(e.param, "tools");
  }
}

TEST(ChatMessagesForTemplates, ToolCallsAndResultsInTransformersForm) {
  const CompletionParams p = parse_completion_request(R"({"messages": [
      {"role": "developer", "content": "d"},
      {"role": "assistant", "content": null, "tool_calls": [{"id": "c1", "type": "function",
        "function": {"name": "get_time", "arguments": "{\"city\": \"Oslo\", \"a\": 1}"}}]},
      {"role": "tool", "tool_call_id": "c1", "content": "12:00", "name": "get_time"}]})",
                                                      Endpoint::Chat);
  const ordered_json& m = p.chat_messages;
  EXPECT_EQ(m[0]["role"], "system");
  EXPECT_EQ(m[1]["content"], "");
  const ordered_json& args = m[1]["tool_calls"][0]["function"]["arguments"];
  ASSERT_TRUE(args.is_object());
  EXPECT_EQ(args.dump(), R"({"city":"Oslo","a":1})");
  EXPECT_EQ(m[1]["tool_calls"][0]["id"], "c1");
  EXPECT_EQ(m[2]["tool_call_id"], "c1");
  EXPECT_EQ(m[2]["name"], "get_time");
  EXPECT_EQ(p.messages[2].content, "12:00");

  const std::string head = R"({"messages": [)";
  EXPECT_EQ(param_for(head + R"({"role": "tool", "content": "r"}]})"), "messages[0].tool_call_id");
  EXPECT_EQ(param_for(head + R"({"role": "user", "content": "x", "tool_calls": []}]})"), "messages[0].tool_calls");
  EXPECT_EQ(param_for(head + R"({"role": "assistant", "tool_calls": []}]})"), "messages[0].tool_calls");
  EXPECT_EQ(param_for(head + R"({"role": "assistant", "tool_calls": [{"type": "function",
      "function": {"name": "f", "arguments": "{not json"}}]}]})"),
            "messages[0].tool_calls[0].function.arguments");
  EXPECT_EQ(param_for(head + R"({"role": "assistant", "tool_calls": [{"function": {"arguments": "{}"}}]}]})"),
            "messages[0].tool_calls[0].function.name");
  EXPECT_EQ(param_for(head + R"({"role": "user"}]})"), "messages[0].content");
}

// The byte strings a grammar accepts, through a matcher over a byte vocabulary.
bool accepts(const Grammar& g, const std::string& text) {
  std::vector<std::string> bytes;
  for (int b = 0; b < 256; ++b) bytes.push_back(std::string(1, static_cast<char>(b)));
  bytes.push_back("");
  GrammarMatcher m(g, std::make_shared<GrammarVocab>(bytes), {256});
  return m.accept_bytes(text) && m.can_end();
}

TEST(ToolCallGrammar, ForcedCallsFollowNamesAndSchemas) {
  CompletionParams p = parse_completion_request(chat_body(R"(, "tool_choice": "required")"), Endpoint::Chat);
  Grammar hermes = tool_call_grammar(*p.tools, ToolCallSyntax::Hermes);
  const std::string weather = R"({"name": "get_weather", "arguments": {"city": "Paris", "unit": "c"}})";
  const std::string time = R"({"name": "get_time", "arguments": {}})";
  EXPECT_TRUE(accepts(hermes, "<tool_call>\n" + weather + "\n</tool_call>"));
  EXPECT_TRUE(accepts(hermes, "<tool_call>\n" + weather + "\n</tool_call>\n<tool_call>\n" + time + "\n</tool_call>"));
  EXPECT_FALSE(accepts(hermes, R"(<tool_call>
{"name": "get_weather", "arguments": {"unit": "c"}}
</tool_call>)")) << "city is required";
  EXPECT_FALSE(accepts(hermes, R"(<tool_call>
{"name": "get_weather", "arguments": {"city": "Paris", "unit": "k"}}
</tool_call>)")) << "unit is an enum";
  EXPECT_FALSE(accepts(hermes, R"(<tool_call>
{"name": "get_time", "arguments": {"x": 1}}
</tool_call>)")) << "get_time takes no arguments";
  EXPECT_FALSE(accepts(hermes, R"(<tool_call>
{"name": "rm", "arguments": {}}
</tool_call>)"));
  EXPECT_FALSE(accepts(hermes, "Sure! <tool_call>\n" + time + "\n</tool_call>"));

  Grammar list = tool_call_grammar(*p.tools, ToolCallSyntax::SmolLM2List);
  EXPECT_TRUE(accepts(list, "<tool_call>[" + weather + ", " + time + "]</tool_call>"));
  EXPECT_FALSE(accepts(list, "<tool_call>[]</tool_call>"));

  p = parse_completion_request(chat_body(R"(, "tool_choice": {"type": "function", "function": {"name": "get_weather"}})"),
                               Endpoint::Chat);
  Grammar named = tool_call_grammar(*p.tools, ToolCallSyntax::SmolLM2List);
  EXPECT_TRUE(accepts(named, "<tool_call>[" + weather + "]</tool_call>"));
  EXPECT_FALSE(accepts(named, "<tool_call>[" + time + "]</tool_call>"));
  EXPECT_FALSE(accepts(named, "<tool_call>[" + weather + "," + weather + "]</tool_call>")) << "one call";
}

TEST(ToolCallGrammar, ParameterSchemasKeepTheirLocalRefs) {
  const CompletionParams p = parse_completion_request(R"({"messages": [{"role": "user", "content": "x"}],
      "tool_choice": "required", "tools": [{"type": "function", "function": {"name": "move", "parameters": {
        "$defs": {"point": {"type": "object", "properties": {"x": {"type": "integer"}}, "required": ["x"],
                            "additionalProperties": false}},
        "type": "object", "properties": {"to": {"$ref": "#/$defs/point"}}, "required": ["to"],
        "additionalProperties": false}}}]})",
                                                      Endpoint::Chat);
  const Grammar g = tool_call_grammar(*p.tools, ToolCallSyntax::Hermes);
  EXPECT_TRUE(accepts(g, "<tool_call>\n{\"name\": \"move\", \"arguments\": {\"to\": {\"x\": 3}}}\n</tool_call>"));
  EXPECT_FALSE(accepts(g, "<tool_call>\n{\"name\": \"move\", \"arguments\": {\"to\": {\"x\": \"3\"}}}\n</tool_call>"));
}

TEST(ToolCallResponses, MessageAndStreamChunksInOpenAiShape) {
  const ResponseMeta meta{"chatcmpl-abc", 1, "m"};
  JobResult result;
  result.finish_reason = "stop";
  const ParsedAnswer answer{"", {{"get_time", R"({"city":"Oslo"})"}}};
  const json r = chat_answer_response(meta, answer, result);
  const json& msg = r["choices"][0]["message"];
  EXPECT_TRUE(msg["content"].is_null());
  EXPECT_EQ(msg["tool_calls"][0]["id"], "call_abc_0");
  EXPECT_EQ(msg["tool_calls"][0]["type"], "function");
  EXPECT_EQ(msg["tool_calls"][0]["function"]["arguments"], R"({"city":"Oslo"})");
  EXPECT_EQ(r["choices"][0]["finish_reason"], "tool_calls");
  result.finish_reason = "length";
  EXPECT_EQ(chat_answer_response(meta, answer, result)["choices"][0]["finish_reason"], "length");
  const auto chunks = tool_call_chunks(meta, answer.calls[0], 1, false);
  ASSERT_EQ(chunks.size(), 2u);
  const json& head = chunks[0]["choices"][0]["delta"]["tool_calls"][0];
  EXPECT_EQ(head["index"], 1);
  EXPECT_EQ(head["id"], "call_abc_1");
  EXPECT_EQ(head["function"]["name"], "get_time");
  EXPECT_EQ(head["function"]["arguments"], "");
  EXPECT_EQ(chunks[1]["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"], R"({"city":"Oslo"})");
  EXPECT_FALSE(chunks[1]["choices"][0]["delta"]["tool_calls"][0].contains("id"));
}

std::string slurp(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(ToolTurnPrompts, EqualTransformersRendering) {
  const auto dir = testing::source_dir() / "tests" / "fixtures" / "tool-calling";
  const auto smollm2_config = testing::shared_dir() / "models" / "SmolLM2-135M-Instruct" / "tokenizer_config.json";
  const ChatTemplate smollm2 = ChatTemplate::from_tokenizer_config(smollm2_config);
  const ChatTemplate hermes(slurp(dir / "hermes_tools.jinja"), smollm2.bos_token(), smollm2.eos_token());
  EXPECT_EQ(tool_call_syntax(hermes), ToolCallSyntax::Hermes);
  EXPECT_EQ(tool_call_syntax(smollm2), ToolCallSyntax::SmolLM2List);
  const ordered_json cases = ordered_json::parse(slurp(dir / "renders.json"));  // keys in file order
  ASSERT_GE(cases.size(), 6u);
  for (const ordered_json& c : cases) {
    const CompletionParams p = parse_completion_request(c["request"].dump(), Endpoint::Chat);
    const ChatTemplate& t = c["template"] == "hermes" ? hermes : smollm2;
    EXPECT_EQ(render_chat_prompt(t, p), c["prompt"].get<std::string>()) << c["name"];
  }
}

}  // namespace
}  // namespace smol::server
