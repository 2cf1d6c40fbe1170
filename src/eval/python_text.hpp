#pragma once
// The few pieces of Python's str semantics the reference metrics rely on (they are Python
// programs): code points, str.isspace(), str.split() and str.rstrip() without arguments.
#include <string>
#include <string_view>
#include <vector>

namespace smol::eval {

// UTF-8 to code points; each byte of an invalid sequence becomes U+DC80..U+DCFF, as
// Python's "surrogateescape" error handler reads it, so no input is refused or merged.
std::u32string decode_utf8(std::string_view text);
// The inverse: escaped bytes come back as themselves.
std::string encode_utf8(std::u32string_view text);

// str.isspace() of one code point (Python 3.11's Unicode tables).
bool is_python_space(char32_t c);

// str.split() with no arguments: runs of whitespace separate, no empty pieces.
std::vector<std::u32string> split_whitespace(std::u32string_view text);

// str.rstrip() with no arguments.
std::u32string_view rstrip_whitespace(std::u32string_view text);

// str.replace(from, to) for every occurrence, left to right, non-overlapping.
std::u32string replace_all(std::u32string text, std::u32string_view from, std::u32string_view to);

}  // namespace smol::eval
