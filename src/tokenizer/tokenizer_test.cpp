// Parity with Hugging Face on the real SmolLM2 tokenizer: every fixture line must encode to
// exactly the ids Hugging Face produced and decode back to the same string.
#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "smol/error.hpp"
#include "smol/tokenizer.hpp"
#include "test_support/fixtures.hpp"
#include "tokenizer/byte_level.hpp"
#include "tokenizer/utf8.hpp"

namespace smol {
namespace {

std::filesystem::path real_tokenizer_path() {
  return testing::shared_dir() / "models" / "SmolLM2-135M-Instruct" / "tokenizer.json";
}

const Tokenizer& real_tokenizer() {
  static const Tokenizer tok = Tokenizer::from_file(real_tokenizer_path());
  return tok;
}

std::vector<nlohmann::json> read_jsonl(const std::filesystem::path& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in) << "cannot open " << path;
  std::vector<nlohmann::json> lines;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) lines.push_back(nlohmann::json::parse(line));
  }
  return lines;
}

int32_t id_of_byte(const Tokenizer& tok, uint8_t byte) {
  std::string spelled;
  byte_level::append_utf8(spelled, byte_level::byte_to_char(byte));
  const auto id = tok.token_id(spelled);
  EXPECT_TRUE(id.has_value());
  return id.value_or(-1);
}

TEST(RealTokenizer, Loads) {
  const Tokenizer& tok = real_tokenizer();
  EXPECT_EQ(tok.vocab_size(), 49152u);
  EXPECT_EQ(tok.token_id("<|im_end|>"), 2);
  EXPECT_EQ(tok.token_id("<|endoftext|>"), 0);
  EXPECT_TRUE(tok.is_special(2));
  EXPECT_FALSE(tok.is_special(1000));
  EXPECT_EQ(tok.token_bytes(*tok.token_id("Ġthe")), " the");
  EXPECT_EQ(tok.token_text(*tok.token_id("Ġthe")), "Ġthe");
  EXPECT_FALSE(tok.token_id("no such token").has_value());
}

TEST(RealTokenizer, EveryFixtureLineEncodesAndDecodesExactly) {
  const auto dir = testing::fixtures_dir() / "tokenizer";
  const auto cases = read_jsonl(dir / "cases.jsonl");
  const auto expected = read_jsonl(dir / "expected_ids.jsonl");
  ASSERT_EQ(cases.size(), expected.size());
  ASSERT_GT(cases.size(), 300u);
  const Tokenizer& tok = real_tokenizer();
  size_t encode_ok = 0, decode_ok = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    const std::string text = cases[i].get<std::string>();
    const auto want = expected[i].get<std::vector<int32_t>>();
    const auto got = tok.encode(text);
    EXPECT_EQ(got, want) << "line " << i + 1 << ": " << cases[i].dump();
    encode_ok += got == want;
    const std::string back = tok.decode(want);
    EXPECT_EQ(back, text) << "decode of line " << i + 1;
    decode_ok += back == text;
  }
  std::cout << "[ fixtures ] encode exact " << encode_ok << "/" << cases.size()
            << ", decode exact " << decode_ok << "/" << cases.size() << "\n";
  ::testing::Test::RecordProperty("fixture_lines", static_cast<int>(cases.size()));
}

// Whitespace and contraction edge cases, with ids from Hugging Face tokenizers.js 0.2.0 (which
// reproduces Oniguruma's \s) on the same tokenizer.json.
TEST(RealTokenizer, WhitespaceAndContractionEdgeCases) {
  const Tokenizer& tok = real_tokenizer();
  const std::vector<std::pair<std::string, std::vector<int32_t>>> cases = {
#include "test_support/tokenizer_edge_cases.inc"
  };
  ASSERT_FALSE(cases.empty());
  for (const auto& [text, ids] : cases) {
    EXPECT_EQ(tok.encode(text), ids) << nlohmann::json(text).dump();
    EXPECT_EQ(tok.decode(ids), text);
  }
}

TEST(RealTokenizer, EmptyTextGivesNoIds) { EXPECT_TRUE(real_tokenizer().encode("").empty()); }

TEST(RealTokenizer, DecodeSkipsSpecialTokensOnlyWhenAsked) {
  const Tokenizer& tok = real_tokenizer();
  const auto ids = tok.encode("<|im_start|>user\nHi<|im_end|>");
  ASSERT_EQ(ids.front(), 1);
  ASSERT_EQ(ids.back(), 2);
  EXPECT_EQ(tok.decode(ids), "<|im_start|>user\nHi<|im_end|>");
  EXPECT_EQ(tok.decode(ids, /*skip_special=*/true), "user\nHi");
}

