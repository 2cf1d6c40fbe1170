#include "jinja/lexer.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>

#include "smol/error.hpp"
#include "jinja/strings.hpp"

namespace smol::jinja {

namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_name_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_name_char(char c) { return is_name_start(c) || is_digit(c); }
int hex_value(char c) {
  if (is_digit(c)) return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Jinja2 reads templates with universal newlines and drops one trailing newline
// (keep_trailing_newline=False).
std::string normalize_newlines(std::string_view source) {
  std::string out;
  out.reserve(source.size());
  for (size_t i = 0; i < source.size(); ++i) {
    if (source[i] == '\r') {
      out += '\n';
      if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
    } else {
      out += source[i];
    }
  }
  if (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

constexpr std::array<std::string_view, 6> kTwoCharOps = {"//", "**", "==", "!=", ">=", "<="};
constexpr std::string_view kOneCharOps = "+-/*%~[](){}><=.:|,;";

class Lexer {
 public:
  Lexer(std::string_view source, std::string_view name)
      : src_(normalize_newlines(source)), name_(name) {
    line_starts_.push_back(0);
    for (size_t i = 0; i < src_.size(); ++i)
      if (src_[i] == '\n') line_starts_.push_back(i + 1);
  }

  std::vector<Token> run() {
    while (pos_ < src_.size()) lex_root();
    emit(TokenKind::Eof, "", src_.size());
    return std::move(out_);
  }

 private:
  std::string src_;
  std::string_view name_;
  std::vector<size_t> line_starts_;
  size_t pos_ = 0;
  bool line_starting_ = true;  // the previous match ended with a newline (for lstrip_blocks)
  std::vector<Token> out_;

  std::pair<int, int> line_col(size_t offset) const {
    auto it = std::upper_bound(line_starts_.begin(), line_starts_.end(), offset);
    size_t line = static_cast<size_t>(it - line_starts_.begin());
    return {static_cast<int>(line), static_cast<int>(offset - line_starts_[line - 1] + 1)};
  }

  [[noreturn]] void fail(size_t offset, const std::string& message) const {
    auto [line, col] = line_col(offset);
    throw Error(fmt::format("{} line {}, column {}: {}", name_, line, col, message));
  }

  void emit(TokenKind kind, std::string value, size_t offset) {
    auto [line, col] = line_col(offset);
    out_.push_back(Token{kind, std::move(value), line, col});
  }

  bool at(size_t p, std::string_view s) const { return src_.compare(p, s.size(), s) == 0; }

  size_t skip_space(size_t p) const {
    while (p < src_.size() && is_py_space(src_[p])) ++p;
    return p;
  }

  // Whitespace control for the text before a tag: `-` strips all whitespace; otherwise
  // lstrip_blocks removes spaces and tabs between the line start and a block or comment tag.
  void emit_text(std::string text, char sign, bool lstrip, size_t offset) {
    if (sign == '-') {
      while (!text.empty() && is_py_space(text.back())) text.pop_back();
    } else if (sign != '+' && lstrip) {
      size_t line_pos = text.rfind('\n');
      line_pos = line_pos == std::string::npos ? 0 : line_pos + 1;
      if ((line_pos > 0 || line_starting_) &&
          text.find_first_not_of(" \t", line_pos) == std::string::npos)
        text.resize(line_pos);
    }
    if (!text.empty()) emit(TokenKind::Text, std::move(text), offset);
  }

  void lex_root() {
    size_t start = pos_;
    size_t tag = start;
    while ((tag = src_.find('{', tag)) != std::string::npos) {
      if (tag + 1 < src_.size() && std::string_view("{%#").find(src_[tag + 1]) != std::string::npos)
        break;
      ++tag;
    }
    if (tag == std::string::npos) {
      emit(TokenKind::Text, src_.substr(start), start);
      pos_ = src_.size();
      return;
    }
    char kind = src_[tag + 1];
    size_t after = tag + 2;
    char sign = 0;
    if (after < src_.size() && (src_[after] == '-' || src_[after] == '+')) sign = src_[after++];
    emit_text(src_.substr(start, tag - start), sign, kind != '{', start);
    line_starting_ = false;
    pos_ = after;
    if (kind == '#') {
      lex_comment(tag);
    } else if (kind == '%' && try_raw(tag)) {
      // handled
    } else {
      lex_tag(kind == '%', tag);
    }
  }

  // Sets pos_ past the end of a block or comment tag whose closing delimiter (`%}` or `#}`)
  // starts at p: `-` strips the whitespace after it, trim_blocks drops one newline.
  void close_tag(size_t p, char close) {
    std::string plus = std::string("+") + close + "}";
    std::string minus = std::string("-") + close + "}";
    if (at(p, plus)) {
      pos_ = p + 3;
    } else if (at(p, minus)) {
      pos_ = skip_space(p + 3);
    } else {
      pos_ = p + 2;
      if (pos_ < src_.size() && src_[pos_] == '\n') ++pos_;
    }
    line_starting_ = src_[pos_ - 1] == '\n';
  }

  void lex_comment(size_t begin) {
    for (size_t p = pos_; p + 1 < src_.size(); ++p) {
      if (at(p, "+#}") || at(p, "-#}") || at(p, "#}")) return close_tag(p, '#');
    }
    fail(begin, "missing end of comment tag '#}'");
  }

  // `{% raw %}...{% endraw %}` emits its body verbatim.
  bool try_raw(size_t begin) {
    size_t p = skip_space(pos_);
    if (!at(p, "raw")) return false;
    p = skip_space(p + 3);
    if (at(p, "-%}")) {
      pos_ = skip_space(p + 3);
    } else if (at(p, "%}")) {
      pos_ = p + 2;  // Jinja2 applies no trim_blocks to the raw opening tag
    } else {
      return false;
    }
    line_starting_ = src_[pos_ - 1] == '\n';
    for (size_t q = src_.find("{%", pos_); q != std::string::npos; q = src_.find("{%", q + 1)) {
      size_t r = q + 2;
      char sign = 0;
      if (r < src_.size() && (src_[r] == '-' || src_[r] == '+')) sign = src_[r++];
      r = skip_space(r);
      if (!at(r, "endraw")) continue;
      r = skip_space(r + 6);
      if (!at(r, "%}") && !at(r, "-%}") && !at(r, "+%}")) continue;
      emit_text(src_.substr(pos_, q - pos_), sign, true, pos_);
      close_tag(r, '%');
      return true;
    }
    fail(begin, "missing '{% endraw %}' for '{% raw %}'");
  }

  void lex_tag(bool block, size_t begin) {
    emit(block ? TokenKind::BlockBegin : TokenKind::VarBegin, "", begin);
    std::vector<char> closers;  // Jinja2 only ends a tag when brackets are balanced
    while (true) {
      if (pos_ >= src_.size())
        fail(begin, fmt::format("unexpected end of template inside '{}', expected '{}'",
                                block ? "{%" : "{{", block ? "%}" : "}}"));
      if (closers.empty()) {
        if (block && (at(pos_, "%}") || at(pos_, "-%}") || at(pos_, "+%}"))) {
          emit(TokenKind::BlockEnd, "", pos_);
          return close_tag(pos_, '%');
        }
        if (!block && (at(pos_, "}}") || at(pos_, "-}}"))) {
          emit(TokenKind::VarEnd, "", pos_);
          pos_ = at(pos_, "}}") ? pos_ + 2 : skip_space(pos_ + 3);
          line_starting_ = src_[pos_ - 1] == '\n';
          return;
        }
      }
      char c = src_[pos_];
      if (is_py_space(c)) {
        ++pos_;
      } else if (is_digit(c)) {
        lex_number();
      } else if (is_name_start(c)) {
        size_t end = pos_;
        while (end < src_.size() && is_name_char(src_[end])) ++end;
        emit(TokenKind::Name, src_.substr(pos_, end - pos_), pos_);
        pos_ = end;
      } else if (c == '\'' || c == '"') {
        lex_string();
      } else {
        lex_operator(closers);
      }
    }
  }

  void lex_number() {
    size_t start = pos_;
    auto digits = [&](size_t p) {  // \d+(_\d+)*
      size_t q = p;
      while (q < src_.size() &&
             (is_digit(src_[q]) ||
              (src_[q] == '_' && q > p && q + 1 < src_.size() && is_digit(src_[q + 1]))))
        ++q;
      return q;
    };
    size_t end = digits(pos_);
    bool is_float = false;
    bool after_dot = start > 0 && src_[start - 1] == '.';  // `x.0.1` is two subscripts
    if (!after_dot && end + 1 < src_.size() && src_[end] == '.' && is_digit(src_[end + 1])) {
      end = digits(end + 1);
      is_float = true;
    }
    if (!after_dot && end < src_.size() && (src_[end] == 'e' || src_[end] == 'E')) {
      size_t q = end + 1;
      if (q < src_.size() && (src_[q] == '+' || src_[q] == '-')) ++q;
      if (q < src_.size() && is_digit(src_[q])) {
        end = digits(q);
        is_float = true;
      }
    }
    std::string text;
    for (size_t i = start; i < end; ++i)
      if (src_[i] != '_') text += src_[i];
    emit(is_float ? TokenKind::Float : TokenKind::Int, text, start);
    pos_ = end;
  }

  // Decodes the way Jinja2 does (Python's unicode-escape): unknown escapes stay as written.
  void lex_string() {
    size_t start = pos_;
    char quote = src_[pos_++];
    std::string value;
    while (true) {
      if (pos_ >= src_.size()) fail(start, "unterminated string literal");
      char c = src_[pos_++];
      if (c == quote) break;
      if (c != '\\') {
        value += c;
        continue;
      }
      if (pos_ >= src_.size()) fail(start, "unterminated string literal");
      char e = src_[pos_++];
      switch (e) {
        case '\n':
          break;
        case '\\':
          value += '\\';
          break;
        case '\'':
          value += '\'';
          break;
        case '"':
          value += '"';
          break;
        case 'a':
          value += '\a';
          break;
        case 'b':
          value += '\b';
          break;
        case 'f':
          value += '\f';
          break;
        case 'n':
          value += '\n';
          break;
        case 'r':
          value += '\r';
          break;
        case 't':
          value += '\t';
          break;
        case 'v':
          value += '\v';
          break;
        case 'x':
          append_utf8(value, hex_escape(2, start));
          break;
        case 'u':
          append_utf8(value, hex_escape(4, start));
          break;
        case 'U':
          append_utf8(value, hex_escape(8, start));
          break;
        default:
          if (e >= '0' && e <= '7') {
            uint32_t cp = static_cast<uint32_t>(e - '0');
            for (int i = 0; i < 2 && pos_ < src_.size() && src_[pos_] >= '0' && src_[pos_] <= '7';
                 ++i)
              cp = cp * 8 + static_cast<uint32_t>(src_[pos_++] - '0');
            append_utf8(value, cp);
          } else {
            value += '\\';
            value += e;
          }
      }
    }
    emit(TokenKind::String, std::move(value), start);
  }

  uint32_t hex_escape(int width, size_t string_start) {
    uint32_t cp = 0;
    for (int i = 0; i < width; ++i) {
      int digit = pos_ < src_.size() ? hex_value(src_[pos_]) : -1;
      if (digit < 0)
        fail(pos_, fmt::format("truncated \\{} escape in string literal",
                               width == 2 ? 'x' : (width == 4 ? 'u' : 'U')));
      cp = cp * 16 + static_cast<uint32_t>(digit);
      ++pos_;
    }
    if (cp > 0x10ffff) fail(string_start, "escape outside the Unicode range in string literal");
    return cp;
  }

  void lex_operator(std::vector<char>& closers) {
    std::string op;
    for (auto two : kTwoCharOps)
      if (at(pos_, two)) op = two;
    if (op.empty() && kOneCharOps.find(src_[pos_]) != std::string_view::npos) op = src_[pos_];
    if (op.empty()) fail(pos_, fmt::format("unexpected character '{}'", src_[pos_]));
    if (op == "(" || op == "[" || op == "{") {
      closers.push_back(op == "(" ? ')' : (op == "[" ? ']' : '}'));
    } else if (op == ")" || op == "]" || op == "}") {
      if (closers.empty()) fail(pos_, fmt::format("unexpected '{}'", op));
      if (closers.back() != op[0])
        fail(pos_, fmt::format("unexpected '{}', expected '{}'", op, closers.back()));
      closers.pop_back();
    }
    emit(TokenKind::Op, op, pos_);
    pos_ += op.size();
  }
};

}  // namespace

std::vector<Token> tokenize(std::string_view source, std::string_view name) {
  return Lexer(source, name).run();
}

std::string describe(const Token& token) {
  switch (token.kind) {
    case TokenKind::Text:
      return "text";
    case TokenKind::VarBegin:
      return "'{{'";
    case TokenKind::VarEnd:
      return "'}}'";
    case TokenKind::BlockBegin:
      return "'{%'";
    case TokenKind::BlockEnd:
      return "'%}'";
    case TokenKind::Name:
      return "'" + token.value + "'";
    case TokenKind::String:
      return "string literal";
    case TokenKind::Int:
    case TokenKind::Float:
      return "number " + token.value;
    case TokenKind::Op:
      return "'" + token.value + "'";
    case TokenKind::Eof:
      return "end of template";
  }
  return "token";
}

}  // namespace smol::jinja
