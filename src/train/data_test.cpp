// Training data: the three input formats, the assistant-only loss mask of chat data, the token
// cache, and the order of the windows.
#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <thread>

#include "smol/error.hpp"
#include "smol/tokenizer.hpp"
#include "smol/train_data.hpp"
#include "test_support/fixtures.hpp"
#include "test_support/run_process.hpp"

namespace smol {
namespace {

std::filesystem::path model_dir() { return testing::fixtures_dir() / "tiny-f32"; }

class DataTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("smol-data-test-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    tok_ = std::make_unique<Tokenizer>(Tokenizer::from_file(model_dir() / "tokenizer.json"));
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name, std::ios::binary) << text;
    return dir_ / name;
  }
  std::filesystem::path dir_;
  std::unique_ptr<Tokenizer> tok_;
};

TEST_F(DataTest, PlainTextIsOneDocumentWithoutBosOrEos) {
  const std::string text = testing::slurp(testing::fixtures_dir() / "train" / "text.txt");
  const LoadedData d = load_training_data(write("a.txt", text), model_dir());
  const auto expect = tok_->encode(text);
  EXPECT_EQ(std::vector<int32_t>(d.data.tokens().begin(), d.data.tokens().end()), expect);
  EXPECT_TRUE(d.data.scored().empty());
}

TEST_F(DataTest, JsonlTextDocumentsAreSeparatedByEndOfText) {
  const LoadedData d = load_training_data(write("a.jsonl", "{\"text\": \"Hello world\"}\n\n{\"text\": \"Bye\"}\n"), model_dir());
  std::vector<int32_t> expect = tok_->encode("Hello world");
  expect.push_back(*tok_->token_id("<|endoftext|>"));
  for (int32_t id : tok_->encode("Bye")) expect.push_back(id);
  EXPECT_EQ(std::vector<int32_t>(d.data.tokens().begin(), d.data.tokens().end()), expect);
  EXPECT_TRUE(d.data.scored().empty());  // text only: every token is a target
}

TEST_F(DataTest, ChatScoresOnlyAssistantTurns) {
  const std::string line =
      R"({"messages": [{"role": "user", "content": "What is 2+2?"}, {"role": "assistant", "content": "It is 4."},)"
      R"( {"role": "user", "content": "And 3+3?"}, {"role": "assistant", "content": "6."}]})";
  const LoadedData d = load_training_data(write("chat.jsonl", line + "\n{\"text\": \"plain\"}\n"), model_dir());
  ASSERT_EQ(d.data.scored().size(), d.data.size());
  std::vector<int32_t> scored, all(d.data.tokens().begin(), d.data.tokens().end());
  for (size_t i = 0; i < d.data.size(); ++i) {
    if (d.data.scored()[i]) scored.push_back(d.data.tokens()[i]);
  }
  // The assistant contents and their end-of-turn markers, then the text document (the
  // separator after the chat document is not scored).
  EXPECT_EQ(tok_->decode(scored), "It is 4.<|im_end|>\n6.<|im_end|>\nplain");
  const std::string rendered = tok_->decode(all);
  EXPECT_NE(rendered.find("<|im_start|>user\nWhat is 2+2?<|im_end|>"), std::string::npos);
  EXPECT_NE(rendered.find("<|im_start|>assistant\nIt is 4.<|im_end|>"), std::string::npos);
}

TEST_F(DataTest, BadJsonlLinesNameTheLine) {
  try {
    load_training_data(write("bad.jsonl", "{\"text\": \"ok\"}\n{\"txt\": 1}\n"), model_dir());
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("bad.jsonl:2"), std::string::npos) << e.what();
  }
}

// The out_of_range fuzzing found in the server's JSON parse, in a training file's line.
TEST_F(DataTest, NumberOverflowInAJsonlLineNamesTheLine) {
  try {
    load_training_data(write("overflow.jsonl", "{\"text\": \"ok\"}\n{\"text\": 1e400}\n"), model_dir());
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("overflow.jsonl:2"), std::string::npos) << e.what();
  }
}

