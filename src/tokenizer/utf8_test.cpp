// UTF-8 validation and lossy conversion with Rust's from_utf8_lossy semantics (the Unicode
// "maximal subpart" practice), and detection of an unfinished trailing character.
#include <gtest/gtest.h>

#include <string>

#include "tokenizer/byte_level.hpp"
#include "tokenizer/utf8.hpp"

namespace smol {
namespace {

const std::string R = "\xEF\xBF\xBD";  // U+FFFD

TEST(Utf8, LossyReplacesMaximalSubparts) {
  // Table 3-8 of the Unicode standard: "\x61\xF1\x80\x80\xE1\x80\xC2\x62\x80\x63\x80\xBF\x64"
  // becomes a, FFFD, FFFD, FFFD, b, FFFD, c, FFFD, FFFD, d.
  EXPECT_EQ(utf8::lossy("\x61\xF1\x80\x80\xE1\x80\xC2\x62\x80\x63\x80\xBF\x64"),
            "a" + R + R + R + "b" + R + "c" + R + R + "d");
  EXPECT_EQ(utf8::lossy("\xED\xA0\x80"), R + R + R);        // a surrogate is three errors
  EXPECT_EQ(utf8::lossy("\xF0\x80\x80\x80"), R + R + R + R);  // overlong
  EXPECT_EQ(utf8::lossy("\xF4\x8F\xBF\xBF"), "\xF4\x8F\xBF\xBF");  // U+10FFFF is fine
  EXPECT_EQ(utf8::lossy("\xF4\x90\x80\x80"), R + R + R + R);  // above U+10FFFF
  EXPECT_EQ(utf8::lossy("\xC1\xBF"), R + R);
  EXPECT_EQ(utf8::lossy("\xF0\x9F\x98"), R);  // truncated at the end: one replacement
  EXPECT_EQ(utf8::lossy("ok é 🙂"), "ok é 🙂");
}

TEST(Utf8, FindInvalid) {
  EXPECT_FALSE(utf8::find_invalid("plain ascii é 🙂").has_value());
  EXPECT_EQ(utf8::find_invalid("ab\xC3("), 2u);
  EXPECT_EQ(utf8::find_invalid("abc\xF0\x9F\x98"), 3u);
}

TEST(Utf8, IncompleteTail) {
  EXPECT_EQ(utf8::incomplete_tail("abc"), 0u);
  EXPECT_EQ(utf8::incomplete_tail("a\xF0"), 1u);
  EXPECT_EQ(utf8::incomplete_tail("a\xF0\x9F"), 2u);
  EXPECT_EQ(utf8::incomplete_tail("a\xF0\x9F\x98"), 3u);
  EXPECT_EQ(utf8::incomplete_tail("a\xF0\x9F\x98\x82"), 0u);  // complete
  EXPECT_EQ(utf8::incomplete_tail("a\xE0\x80"), 0u);  // can never complete: invalid already
  EXPECT_EQ(utf8::incomplete_tail("\x80\x80"), 0u);
  EXPECT_EQ(utf8::incomplete_tail(""), 0u);
}

TEST(Utf8, WhiteSpaceIsTheUnicodeProperty) {
  for (char32_t c : {U'\t', U'\n', U'\v', U'\f', U'\r', U' ', U'\u0085', U'\u00A0', U'\u1680',
                     U'\u2000', U'\u200A', U'\u2028', U'\u2029', U'\u202F', U'\u205F', U'\u3000'}) {
    EXPECT_TRUE(utf8::is_white_space(c)) << static_cast<uint32_t>(c);
  }
  for (char32_t c : {U'a', U'\u200B', U'\uFEFF', U'\u180E', U'\u0000', U'\u001F'}) {
    EXPECT_FALSE(utf8::is_white_space(c)) << static_cast<uint32_t>(c);
  }
}

TEST(ByteLevel, MappingIsGpt2s) {
  EXPECT_EQ(byte_level::encode(" "), "Ġ");
  EXPECT_EQ(byte_level::encode("\n"), "Ċ");
  EXPECT_EQ(byte_level::encode("a!"), "a!");
  EXPECT_EQ(byte_level::encode("\xAD"), "Ń");  // soft hyphen is not printable: moved
  for (int b = 0; b < 256; ++b) {
    const std::string raw(1, static_cast<char>(b));
    EXPECT_EQ(byte_level::decode(byte_level::encode(raw)), raw);
  }
  EXPECT_FALSE(byte_level::decode("日").has_value());
}

}  // namespace
}  // namespace smol
