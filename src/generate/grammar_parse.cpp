// GBNF text → rules (llama.cpp's syntax), with repetitions rewritten into helper rules.
// grammar_compile.cpp then lays the rules out flat and checks them.
#include <fmt/format.h>

#include <map>

#include "generate/grammar_rules.hpp"
#include "smol/error.hpp"

namespace smol {

namespace {

bool is_word_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

class Parser {
 public:
  explicit Parser(std::string_view text) : text_(text) {}

  ParsedGrammar parse() {
    space(true);
    while (pos_ < text_.size()) rule();
    return std::move(out_);
  }

 private:
  [[noreturn]] void fail(const std::string& what) const { fail_at(pos_, what); }
  [[noreturn]] void fail_at(size_t at, const std::string& what) const {
    size_t line = 1, col = 1;
    for (size_t i = 0; i < at && i < text_.size(); ++i) {
      if (text_[i] == '\n') {
        ++line;
        col = 1;
      } else {
        ++col;
      }
    }
    throw Error(fmt::format("grammar {}:{}: {}", line, col, what));
  }
  bool at_end() const { return pos_ >= text_.size(); }
  char peek(size_t ahead = 0) const { return pos_ + ahead < text_.size() ? text_[pos_ + ahead] : '\0'; }

  void space(bool newline_ok) {
    while (!at_end()) {
      const char c = peek();
      if (c == ' ' || c == '\t') {
        ++pos_;
      } else if (c == '#') {
        while (!at_end() && peek() != '\n' && peek() != '\r') ++pos_;
      } else if (newline_ok && (c == '\n' || c == '\r')) {
        ++pos_;
      } else {
        break;
      }
    }
  }

  std::string name() {
    const size_t start = pos_;
    while (!at_end() && is_word_char(peek())) ++pos_;
    if (pos_ == start) fail("expected a rule name");
    return std::string(text_.substr(start, pos_ - start));
  }

  uint32_t symbol(const std::string& n) {
    auto it = out_.ids.find(n);
    if (it != out_.ids.end()) return it->second;
    const auto id = static_cast<uint32_t>(out_.rules.size());
    out_.ids.emplace(n, id);
    out_.rules.emplace_back();
    out_.names.push_back(n);
    out_.defined.push_back(false);
    return id;
  }

  uint32_t helper_rule(const std::string& base) {
    return symbol(fmt::format("{}_{}", base, out_.rules.size()));
  }

  uint32_t hex(int digits) {
    uint32_t v = 0;
    for (int i = 0; i < digits; ++i) {
      const char c = peek();
      int d;
      if (c >= '0' && c <= '9') d = c - '0';
      else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
      else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
      else fail(fmt::format("expected {} hex digits", digits));
      v = v * 16 + static_cast<uint32_t>(d);
      ++pos_;
    }
    return v;
  }

  // One character of a literal or class: an escape, or one UTF-8 encoded code point.
  uint32_t character() {
    if (at_end()) fail("unexpected end of the grammar");
    const auto c = static_cast<unsigned char>(peek());
    if (c == '\\') {
      ++pos_;
      const char e = peek();
      ++pos_;
      switch (e) {
        case 'x': return hex(2);
        case 'u': return check_cp(hex(4));
        case 'U': return check_cp(hex(8));
        case 't': return '\t';
        case 'r': return '\r';
        case 'n': return '\n';
        case '\\': case '"': case '[': case ']': case '-': case '^': case '/': case '\'':
          return static_cast<unsigned char>(e);
        default: fail_at(pos_ - 2, fmt::format("unknown escape '\\{}'", e));
      }
    }
    int len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (len == 0 || pos_ + len > text_.size()) fail("the grammar is not valid UTF-8");
    uint32_t cp = len == 1 ? c : c & (0x7F >> len);
    for (int i = 1; i < len; ++i) {
      const auto b = static_cast<unsigned char>(text_[pos_ + i]);
      if ((b & 0xC0) != 0x80) fail("the grammar is not valid UTF-8");
      cp = (cp << 6) | (b & 0x3F);
    }
    pos_ += len;
    return cp;
  }

  uint32_t check_cp(uint32_t cp) {
    if (cp > 0x10FFFF) fail(fmt::format("code point U+{:X} is beyond U+10FFFF", cp));
    return cp;
  }

  void rule() {
    const size_t start = pos_;
    const std::string n = name();
    space(false);
    if (text_.substr(pos_, 3) != "::=") fail("expected '::=' after the rule name '" + n + "'");
    pos_ += 3;
    space(true);
    const uint32_t id = symbol(n);
    if (out_.defined[id]) fail_at(start, "rule '" + n + "' is defined twice");
    out_.defined[id] = true;
    alternates(n, id, false);
    if (peek() == '\r') ++pos_;
    if (peek() == '\n') {
      ++pos_;
    } else if (!at_end()) {
      fail("expected the end of the line after the rule");
    }
    space(true);
  }

  void alternates(const std::string& rule_name, uint32_t id, bool nested) {
    std::vector<RuleElem> rule;
    sequence(rule_name, rule, nested);
    while (peek() == '|') {
      rule.push_back({GrammarElem::Alt, 0, {}});
      ++pos_;
      space(true);
      sequence(rule_name, rule, nested);
    }
    rule.push_back({GrammarElem::End, 0, {}});
    out_.rules[id] = std::move(rule);
  }

