// The Python string semantics the metrics are defined in: code points with surrogateescape
// for invalid bytes, and str.isspace() / split() / rstrip().
#include <gtest/gtest.h>

#include "eval/python_text.hpp"

namespace smol::eval {
namespace {

TEST(PythonText, Utf8RoundTripsAndInvalidBytesAreEscapedOneByOne) {
  EXPECT_EQ(decode_utf8("aü€😀"), (std::u32string{U'a', 0xFC, 0x20AC, 0x1F600}));
  // A truncated 3-byte sequence, a lone continuation byte, an overlong '/', a surrogate.
  const std::string bad = "x\xE2\x82y\x80\xC0\xAF\xED\xA0\x80";
  EXPECT_EQ(decode_utf8(bad), (std::u32string{U'x', 0xDCE2, 0xDC82, U'y', 0xDC80, 0xDCC0, 0xDCAF, 0xDCED, 0xDCA0, 0xDC80}));
  EXPECT_EQ(encode_utf8(decode_utf8(bad)), bad);
  EXPECT_EQ(encode_utf8(decode_utf8("aü€😀")), "aü€😀");
}

TEST(PythonText, WhitespaceIsPythonsIsspace) {
  for (char32_t c : {0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x1C, 0x1F, 0x20, 0x85, 0xA0, 0x1680, 0x2000, 0x200A, 0x2028,
                     0x2029, 0x202F, 0x205F, 0x3000}) {
    EXPECT_TRUE(is_python_space(c)) << std::hex << static_cast<uint32_t>(c);
  }
  for (char32_t c : {0x08, 0x0E, 0x21, 0x180E, 0x200B, 0x200C, 0xFEFF, 0x2060}) {
    EXPECT_FALSE(is_python_space(c)) << std::hex << static_cast<uint32_t>(c);
  }
  EXPECT_EQ(split_whitespace(U"  a\u3000b\t\tc  "), (std::vector<std::u32string>{U"a", U"b", U"c"}));
  EXPECT_TRUE(split_whitespace(U" \n ").empty());
  EXPECT_EQ(rstrip_whitespace(U" a b \u00a0\n"), U" a b");
  EXPECT_EQ(replace_all(U"aaa", U"aa", U"b"), U"ba");
}

}  // namespace
}  // namespace smol::eval
