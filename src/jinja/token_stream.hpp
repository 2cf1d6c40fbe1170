#pragma once
// A cursor over the token list with the helpers both parsers (statements, expressions) share.
#include <fmt/format.h>

#include <algorithm>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "smol/error.hpp"
#include "jinja/ast.hpp"
#include "jinja/lexer.hpp"

namespace smol::jinja {

class TokenStream {
 public:
  TokenStream(const std::vector<Token>& tokens, std::string_view name)
      : toks_(tokens), name_(name) {}

 protected:
  const std::vector<Token>& toks_;
  std::string_view name_;
  size_t i_ = 0;
  static constexpr int kMaxNesting = 256;
  int depth_ = 0;

  const Token& cur() const { return toks_[i_]; }
  const Token& peek() const { return toks_[std::min(i_ + 1, toks_.size() - 1)]; }
  const Token& next() {
    const Token& t = toks_[i_];
    if (t.kind != TokenKind::Eof) ++i_;
    return t;
  }
  bool is_op(std::string_view op) const { return cur().kind == TokenKind::Op && cur().value == op; }
  bool is_name(std::string_view n) const {
    return cur().kind == TokenKind::Name && cur().value == n;
  }
  bool skip_op(std::string_view op) {
    if (!is_op(op)) return false;
    next();
    return true;
  }
  bool skip_name(std::string_view n) {
    if (!is_name(n)) return false;
    next();
    return true;
  }

  [[noreturn]] void fail(const Token& t, const std::string& message) const {
    throw Error(fmt::format("{} line {}, column {}: {}", name_, t.line, t.column, message));
  }
  void expect_op(std::string_view op) {
    if (!skip_op(op)) fail(cur(), fmt::format("expected '{}', got {}", op, describe(cur())));
  }
  std::string expect_name() {
    if (cur().kind != TokenKind::Name) fail(cur(), "expected a name, got " + describe(cur()));
    return next().value;
  }
  void expect_block_end() {
    if (cur().kind != TokenKind::BlockEnd)
      fail(cur(), "expected '%}' to end the tag, got " + describe(cur()));
    next();
  }

  // Bounds nesting so a hostile template cannot overflow the stack of the recursive parser
  // (or, later, of the renderer walking the tree).
  class NestingGuard {
   public:
    explicit NestingGuard(TokenStream& s) : s_(s) {
      if (++s_.depth_ > kMaxNesting)
        s_.fail(s_.cur(), fmt::format("template nests deeper than {} levels", kMaxNesting));
    }
    ~NestingGuard() { --s_.depth_; }
    NestingGuard(const NestingGuard&) = delete;
    NestingGuard& operator=(const NestingGuard&) = delete;

   private:
    TokenStream& s_;
  };

  // An Expr or a Node holding `node`, located at the token where it starts.
  template <class Out, class T>
  static std::unique_ptr<Out> located(const Token& at, T node) {
    auto out = std::make_unique<Out>();
    out->line = at.line;
    out->column = at.column;
    out->node = std::move(node);
    return out;
  }
  template <class T>
  ExprPtr make(const Token& at, T node) { return located<Expr>(at, std::move(node)); }
  template <class T>
  NodePtr make_node(const Token& at, T node) { return located<Node>(at, std::move(node)); }
};

}  // namespace smol::jinja
