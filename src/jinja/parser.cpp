#include "jinja/parser.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <initializer_list>

#include "smol/error.hpp"
#include "jinja/expr_parser.hpp"

namespace smol::jinja {

namespace {

using Tags = std::initializer_list<std::string_view>;

template <class Range>
bool contains(const Range& tags, std::string_view tag) {
  return std::find(std::begin(tags), std::end(tags), tag) != std::end(tags);
}

std::string list_tags(Tags tags) {
  std::string out;
  size_t i = 0;
  for (auto tag : tags) {
    if (i) out += (i + 1 == tags.size()) ? " or " : ", ";
    out += '\'';
    out += tag;
    out += '\'';
    ++i;
  }
  return out;
}

class Parser : public ExprParser {
 public:
  using ExprParser::ExprParser;

  Body parse_template() { return parse_body({}, nullptr, nullptr); }

 private:
  int loop_depth_ = 0;

  // ---- statements ----

  // Parses until one of `end_tags` opens a block tag; its name is stored in `found`. The
  // rest of that tag (e.g. an elif condition) is left to the caller.
  Body parse_body(Tags end_tags, std::string* found, const Token* opener) {
    NestingGuard guard(*this);
    Body body;
    while (true) {
      const Token& t = cur();
      switch (t.kind) {
        case TokenKind::Text:
          body.push_back(make_node(t, TextNode{next().value}));
          break;
        case TokenKind::VarBegin: {
          next();
          auto expr = parse_tuple();
          if (cur().kind != TokenKind::VarEnd)
            fail(cur(), "expected '}}' to end the expression, got " + describe(cur()));
          next();
          body.push_back(make_node(t, OutputNode{std::move(expr)}));
          break;
        }
        case TokenKind::BlockBegin: {
          const Token& keyword = peek();
          if (keyword.kind != TokenKind::Name)
            fail(keyword, "expected a tag name after '{%', got " + describe(keyword));
          if (contains(end_tags, keyword.value)) {
            next();
            *found = next().value;
            return body;
          }
          parse_statement(body, end_tags);
          break;
        }
        case TokenKind::Eof:
          if (end_tags.size() == 0) return body;
          fail(t, fmt::format("unexpected end of template, expected {} to close the '{}' "
                              "tag on line {}",
                              list_tags(end_tags), opener->value, opener->line));
        default:
          fail(t, "unexpected " + describe(t));
      }
    }
  }

  void parse_statement(Body& body, Tags open_end_tags) {
    const Token& begin = next();  // {%
    const Token& keyword = next();
    const std::string& tag = keyword.value;
    if (tag == "for") return body.push_back(parse_for(begin, keyword));
    if (tag == "if") return body.push_back(parse_if(begin, keyword));
    if (tag == "set") return body.push_back(parse_set(begin, keyword));
    if (tag == "macro") return body.push_back(parse_macro(begin, keyword));
    if (tag == "break" || tag == "continue") {
      if (loop_depth_ == 0) fail(keyword, fmt::format("'{}' outside of a for loop", tag));
      expect_block_end();
      if (tag == "break") return body.push_back(make_node(begin, BreakNode{}));
      return body.push_back(make_node(begin, ContinueNode{}));
    }
    if (tag == "generation") {  // transformers' assistant-mask marker: renders its body as is
      expect_block_end();
      std::string end;
      Body inner = parse_body({"endgeneration"}, &end, &keyword);
      expect_block_end();
      for (auto& n : inner) body.push_back(std::move(n));
      return;
    }
    static constexpr std::string_view kClosers[] = {
        "endfor", "endif", "elif", "else", "endset", "endmacro", "endgeneration", "endraw"};
    if (contains(kClosers, tag)) {
      if (open_end_tags.size() == 0) fail(keyword, fmt::format("unexpected '{}' tag", tag));
      fail(keyword, fmt::format("unexpected '{}' tag, expected {}", tag, list_tags(open_end_tags)));
    }
    static constexpr std::string_view kUnsupported[] = {
        "block",  "extends", "include",    "import", "from", "call",
        "filter", "with",    "autoescape", "do",     "trans"};
    if (contains(kUnsupported, tag))
      fail(keyword, fmt::format("the '{}' tag is not supported in chat templates", tag));
    fail(keyword, fmt::format("unknown tag '{}'", tag));
  }

