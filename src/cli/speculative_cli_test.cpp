// smol generate --draft / --lookup from the command line: the greedy text of plain decoding,
// the acceptance line on stderr, and one-line refusals with a non-zero exit.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "test_support/fixtures.hpp"
#include "test_support/run_process.hpp"
#include "test_support/temp_files.hpp"

namespace smol {
namespace {

using testing::ProcessResult;
using testing::run_process;

std::string smol() { return testing::smol_binary().string(); }
std::string fixture(const char* name) { return (testing::fixtures_dir() / name).string(); }

nlohmann::json first_prompt() {
  std::ifstream in(testing::fixtures_dir() / "tiny-f32" / "expected.json");
  return nlohmann::json::parse(in)["prompts"][0];
}

int lines(const std::string& text) { return static_cast<int>(std::count(text.begin(), text.end(), '\n')); }

TEST(SpeculativeCli, GreedyTextIsPlainGreedy) {
  const nlohmann::json prompt = first_prompt();
  const std::string text = prompt["text"].get<std::string>();
  for (const std::vector<std::string>& extra :
       {std::vector<std::string>{"--draft", fixture("tiny-bf16"), "--draft-max", "5"},
        std::vector<std::string>{"--lookup", "2", "--draft-min", "1"}}) {
    std::vector<std::string> args = {smol(), "generate", "-m", fixture("tiny-f32"), "-p", text, "-n", "24",
                                     "--temp", "0", "-t", "2"};
    args.insert(args.end(), extra.begin(), extra.end());
    const ProcessResult r = run_process(args);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, prompt["greedy_text"].get<std::string>()) << extra[0];
    EXPECT_NE(r.err.find("smol: speculative: drafted "), std::string::npos) << r.err;
  }
}

TEST(SpeculativeCli, RefusalsAreOneLine) {
  testing::TempDir dir;
  // A draft with another vocabulary: the fixture's tokenizer with <repo_name> (id 3) no
  // longer special.
  std::filesystem::copy(testing::fixtures_dir() / "tiny-bf16", dir / "draft", std::filesystem::copy_options::recursive);
  std::filesystem::permissions(dir / "draft" / "tokenizer.json", std::filesystem::perms::owner_write,
                               std::filesystem::perm_options::add);
  nlohmann::json tokenizer;
  {
    std::ifstream in(dir / "draft" / "tokenizer.json");
    tokenizer = nlohmann::json::parse(in);
  }
  ASSERT_EQ(tokenizer["added_tokens"][3]["content"], "<repo_name>");
  tokenizer["added_tokens"][3]["special"] = false;
  testing::write_file(dir / "draft" / "tokenizer.json", tokenizer.dump());

  const std::vector<std::string> base = {smol(), "generate", "-m", fixture("tiny-f32"), "-p", "Hi", "-n", "4"};
  const std::vector<std::vector<std::string>> cases = {
      {"--draft", (dir / "draft").string()},
      {"--lookup", "2", "--beams", "2"},
      {"--lookup", "2", "--json"},
      {"--lookup", "2", "--draft-min", "20", "--draft-max", "4"},
  };
  for (const auto& extra : cases) {
    std::vector<std::string> args = base;
    args.insert(args.end(), extra.begin(), extra.end());
    const ProcessResult r = run_process(args);
    EXPECT_NE(r.exit_code, 0) << extra[0] << " " << extra[1];
    EXPECT_EQ(lines(r.err), 1) << r.err;
    EXPECT_TRUE(r.out.empty()) << r.out;
  }
  std::vector<std::string> args = base;
  args.insert(args.end(), {"--draft", (dir / "draft").string()});
  const std::string err = run_process(args).err;
  EXPECT_NE(err.find("draft model's token 3"), std::string::npos) << err;
}

}  // namespace
}  // namespace smol
