// smol generate --beams: transformers-style search from the command line.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "test_support/fixtures.hpp"
#include "test_support/run_process.hpp"

namespace smol {
namespace {

using testing::ProcessResult;
using testing::run_process;

std::string smol() { return testing::smol_binary().string(); }

class BeamCli : public ::testing::TestWithParam<std::string> {
 protected:
  std::string model() const { return (testing::fixtures_dir() / GetParam()).string(); }
  nlohmann::json expected() const {
    std::ifstream in(testing::fixtures_dir() / GetParam() / "expected.json");
    return nlohmann::json::parse(in);
  }
};

TEST_P(BeamCli, OneBeamIsGreedy) {
  const nlohmann::json all = expected();
  ASSERT_EQ(all["prompts"].size(), 6u);
  for (const auto& prompt : all["prompts"]) {
    ProcessResult r = run_process({smol(), "generate", "-m", model(), "-p", prompt["text"].get<std::string>(), "-n",
                                   "24", "--beams", "1", "-t", "2"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, prompt["greedy_text"].get<std::string>()) << prompt["text"];
  }
}

TEST_P(BeamCli, FourBeamsPrintTheBestBeam) {
  const nlohmann::json all = expected();
  const std::string text = all["prompts"][0]["text"].get<std::string>();
  ProcessResult r = run_process({smol(), "generate", "-m", model(), "-p", text, "-n", "12", "--beams", "4",
                                 "--length-penalty", "0.5", "-t", "2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(r.out.empty());
  EXPECT_NE(r.err.find("4 beams"), std::string::npos) << r.err;
  // Deterministic: the same command prints the same text.
  ProcessResult again = run_process({smol(), "generate", "-m", model(), "-p", text, "-n", "12", "--beams", "4",
                                     "--length-penalty", "0.5", "-t", "2"});
  EXPECT_EQ(again.out, r.out);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, BeamCli, ::testing::Values("tiny-f32", "tiny-bf16"), [](const auto& info) {
  std::string name = info.param;
  std::replace(name.begin(), name.end(), '-', '_');
  return name;
});

TEST(BeamCliErrors, BadBeamCountIsACommandLineError) {
  const std::string m = (testing::fixtures_dir() / "tiny-f32").string();
  ProcessResult r = run_process({smol(), "generate", "-m", m, "-p", "hi", "--beams", "0"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  r = run_process({smol(), "generate", "-m", m, "-p", "hi", "-n", "0", "--beams", "2"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("--beams"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace smol