  void sequence(const std::string& rule_name, std::vector<RuleElem>& out, bool nested) {
    size_t last_start = out.size();
    bool has_last = false;
    while (!at_end()) {
      const char c = peek();
      if (c == '"') {
        ++pos_;
        last_start = out.size();
        has_last = true;
        while (peek() != '"') {
          if (at_end()) fail("unterminated literal");
          const uint32_t cp = character();
          out.push_back({GrammarElem::Char, 0, {{{cp, cp}}, false}});
        }
        ++pos_;
        if (out.size() == last_start) has_last = false;  // "" matches the empty string
      } else if (c == '[') {
        ++pos_;
        RuleClass cls;
        if (peek() == '^') {
          cls.negated = true;
          ++pos_;
        }
        while (peek() != ']') {
          if (at_end()) fail("unterminated character class");
          const uint32_t lo = character();
          uint32_t hi = lo;
          if (peek() == '-' && peek(1) != ']' && pos_ + 1 < text_.size()) {
            ++pos_;
            hi = character();
            if (hi < lo) fail(fmt::format("the range U+{:X}-U+{:X} is reversed", lo, hi));
          }
          cls.ranges.push_back({lo, hi});
        }
        ++pos_;
        last_start = out.size();
        has_last = true;
        out.push_back({GrammarElem::Char, 0, std::move(cls)});
      } else if (c == '.') {
        ++pos_;
        last_start = out.size();
        has_last = true;
        out.push_back({GrammarElem::Char, 0, {{}, true}});
      } else if (is_word_char(c)) {
        const size_t save = pos_;
        const std::string ref = name();
        // A name followed by ::= starts the next rule (only possible where newlines are
        // allowed, i.e. nested): report it instead of reading it as a reference.
        size_t p = pos_;
        while (p < text_.size() && (text_[p] == ' ' || text_[p] == '\t')) ++p;
        if (text_.substr(p, 3) == "::=") fail_at(save, "expected ')' before the next rule '" + ref + "'");
        last_start = out.size();
        has_last = true;
        out.push_back({GrammarElem::RuleRef, symbol(ref), {}});
      } else if (c == '(') {
        ++pos_;
        space(true);
        const uint32_t sub = helper_rule(rule_name);
        out_.defined[sub] = true;
        alternates(rule_name, sub, true);
        if (peek() != ')') fail("expected ')'");
        ++pos_;
        last_start = out.size();
        has_last = true;
        out.push_back({GrammarElem::RuleRef, sub, {}});
      } else if (c == '*' || c == '+' || c == '?') {
        if (!has_last) fail(fmt::format("'{}' has nothing before it to repeat", c));
        ++pos_;
        repeat(rule_name, out, last_start, c == '+' ? 1 : 0, c == '?' ? 1 : -1);
      } else if (c == '{') {
        if (!has_last) fail("'{' has nothing before it to repeat");
        ++pos_;
        space(false);
        int64_t lo = 0, hi = -1;
        const bool has_lo = std::isdigit(static_cast<unsigned char>(peek()));
        if (has_lo) lo = number();
        space(false);
        if (peek() == ',') {
          ++pos_;
          space(false);
          if (std::isdigit(static_cast<unsigned char>(peek()))) hi = number();
        } else {
          if (!has_lo) fail("expected a number in '{m,n}'");
          hi = lo;
        }
        space(false);
        if (peek() != '}') fail("expected '}'");
        ++pos_;
        if (hi >= 0 && hi < lo) fail(fmt::format("repetition {{{},{}}} has its maximum below its minimum", lo, hi));
        repeat(rule_name, out, last_start, lo, hi);
      } else {
        break;
      }
      space(nested);
    }
  }

  int64_t number() {
    int64_t v = 0;
    while (std::isdigit(static_cast<unsigned char>(peek()))) {
      v = v * 10 + (peek() - '0');
      if (v > kMaxRepeat) fail(fmt::format("repetition counts above {} are not supported", kMaxRepeat));
      ++pos_;
    }
    return v;
  }

  // Rewrites the last symbol out[start..] as min copies followed by (max - min) nested
  // optional copies, or by a repeating rule when max is unbounded (-1).
  void repeat(const std::string& rule_name, std::vector<RuleElem>& out, size_t start, int64_t lo, int64_t hi) {
    const std::vector<RuleElem> sym(out.begin() + static_cast<std::ptrdiff_t>(start), out.end());
    out.resize(start);
    for (int64_t i = 0; i < lo; ++i) out.insert(out.end(), sym.begin(), sym.end());
    if (hi < 0) {  // r ::= sym r |
      const uint32_t r = helper_rule(rule_name);
      out_.defined[r] = true;
      std::vector<RuleElem> body = sym;
      body.push_back({GrammarElem::RuleRef, r, {}});
      body.push_back({GrammarElem::Alt, 0, {}});
      body.push_back({GrammarElem::End, 0, {}});
      out_.rules[r] = std::move(body);
      out.push_back({GrammarElem::RuleRef, r, {}});
      return;
    }
    // r_1 ::= sym |   r_k ::= sym r_{k-1} |   ... the last rule referenced holds hi-lo copies.
    int64_t inner = -1;
    for (int64_t i = 0; i < hi - lo; ++i) {
      const uint32_t r = helper_rule(rule_name);
      out_.defined[r] = true;
      std::vector<RuleElem> body = sym;
      if (inner >= 0) body.push_back({GrammarElem::RuleRef, static_cast<uint32_t>(inner), {}});
      body.push_back({GrammarElem::Alt, 0, {}});
      body.push_back({GrammarElem::End, 0, {}});
      out_.rules[r] = std::move(body);
      inner = r;
    }
    if (inner >= 0) out.push_back({GrammarElem::RuleRef, static_cast<uint32_t>(inner), {}});
  }

  static constexpr int64_t kMaxRepeat = 100000;
  std::string_view text_;
  size_t pos_ = 0;
  ParsedGrammar out_;
};

}  // namespace

ParsedGrammar parse_gbnf(std::string_view text) { return Parser(text).parse(); }

}  // namespace smol
