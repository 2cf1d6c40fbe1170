#pragma once
// Operators, attribute access, methods, filters, tests and global functions, with the
// semantics Jinja2's ImmutableSandboxedEnvironment gives them (plus transformers' tojson and
// raise_exception). They throw EvalError; the renderer adds the template position.
#include <string_view>

#include "jinja/ast.hpp"
#include "jinja/value.hpp"

namespace smol::jinja {

// Arithmetic and `~`; And/Or are short-circuited by the renderer and not handled here.
Value binary_op(BinaryOp op, const Value& a, const Value& b);
bool compare_op(CompareOp op, const Value& a, const Value& b);
bool contains(const Value& container, const Value& item);  // Python `item in container`

// `obj.name`: methods of str, dict and list win over dict keys, as in Python.
Value get_attribute(const Value& object, std::string_view name);
// `obj[index]`: keys and indexes win over methods; missing ones are Undefined.
Value get_item(const Value& object, const Value& index);
Value slice(const Value& object, const Value& start, const Value& stop, const Value& step);

// A bound method of a str, dict or list, or Undefined when the type has no such method.
Value find_method(const Value& object, std::string_view name);

using FilterFn = Value (*)(const Value& input, const Args& args);
using TestFn = bool (*)(const Value& input, const Args& args);
FilterFn find_filter(std::string_view name);  // nullptr when Jinja2 has no such filter here
TestFn find_test(std::string_view name);

// The globals transformers renders with: range, dict, namespace, raise_exception, strftime_now.
DictValue global_functions();

}  // namespace smol::jinja
