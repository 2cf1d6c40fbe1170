#include "jinja/expr_parser.hpp"

#include <charconv>
#include <cstdlib>

#include "jinja/builtins.hpp"

namespace smol::jinja {

ExprPtr ExprParser::parse_expression(bool with_condexpr) {
  NestingGuard guard(*this);
  return with_condexpr ? parse_condexpr() : parse_or();
}

ExprPtr ExprParser::parse_tuple(bool with_condexpr, bool explicit_parens) {
  const Token& start = cur();
  std::vector<ExprPtr> items;
  bool is_tuple = false;
  while (true) {
    if (!items.empty()) expect_op(",");
    if (cur().kind == TokenKind::VarEnd || cur().kind == TokenKind::BlockEnd || is_op(")")) break;
    items.push_back(parse_expression(with_condexpr));
    if (!is_op(",")) break;
    is_tuple = true;
  }
  if (!is_tuple) {
    if (!items.empty()) return std::move(items[0]);
    if (!explicit_parens) fail(cur(), "expected an expression, got " + describe(cur()));
  }
  return make(start, ListLit{std::move(items), true});
}

ExprPtr ExprParser::parse_condexpr() {
  ExprPtr expr = parse_or();
  while (is_name("if")) {
    const Token& at = next();
    ExprPtr test = parse_or();
    ExprPtr otherwise;
    if (skip_name("else")) otherwise = parse_condexpr();
    expr = make(at, CondExpr{std::move(test), std::move(expr), std::move(otherwise)});
  }
  return expr;
}

ExprPtr ExprParser::parse_or() {
  ExprPtr left = parse_and();
  while (is_name("or")) {
    const Token& at = next();
    left = make(at, Binary{BinaryOp::Or, std::move(left), parse_and()});
  }
  return left;
}

ExprPtr ExprParser::parse_and() {
  ExprPtr left = parse_not();
  while (is_name("and")) {
    const Token& at = next();
    left = make(at, Binary{BinaryOp::And, std::move(left), parse_not()});
  }
  return left;
}

ExprPtr ExprParser::parse_not() {
  NestingGuard guard(*this);
  if (is_name("not")) {
    const Token& at = next();
    return make(at, Unary{UnaryOp::Not, parse_not()});
  }
  return parse_compare();
}

ExprPtr ExprParser::parse_compare() {
  ExprPtr first = parse_math1();
  const Token& at = cur();  // errors point at the (first) operator
  std::vector<std::pair<CompareOp, ExprPtr>> rest;
  static const std::pair<std::string_view, CompareOp> kOps[] = {
      {"==", CompareOp::Eq}, {"!=", CompareOp::Ne}, {"<", CompareOp::Lt},
      {"<=", CompareOp::Le}, {">", CompareOp::Gt},  {">=", CompareOp::Ge}};
  while (true) {
    auto op = std::find_if(std::begin(kOps), std::end(kOps),
                           [&](const auto& o) { return is_op(o.first); });
    if (op != std::end(kOps)) {
      next();
      rest.emplace_back(op->second, parse_math1());
    } else if (skip_name("in")) {
      rest.emplace_back(CompareOp::In, parse_math1());
    } else if (is_name("not") && peek().kind == TokenKind::Name && peek().value == "in") {
      next();
      next();
      rest.emplace_back(CompareOp::NotIn, parse_math1());
    } else {
      break;
    }
  }
  if (rest.empty()) return first;
  return make(at, Compare{std::move(first), std::move(rest)});
}

ExprPtr ExprParser::parse_binary_level(
    std::initializer_list<std::pair<std::string_view, BinaryOp>> ops,
    ExprPtr (ExprParser::*operand)()) {
  ExprPtr left = (this->*operand)();
  while (true) {
    auto op = std::find_if(ops.begin(), ops.end(), [&](const auto& o) { return is_op(o.first); });
    if (op == ops.end()) return left;
    const Token& at = next();
    left = make(at, Binary{op->second, std::move(left), (this->*operand)()});
  }
}
ExprPtr ExprParser::parse_math1() {
  return parse_binary_level({{"+", BinaryOp::Add}, {"-", BinaryOp::Sub}},
                            &ExprParser::parse_concat);
}
ExprPtr ExprParser::parse_concat() {
  return parse_binary_level({{"~", BinaryOp::Concat}}, &ExprParser::parse_math2);
}
ExprPtr ExprParser::parse_math2() {
  return parse_binary_level({{"*", BinaryOp::Mul},
                             {"/", BinaryOp::Div},
                             {"//", BinaryOp::FloorDiv},
                             {"%", BinaryOp::Mod}},
                            &ExprParser::parse_pow);
}
ExprPtr ExprParser::parse_pow() {  // left-associative in Jinja2, unlike Python
  return parse_binary_level({{"**", BinaryOp::Pow}}, &ExprParser::parse_filtered_unary);
}
ExprPtr ExprParser::parse_filtered_unary() { return parse_unary(true); }

ExprPtr ExprParser::parse_unary(bool with_filter) {
  NestingGuard guard(*this);
  ExprPtr node;
  if (is_op("-") || is_op("+")) {
    const Token& at = next();
    node = make(at, Unary{at.value == "-" ? UnaryOp::Neg : UnaryOp::Pos, parse_unary(false)});
  } else {
    node = parse_primary();
  }
  node = parse_postfix(std::move(node));
  if (with_filter) node = parse_filter_expr(std::move(node));
  return node;
}

ExprPtr ExprParser::parse_primary() {
  const Token& t = cur();
  switch (t.kind) {
    case TokenKind::Name: {
      next();
      if (t.value == "true" || t.value == "True") return make(t, Literal{Value(true)});
      if (t.value == "false" || t.value == "False") return make(t, Literal{Value(false)});
      if (t.value == "none" || t.value == "None") return make(t, Literal{Value(nullptr)});
      return make(t, Name{t.value});
    }
    case TokenKind::String: {
      std::string s;
      while (cur().kind == TokenKind::String) s += next().value;  // "a" "b" concatenates
      return make(t, Literal{Value(std::move(s))});
    }
    case TokenKind::Int: {
      next();
      int64_t v = 0;
      auto [ptr, ec] = std::from_chars(t.value.data(), t.value.data() + t.value.size(), v);
      if (ec != std::errc()) fail(t, "integer literal " + t.value + " is too large");
      return make(t, Literal{Value(v)});
    }
    case TokenKind::Float:
      next();
      return make(t, Literal{Value(std::strtod(t.value.c_str(), nullptr))});
    case TokenKind::Op:
      if (t.value == "(") {
        next();
        ExprPtr inner = parse_tuple(true, true);
        expect_op(")");
        return inner;
      }
      if (t.value == "[") return parse_list();
      if (t.value == "{") return parse_dict();
      break;
    default:
      break;
  }
  fail(t, "unexpected " + describe(t));
}

ExprPtr ExprParser::parse_list() {
  const Token& start = next();  // [
  std::vector<ExprPtr> items;
  while (!is_op("]")) {
    if (!items.empty()) {
      expect_op(",");
      if (is_op("]")) break;
    }
    items.push_back(parse_expression());
  }
  expect_op("]");
  return make(start, ListLit{std::move(items), false});
}

ExprPtr ExprParser::parse_dict() {
  const Token& start = next();  // {
  DictLit dict;
  while (!is_op("}")) {
    if (!dict.items.empty()) {
      expect_op(",");
      if (is_op("}")) break;
    }
    ExprPtr key = parse_expression();
    expect_op(":");
    dict.items.emplace_back(std::move(key), parse_expression());
  }
  expect_op("}");
  return make(start, std::move(dict));
}

ExprPtr ExprParser::parse_postfix(ExprPtr node) {
  while (true) {
    if (is_op(".") || is_op("["))
      node = parse_subscript(std::move(node));
    else if (is_op("("))
      node = parse_call(std::move(node));
    else
      return node;
  }
}

ExprPtr ExprParser::parse_filter_expr(ExprPtr node) {
  while (true) {
    if (is_op("|"))
      node = parse_filter(std::move(node));
    else if (is_name("is"))
      node = parse_test(std::move(node));
    else if (is_op("("))
      node = parse_call(std::move(node));
    else
      return node;
  }
}

ExprPtr ExprParser::parse_subscript(ExprPtr node) {
  const Token& at = next();
  if (at.value == ".") {
    const Token& attr = next();
    if (attr.kind == TokenKind::Name) return make(at, GetAttr{std::move(node), attr.value});
    if (attr.kind == TokenKind::Int) {
      int64_t index = 0;
      const auto [end, ec] = std::from_chars(attr.value.data(), attr.value.data() + attr.value.size(), index);
      if (ec != std::errc() || end != attr.value.data() + attr.value.size()) {
        fail(attr, "index " + attr.value + " after '.' is too large");  // fuzz: stoll threw out_of_range
      }
      return make(at, GetItem{std::move(node), make(attr, Literal{Value(index)})});
    }
    fail(attr, "expected an attribute name after '.', got " + describe(attr));
  }
  ExprPtr start, stop, step;
  bool is_slice = false;
  if (!is_op(":")) {
    start = parse_expression();
  }
  if (skip_op(":")) {
    is_slice = true;
    if (!is_op(":") && !is_op("]")) stop = parse_expression();
    if (skip_op(":") && !is_op("]")) step = parse_expression();
  }
  if (is_op(",")) fail(cur(), "tuple subscripts are not supported");
  expect_op("]");
  if (!is_slice) return make(at, GetItem{std::move(node), std::move(start)});
  return make(at, Slice{std::move(node), std::move(start), std::move(stop), std::move(step)});
}

CallArgs ExprParser::parse_call_args() {
  expect_op("(");
  CallArgs args;
  bool first = true;
  while (!is_op(")")) {
    if (!first) {
      expect_op(",");
      if (is_op(")")) break;
    }
    first = false;
    if (is_op("*") || is_op("**")) fail(cur(), "*args and **kwargs in calls are not supported");
    if (cur().kind == TokenKind::Name && peek().kind == TokenKind::Op && peek().value == "=") {
      std::string key = next().value;
      next();
      args.keyword.emplace_back(std::move(key), parse_expression());
    } else {
      if (!args.keyword.empty()) fail(cur(), "positional argument follows keyword argument");
      args.positional.push_back(parse_expression());
    }
  }
  expect_op(")");
  return args;
}

ExprPtr ExprParser::parse_call(ExprPtr callee) {
  const Token& at = cur();
  CallArgs args = parse_call_args();
  return make(at, Call{std::move(callee), std::move(args)});
}

ExprPtr ExprParser::parse_filter(ExprPtr node) {
  next();  // |
  const Token& at = cur();
  std::string name = expect_name();
  if (is_op(".")) fail(cur(), "dotted filter names are not supported");
  if (!find_filter(name)) fail(at, fmt::format("no filter named '{}'", name));
  CallArgs args;
  if (is_op("(")) args = parse_call_args();
  return make(at, Filter{std::move(node), std::move(name), std::move(args)});
}

ExprPtr ExprParser::parse_test(ExprPtr node) {
  next();  // is
  bool negated = skip_name("not");
  const Token& at = cur();
  std::string name = expect_name();
  if (!find_test(name)) fail(at, fmt::format("no test named '{}'", name));
  CallArgs args;
  const Token& t = cur();
  bool starts_operand = t.kind == TokenKind::Name || t.kind == TokenKind::String ||
                        t.kind == TokenKind::Int || t.kind == TokenKind::Float || is_op("[") ||
                        is_op("{");
  if (is_op("(")) {
    args = parse_call_args();
  } else if (starts_operand && !is_name("else") && !is_name("or") && !is_name("and")) {
    if (is_name("is")) fail(t, "cannot chain multiple tests with 'is'");
    args.positional.push_back(parse_postfix(parse_primary()));  // `x is divisibleby 3`
  }
  return make(at, Test{std::move(node), std::move(name), std::move(args), negated});
}

}  // namespace smol::jinja
