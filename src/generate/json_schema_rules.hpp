#pragma once
// Pieces of the JSON Schema → GBNF conversion that need no schema: GBNF literals, integer
// ranges as digit grammars, the bounded-number subset, string formats, the JSON primitives.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace smol::json_gbnf {

// `text` as a GBNF literal ("..." with \" \\ and \xHH escapes).
std::string literal(std::string_view text);
// A code point for use inside a GBNF character class (always escaped).
std::string class_char(uint32_t cp);

// A GBNF expression (parenthesized alternation) for the decimal integers in [lo, hi], written
// as JSON writes them (no leading zeros, no "-0"); an absent bound means at most 16 digits on
// that side. Empty when the range holds no integer.
std::string integer_range(std::optional<int64_t> lo, std::optional<int64_t> hi);

// The numbers smol produces for minimum/maximum: integers in the bounds, and decimals
// whose integer part keeps the whole value inside (see json_schema.cpp's notes). `lo`/`hi`
// are the bounds, exclusive or not. Empty when nothing can be produced.
std::string bounded_number(std::optional<double> lo, bool lo_exclusive, std::optional<double> hi, bool hi_exclusive);

// The primitive rules the converter references by name, as "name ::= body" lines: ws,
// value, object, array, string, char, number, integer, boolean, null, and the formats
// date, time, date-time, uuid.
struct Primitive {
  const char* name;
  const char* body;
  std::vector<const char*> uses;
};
const std::vector<Primitive>& primitives();
const Primitive* find_primitive(std::string_view name);

}  // namespace smol::json_gbnf
