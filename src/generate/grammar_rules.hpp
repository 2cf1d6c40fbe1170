#pragma once
// Rules as the GBNF parser reads them, before grammar_compile.cpp lays them out flat.
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "generate/grammar_internal.hpp"

namespace smol {

struct RuleClass {
  std::vector<std::pair<uint32_t, uint32_t>> ranges;
  bool negated = false;
};

struct RuleElem {
  GrammarElem::Kind kind;
  uint32_t rule;  // RuleRef
  RuleClass cls;  // Char
};

struct ParsedGrammar {
  std::vector<std::vector<RuleElem>> rules;  // alternatives separated by Alt, closed by End
  std::vector<std::string> names;
  std::vector<bool> defined;
  std::map<std::string, uint32_t, std::less<>> ids;
};

ParsedGrammar parse_gbnf(std::string_view text);

}  // namespace smol
