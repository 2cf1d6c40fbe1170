// `smol convert`, and the other commands taking the .gguf it writes, against the fixtures.
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

std::string smol() { return testing::smol_binary().string(); }

std::filesystem::path temp_path(const std::string& name) {
  return std::filesystem::temp_directory_path() / ("smol-convert-cli-" + std::to_string(getpid()) + "-" + name);
}

nlohmann::json expected(const std::string& fixture) {
  std::ifstream in(testing::fixtures_dir() / fixture / "expected.json");
  return nlohmann::json::parse(in);
}

TEST(ConvertCli, F32GgufGeneratesTokenizesAndScoresLikeTheFolder) {
  const std::string fixture = "tiny-f16-untied-sharded";
  const auto gguf = temp_path("f32.gguf");
  ProcessResult r = run_process({smol(), "convert", (testing::fixtures_dir() / fixture).string(), gguf.string(),
                                 "--type", "f32", "-t", "2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("F32 x"), std::string::npos) << r.err;
  const nlohmann::json prompt = expected(fixture)["prompts"][2];
  const std::string text = prompt["text"].get<std::string>();

  r = run_process({smol(), "generate", "-m", gguf.string(), "-p", text, "-n", "24", "--temp", "0", "-t", "2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, prompt["greedy_text"].get<std::string>());

  r = run_process({smol(), "tokenize", "-m", gguf.string(), "-p", text});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out), prompt["ids"]);

  const auto file = temp_path("prompt.txt");
  std::ofstream(file, std::ios::binary) << text;
  r = run_process({smol(), "perplexity", "-m", gguf.string(), "-f", file.string(), "--json"});
  std::filesystem::remove(file);
  std::filesystem::remove(gguf);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const double want = prompt["nll_mean"].get<double>();
  EXPECT_LE(std::fabs(nlohmann::json::parse(r.out)["nll_mean"].get<double>() - want), 1e-4 * want);
}

TEST(ConvertCli, Q8_0PerplexityWithinOnePercent) {
  const auto gguf = temp_path("q8.gguf");
  ProcessResult r = run_process({smol(), "convert", (testing::fixtures_dir() / "tiny-f32").string(), gguf.string(),
                                 "--type", "q8_0"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("Q8_0 x"), std::string::npos) << r.err;
  const nlohmann::json prompt = expected("tiny-f32")["prompts"][0];
  const auto file = temp_path("q8.txt");
  std::ofstream(file, std::ios::binary) << prompt["text"].get<std::string>();
  r = run_process({smol(), "perplexity", "-m", gguf.string(), "-f", file.string(), "--json"});
  std::filesystem::remove(file);
  std::filesystem::remove(gguf);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const double want = prompt["nll_mean"].get<double>();
  EXPECT_LE(std::fabs(nlohmann::json::parse(r.out)["nll_mean"].get<double>() - want), 0.01 * want);
}

TEST(ConvertCli, MistakesAreOneLineErrors) {
  const std::string model = (testing::fixtures_dir() / "tiny-f32").string();
  ProcessResult r = run_process({smol(), "convert", model, temp_path("x.gguf").string(), "--type", "q5_0"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("q5_0"), std::string::npos) << r.err;

  r = run_process({smol(), "convert", temp_path("missing").string(), temp_path("x.gguf").string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("not found"), std::string::npos) << r.err;

  r = run_process({smol(), "convert", model, temp_path("folder").string(), "--type", "q8_0"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find(".gguf"), std::string::npos) << r.err;
  std::filesystem::remove_all(temp_path("folder"));

  const auto bad = temp_path("bad.gguf");
  std::ofstream(bad, std::ios::binary) << "GGUF\x03";
  r = run_process({smol(), "generate", "-m", bad.string(), "-p", "hi"});
  std::filesystem::remove(bad);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find(bad.string()), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
}

// A disk that takes only the first MiB (RLIMIT_FSIZE, with SIGXFSZ ignored: each write past
// it is a short write, then EFBIG, as a full disk gives ENOSPC): one line, exit 1, and neither
// the output nor a temporary under any name is left.
TEST(ConvertCli, AShortWriteLeavesNothingUnderTheOutputName) {
  const auto dir = temp_path("short-write");
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  for (const std::string out : {"model.gguf", "folder"}) {
    const ProcessResult r = run_process({"/bin/bash", "-c", "trap '' XFSZ; ulimit -f 1024; exec \"$0\" \"$@\"", smol(),
                                         "convert", (testing::fixtures_dir() / "tiny-f32").string(),
                                         (dir / out).string(), "--type", "f32"});
    EXPECT_EQ(r.exit_code, 1) << out << ": " << r.err;
    EXPECT_NE(r.err.find("write error: File too large"), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_TRUE(std::filesystem::is_empty(dir)) << out << " left " << std::filesystem::directory_iterator(dir)->path();
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace smol
