// A GGUF's tokenizer (rebuilt from tokenizer.ggml.* metadata) against Hugging Face's ids for
// every tokenizer case, and an Engine running a GGUF end to end.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "smol/convert.hpp"
#include "smol/generate.hpp"
#include "smol/gguf_tokenizer.hpp"
#include "smol/json_file.hpp"
#include "test_support/fixtures.hpp"

namespace smol {
namespace {

// One f32 GGUF of tiny-f32 for the whole suite.
class GgufEngine : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    path_ = new std::filesystem::path(std::filesystem::temp_directory_path() /
                                      ("smol-gguf-tok-" + std::to_string(::getpid()) + ".gguf"));
    convert_model(testing::fixtures_dir() / "tiny-f32", *path_, {ConvertType::F32, 2});
  }
  static void TearDownTestSuite() {
    std::filesystem::remove(*path_);
    delete path_;
  }
  static std::filesystem::path* path_;
};
std::filesystem::path* GgufEngine::path_ = nullptr;

TEST_F(GgufEngine, TokenizerMatchesHuggingFaceOnEveryCase) {
  const Tokenizer tok = load_tokenizer(*path_);
  std::ifstream cases(testing::fixtures_dir() / "tokenizer" / "cases.jsonl");
  std::ifstream ids(testing::fixtures_dir() / "tokenizer" / "expected_ids.jsonl");
  std::string text_line, ids_line;
  int n = 0;
  while (std::getline(cases, text_line) && std::getline(ids, ids_line)) {
    const auto text = nlohmann::json::parse(text_line).get<std::string>();
    const auto want = nlohmann::json::parse(ids_line).get<std::vector<int32_t>>();
    const auto got = tok.encode(text);
    EXPECT_EQ(got, want) << text_line;
    EXPECT_EQ(tok.decode(got), text) << text_line;
    ++n;
  }
  EXPECT_GT(n, 100);
  EXPECT_TRUE(tok.is_special(2));
  EXPECT_EQ(tok.token_text(1), "<|im_start|>");
}

TEST_F(GgufEngine, GreedyGenerationAndChatTemplateMatchTheFolder) {
  Engine engine(*path_, 2);
  const auto folder = testing::fixtures_dir() / "tiny-f32";
  const nlohmann::json expected = read_json_file(folder / "expected.json");
  GenerateOptions options;
  options.max_new_tokens = 24;
  options.sampling.temperature = 0.0f;
  options.stop_ids = std::vector<int32_t>{};
  for (const auto& prompt : expected["prompts"]) {
    const auto ids = engine.tokenizer().encode(prompt["text"].get<std::string>());
    EXPECT_EQ(nlohmann::json(ids), prompt["ids"]);
    const GenerateResult r = generate(engine, ids, options, [](std::string_view) { return true; });
    EXPECT_EQ(nlohmann::json(r.tokens), prompt["greedy_ids"]) << prompt["text"];
  }
  const std::vector<ChatMessage> chat = {{"user", "What is 2+2?"}};
  EXPECT_EQ(engine.chat_template().render(chat, true),
            ChatTemplate::from_tokenizer_config(folder / "tokenizer_config.json").render(chat, true));
  EXPECT_EQ(engine.chat_template().eos_token(), "<|im_end|>");
}

}  // namespace
}  // namespace smol
