// `smol chat` through piped stdin: one user turn per line, one reply per line on stdout.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "test_support/fixtures.hpp"
#include "test_support/run_process.hpp"

namespace smol {
namespace {

using testing::run_process;

std::string model() { return (testing::fixtures_dir() / "tiny-f32").string(); }
std::string smol() { return testing::smol_binary().string(); }

std::string generate_chat(const std::vector<std::string>& extra) {
  std::vector<std::string> args = {smol(), "generate", "-m", model(), "--chat", "--temp", "0", "-n", "16"};
  args.insert(args.end(), extra.begin(), extra.end());
  auto r = run_process(args);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return r.out;
}

TEST(ChatCli, SingleTurnEqualsGenerateChat) {
  const std::string expected = generate_chat({"-p", "What is 2+2?"});
  // Also the fixture's independent reference for this prompt (its first 16 tokens).
  std::ifstream in(testing::fixtures_dir() / "tiny-f32" / "expected.json");
  const std::string reference = nlohmann::json::parse(in)["prompts"][1]["greedy_text"];
  EXPECT_EQ(reference.rfind(expected, 0), 0u) << expected;

  auto r = run_process({smol(), "chat", "-m", model(), "--temp", "0", "-n", "16"}, "What is 2+2?\n");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, expected + "\n");
}

TEST(ChatCli, SystemMessageIsUsed) {
  const std::string expected = generate_chat({"-p", "Hello", "--system", "You are terse."});
  auto r = run_process({smol(), "chat", "-m", model(), "--temp", "0", "-n", "16", "--system", "You are terse."},
                       "Hello\n");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, expected + "\n");
}

TEST(ChatCli, SecondTurnSeesTheFirstAndResetForgetsIt) {
  const std::string first = generate_chat({"-p", "Hello"});
  const std::string alone = generate_chat({"-p", "And then?"});
  // The second turn continues the conversation: its prompt is the template over both turns.
  // Rendered by hand in SmolLM2's ChatML format, as `generate` without --chat.
  const std::string convo =
      "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"
      "<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n" +
      first + "<|im_end|>\n<|im_start|>user\nAnd then?<|im_end|>\n<|im_start|>assistant\n";
  auto g = run_process({smol(), "generate", "-m", model(), "--temp", "0", "-n", "16", "-p", convo});
  ASSERT_EQ(g.exit_code, 0) << g.err;

  auto r = run_process({smol(), "chat", "-m", model(), "--temp", "0", "-n", "16"},
                       "Hello\nAnd then?\n/reset\nAnd then?\n/quit\nnot read\n");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, first + "\n" + g.out + "\n" + alone + "\n");
}

TEST(ChatCli, MissingModelIsAnError) {
  auto r = run_process({smol(), "chat", "-m", "/nonexistent/model"}, "hi\n");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("model not found"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace smol
