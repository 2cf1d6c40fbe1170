// Jinja2's builtin tests, the `is` in `x is defined` (the subset chat templates use).
#include <fmt/format.h>

#include "jinja/builtins.hpp"

namespace smol::jinja {

namespace {

const Value& test_arg(const Args& a, std::string_view name) {
  if (a.positional.size() != 1 || !a.keyword.empty())
    throw EvalError(fmt::format("test '{}' takes exactly one argument", name));
  return a.positional[0];
}

bool no_args(const Args& a, std::string_view name) {
  a.bind(name, {});
  return true;
}

// Python's value % divisor, so floats work as in Jinja2's odd/even/divisibleby.
Value remainder(const Value& v, const Value& divisor) {
  return binary_op(BinaryOp::Mod, v, divisor);
}

bool is_cased(const Value& v, bool upper) {
  std::string s = v.str();
  bool any = false;
  for (char c : s) {
    if (upper ? (c >= 'a' && c <= 'z') : (c >= 'A' && c <= 'Z')) return false;
    any = any || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
  }
  return any;
}

struct NamedTest {
  std::string_view name;
  TestFn fn;
};

bool test_eq(const Value& v, const Args& a) { return v == test_arg(a, "eq"); }
bool test_ne(const Value& v, const Args& a) { return !(v == test_arg(a, "ne")); }
bool test_lt(const Value& v, const Args& a) { return compare(v, test_arg(a, "lt")) < 0; }
bool test_le(const Value& v, const Args& a) { return compare(v, test_arg(a, "le")) <= 0; }
bool test_gt(const Value& v, const Args& a) { return compare(v, test_arg(a, "gt")) > 0; }
bool test_ge(const Value& v, const Args& a) { return compare(v, test_arg(a, "ge")) >= 0; }

const NamedTest kTests[] = {
    {"boolean", [](const Value& v, const Args& a) { return no_args(a, "boolean") && v.is_bool(); }},
    {"callable",
     [](const Value& v, const Args& a) { return no_args(a, "callable") && v.is_callable(); }},
    {"defined",
     [](const Value& v, const Args& a) { return no_args(a, "defined") && !v.is_undefined(); }},
    {"divisibleby",
     [](const Value& v, const Args& a) {
       return remainder(v, test_arg(a, "divisibleby")) == Value(0);
     }},
    {"eq", test_eq},
    {"equalto", test_eq},
    {"==", test_eq},
    {"even", [](const Value& v,
                const Args& a) { return no_args(a, "even") && remainder(v, 2) == Value(0); }},
    {"false", [](const Value& v,
                 const Args& a) { return no_args(a, "false") && v.is_bool() && !v.as_bool(); }},
    {"float", [](const Value& v, const Args& a) { return no_args(a, "float") && v.is_float(); }},
    {"ge", test_ge},
    {">=", test_ge},
    {"gt", test_gt},
    {">", test_gt},
    {"greaterthan", test_gt},
    {"in", [](const Value& v, const Args& a) { return contains(test_arg(a, "in"), v); }},
    {"integer", [](const Value& v, const Args& a) { return no_args(a, "integer") && v.is_int(); }},
    {"iterable",
     [](const Value& v, const Args& a) {
       return no_args(a, "iterable") &&
              (v.is_undefined() || v.is_string() || v.is_list() || v.is_mapping());
     }},
    {"le", test_le},
    {"<=", test_le},
    {"lower",
     [](const Value& v, const Args& a) { return no_args(a, "lower") && is_cased(v, false); }},
    {"lt", test_lt},
    {"<", test_lt},
    {"lessthan", test_lt},
    {"mapping",
     [](const Value& v, const Args& a) { return no_args(a, "mapping") && v.is_mapping(); }},
    {"ne", test_ne},
    {"!=", test_ne},
    {"none", [](const Value& v, const Args& a) { return no_args(a, "none") && v.is_none(); }},
    {"number", [](const Value& v, const Args& a) { return no_args(a, "number") && v.is_number(); }},
    {"odd", [](const Value& v,
               const Args& a) { return no_args(a, "odd") && remainder(v, 2) == Value(1); }},
    {"sameas", [](const Value& v, const Args& a) { return v.same_object(test_arg(a, "sameas")); }},
    {"sequence",
     [](const Value& v, const Args& a) {
       return no_args(a, "sequence") &&
              (v.is_undefined() || v.is_string() || v.is_list() || v.is_mapping());
     }},
    {"string", [](const Value& v, const Args& a) { return no_args(a, "string") && v.is_string(); }},
    {"true", [](const Value& v,
                const Args& a) { return no_args(a, "true") && v.is_bool() && v.as_bool(); }},
    {"undefined",
     [](const Value& v, const Args& a) { return no_args(a, "undefined") && v.is_undefined(); }},
    {"upper",
     [](const Value& v, const Args& a) { return no_args(a, "upper") && is_cased(v, true); }},
};

}  // namespace

TestFn find_test(std::string_view name) {
  for (const auto& t : kTests)
    if (t.name == name) return t.fn;
  return nullptr;
}

}  // namespace smol::jinja
