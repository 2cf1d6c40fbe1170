#pragma once
// Python str methods over UTF-8 text. Python indexes strings by code point, so length,
// indexing, slicing and reversing go through code points too. Case mapping is ASCII-only.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "smol/utf8_encode.hpp"

namespace smol::jinja {

std::vector<std::string_view> utf8_chars(std::string_view s);  // one view per code point
using smol::append_utf8;

std::string py_strip(std::string_view s, const std::optional<std::string>& chars, bool left,
                     bool right);
// str.split(sep, maxsplit): sep nullopt splits on whitespace runs and drops empty parts.
std::vector<std::string> py_split(std::string_view s, const std::optional<std::string>& sep,
                                  int64_t maxsplit);
std::vector<std::string> py_rsplit(std::string_view s, const std::optional<std::string>& sep,
                                   int64_t maxsplit);
std::vector<std::string> py_splitlines(std::string_view s);
std::string py_replace(std::string_view s, std::string_view old, std::string_view replacement,
                       int64_t count);
std::string py_upper(std::string_view s);
std::string py_lower(std::string_view s);
std::string py_capitalize(std::string_view s);
std::string py_title(std::string_view s);     // Python's str.title(): "it's" -> "It'S"
std::string jinja_title(std::string_view s);  // Jinja2's title filter: "it's" -> "It's"
int64_t py_find(std::string_view s, std::string_view sub);   // code-point index or -1
int64_t py_count(std::string_view s, std::string_view sub);  // non-overlapping occurrences
bool is_py_space(char c);

}  // namespace smol::jinja
