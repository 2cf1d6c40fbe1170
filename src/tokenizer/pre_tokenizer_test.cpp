// Splitting rules of each pre-tokenizer, checked piece by piece. Expected pieces follow the
// definitions in Hugging Face tokenizers (pre_tokenizers/*.rs, NormalizedString::split) and,
// for the GPT-2 pattern, what Oniguruma/JavaScript's backtracking `\s+(?!\S)` produces.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "smol/error.hpp"
#include "tokenizer/pre_tokenizer.hpp"

namespace smol {
namespace {

using Pieces = std::vector<std::string>;

Pieces pieces_of(const PreTokenizer& pre, std::string_view text) {
  PreTokenizerScratch scratch;
  Pieces out;
  pre.split(text, scratch, [&](std::string_view piece) { out.emplace_back(piece); });
  return out;
}

PreTokenizer split_only(std::string_view pattern, SplitBehavior behavior, bool invert = false) {
  std::vector<PreTokenizerStep> steps;
  steps.push_back(make_split_step(Regex::compile(pattern), behavior, invert));
  return PreTokenizer(std::move(steps));
}

PreTokenizer byte_level(bool add_prefix_space = false) {
  std::vector<PreTokenizerStep> steps;
  steps.push_back(make_byte_level_step(add_prefix_space, true));
  return PreTokenizer(std::move(steps));
}

TEST(SplitBehavior, EachBehaviorAsInTokenizers) {
  const std::string text = "a-b--c";
  EXPECT_EQ(pieces_of(split_only("-", SplitBehavior::Isolated), text),
            (Pieces{"a", "-", "b", "-", "-", "c"}));
  EXPECT_EQ(pieces_of(split_only("-", SplitBehavior::Removed), text), (Pieces{"a", "b", "c"}));
  EXPECT_EQ(pieces_of(split_only("-", SplitBehavior::MergedWithPrevious), text),
            (Pieces{"a-", "b-", "-", "c"}));
  EXPECT_EQ(pieces_of(split_only("-", SplitBehavior::MergedWithNext), text),
            (Pieces{"a", "-b", "-", "-c"}));
  EXPECT_EQ(pieces_of(split_only("-", SplitBehavior::Contiguous), text),
            (Pieces{"a", "-", "b", "--", "c"}));
  // invert swaps what counts as the delimiter.
  EXPECT_EQ(pieces_of(split_only("-", SplitBehavior::Removed, /*invert=*/true), text),
            (Pieces{"-", "-", "-"}));
  EXPECT_EQ(pieces_of(split_only("-", SplitBehavior::MergedWithPrevious, true), text),
            (Pieces{"a", "-b", "-", "-c"}));
}

TEST(SplitBehavior, EmptyTextAndNoMatch) {
  EXPECT_TRUE(pieces_of(split_only("-", SplitBehavior::Isolated), "").empty());
  EXPECT_EQ(pieces_of(split_only("-", SplitBehavior::Removed), "abc"), (Pieces{"abc"}));
}

TEST(SplitPreTokenizer, Llama3Pattern) {
  // The pattern Llama-3 tokenizers put in a Split pre-tokenizer (Isolated, invert false).
  const auto pre = split_only(
      R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)",
      SplitBehavior::Isolated);
  EXPECT_EQ(pieces_of(pre, "I'VE got 1234567 apples!!\n\n  ok"),
            (Pieces{"I", "'VE", " got", " ", "123", "456", "7", " apples", "!!\n\n", " ", " ok"}));
  EXPECT_EQ(pieces_of(pre, "x  \r\n y"), (Pieces{"x", "  \r\n", " y"}));
  EXPECT_EQ(pieces_of(pre, "$hello"), (Pieces{"$hello"}));
}

TEST(ByteLevelPreTokenizer, Gpt2PatternWhitespaceRules) {
  const auto pre = byte_level();
  EXPECT_EQ(pieces_of(pre, "a\r\n\r\nb"), (Pieces{"a", "\r\n\r", "\n", "b"}));
  EXPECT_EQ(pieces_of(pre, "   a"), (Pieces{"  ", " a"}));
  EXPECT_EQ(pieces_of(pre, "a  \n"), (Pieces{"a", "  \n"}));
  EXPECT_EQ(pieces_of(pre, "x\t\t y"), (Pieces{"x", "\t\t", " y"}));
  EXPECT_EQ(pieces_of(pre, "Hello world  !!"), (Pieces{"Hello", " world", " ", " !!"}));
  EXPECT_EQ(pieces_of(pre, "\u3000\u3000x"), (Pieces{"\u3000", "\u3000", "x"}));
}

TEST(ByteLevelPreTokenizer, ContractionsAreCaseSensitive) {
  EXPECT_EQ(pieces_of(byte_level(), "I'M it's they'RE"),
            (Pieces{"I", "'", "M", " it", "'s", " they", "'", "RE"}));
}

TEST(ByteLevelPreTokenizer, WhitespaceIsOnigurumasNotPcre2s) {
  // U+0085 (NEL) is White_Space, hence `\s` for Oniguruma (and tokenizers), but not for PCRE2.
  EXPECT_EQ(pieces_of(byte_level(), "!\u0085"), (Pieces{"!", "\u0085"}));
  // U+FEFF is not White_Space (JavaScript's \s would say it is).
  EXPECT_EQ(pieces_of(byte_level(), "!\uFEFF"), (Pieces{"!\uFEFF"}));
}

TEST(ByteLevelPreTokenizer, NonBmpCharacters) {
  EXPECT_EQ(pieces_of(byte_level(), "a🤖b 𝔘𝔫"), (Pieces{"a", "🤖", "b", " 𝔘𝔫"}));
}

TEST(ByteLevelPreTokenizer, AddPrefixSpaceAppliesToEveryPiece) {
  EXPECT_EQ(pieces_of(byte_level(true), "hello world"), (Pieces{" hello", " world"}));
  EXPECT_EQ(pieces_of(byte_level(true), " x"), (Pieces{" x"}));
  std::vector<PreTokenizerStep> steps;
  steps.push_back(make_digits_step(true));
  steps.push_back(make_byte_level_step(true, true));
  EXPECT_EQ(pieces_of(PreTokenizer(std::move(steps)), "a1"), (Pieces{" a", " 1"}));
}

TEST(DigitsPreTokenizer, IndividualOrContiguousOverAllNumericCategories) {
  std::vector<PreTokenizerStep> single, runs;
  single.push_back(make_digits_step(true));
  runs.push_back(make_digits_step(false));
  // ½ is No, Ⅻ is Nl, ٣ is Nd: all numeric for Rust's char::is_numeric.
  const std::string text = "ab12½x Ⅻ٣";
  EXPECT_EQ(pieces_of(PreTokenizer(std::move(single)), text),
            (Pieces{"ab", "1", "2", "½", "x ", "Ⅻ", "٣"}));
  EXPECT_EQ(pieces_of(PreTokenizer(std::move(runs)), text), (Pieces{"ab", "12½", "x ", "Ⅻ٣"}));
  std::vector<PreTokenizerStep> ascii;
  ascii.push_back(make_digits_step(false));
  EXPECT_EQ(pieces_of(PreTokenizer(std::move(ascii)), "v10.25"), (Pieces{"v", "10", ".", "25"}));
}

TEST(Regex, TranslatesOnigurumaEscapes) {
  EXPECT_EQ(onig_to_pcre2(R"(\s+(?!\S))"), R"(\p{White_Space}+(?!\P{White_Space}))");
  EXPECT_EQ(onig_to_pcre2(R"([^\s\p{L}])"), R"([^\p{White_Space}\p{L}])");
  EXPECT_EQ(onig_to_pcre2(R"(\\s)"), R"(\\s)");  // an escaped backslash, then a plain 's'
  EXPECT_THROW(Regex::compile("(unclosed"), Error);
}

}  // namespace
}  // namespace smol
