#pragma once
// Splits template source into text and tag tokens exactly as Jinja2's lexer does with the
// options transformers renders chat templates with: trim_blocks and lstrip_blocks on,
// keep_trailing_newline off. Whitespace control (`{%-`, `-%}`, `{%+`, `+%}`), comments and
// `{% raw %}` are resolved here, so the parser only sees text, tags and expression tokens.
#include <string>
#include <string_view>
#include <vector>

namespace smol::jinja {

enum class TokenKind {
  Text,        // literal output; value = the text after whitespace control
  VarBegin,    // {{
  VarEnd,      // }}
  BlockBegin,  // {%
  BlockEnd,    // %}
  Name,
  String,  // value = the decoded string
  Int,     // value = the literal as written (underscores removed)
  Float,
  Op,  // value = the operator: + - * / // % ** ~ == != < <= > >= = . : | , ( ) [ ] { } ;
  Eof,
};

struct Token {
  TokenKind kind;
  std::string value;
  int line = 1;
  int column = 1;
};

// `name` prefixes error messages ("chat template line 3, column 7: ...").
std::vector<Token> tokenize(std::string_view source, std::string_view name);

// Describes a token for an error message: "'%}'", "name 'foo'", "end of template".
std::string describe(const Token& token);

}  // namespace smol::jinja
