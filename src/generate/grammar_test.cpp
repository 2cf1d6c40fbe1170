// GBNF parsing and the matcher's masks, on byte vocabularies made by hand.
#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <sstream>

#include "smol/error.hpp"
#include "smol/grammar.hpp"
#include "test_support/fixtures.hpp"

namespace smol {
namespace {

std::string read_grammar(const std::string& name) {
  std::ifstream in(testing::source_dir() / "tests" / "grammars" / name, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Every single byte is a token; id 256 is the end token.
std::shared_ptr<const GrammarVocab> byte_vocab() {
  std::vector<std::string> tokens;
  for (int b = 0; b < 256; ++b) tokens.push_back(std::string(1, static_cast<char>(b)));
  tokens.push_back("");
  return std::make_shared<GrammarVocab>(tokens);
}

constexpr int32_t kEnd = 256;

bool matches(const Grammar& g, std::string_view text) {
  GrammarMatcher m(g, byte_vocab(), {kEnd});
  return m.accept_bytes(text) && m.can_end();
}

bool is_prefix(const Grammar& g, std::string_view text) {
  GrammarMatcher m(g, byte_vocab(), {kEnd});
  return m.accept_bytes(text);
}

std::string error_of(std::string_view gbnf) {
  try {
    Grammar::from_gbnf(gbnf);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Gbnf, JsonGrammarAcceptsJsonAndRejectsTheRest) {
  const Grammar g = Grammar::from_gbnf(read_grammar("json.gbnf"));
  EXPECT_TRUE(matches(g, R"({"a": [1, -2.5e3, "x\n\u00e9", true, null, {}], "b": {"c": false}})"));
  EXPECT_TRUE(matches(g, "{\n  \"k\": \"\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\"}"));
  EXPECT_TRUE(matches(g, "{}"));
  EXPECT_FALSE(matches(g, "[1]"));             // the root is an object
  EXPECT_FALSE(matches(g, R"({"a": 01})"));    // no leading zeros... "0" then "1" is not a number
  EXPECT_FALSE(matches(g, R"({"a": "\q"})"));  // unknown escape
  EXPECT_FALSE(matches(g, "{\"a\": \"\x01\"}"));  // control character
  EXPECT_FALSE(matches(g, "{  }"));            // at most one space
  EXPECT_TRUE(is_prefix(g, R"({"a": [1, 2)"));
  EXPECT_FALSE(matches(g, R"({"a": [1, 2)"));
}

TEST(Gbnf, ArithmeticListChessJapaneseAndCGrammars) {
  const Grammar arithmetic = Grammar::from_gbnf(read_grammar("arithmetic.gbnf"));
  EXPECT_TRUE(matches(arithmetic, "a+b*( c-2)= 7\n"));
  EXPECT_TRUE(matches(arithmetic, "x=1\ny = 2\n"));
  EXPECT_FALSE(matches(arithmetic, "a+=1\n"));

  const Grammar list = Grammar::from_gbnf(read_grammar("list.gbnf"));
  EXPECT_TRUE(matches(list, "- milk\n- eggs\n"));
  EXPECT_FALSE(matches(list, "- milk\r\n"));
  EXPECT_FALSE(matches(list, "- a\xE2\x80\xA8" "b\n"));  // U+2028 is excluded
  EXPECT_FALSE(matches(list, "-  \n- \n"));              // an item needs a character after "- "

  const Grammar chess = Grammar::from_gbnf(read_grammar("chess.gbnf"));
  EXPECT_TRUE(matches(chess, "1. e4 e5\n2. Nf3 Nc6\n3. Bb5 a6\n4. O-O Nxe4+\n"));
  EXPECT_FALSE(matches(chess, "1. e4 e5\n"));  // at least one numbered move after the first
  EXPECT_FALSE(matches(chess, "1. e9 e5\n2. d4 d5\n"));

  const Grammar japanese = Grammar::from_gbnf(read_grammar("japanese.gbnf"));
  EXPECT_TRUE(matches(japanese, "こんにちは 世界、カタカナ"));
  EXPECT_FALSE(matches(japanese, "hello"));
  EXPECT_FALSE(matches(japanese, "こんにちは  世界"));

  const Grammar c = Grammar::from_gbnf(read_grammar("c.gbnf"));
  EXPECT_TRUE(matches(c, "int main(){int x = 1;while(x<10){x = x+1;}return x;}"));
  EXPECT_TRUE(matches(c, "float f(int a){// note\nreturn a*2;}"));
  EXPECT_FALSE(matches(c, "int main(){x = ;}"));
}

TEST(Gbnf, RepetitionsClassesAndEscapes) {
  const Grammar g = Grammar::from_gbnf(
      "root ::= \"a\"{2} [0-9]{1,3} x{2,} y? \"\\x41\\u00e9\\U0001F600\" [^a-c\\]]\n"
      "x ::= \"-\"   # comment\n"
      "y ::= (\"p\" | \"q\"){,2}\n");
  EXPECT_TRUE(matches(g, "aa1--A\xC3\xA9\xF0\x9F\x98\x80z"));
  EXPECT_TRUE(matches(g, "aa123---pqA\xC3\xA9\xF0\x9F\x98\x80\xC3\xA9"));
  EXPECT_FALSE(matches(g, "aa1234--A\xC3\xA9\xF0\x9F\x98\x80z"));  // {1,3}
  EXPECT_FALSE(matches(g, "aa1-A\xC3\xA9\xF0\x9F\x98\x80z"));      // {2,}
  EXPECT_FALSE(matches(g, "aa1--pqpA\xC3\xA9\xF0\x9F\x98\x80z"));  // {,2}
  EXPECT_FALSE(matches(g, "aa1--A\xC3\xA9\xF0\x9F\x98\x80]"));     // negated, escaped ]
  EXPECT_FALSE(matches(g, "aa1--A\xC3\xA9\xF0\x9F\x98\x80" "b"));
  // `.` is any code point, never a byte of one.
  const Grammar dot = Grammar::from_gbnf("root ::= . .\n");
  EXPECT_TRUE(matches(dot, "\xE2\x82\xAC" "a"));
  EXPECT_FALSE(matches(dot, "\xE2\x82"));
  EXPECT_FALSE(matches(dot, "\xC0\x80" "a"));  // an overlong encoding is not UTF-8
  EXPECT_FALSE(matches(dot, "\xED\xA0\x80" "a"));  // nor is a surrogate
}

TEST(Gbnf, ErrorsSayWhereAndWhat) {
  EXPECT_NE(error_of("root ::= foo\n").find("'foo' is used but never defined"), std::string::npos);
  EXPECT_NE(error_of("start ::= \"a\"\n").find("no 'root' rule"), std::string::npos);
  EXPECT_NE(error_of("root ::= root \"a\" | \"b\"\n").find("'root' is left-recursive"), std::string::npos);
  EXPECT_NE(error_of("root ::= x \"a\"\nx ::= \"\" | root\n").find("left-recursive"), std::string::npos);
  EXPECT_NE(error_of("root ::= (\"a\"?)*\n").find("left-recursive"), std::string::npos);
  EXPECT_NE(error_of("root ::= \"a\" root\n").find("can never finish"), std::string::npos);
  EXPECT_EQ(error_of("root ::= \"a"), "grammar 1:12: unterminated literal");
  EXPECT_EQ(error_of("root ::= (\"a\"\nx ::= \"b\")\n"), "grammar 2:1: expected ')' before the next rule 'x'");
  EXPECT_EQ(error_of("root ::= [a-z"), "grammar 1:14: unterminated character class");
  EXPECT_EQ(error_of("root ::= \"a\" ]\n"), "grammar 1:14: expected the end of the line after the rule");
  EXPECT_NE(error_of("root ::= \"\\q\"\n").find("unknown escape '\\q'"), std::string::npos);
  EXPECT_NE(error_of("root ::= \"a\"{3,2}\n").find("maximum below its minimum"), std::string::npos);
  EXPECT_NE(error_of("root ::= \"a\"\nroot ::= \"b\"\n").find("defined twice"), std::string::npos);
  EXPECT_NE(error_of("root ::= * \"a\"\n").find("nothing before it"), std::string::npos);
}

// A finite language and a vocabulary of awkward tokens: the mask after every prefix must be
// exactly the tokens t with prefix + t a prefix of some sentence, and the end token exactly
// where the prefix is a sentence.
TEST(GrammarMatcher, MaskIsExactOnTokensCrossingTerminalsAndSplitCharacters) {
  const Grammar g = Grammar::from_gbnf("root ::= (\"ab\" | \"a\" [bc] \"d\")? \"\xC3\xA9\" \"x\"{1,2}\n");
  const std::vector<std::string> language = {
      "\xC3\xA9x", "\xC3\xA9xx", "ab\xC3\xA9x", "ab\xC3\xA9xx", "abd\xC3\xA9x", "abd\xC3\xA9xx",
      "acd\xC3\xA9x", "acd\xC3\xA9xx"};
  std::set<std::string> prefixes;
  for (const auto& s : language) {
    for (size_t i = 0; i <= s.size(); ++i) prefixes.insert(s.substr(0, i));
  }
  std::vector<std::string> tokens = {"a", "b", "c", "d", "x", "ab", "abd", "bd", "d\xC3", "\xC3", "\xA9",
                                     "\xC3\xA9", "\xA9x", "\xA9xx", "xx", "xxx", "b\xC3\xA9x", "\xC3\xA8",
                                     "\xA8", "acd\xC3\xA9xx", "", "\xE2\x82", "ac"};
  tokens.push_back("z");
  auto vocab = std::make_shared<GrammarVocab>(tokens);  // "" (id 20) is the end token
  for (const std::string& p : prefixes) {
    GrammarMatcher m(g, vocab, {20});
    ASSERT_TRUE(m.accept_bytes(p)) << p;
    const std::vector<bool> allowed = m.allowed_tokens();
    for (size_t t = 0; t < tokens.size(); ++t) {
      bool expected = !tokens[t].empty() && prefixes.count(p + tokens[t]) > 0;
      if (t == 20) expected = std::find(language.begin(), language.end(), p) != language.end();
      EXPECT_EQ(allowed[t], expected) << "prefix '" << p << "' token '" << tokens[t] << "'";
      EXPECT_EQ(m.allows(static_cast<int32_t>(t)), expected) << "prefix '" << p << "' token '" << tokens[t] << "'";
    }
    EXPECT_EQ(m.can_end(), std::find(language.begin(), language.end(), p) != language.end());
  }
}

TEST(GrammarMatcher, MaskSetsRefusedLogitsToMinusInfinityAndKeepsTheEnd) {
  const Grammar g = Grammar::from_gbnf("root ::= \"ab\" \"c\"?\n");
  auto vocab = std::make_shared<GrammarVocab>(std::vector<std::string>{"a", "ab", "abc", "b", "c", ""});
  GrammarMatcher m(g, vocab, {5});
  std::vector<float> logits(6, 1.0f);
  m.mask(logits);
  const float ninf = -std::numeric_limits<float>::infinity();
  EXPECT_EQ(logits, (std::vector<float>{1, 1, 1, ninf, ninf, ninf}));
  m.accept(1);
  EXPECT_TRUE(m.can_end());
  EXPECT_FALSE(m.finished());
  logits.assign(6, 2.0f);
  m.mask(logits);
  EXPECT_EQ(logits, (std::vector<float>{ninf, ninf, ninf, ninf, 2, 2}));
  m.accept(4);
  EXPECT_TRUE(m.finished());
  EXPECT_THROW(m.accept(4), Error);
}

TEST(GrammarMatcher, NearTheTokenLimitOnlyTokensThatStillFinishInTime) {
  // A string that must be closed: with 3 tokens left after `"ab`, "c" (then `"` and the
  // end) still fits, and so does the closing quote.
  const Grammar g = Grammar::from_gbnf("root ::= \"\\\"\" [a-z]* \"\\\"\" \"!\"\n");
  auto vocab = std::make_shared<GrammarVocab>(std::vector<std::string>{"\"", "a", "abcdef", "\"!", "!", ""});
  GrammarMatcher m(g, vocab, {5});
  m.accept(0);
  EXPECT_EQ(m.bytes_to_end(), 2);
  m.set_remaining(2);  // this token and one more
  std::vector<float> logits(6, 0.0f);
  m.mask(logits);
  const float ninf = -std::numeric_limits<float>::infinity();
  EXPECT_EQ(logits, (std::vector<float>{0, ninf, ninf, 0, ninf, ninf})) << "only '\"' and '\"!' finish in time";
  EXPECT_FALSE(m.allows(1));
  EXPECT_TRUE(m.allows(0));
  EXPECT_TRUE(m.allows(3));
  m.set_remaining(3);
  EXPECT_TRUE(m.allows(1));
  m.set_remaining(INT64_MAX);
  EXPECT_TRUE(m.allows(2));
}

TEST(GrammarMatcher, WhenNothingFitsTheLimitTheTokensClosestToTheEnd) {
  const Grammar g = Grammar::from_gbnf("root ::= \"ab\" \"cd\"\n");
  auto vocab = std::make_shared<GrammarVocab>(std::vector<std::string>{"a", "ab", "abc", "x", ""});
  GrammarMatcher m(g, vocab, {4});
  m.set_remaining(1);
  std::vector<float> logits(5, 0.0f);
  m.mask(logits);
  const float ninf = -std::numeric_limits<float>::infinity();
  EXPECT_EQ(logits, (std::vector<float>{ninf, ninf, 0, ninf, ninf}));
}

TEST(GrammarMatcher, CopiesShareTheAutomatonButNotThePosition) {
  const Grammar g = Grammar::from_gbnf("root ::= [a-z]+\n");
  GrammarMatcher a(g, byte_vocab(), {kEnd});
  GrammarMatcher b = a;
  ASSERT_TRUE(a.accept_bytes("abc"));
  EXPECT_TRUE(a.can_end());
  EXPECT_FALSE(b.can_end());
  EXPECT_TRUE(b.accept_bytes("x"));
}

}  // namespace
}  // namespace smol
