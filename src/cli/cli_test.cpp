// The smol executable end to end, against the fixtures' expected outputs.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "test_support/fixtures.hpp"
#include "test_support/run_process.hpp"

namespace smol {
namespace {

using testing::ProcessResult;
using testing::run_process;

nlohmann::json expected_for(const std::string& fixture) {
  std::ifstream in(testing::fixtures_dir() / fixture / "expected.json");
  return nlohmann::json::parse(in);
}

std::string smol() { return testing::smol_binary().string(); }

std::filesystem::path write_temp(const std::string& name, const std::string& text) {
  auto path = std::filesystem::temp_directory_path() / ("smol-cli-test-" + std::to_string(getpid()) + "-" + name);
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

class CliFixture : public ::testing::TestWithParam<std::string> {
 protected:
  std::string model() const { return (testing::fixtures_dir() / GetParam()).string(); }
};

TEST_P(CliFixture, GreedyGenerationPrintsExpectedText) {
  const nlohmann::json expected = expected_for(GetParam());
  ASSERT_EQ(expected["prompts"].size(), 6u);
  for (const auto& prompt : expected["prompts"]) {
    ProcessResult r = run_process({smol(), "generate", "-m", model(), "-p", prompt["text"].get<std::string>(), "-n",
                                   "24", "--temp", "0", "-t", "2"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, prompt["greedy_text"].get<std::string>()) << prompt["text"];
  }
}

TEST_P(CliFixture, PerplexityJsonMatchesExpectedNll) {
  const nlohmann::json expected = expected_for(GetParam());
  ASSERT_EQ(expected["prompts"].size(), 6u);
  for (const auto& prompt : expected["prompts"]) {
    const auto file = write_temp(GetParam() + ".txt", prompt["text"].get<std::string>());
    ProcessResult r = run_process({smol(), "perplexity", "-m", model(), "-f", file.string(), "--json"});
    std::filesystem::remove(file);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto out = nlohmann::json::parse(r.out);
    const double expected = prompt["nll_mean"].get<double>();
    EXPECT_EQ(out["tokens"].get<int>(), prompt["nll_count"].get<int>());
    EXPECT_LE(std::fabs(out["nll_mean"].get<double>() - expected), 1e-4 * expected) << prompt["text"];
    EXPECT_NEAR(out["ppl"].get<double>(), std::exp(out["nll_mean"].get<double>()), 1e-9 * out["ppl"].get<double>());
  }
}

TEST_P(CliFixture, TokenizeMatchesPromptIds) {
  const nlohmann::json expected = expected_for(GetParam());
  ASSERT_EQ(expected["prompts"].size(), 6u);
  for (const auto& prompt : expected["prompts"]) {
    ProcessResult r = run_process({smol(), "tokenize", "-m", model(), "-p", prompt["text"].get<std::string>()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(nlohmann::json::parse(r.out), prompt["ids"]);
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, CliFixture, ::testing::Values("tiny-f32", "tiny-bf16", "tiny-f16-untied-sharded"),
                         [](const auto& info) {
                           std::string name = info.param;
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

// Fixture prompt 1 is SmolLM2's chat rendering of one user turn with the default system
// prompt, so --chat on the bare question must continue exactly as the reference does.
TEST_P(CliFixture, ChatWrapsPromptWithTheModelsTemplate) {
  const auto prompt = expected_for(GetParam())["prompts"][1];
  ASSERT_NE(prompt["text"].get<std::string>().find("What is 2+2?"), std::string::npos);
  ProcessResult r =
      run_process({smol(), "generate", "-m", model(), "--chat", "-p", "What is 2+2?", "-n", "24", "--temp", "0"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, prompt["greedy_text"].get<std::string>());
}

// An f16 KV cache changes no greedy id on the fixtures, so the text is the reference's; q8_0
// changes a few near-tied ids (src/model/model_test.cpp), so it only has to run.
TEST_P(CliFixture, GreedyGenerationWithSmallerCaches) {
  const auto prompt = expected_for(GetParam())["prompts"][0];
  auto run = [&](const char* type) {
    return run_process({smol(), "generate", "-m", model(), "-p", prompt["text"].get<std::string>(), "-n", "24",
                        "--temp", "0", "--cache-type", type});
  };
  ProcessResult f16 = run("f16");
  ASSERT_EQ(f16.exit_code, 0) << f16.err;
  EXPECT_EQ(f16.out, prompt["greedy_text"].get<std::string>());
  ProcessResult q8 = run("q8_0");
  ASSERT_EQ(q8.exit_code, 0) << q8.err;
  EXPECT_FALSE(q8.out.empty());
  EXPECT_NE(q8.err.find("generated 24 tokens"), std::string::npos) << q8.err;
}

TEST_P(CliFixture, MappedModelGeneratesTheSameText) {
  const auto prompt = expected_for(GetParam())["prompts"][0];
  ProcessResult r = run_process({smol(), "generate", "-m", model(), "-p", prompt["text"].get<std::string>(), "-n", "24",
                                 "--temp", "0", "--mmap"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, prompt["greedy_text"].get<std::string>());
}

TEST(Cli, PerplexityWithAnF16CacheStaysClose) {
  const auto model = (testing::fixtures_dir() / "tiny-f32").string();
  const auto prompt = expected_for("tiny-f32")["prompts"][2];
  const auto file = write_temp("ppl-f16.txt", prompt["text"].get<std::string>());
  ProcessResult r = run_process({smol(), "perplexity", "-m", model, "-f", file.string(), "--json", "--cache-type", "f16"});
  std::filesystem::remove(file);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const double expected = prompt["nll_mean"].get<double>();
  EXPECT_LE(std::fabs(nlohmann::json::parse(r.out)["nll_mean"].get<double>() - expected), 1e-3 * expected);
}

TEST(Cli, BenchTimesEachCacheTypeAtADepth) {
  const auto model = (testing::fixtures_dir() / "tiny-f32").string();
  ProcessResult r = run_process({smol(), "bench", "-m", model, "-p", "8", "-n", "4", "-d", "4", "-r", "1", "-t", "1",
                                 "--cache-type", "f32,q8_0", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto results = nlohmann::json::parse(r.out);
  ASSERT_EQ(results.size(), 4u);
  EXPECT_EQ(results[0]["test"], "pp8 @ d4");
  EXPECT_EQ(results[1]["test"], "tg4 @ d4");
  EXPECT_EQ(results[2]["cache_type"], "q8_0");
  // 2 layers x (keys + values) x a row of 32 values: 4 bytes each, or one 34-byte block.
  EXPECT_EQ(results[0]["kv_bytes_per_token"], 512);
  EXPECT_EQ(results[2]["kv_bytes_per_token"], 136);
}

TEST(Cli, EveryCommandWithAKvCacheTakesCacheType) {
  for (const char* cmd : {"generate", "chat", "serve", "perplexity", "bench"}) {
    ProcessResult r = run_process({smol(), cmd, "--help"});
    EXPECT_EQ(r.exit_code, 0) << cmd;
    EXPECT_NE(r.out.find("--cache-type"), std::string::npos) << cmd;
  }
}

TEST(Cli, TokenizeJsonlGivesOneArrayPerLine) {
  const auto model = (testing::fixtures_dir() / "tiny-f32").string();
  const auto expected = expected_for("tiny-f32")["prompts"];
  std::string input;
  for (const auto& p : expected) input += p["text"].dump() + "\n";
  const auto file = write_temp("lines.jsonl", input);
  ProcessResult r = run_process({smol(), "tokenize", "-m", model, "-f", file.string(), "--jsonl"});
  std::filesystem::remove(file);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::istringstream lines(r.out);
  std::string line;
  size_t i = 0;
  while (std::getline(lines, line)) {
    ASSERT_LT(i, expected.size());
    EXPECT_EQ(nlohmann::json::parse(line), expected[i]["ids"]);
    ++i;
  }
  EXPECT_EQ(i, expected.size());
}

TEST(Cli, SameSeedGivesSameSampledText) {
  const auto model = (testing::fixtures_dir() / "tiny-bf16").string();
  auto run = [&](const std::string& seed) {
    return run_process({smol(), "generate", "-m", model, "-p", "Once upon a time", "-n", "16", "--temp", "1.0",
                        "--seed", seed});
  };
  ProcessResult a = run("42"), b = run("42"), c = run("7");
  ASSERT_EQ(a.exit_code, 0) << a.err;
  EXPECT_EQ(a.out, b.out);
  EXPECT_NE(a.out, c.out);
}

TEST(Cli, PerplexityWindowsAreScoredFromTheirSecondToken) {
  // With --ctx 4 a 5-token prompt is one 4-token window (3 scored) and a 1-token window
  // (none scored).
  const auto model = (testing::fixtures_dir() / "tiny-f32").string();
  const auto prompt = expected_for("tiny-f32")["prompts"][0];
  ASSERT_EQ(prompt["ids"].size(), 5u);
  const auto file = write_temp("ppl4.txt", prompt["text"].get<std::string>());
  ProcessResult r = run_process({smol(), "perplexity", "-m", model, "-f", file.string(), "--json", "--ctx", "4"});
  std::filesystem::remove(file);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["tokens"].get<int>(), 3);
}

struct BadCall {
  std::vector<std::string> args;
  int exit_code;
  std::string message;
};

TEST(Cli, BadCallsGiveOneLineErrors) {
  const auto model = (testing::fixtures_dir() / "tiny-f32").string();
  const std::vector<BadCall> calls = {
      {{"generate", "-m", model, "-p", "hi", "--bogus"}, 2, "--bogus"},
      {{"generate", "-m", model, "-p", "hi", "--temp", "abc"}, 2, "temp"},
      {{"generate", "-m", model, "-p", "hi", "--top-p", "1.5"}, 2, "top-p"},
      {{"generate", "-p", "hi"}, 2, "model"},
      {{"frobnicate"}, 2, "frobnicate"},
      {{"generate", "-m", "/nonexistent/model", "-p", "hi"}, 1, "/nonexistent/model"},
      {{"generate", "-m", model, "-p", "hi", "--ctx", "999999"}, 1, "max_position_embeddings"},
      {{"perplexity", "-m", model, "-f", "/nonexistent.txt"}, 1, "/nonexistent.txt"},
      {{"tokenize", "-m", model}, 2, "-p"},
      {{"generate", "-m", model, "-p", "hi", "--cache-type", "bogus"}, 2, "--cache-type"},
      {{"perplexity", "-m", model, "-f", "/nonexistent.txt", "--cache-type", "q4_0"}, 2, "--cache-type"},
  };
  for (const auto& call : calls) {
    std::vector<std::string> argv = {smol()};
    argv.insert(argv.end(), call.args.begin(), call.args.end());
    ProcessResult r = run_process(argv);
    EXPECT_EQ(r.exit_code, call.exit_code) << call.args.back() << ": " << r.err;
    EXPECT_NE(r.err.find(call.message), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
}

TEST(Cli, OverlongPromptIsAnError) {
  const auto model = (testing::fixtures_dir() / "tiny-f32").string();
  ProcessResult r = run_process({smol(), "generate", "-m", model, "-p", "one two three four five six", "--ctx", "4"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("prompt has"), std::string::npos) << r.err;
}

TEST(Cli, HelpListsCommands) {
  ProcessResult r = run_process({smol(), "--help"});
  EXPECT_EQ(r.exit_code, 0);
  for (const char* cmd : {"generate", "perplexity", "tokenize"}) EXPECT_NE(r.out.find(cmd), std::string::npos);
  ProcessResult g = run_process({smol(), "generate", "--help"});
  EXPECT_EQ(g.exit_code, 0);
  EXPECT_NE(g.out.find("--top-k"), std::string::npos);
}

}  // namespace
}  // namespace smol