  Target parse_target(bool allow_attribute) {
    Target target;
    bool parenthesized = skip_op("(");
    auto name = [&] {
      const Token& t = cur();
      std::string n = expect_name();
      static constexpr std::string_view kConstants[] = {"true", "false", "none",
                                                        "True", "False", "None"};
      if (contains(kConstants, n)) fail(t, fmt::format("cannot assign to '{}'", n));
      return n;
    };
    target.names.push_back(name());
    if (allow_attribute && !parenthesized && skip_op(".")) {
      target.attribute = expect_name();
      return target;
    }
    while (skip_op(",")) {
      target.unpack = true;
      if (cur().kind != TokenKind::Name || is_name("in")) break;  // trailing comma
      target.names.push_back(name());
    }
    if (parenthesized) expect_op(")");
    return target;
  }

  NodePtr parse_for(const Token& begin, const Token& keyword) {
    ForNode node;
    node.target = parse_target(false);
    if (!skip_name("in")) fail(cur(), "expected 'in' in for loop, got " + describe(cur()));
    node.iterable = parse_tuple(false);
    if (skip_name("if")) node.filter = parse_expression();
    if (is_name("recursive")) fail(cur(), "recursive for loops are not supported");
    expect_block_end();
    std::string end;
    ++loop_depth_;
    node.body = parse_body({"endfor", "else"}, &end, &keyword);
    --loop_depth_;
    expect_block_end();
    if (end == "else") {
      node.otherwise = parse_body({"endfor"}, &end, &keyword);
      expect_block_end();
    }
    return make_node(begin, std::move(node));
  }

  NodePtr parse_if(const Token& begin, const Token& keyword) {
    IfNode node;
    ExprPtr condition = parse_tuple(false);
    expect_block_end();
    while (true) {
      std::string end;
      Body body = parse_body({"elif", "else", "endif"}, &end, &keyword);
      node.branches.emplace_back(std::move(condition), std::move(body));
      if (end == "elif") {
        condition = parse_tuple(false);
        expect_block_end();
        continue;
      }
      expect_block_end();
      if (end == "else") {
        node.otherwise = parse_body({"endif"}, &end, &keyword);
        expect_block_end();
      }
      return make_node(begin, std::move(node));
    }
  }

  NodePtr parse_set(const Token& begin, const Token& keyword) {
    SetNode node;
    node.target = parse_target(true);
    if (skip_op("=")) {
      node.value = parse_tuple();
      expect_block_end();
      return make_node(begin, std::move(node));
    }
    if (is_op("|")) fail(cur(), "filters on a block set are not supported");
    expect_block_end();
    std::string end;
    node.body = parse_body({"endset"}, &end, &keyword);
    expect_block_end();
    return make_node(begin, std::move(node));
  }

  NodePtr parse_macro(const Token& begin, const Token& keyword) {
    MacroNode node;
    node.name = expect_name();
    expect_op("(");
    while (!is_op(")")) {
      if (!node.params.empty()) {
        expect_op(",");
        if (is_op(")")) break;
      }
      const Token& at = cur();
      std::string param = expect_name();
      ExprPtr fallback;
      if (skip_op("="))
        fallback = parse_expression();
      else if (!node.params.empty() && node.params.back().second)
        fail(at, "non-default macro argument follows default argument");
      node.params.emplace_back(std::move(param), std::move(fallback));
    }
    expect_op(")");
    expect_block_end();
    int outer_loops = loop_depth_;
    loop_depth_ = 0;
    std::string end;
    node.body = parse_body({"endmacro"}, &end, &keyword);
    loop_depth_ = outer_loops;
    if (cur().kind == TokenKind::Name && cur().value == node.name) next();
    expect_block_end();
    return make_node(begin, std::move(node));
  }
};

}  // namespace

Body parse(const std::vector<Token>& tokens, std::string_view name) {
  return Parser(tokens, name).parse_template();
}

}  // namespace smol::jinja
