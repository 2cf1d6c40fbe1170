// Completions sampled at temperature 1 from a random-weight model with the real SmolLM2
// tokenizer (models/tiny-random-bf16), which unconstrained almost never writes JSON, under
// the schemas in tests/grammars/schemas: every output must parse strictly (no duplicate keys,
// finite numbers) and validate. SMOL_GRAMMAR_RUNS sets the completions per schema (default 4;
// bench/grammar_json_runs.sh runs 100 per schema).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "smol/generate.hpp"
#include "smol/grammar.hpp"
#include "test_support/fixtures.hpp"
#include "test_support/json_validate.hpp"

namespace smol {
namespace {

std::string read(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

int runs_per_schema() {
  const char* env = std::getenv("SMOL_GRAMMAR_RUNS");
  return env && *env ? std::max(1, std::atoi(env)) : 4;
}

class GrammarSampling : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { engine_ = new Engine(testing::source_dir() / "models" / "tiny-random-bf16", 1); }
  static void TearDownTestSuite() {
    delete engine_;
    engine_ = nullptr;
  }
  static Engine* engine_;

  // Generates with `grammar` and returns the text; counts how many ended complete.
  std::string complete(const Grammar& grammar, uint64_t seed, int max_tokens, std::string* finish = nullptr) {
    GenerateOptions options;
    options.max_new_tokens = max_tokens;
    options.sampling.temperature = 1.0f;
    options.sampling.top_k = 0;
    options.sampling.top_p = 1.0f;
    options.sampling.min_p = 0.0f;
    options.sampling.seed = seed;
    options.grammar = grammar;
    const std::vector<int32_t> prompt = engine_->tokenizer().encode("Answer in JSON:");
    std::string text;
    const GenerateResult r = generate(*engine_, prompt, options, [&](std::string_view piece) {
      text += piece;
      return true;
    });
    if (finish) *finish = r.finish_reason;
    return text;
  }
};

Engine* GrammarSampling::engine_ = nullptr;

TEST_F(GrammarSampling, EveryCompletionUnderEverySchemaParsesAndValidates) {
  const int runs = runs_per_schema();
  int total = 0, at_limit = 0;
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(testing::source_dir() / "tests" / "grammars" / "schemas")) {
    files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  ASSERT_EQ(files.size(), 10u);
  for (const auto& file : files) {
    const std::string schema_text = read(file);
    const Grammar grammar = Grammar::from_gbnf(json_schema_to_gbnf(schema_text));
    const testing::SchemaValidator validator(nlohmann::json::parse(schema_text));
    for (int i = 0; i < runs; ++i) {
      std::string finish;
      const std::string text = complete(grammar, 1000 + static_cast<uint64_t>(i), 256, &finish);
      nlohmann::json doc;
      const std::string parse_error = testing::strict_json_parse(text, doc);
      ASSERT_EQ(parse_error, "") << file.filename() << " seed " << 1000 + i << ":\n" << text;
      EXPECT_EQ(validator.validate(doc), "") << file.filename() << " seed " << 1000 + i << ":\n" << text;
      ++total;
      at_limit += finish == "length";
    }
  }
  std::printf("%d completions, %d used the whole token budget\n", total, at_limit);
}

TEST_F(GrammarSampling, GbnfGrammarsConstrainTheModelToo) {
  for (const char* name : {"arithmetic.gbnf", "chess.gbnf", "japanese.gbnf", "list.gbnf", "json.gbnf"}) {
    const Grammar grammar = Grammar::from_gbnf(read(testing::source_dir() / "tests" / "grammars" / name));
    const std::string text = complete(grammar, 7, 64);
    // Whatever the model wrote is a prefix of the grammar (complete if it stopped early).
    GrammarMatcher check(grammar, engine_->grammar_vocab(), {});
    EXPECT_TRUE(check.accept_bytes(text)) << name << ":\n" << text;
  }
}

TEST_F(GrammarSampling, UnconstrainedOutputOfThisModelIsNotJson) {
  // The point of the test above: without the grammar this model writes no JSON.
  GenerateOptions options;
  options.max_new_tokens = 64;
  options.sampling.temperature = 1.0f;
  options.sampling.seed = 3;
  std::string text;
  generate(*engine_, engine_->tokenizer().encode("Answer in JSON:"), options, [&](std::string_view p) {
    text += p;
    return true;
  });
  nlohmann::json doc;
  EXPECT_NE(testing::strict_json_parse(text, doc), "") << text;
}

}  // namespace
}  // namespace smol
