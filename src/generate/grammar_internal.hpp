#pragma once
// The compiled form of a grammar, shared by the GBNF compiler (grammar_parse.cpp) and the
// matcher (grammar_matcher.cpp): every rule's alternatives laid out flat, as llama.cpp does.
//
//   elems: rule 0: seq ALT seq END  rule 1: seq END ...
//
// A position is an index into `elems`. A sequence holds Char (a code point class) and RuleRef
// elements; Alt and End close an alternative. Repetitions were rewritten into helper rules
// (`x*` → `r ::= x r |`), so matching needs nothing else.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "smol/grammar.hpp"

namespace smol {

struct CharClass {
  std::vector<std::pair<uint32_t, uint32_t>> ranges;  // inclusive, sorted, merged
  bool negated = false;
  uint64_t ascii[2] = {0, 0};  // membership of code points 0..127, negation applied
  uint8_t min_bytes = 1;       // UTF-8 length of the shortest member

  bool contains(uint32_t cp) const;
  // Whether some valid code point in [lo, hi] (surrogates excluded) is a member.
  bool intersects(uint32_t lo, uint32_t hi) const;
};

struct GrammarElem {
  enum Kind : uint8_t { End, Alt, RuleRef, Char };
  Kind kind;
  uint32_t value;  // RuleRef: rule index; Char: class index
};

struct Grammar::Impl {
  std::vector<GrammarElem> elems;
  std::vector<std::vector<uint32_t>> alternatives;  // per rule: the start position of each
  std::vector<std::string> rule_names;
  std::vector<CharClass> classes;
  // Per position: the fewest bytes that finish its alternative from there (End/Alt: 0).
  std::vector<uint32_t> suffix_min;
  uint32_t root = 0;
};

// The code point range a partial UTF-8 sequence can still become, and its encoded state:
// total length n (2..4), bytes seen k (1..n-1), the value of the bits seen.
struct PartialUtf8 {
  static uint32_t pack(uint32_t n, uint32_t k, uint32_t value) { return (n << 28) | (k << 24) | value; }
  static uint32_t n(uint32_t p) { return p >> 28; }
  static uint32_t k(uint32_t p) { return (p >> 24) & 0xF; }
  static uint32_t value(uint32_t p) { return p & 0xFFFFFF; }
  // [lo, hi] of the code points a packed partial can complete to, within its length's range.
  static std::pair<uint32_t, uint32_t> range(uint32_t p);
};

}  // namespace smol
