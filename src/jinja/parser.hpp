#pragma once
// Recursive-descent parser for the Jinja2 subset chat templates use, following the grammar
// and operator precedence of Jinja2's parser.py. Unsupported syntax is a smol::Error naming
// the line, column and offending token.
#include <string_view>
#include <vector>

#include "jinja/ast.hpp"
#include "jinja/lexer.hpp"

namespace smol::jinja {

// `name` prefixes error messages, e.g. "chat template".
Body parse(const std::vector<Token>& tokens, std::string_view name);

}  // namespace smol::jinja
