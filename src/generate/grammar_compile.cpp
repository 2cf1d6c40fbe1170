// Parsed rules → the flat compiled grammar, with the checks that make matching terminate:
// every rule defined, none left-recursive, every reachable rule able to finish.
#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <map>

#include "generate/grammar_rules.hpp"
#include "smol/error.hpp"

namespace smol {

namespace {

constexpr uint32_t kInf = std::numeric_limits<uint32_t>::max() / 4;

uint8_t utf8_length(uint32_t cp) { return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4; }

CharClass make_class(const RuleClass& rc) {
  CharClass c;
  c.negated = rc.negated;
  c.ranges = rc.ranges;
  std::sort(c.ranges.begin(), c.ranges.end());
  std::vector<std::pair<uint32_t, uint32_t>> merged;
  for (const auto& r : c.ranges) {
    if (!merged.empty() && r.first <= merged.back().second + 1) {
      merged.back().second = std::max(merged.back().second, r.second);
    } else {
      merged.push_back(r);
    }
  }
  c.ranges = std::move(merged);
  for (uint32_t cp = 0; cp < 128; ++cp) {
    bool in = false;
    for (const auto& r : c.ranges) in |= cp >= r.first && cp <= r.second;
    if (in != c.negated) c.ascii[cp / 64] |= uint64_t{1} << (cp % 64);
  }
  // The shortest member: the first code point of the class, or the first one its negation
  // leaves out. 0xFF marks an empty class.
  uint32_t first = kInf;
  if (!c.negated) {
    for (const auto& r : c.ranges) {
      if (c.intersects(r.first, r.second)) {
        first = r.first >= 0xD800 && r.first <= 0xDFFF ? 0xE000 : r.first;
        break;
      }
    }
  } else {
    uint32_t cp = 0;
    for (const auto& r : c.ranges) {
      if (r.first > cp) break;
      cp = std::max(cp, r.second + 1);
    }
    if (cp <= 0x10FFFF) first = cp;
  }
  c.min_bytes = first == kInf ? 0xFF : utf8_length(first);
  return c;
}

struct ClassKey {
  std::vector<std::pair<uint32_t, uint32_t>> ranges;
  bool negated;
  bool operator<(const ClassKey& o) const { return std::tie(negated, ranges) < std::tie(o.negated, o.ranges); }
};

}  // namespace

bool CharClass::contains(uint32_t cp) const {
  if (cp < 128) return (ascii[cp / 64] >> (cp % 64)) & 1;
  auto it = std::upper_bound(ranges.begin(), ranges.end(), cp,
                             [](uint32_t v, const std::pair<uint32_t, uint32_t>& r) { return v < r.first; });
  const bool in = it != ranges.begin() && cp <= std::prev(it)->second;
  return in != negated;
}

bool CharClass::intersects(uint32_t lo, uint32_t hi) const {
  if (lo > hi) return false;
  // Surrogates are no code points of UTF-8 text: split them out.
  if (lo <= 0xDFFF && hi >= 0xD800) {
    return (lo < 0xD800 && intersects(lo, 0xD7FF)) || (hi > 0xDFFF && intersects(0xE000, hi));
  }
  // The first range ending at or after lo.
  auto it = std::lower_bound(ranges.begin(), ranges.end(), lo,
                             [](const std::pair<uint32_t, uint32_t>& r, uint32_t v) { return r.second < v; });
  if (!negated) return it != ranges.end() && it->first <= hi;
  // Negated: some point of [lo, hi] outside every range, i.e. not one range covering it all.
  return !(it != ranges.end() && it->first <= lo && it->second >= hi);
}

std::pair<uint32_t, uint32_t> PartialUtf8::range(uint32_t p) {
  const uint32_t rem = n(p) - k(p);
  const uint32_t lo = value(p) << (6 * rem);
  const uint32_t hi = lo | ((1u << (6 * rem)) - 1);
  static constexpr uint32_t kMin[5] = {0, 0, 0x80, 0x800, 0x10000};
  static constexpr uint32_t kMax[5] = {0, 0, 0x7FF, 0xFFFF, 0x10FFFF};
  return {std::max(lo, kMin[n(p)]), std::min(hi, kMax[n(p)])};
}

size_t Grammar::rule_count() const { return impl_->alternatives.size(); }

std::shared_ptr<const Grammar::Impl> compile_grammar(ParsedGrammar parsed, std::string_view root_name);

std::shared_ptr<const Grammar::Impl> compile_grammar(ParsedGrammar parsed, std::string_view root_name) {
  auto g = std::make_shared<Grammar::Impl>();
  const size_t n_rules = parsed.rules.size();
  for (size_t r = 0; r < n_rules; ++r) {
    if (!parsed.defined[r]) throw Error(fmt::format("grammar: rule '{}' is used but never defined", parsed.names[r]));
  }
  auto root = parsed.ids.find(root_name);
  if (root == parsed.ids.end()) throw Error(fmt::format("grammar: there is no '{}' rule to start from", root_name));
  g->root = root->second;
  g->rule_names = parsed.names;

  std::map<ClassKey, uint32_t> class_ids;
  g->alternatives.resize(n_rules);
  for (size_t r = 0; r < n_rules; ++r) {
    g->alternatives[r].push_back(static_cast<uint32_t>(g->elems.size()));
    for (const RuleElem& e : parsed.rules[r]) {
      uint32_t value = e.rule;
      if (e.kind == GrammarElem::Char) {
        CharClass c = make_class(e.cls);
        ClassKey key{c.ranges, c.negated};
        auto [it, added] = class_ids.emplace(key, static_cast<uint32_t>(g->classes.size()));
        if (added) g->classes.push_back(std::move(c));
        value = it->second;
      }
      g->elems.push_back({e.kind, value});
      if (e.kind == GrammarElem::Alt) g->alternatives[r].push_back(static_cast<uint32_t>(g->elems.size()));
    }
  }

  // The fewest bytes each rule can match, to a fixed point (values only fall).
  std::vector<uint32_t> rule_min(n_rules, kInf);
  auto elem_min = [&](const GrammarElem& e) -> uint32_t {
    if (e.kind == GrammarElem::Char) {
      const uint8_t b = g->classes[e.value].min_bytes;
      return b == 0xFF ? kInf : b;
    }
    return e.kind == GrammarElem::RuleRef ? rule_min[e.value] : 0;
  };
  for (bool changed = true; changed;) {
    changed = false;
    for (size_t r = 0; r < n_rules; ++r) {
      for (uint32_t start : g->alternatives[r]) {
        uint32_t sum = 0;
        for (uint32_t p = start; g->elems[p].kind != GrammarElem::Alt && g->elems[p].kind != GrammarElem::End; ++p) {
          sum = std::min(kInf, sum + elem_min(g->elems[p]));
        }
        if (sum < rule_min[r]) {
          rule_min[r] = sum;
          changed = true;
        }
      }
    }
  }
  g->suffix_min.assign(g->elems.size(), 0);
  for (size_t p = g->elems.size(); p-- > 0;) {
    const GrammarElem& e = g->elems[p];
    if (e.kind == GrammarElem::Alt || e.kind == GrammarElem::End) continue;
    g->suffix_min[p] = std::min(kInf, elem_min(e) + g->suffix_min[p + 1]);
  }

  // Reachable rules; left recursion among them (A reaches A before consuming anything).
  std::vector<std::vector<uint32_t>> left(n_rules);
  for (size_t r = 0; r < n_rules; ++r) {
    for (uint32_t start : g->alternatives[r]) {
      for (uint32_t p = start; g->elems[p].kind == GrammarElem::RuleRef; ++p) {
        left[r].push_back(g->elems[p].value);
        if (rule_min[g->elems[p].value] != 0) break;
      }
    }
  }
  std::vector<uint8_t> reachable(n_rules, 0);
  std::vector<uint32_t> todo{g->root};
  reachable[g->root] = 1;
  while (!todo.empty()) {
    const uint32_t r = todo.back();
    todo.pop_back();
    for (uint32_t start : g->alternatives[r]) {
      for (uint32_t p = start; g->elems[p].kind != GrammarElem::End; ++p) {
        if (g->elems[p].kind == GrammarElem::RuleRef && !reachable[g->elems[p].value]) {
          reachable[g->elems[p].value] = 1;
          todo.push_back(g->elems[p].value);
        }
      }
    }
  }
  std::vector<uint8_t> mark(n_rules, 0);  // 0 new, 1 on the path, 2 done
  for (size_t r0 = 0; r0 < n_rules; ++r0) {
    if (!reachable[r0] || mark[r0]) continue;
    std::vector<std::pair<uint32_t, size_t>> path{{static_cast<uint32_t>(r0), 0}};
    mark[r0] = 1;
    while (!path.empty()) {
      auto& [r, i] = path.back();
      if (i == left[r].size()) {
        mark[r] = 2;
        path.pop_back();
        continue;
      }
      const uint32_t next = left[r][i++];
      if (mark[next] == 1) {
        throw Error(fmt::format("grammar: rule '{}' is left-recursive (it can reach itself before matching any "
                                "text, e.g. through a repetition of something that can be empty): rewrite it "
                                "to consume text first",
                                g->rule_names[next]));
      }
      if (mark[next] == 0) {
        mark[next] = 1;
        path.push_back({next, 0});
      }
    }
  }
  for (size_t r = 0; r < n_rules; ++r) {
    if (reachable[r] && rule_min[r] >= kInf) {
      throw Error(fmt::format("grammar: rule '{}' can never finish (every alternative needs itself or matches no "
                              "character)",
                              g->rule_names[r]));
    }
  }
  return g;
}

Grammar Grammar::from_gbnf(std::string_view text, std::string_view root_rule) {
  return Grammar(compile_grammar(parse_gbnf(text), root_rule));
}

}  // namespace smol
