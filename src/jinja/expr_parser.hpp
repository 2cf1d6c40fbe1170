#pragma once
// Expression parser: Jinja2's grammar and operator precedence (parser.py), from conditional
// expressions down to literals, with postfix subscripts, calls, filters and tests.
#include "jinja/token_stream.hpp"

namespace smol::jinja {

class ExprParser : public TokenStream {
 public:
  using TokenStream::TokenStream;

 protected:
  ExprPtr parse_expression(bool with_condexpr = true);
  // `a, b` outside brackets is a tuple; `explicit_parens` allows the empty tuple `()`.
  ExprPtr parse_tuple(bool with_condexpr = true, bool explicit_parens = false);

 private:
  ExprPtr parse_condexpr();
  ExprPtr parse_or();
  ExprPtr parse_and();
  ExprPtr parse_not();
  ExprPtr parse_compare();
  ExprPtr parse_binary_level(std::initializer_list<std::pair<std::string_view, BinaryOp>> ops,
                             ExprPtr (ExprParser::*operand)());
  ExprPtr parse_math1();
  ExprPtr parse_concat();
  ExprPtr parse_math2();
  ExprPtr parse_pow();
  ExprPtr parse_filtered_unary();
  ExprPtr parse_unary(bool with_filter);
  ExprPtr parse_primary();
  ExprPtr parse_list();
  ExprPtr parse_dict();
  ExprPtr parse_postfix(ExprPtr node);
  ExprPtr parse_filter_expr(ExprPtr node);
  ExprPtr parse_subscript(ExprPtr node);
  CallArgs parse_call_args();
  ExprPtr parse_call(ExprPtr callee);
  ExprPtr parse_filter(ExprPtr node);
  ExprPtr parse_test(ExprPtr node);
};

}  // namespace smol::jinja