TEST(RealTokenizer, DecodeReplacesInvalidUtf8LikeRust) {
  const Tokenizer& tok = real_tokenizer();
  auto ids_of = [&](std::string_view bytes) {
    std::vector<int32_t> ids;
    for (char c : bytes) ids.push_back(id_of_byte(tok, static_cast<uint8_t>(c)));
    return ids;
  };
  const std::string fffd = "\xEF\xBF\xBD";
  // Cases from Rust's String::from_utf8_lossy documentation and the Unicode "maximal subpart"
  // examples: one U+FFFD per maximal prefix of a valid sequence, else per byte.
  EXPECT_EQ(tok.decode(ids_of("Hello\xF0\x90\x80World")), "Hello" + fffd + "World");
  EXPECT_EQ(tok.decode(ids_of("\xE0\x80")), fffd + fffd);
  EXPECT_EQ(tok.decode(ids_of("\xED\xA0\x80")), fffd + fffd + fffd);
  EXPECT_EQ(tok.decode(ids_of("\xF4\x90\x80\x80")), fffd + fffd + fffd + fffd);
  EXPECT_EQ(tok.decode(ids_of("\xC2" "A")), fffd + "A");
  EXPECT_EQ(tok.decode(ids_of("a\xE2\x82")), "a" + fffd);
  EXPECT_EQ(tok.decode(ids_of("\xE2\x82\xAC")), "\xE2\x82\xAC");  // a whole euro sign
  EXPECT_EQ(tok.decode(ids_of("\x80\xBF")), fffd + fffd);
}

// SmolLM2's vocab has no token for a few bytes (e.g. 0x04, 0xF1) and no unk_token: Hugging Face's
// BPE then silently drops those bytes, and so must we.
TEST(RealTokenizer, BytesMissingFromTheVocabAreDropped) {
  const Tokenizer& tok = real_tokenizer();
  ASSERT_FALSE(tok.token_id("\xC4\x84").has_value());  // the spelling of byte 0x04
  const std::vector<int32_t> want = {id_of_byte(tok, 'a'), id_of_byte(tok, 'b')};
  EXPECT_EQ(tok.encode("a\x04" "b"), want);
}

TEST(RealTokenizer, UnknownIdsAreReported) {
  const Tokenizer& tok = real_tokenizer();
  const std::vector<int32_t> bad = {5, 49152};
  EXPECT_THROW(tok.decode(bad), Error);
  EXPECT_THROW(tok.token_bytes(-1), Error);
}

TEST(RealTokenizer, RejectsInvalidUtf8Input) {
  EXPECT_THROW(real_tokenizer().encode("ab\xC3("), Error);
}

TEST(StreamDecoder, HoldsBackACharacterSplitAcrossTokens) {
  const Tokenizer& tok = real_tokenizer();
  const std::string text = "Hi 🤖 and 👨‍👩‍👧 é!";
  const auto ids = tok.encode(text);
  StreamDecoder stream(tok);
  std::string joined;
  size_t held_back = 0;
  for (const int32_t id : ids) {
    const std::string piece = stream.push(id);
    EXPECT_FALSE(utf8::find_invalid(piece).has_value()) << "partial character emitted";
    EXPECT_EQ(piece.find("\xEF\xBF\xBD"), std::string::npos);
    // A token whose bytes did not finish a character produces nothing yet.
    held_back += piece.empty();
    joined += piece;
  }
  joined += stream.flush();
  EXPECT_EQ(joined, text);
  EXPECT_GT(held_back, 0u) << "the vocab was expected to split an emoji into byte tokens";
}

TEST(StreamDecoder, FlushReplacesAnUnfinishedCharacter) {
  const Tokenizer& tok = real_tokenizer();
  StreamDecoder stream(tok);
  EXPECT_EQ(stream.push(id_of_byte(tok, 'a')), "a");
  EXPECT_EQ(stream.push(id_of_byte(tok, 0xF0)), "");
  EXPECT_EQ(stream.push(id_of_byte(tok, 0x9F)), "");
  // An invalid continuation ends the held sequence: it is replaced and decoding goes on.
  EXPECT_EQ(stream.push(id_of_byte(tok, 'b')), "\xEF\xBF\xBD" "b");
  EXPECT_EQ(stream.push(id_of_byte(tok, 0xE2)), "");
  EXPECT_EQ(stream.flush(), "\xEF\xBF\xBD");
  EXPECT_EQ(stream.flush(), "");
}

TEST(StreamDecoder, CanSkipSpecialTokens) {
  const Tokenizer& tok = real_tokenizer();
  StreamDecoder stream(tok, /*skip_special=*/true);
  EXPECT_EQ(stream.push(2), "");
  EXPECT_EQ(stream.push(id_of_byte(tok, 'x')), "x");
}

TEST(RealTokenizer, ConcurrentEncodesAgree) {
  const Tokenizer& tok = real_tokenizer();
  const auto cases = read_jsonl(testing::fixtures_dir() / "tokenizer" / "cases.jsonl");
  std::vector<std::vector<int32_t>> serial;
  for (const auto& c : cases) serial.push_back(tok.encode(c.get<std::string>()));
  std::vector<std::vector<std::vector<int32_t>>> results(4);
  std::vector<std::thread> threads;
  for (size_t t = 0; t < results.size(); ++t) {
    threads.emplace_back([&, t] {
      const Tokenizer copy = tok;  // copies share the vocabulary and are thread-safe
      for (int round = 0; round < 3; ++round) {
        results[t].clear();
        for (const auto& c : cases) results[t].push_back(copy.encode(c.get<std::string>()));
      }
    });
  }
  for (auto& th : threads) th.join();
  for (const auto& r : results) EXPECT_EQ(r, serial);
}

}  // namespace
}  // namespace smol
