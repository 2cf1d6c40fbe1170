// Constrained output through the real binary: `smol generate --json-schema/--json/--grammar`
// prints only the document, and `smol serve` honours response_format, grammar and
// json_schema (streamed or not), refusing what it cannot honour with a 400 naming the field.
#include <gtest/gtest.h>

#include "test_support/json_validate.hpp"
#include "test_support/run_process.hpp"
#include "test_support/serve_process.hpp"

namespace smol {
namespace {

using nlohmann::json;
using testing::post_json;
using testing::ProcessResult;
using testing::run_process;

std::string random_model() { return (testing::source_dir() / "models" / "tiny-random-bf16").string(); }
std::filesystem::path grammars() { return testing::source_dir() / "tests" / "grammars"; }

void expect_valid(const std::string& text, const json& schema, const std::string& what) {
  json doc;
  ASSERT_EQ(testing::strict_json_parse(text, doc), "") << what << ":\n" << text;
  EXPECT_EQ(testing::SchemaValidator(schema).validate(doc), "") << what << ":\n" << text;
}

TEST(GrammarCli, JsonSchemaOutputIsOnlyTheDocumentAndValidates) {
  for (const char* name : {"02-nested.json", "04-numbers.json", "07-ref-tree.json"}) {
    const auto file = grammars() / "schemas" / name;
    const json schema = json::parse(testing::slurp(file));
    for (const char* seed : {"1", "2"}) {
      const ProcessResult r = run_process({testing::smol_binary().string(), "generate", "-m", random_model(), "-p",
                                           "Answer:", "--json-schema", file.string(), "--temp", "1.0", "--seed", seed,
                                           "-n", "512", "-t", "1"});
      ASSERT_EQ(r.exit_code, 0) << r.err;
      expect_valid(r.out, schema, std::string(name) + " seed " + seed);
    }
  }
}

TEST(GrammarCli, JsonFlagAndGrammarFile) {
  ProcessResult r = run_process({testing::smol_binary().string(), "generate", "-m", random_model(), "-p", "x", "--json",
                                 "--temp", "1.0", "--seed", "5", "-n", "200", "-t", "1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json doc;
  ASSERT_EQ(testing::strict_json_parse(r.out, doc), "") << r.out;
  EXPECT_TRUE(doc.is_object());
  r = run_process({testing::smol_binary().string(), "generate", "-m", random_model(), "-p", "x", "--grammar",
                   (grammars() / "chess.gbnf").string(), "--temp", "0", "-n", "12", "-t", "1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("1. ", 0), 0u) << r.out;
}

TEST(GrammarCli, BadGrammarsAndSchemasAreOneLineErrors) {
  const std::string smol = testing::smol_binary().string();
  const std::string bad_schema = (std::filesystem::temp_directory_path() / "smol-bad-schema.json").string();
  std::ofstream(bad_schema) << R"({"type": "string", "pattern": "a+"})";
  const std::string bad_gbnf = (std::filesystem::temp_directory_path() / "smol-bad.gbnf").string();
  std::ofstream(bad_gbnf) << "root ::= missing\n";
  struct Call {
    std::vector<std::string> args;
    int code;
    std::string message;
  };
  const std::vector<Call> calls = {
      {{"--json-schema", bad_schema}, 1, "'pattern' is not supported"},
      {{"--grammar", bad_gbnf}, 1, "'missing' is used but never defined"},
      {{"--json", "--grammar", bad_gbnf}, 2, "excludes"},
      {{"--json", "--beams", "2"}, 1, "--beams cannot be combined"},
  };
  for (const Call& c : calls) {
    std::vector<std::string> argv = {smol, "generate", "-m", random_model(), "-p", "x", "-n", "4"};
    argv.insert(argv.end(), c.args.begin(), c.args.end());
    const ProcessResult r = run_process(argv);
    EXPECT_EQ(r.exit_code, c.code) << r.err;
    EXPECT_NE(r.err.find(c.message), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
}

class GrammarServe : public ::testing::Test {
 protected:
  testing::ServeProcess server{{"--parallel", "2", "--ctx", "512"}};
  void SetUp() override { ASSERT_GT(server.port(), 0) << server.log(); }

  json chat(json extra, int& status) {
    json body = {{"messages", {{{"role", "user"}, {"content", "Give me JSON"}}}}, {"temperature", 1.0}, {"seed", 3},
                 {"max_tokens", 300}};
    body.update(extra);
    auto c = server.client();
    const std::string raw = post_json(c, "/v1/chat/completions", body, status);
    return json::parse(raw);
  }
};

TEST_F(GrammarServe, ResponseFormatJsonSchemaStreamedAndNot) {
  const json schema = json::parse(testing::slurp(grammars() / "schemas" / "06-anyof.json"));
  const json format = {{"type", "json_schema"}, {"json_schema", {{"name", "thing"}, {"schema", schema}, {"strict", true}}}};
  int status = 0;
  const json body = chat({{"response_format", format}}, status);
  ASSERT_EQ(status, 200) << body;
  expect_valid(body["choices"][0]["message"]["content"], schema, "non-streamed");

  auto c = server.client();
  const std::string raw = post_json(c, "/v1/chat/completions",
                                    {{"messages", {{{"role", "user"}, {"content", "Give me JSON"}}}},
                                     {"temperature", 1.0}, {"seed", 4}, {"max_tokens", 300}, {"stream", true},
                                     {"response_format", format}},
                                    status);
  ASSERT_EQ(status, 200) << raw;
  std::string text;
  for (const std::string& e : testing::sse_data(raw)) {
    if (e == "[DONE]") break;
    const json chunk = json::parse(e);
    if (chunk["choices"][0]["delta"].contains("content")) text += chunk["choices"][0]["delta"]["content"];
  }
  expect_valid(text, schema, "streamed");
}

TEST_F(GrammarServe, JsonObjectAndGrammarFieldsOnBothEndpoints) {
  int status = 0;
  json body = chat({{"response_format", {{"type", "json_object"}}}}, status);
  ASSERT_EQ(status, 200) << body;
  json doc;
  ASSERT_EQ(testing::strict_json_parse(body["choices"][0]["message"]["content"], doc), "") << body;
  EXPECT_TRUE(doc.is_object());
  auto c = server.client();
  body = json::parse(post_json(c, "/v1/completions",
                               {{"prompt", "Moves:"}, {"grammar", "root ::= \"yes\" | \"no\"\n"}, {"temperature", 1.0},
                                {"max_tokens", 8}},
                               status));
  ASSERT_EQ(status, 200) << body;
  const std::string text = body["choices"][0]["text"];
  EXPECT_TRUE(text == "yes" || text == "no") << text;
  EXPECT_EQ(body["choices"][0]["finish_reason"], "stop");
  body = json::parse(post_json(c, "/v1/completions",
                               {{"prompt", "n:"}, {"json_schema", {{"type", "integer"}, {"minimum", 3}, {"maximum", 5}}},
                                {"max_tokens", 8}},
                               status));
  ASSERT_EQ(status, 200) << body;
  const int n = std::stoi(body["choices"][0]["text"].get<std::string>());
  EXPECT_TRUE(n >= 3 && n <= 5) << body;
}

TEST_F(GrammarServe, FieldsSmolCannotHonourAre400NamingThem) {
  const std::vector<std::pair<json, std::string>> cases = {
      {{{"tools", json::array({{{"type", "function"}, {"function", {{"name", "not a name"}}}}})}},
       "tools[0].function.name"},
      {{{"functions", json::array({{{"name", "f"}}})}}, "functions"},
      {{{"tool_choice", "auto"}}, "tool_choice"},
      {{{"logprobs", true}}, "logprobs"},
      {{{"frobnicate", 1}}, "frobnicate"},
      {{{"response_format", {{"type", "yaml"}}}}, "response_format.type"},
      {{{"response_format", {{"type", "json_schema"}, {"json_schema", {{"name", "x"}, {"schema", {{"type", "string"}, {"pattern", "a"}}}}}}}},
       "response_format.json_schema.schema"},
      {{{"grammar", "root ::= nope\n"}}, "grammar"},
      {{{"grammar", "root ::= \"a\"\n"}, {"response_format", {{"type", "json_object"}}}}, "grammar"},
  };
  for (const auto& [extra, param] : cases) {
    int status = 0;
    const json body = chat(extra, status);
    EXPECT_EQ(status, 400) << extra << body;
    EXPECT_EQ(body["error"]["param"], param) << body;
  }
  int status = 0;
  EXPECT_EQ(chat({{"response_format", {{"type", "text"}}}, {"max_tokens", 4}}, status)["object"], "chat.completion");
  EXPECT_EQ(status, 200);
}

}  // namespace
}  // namespace smol