TEST_F(DataTest, CacheIsWrittenReusedAndRebuiltWhenTheDataChanges) {
  const auto path = write("c.txt", "one two three four");
  const LoadedData first = load_training_data(path, model_dir());
  EXPECT_FALSE(first.from_cache);
  EXPECT_TRUE(std::filesystem::exists(first.cache_path));
  EXPECT_EQ(first.cache_path.parent_path(), path.parent_path());
  const LoadedData second = load_training_data(path, model_dir());
  EXPECT_TRUE(second.from_cache);
  EXPECT_EQ(std::vector<int32_t>(second.data.tokens().begin(), second.data.tokens().end()),
            std::vector<int32_t>(first.data.tokens().begin(), first.data.tokens().end()));
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  write("c.txt", "five six");
  const LoadedData third = load_training_data(path, model_dir());
  EXPECT_FALSE(third.from_cache);
  EXPECT_EQ(std::vector<int32_t>(third.data.tokens().begin(), third.data.tokens().end()), tok_->encode("five six"));
}

TEST(WindowSampler, NoShuffleFollowsTheFixtureOrder) {
  std::vector<int32_t> tokens(100);
  for (int i = 0; i < 100; ++i) tokens[i] = i;
  const TokenData data = TokenData::from_tokens(tokens);
  const WindowSampler s(data, 8, 0.2, false, 0);  // 80 training tokens: windows 0..8
  EXPECT_EQ(s.train_tokens(), 80);
  EXPECT_EQ(s.train_windows(), 9);
  EXPECT_EQ(s.val_windows(), 2);
  std::vector<int32_t> in(8), tgt(8);
  EXPECT_EQ(s.train_row(3, in.data(), tgt.data()), 8);
  EXPECT_EQ(in[0], 24);
  EXPECT_EQ(tgt[7], 32);
  s.train_row(9, in.data(), tgt.data());  // second epoch wraps around
  EXPECT_EQ(in[0], 0);
  s.val_row(1, in.data(), tgt.data());
  EXPECT_EQ(in[0], 88);
}

TEST(WindowSampler, ShuffleIsAPermutationPerEpochAndDependsOnTheSeed) {
  std::vector<int32_t> tokens(161);
  for (int i = 0; i < 161; ++i) tokens[i] = i;
  const TokenData data = TokenData::from_tokens(tokens);
  const WindowSampler a(data, 8, 0.0, true, 1), b(data, 8, 0.0, true, 2);
  std::vector<int32_t> in(8), tgt(8);
  std::vector<int> order_a, order_b, epoch2;
  for (int r = 0; r < 20; ++r) {
    a.train_row(r, in.data(), tgt.data());
    order_a.push_back(in[0] / 8);
    b.train_row(r, in.data(), tgt.data());
    order_b.push_back(in[0] / 8);
    a.train_row(20 + r, in.data(), tgt.data());
    epoch2.push_back(in[0] / 8);
  }
  EXPECT_EQ(std::set<int>(order_a.begin(), order_a.end()).size(), 20u);
  EXPECT_EQ(std::set<int>(epoch2.begin(), epoch2.end()).size(), 20u);
  EXPECT_NE(order_a, order_b);
  EXPECT_NE(order_a, epoch2);
}

TEST(WindowSampler, UnscoredTargetsAreMinusOne) {
  const TokenData data = TokenData::from_tokens({5, 6, 7, 8, 9}, {1, 0, 1, 1, 0});
  const WindowSampler s(data, 4, 0.0, false, 0);
  std::vector<int32_t> in(4), tgt(4);
  EXPECT_EQ(s.train_row(0, in.data(), tgt.data()), 2);
  EXPECT_EQ(tgt, (std::vector<int32_t>{-1, 7, 8, -1}));
}

TEST(WindowSampler, TooLittleDataIsAnError) {
  const TokenData data = TokenData::from_tokens({1, 2, 3});
  EXPECT_THROW(WindowSampler(data, 4, 0.0, false, 0), Error);
}

}  // namespace
}  // namespace smol
