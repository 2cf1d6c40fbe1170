// SpanConstraint and the QA helpers on hand-made byte vocabularies: every mask is checked
// against a brute-force answer (is the text so far plus the token a substring of the context
// that starts at a character?), and offsets against code points counted by hand.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "smol/error.hpp"
#include "smol/qa.hpp"

namespace smol {
namespace {

// Tokens: every byte, then every substring of length 2 and 3 of `words`, then the end token.
struct Vocab {
  std::vector<std::string> tokens;
  std::shared_ptr<const GrammarVocab> trie;
  int32_t end = 0;
};

Vocab make_vocab(const std::string& words) {
  Vocab v;
  for (int b = 0; b < 256; ++b) v.tokens.push_back(std::string(1, static_cast<char>(b)));
  for (size_t n = 2; n <= 3; ++n) {
    for (size_t i = 0; i + n <= words.size(); ++i) v.tokens.push_back(words.substr(i, n));
  }
  v.tokens.push_back("zz");  // never in the contexts
  v.end = static_cast<int32_t>(v.tokens.size());
  v.tokens.push_back("");  // the end token: no bytes, never in the trie
  v.trie = std::make_shared<GrammarVocab>(v.tokens);
  return v;
}

bool continues(const std::string& context, const std::string& so_far, const std::string& token) {
  const std::string s = so_far + token;
  if (s.empty() || (static_cast<uint8_t>(s[0]) & 0xC0) == 0x80) return false;
  return context.find(s) != std::string::npos;
}

TEST(SpanConstraint, MasksEqualBruteForceOnRandomWalks) {
  const std::string context = "Paris is the capital of France. Über 2 million people live in Paris — «la Ville».";
  const Vocab v = make_vocab(context + " the a zq");
  std::mt19937 rng(7);
  for (int walk = 0; walk < 40; ++walk) {
    SpanConstraint c(context, v.trie, {v.end});
    EXPECT_FALSE(c.allows(v.end)) << "no end before the first token";
    for (int step = 0; step < 30 && !c.finished(); ++step) {
      std::vector<float> logits(v.tokens.size(), 0.0f);
      c.mask(logits);
      std::vector<int32_t> allowed;
      for (size_t t = 0; t < v.tokens.size(); ++t) {
        const bool want = static_cast<int32_t>(t) == v.end ? c.can_end()
                                                           : continues(context, c.generated(), v.tokens[t]);
        ASSERT_EQ(std::isfinite(logits[t]), want) << "token '" << v.tokens[t] << "' after '" << c.generated() << "'";
        ASSERT_EQ(c.allows(static_cast<int32_t>(t)), want) << v.tokens[t];
        if (want && static_cast<int32_t>(t) != v.end) allowed.push_back(static_cast<int32_t>(t));
      }
      if (allowed.empty()) break;
      c.accept(allowed[rng() % allowed.size()]);
      ASSERT_NE(context.find(c.generated()), std::string::npos) << c.generated();
    }
  }
}

TEST(SpanConstraint, EndsOnlyAfterContentAtACharacterBoundary) {
  const std::string context = "a  é b";  // é is two bytes
  const Vocab v = make_vocab(context);
  SpanConstraint c(context, v.trie, {v.end});
  EXPECT_FALSE(c.can_end());
  ASSERT_TRUE(c.accept_bytes(" "));
  EXPECT_FALSE(c.can_end()) << "whitespace alone is no answer";
  ASSERT_TRUE(c.accept_bytes(" \xC3"));
  EXPECT_FALSE(c.can_end()) << "inside é";
  EXPECT_FALSE(c.allows(v.end));
  ASSERT_TRUE(c.accept_bytes("\xA9"));
  EXPECT_TRUE(c.can_end());
  EXPECT_TRUE(c.allows(v.end));
  EXPECT_FALSE(c.accept_bytes("x")) << "not in the context";
  EXPECT_EQ(c.generated(), "  é");
  EXPECT_THROW(c.accept(v.end - 1), Error);  // "zz"
}

TEST(SpanConstraint, NeverStartsInsideACharacter) {
  const std::string context = "éa";
  const Vocab v = make_vocab(context);
  SpanConstraint c(context, v.trie, {v.end});
  EXPECT_FALSE(c.allows(0xA9)) << "the second byte of é";
  EXPECT_FALSE(c.accept_bytes("\xA9" "a"));
  EXPECT_TRUE(c.allows(0xC3));
}

TEST(SpanConstraint, LastTokenMustLetTheSpanEnd) {
  const std::string context = "xé yé";
  const Vocab v = make_vocab(context);
  SpanConstraint c(context, v.trie, {v.end});
  ASSERT_TRUE(c.accept_bytes("x"));
  c.set_remaining(1);
  EXPECT_FALSE(c.allows(0xC3)) << "would end inside é";
  EXPECT_TRUE(c.allows(static_cast<int32_t>(std::find(v.tokens.begin(), v.tokens.end(), "é") - v.tokens.begin())));
  std::vector<float> logits(v.tokens.size(), 0.0f);
  c.mask(logits);
  EXPECT_FALSE(std::isfinite(logits[0xC3]));
  EXPECT_TRUE(std::isfinite(logits[static_cast<size_t>(v.end)]));
  c.set_remaining(INT64_MAX);
  EXPECT_TRUE(c.allows(0xC3));
}

TEST(SpanConstraint, FinishedAtTheEndOfTheText) {
  const Vocab v = make_vocab("abc");
  SpanConstraint c("abc", v.trie, {v.end});
  ASSERT_TRUE(c.accept_bytes("bc"));
  EXPECT_TRUE(c.finished());
  EXPECT_TRUE(c.can_end());
}

TEST(SpanConstraint, RefusesEmptyAndInvalidText) {
  const Vocab v = make_vocab("a");
  EXPECT_THROW(SpanConstraint("", v.trie, {v.end}), Error);
  try {
    SpanConstraint("ok \xFF", v.trie, {v.end});
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("not valid UTF-8 (byte 3)"), std::string::npos) << e.what();
  }
  EXPECT_THROW(SpanConstraint("\xC3", v.trie, {v.end}), Error);  // cut inside a character
}

TEST(QaSpans, OffsetsAreCodePoints) {
  const std::string context = "Über «Paris»: Paris!";
  auto span = find_span(context, "Paris");
  ASSERT_TRUE(span);
  EXPECT_EQ(span->start, 6);  // Ü b e r space « : 6 code points (8 bytes)
  EXPECT_EQ(span->end, 11);
  EXPECT_FALSE(find_span(context, "London"));
  EXPECT_FALSE(find_span(context, ""));
}

TEST(QaSpans, ExtractiveSpanTrimsAndDropsAHalfCharacter) {
  const std::string context = "a café, then tea";
  AnswerSpan s = extractive_span(context, " caf\xC3");
  EXPECT_EQ(s.answer, "caf");
  EXPECT_EQ(s.start, 2);
  EXPECT_EQ(s.end, 5);
  s = extractive_span(context, "café, ");
  EXPECT_EQ(s.answer, "café,");
  EXPECT_EQ(s.end - s.start, 5);
  s = extractive_span(context, " ");
  EXPECT_EQ(s.answer, "");
  EXPECT_EQ(s.start, 1);
  EXPECT_EQ(s.end, 1);
}

TEST(QaPrompt, HoldsContextAndQuestion) {
  const auto m = qa_messages("CTX", "Q?", true);
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0].role, "user");
  EXPECT_NE(m[0].content.find("Context:\nCTX\n\nQuestion: Q?"), std::string::npos);
  EXPECT_NE(m[0].content.find("copied exactly"), std::string::npos);
  EXPECT_EQ(qa_messages("CTX", "Q?", false)[0].content.find("copied exactly"), std::string::npos);
}

}  // namespace
}  // namespace smol
