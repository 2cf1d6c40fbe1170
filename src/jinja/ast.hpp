#pragma once
// Syntax tree of a parsed template: expressions (Expr) and statements (Node). Every node keeps
// its source position so runtime errors can point at the expression that failed.
#include <memory>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "jinja/value.hpp"

namespace smol::jinja {

struct Expr;
struct Node;
using ExprPtr = std::unique_ptr<Expr>;
using NodePtr = std::unique_ptr<Node>;
using Body = std::vector<NodePtr>;

struct CallArgs {
  std::vector<ExprPtr> positional;
  std::vector<std::pair<std::string, ExprPtr>> keyword;
};

struct Literal {
  Value value;
};
struct Name {
  std::string name;
};
struct ListLit {
  std::vector<ExprPtr> items;
  bool tuple = false;
};
struct DictLit {
  std::vector<std::pair<ExprPtr, ExprPtr>> items;
};
struct GetAttr {
  ExprPtr object;
  std::string name;
};  // a.b
struct GetItem {
  ExprPtr object;
  ExprPtr index;
};  // a[b]
struct Slice {
  ExprPtr object;
  ExprPtr start, stop, step;
};  // a[start:stop:step]; null = omitted
struct Call {
  ExprPtr callee;
  CallArgs args;
};
struct Filter {
  ExprPtr input;
  std::string name;
  CallArgs args;
};  // input | name(args)
struct Test {
  ExprPtr input;
  std::string name;
  CallArgs args;
  bool negated = false;
};

enum class UnaryOp { Not, Neg, Pos };
struct Unary {
  UnaryOp op;
  ExprPtr operand;
};

enum class BinaryOp { And, Or, Add, Sub, Mul, Div, FloorDiv, Mod, Pow, Concat };
struct Binary {
  BinaryOp op;
  ExprPtr lhs, rhs;
};

enum class CompareOp { Eq, Ne, Lt, Le, Gt, Ge, In, NotIn };
struct Compare {
  ExprPtr first;
  std::vector<std::pair<CompareOp, ExprPtr>> rest;
};  // chained

struct CondExpr {
  ExprPtr test, then, otherwise;
};  // `then if test else otherwise`

struct Expr {
  int line = 0, column = 0;
  std::variant<Literal, Name, ListLit, DictLit, GetAttr, GetItem, Slice, Call, Filter, Test, Unary,
               Binary, Compare, CondExpr>
      node;
};

// Assignment target of `set` and `for`: one or more names (tuple unpacking when several),
// or a namespace attribute `ns.attr`.
struct Target {
  std::vector<std::string> names;
  bool unpack = false;    // `a, b` (or `a,`): the value is unpacked into the names
  std::string attribute;  // non-empty for `set ns.attr = ...`
};

struct TextNode {
  std::string text;
};
struct OutputNode {
  ExprPtr expr;
};
struct IfNode {
  std::vector<std::pair<ExprPtr, Body>> branches;
  Body otherwise;
};
struct ForNode {
  Target target;
  ExprPtr iterable;
  ExprPtr filter;  // `for x in xs if cond`; may be null
  Body body;
  Body otherwise;  // rendered when no item was iterated
};
struct SetNode {
  Target target;
  ExprPtr value;  // null for a block set, whose rendered body is the value
  Body body;
};
struct MacroNode {
  std::string name;
  std::vector<std::pair<std::string, ExprPtr>> params;  // default may be null
  Body body;
};
struct BreakNode {};
struct ContinueNode {};

struct Node {
  int line = 0, column = 0;
  std::variant<TextNode, OutputNode, IfNode, ForNode, SetNode, MacroNode, BreakNode, ContinueNode>
      node;
};

}  // namespace smol::jinja
