// JsonKeyGuard: repeated object keys are refused (after decoding escapes), everything else is
// the grammar's; and random walks through the JSON-object grammar over a vocabulary of a few
// short keys, which repeat a key almost every time unguarded, end in strictly parsed JSON.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "smol/grammar.hpp"
#include "test_support/json_validate.hpp"

namespace smol {
namespace {

std::shared_ptr<const GrammarVocab> tiny_vocab() {
  // 0 '{', 1 '}', 2 '"', 3 'a', 4 'b', 5 ':', 6 '1', 7 ',', 8 ',"', 9 '":', 10 end
  return std::make_shared<GrammarVocab>(std::vector<std::string>{"{", "}", "\"", "a", "b", ":", "1", ",", ",\"",
                                                                  "\":", ""});
}
constexpr int32_t kEnd = 10;

JsonKeyGuard guard_of(const std::shared_ptr<const GrammarVocab>& vocab) {
  const Grammar g = Grammar::from_gbnf(json_object_gbnf()).with_unique_json_keys();
  return JsonKeyGuard(std::make_unique<GrammarMatcher>(g, vocab, std::vector<int32_t>{kEnd}), vocab);
}

TEST(JsonKeyGuard, RefusesARepeatedKeyOfTheSameObjectOnly) {
  const auto vocab = tiny_vocab();
  JsonKeyGuard g = guard_of(vocab);
  EXPECT_TRUE(g.accept_bytes(R"({"a": {"a": 1, "b": [{"a": 1}, {"a": 2}]}, "b": 1, ")"));
  EXPECT_FALSE(g.accept_bytes(R"(a")"));   // the outer object has "a"
  EXPECT_FALSE(g.accept_bytes(R"(b")"));   // ... and "b"
  EXPECT_TRUE(g.accept_bytes(R"(ab": "a", ")"));  // a string value "a" is not a key
  EXPECT_FALSE(g.accept_bytes(R"(\u0061")"));     // "a" spelled with an escape
  EXPECT_FALSE(g.accept_bytes(R"(a\u0062")"));    // "ab"
  EXPECT_TRUE(g.accept_bytes(R"(\ud83d\ude00": 1, ")"));
  EXPECT_FALSE(g.accept_bytes("\xF0\x9F\x98\x80\""));  // the same character raw
  EXPECT_TRUE(g.accept_bytes(R"(\"": 1})"));
}

TEST(JsonKeyGuard, AllowsAndMaskAgreeAndRefuseTheClosingToken) {
  const auto vocab = tiny_vocab();
  JsonKeyGuard g = guard_of(vocab);
  for (int32_t t : {0, 2, 3, 9, 6, 8}) {  // {"a":1,"
    ASSERT_TRUE(g.allows(t)) << t;
    g.accept(t);
  }
  g.accept(3);                // a
  EXPECT_FALSE(g.allows(9));  // '":' would close "a" again
  EXPECT_FALSE(g.allows(2));  // so would '"'
  EXPECT_TRUE(g.allows(4));   // "ab..." is a new key
  std::vector<float> logits(vocab->size(), 0.0f);
  g.mask(logits);
  EXPECT_TRUE(std::isinf(logits[9]) && std::isinf(logits[2]));
  EXPECT_TRUE(std::isfinite(logits[4]) && std::isfinite(logits[3]));
}

TEST(JsonKeyGuard, RandomWalksEndInStrictJson) {
  const auto vocab = tiny_vocab();
  std::mt19937 rng(7);
  int finished = 0;
  for (int walk = 0; walk < 300; ++walk) {
    JsonKeyGuard g = guard_of(vocab);
    std::string text;
    for (int step = 0; step < 200; ++step) {
      g.set_remaining(200 - step);
      std::vector<float> logits(vocab->size(), 0.0f);
      g.mask(logits);
      std::vector<int32_t> ok;
      for (int32_t t = 0; t < static_cast<int32_t>(logits.size()); ++t) {
        if (std::isfinite(logits[t])) ok.push_back(t);
      }
      ASSERT_FALSE(ok.empty());
      const int32_t t = ok[std::uniform_int_distribution<size_t>(0, ok.size() - 1)(rng)];
      if (t == kEnd) break;
      ASSERT_TRUE(g.allows(t));
      g.accept(t);
      text += std::vector<std::string>{"{", "}", "\"", "a", "b", ":", "1", ",", ",\"", "\":"}[t];
      if (g.finished()) break;
    }
    if (!g.can_end()) continue;
    ++finished;
    nlohmann::json doc;
    EXPECT_EQ(testing::strict_json_parse(text, doc), "") << text;
  }
  EXPECT_GT(finished, 250);
}

}  // namespace
}  // namespace smol
