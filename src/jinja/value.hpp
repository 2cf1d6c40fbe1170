#pragma once
// The value type templates compute with. It follows Python's object model closely enough that
// rendering matches Jinja2 byte for byte: int and float are distinct, dicts keep insertion
// order, str()/repr() print the way Python does, and an Undefined value stands for a missing
// variable or key (empty when printed, falsy, an error when dereferenced).
#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace smol::jinja {

class Value;
struct Args;
struct ListValue;
struct DictValue;

// Thrown by value operations and builtins; the renderer turns it into smol::Error with the
// template position of the expression that failed.
class EvalError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A builtin function, bound method or macro.
struct Callable {
  std::string name;
  std::function<Value(const Args&)> call;
};

struct Undefined {
  std::string hint;  // what was missing, for error messages: "'foo' is undefined"
};

class Value {
 public:
  enum class Kind { Undefined, None, Bool, Int, Float, String, List, Dict, Callable };

  Value() : v_(Undefined{"value is undefined"}) {}
  Value(std::nullptr_t) : v_(std::monostate{}) {}
  Value(bool b) : v_(b) {}
  Value(int i) : v_(int64_t{i}) {}
  Value(int64_t i) : v_(i) {}
  Value(double d) : v_(d) {}
  Value(std::string s) : v_(std::move(s)) {}
  Value(std::string_view s) : v_(std::string(s)) {}
  Value(const char* s) : v_(std::string(s)) {}

  static Value undefined(std::string hint) { return Value(Undefined{std::move(hint)}); }
  static Value list(std::vector<Value> items);
  static Value tuple(std::vector<Value> items);
  static Value dict(DictValue d);
  static Value namespace_object(DictValue d);
  static Value function(std::string name, std::function<Value(const Args&)> call);
  template <class Json>
  static Value from_json(const Json& j);

  Kind kind() const;
  bool is_undefined() const { return kind() == Kind::Undefined; }
  bool is_none() const { return kind() == Kind::None; }
  bool is_bool() const { return kind() == Kind::Bool; }
  bool is_int() const { return kind() == Kind::Int; }
  bool is_float() const { return kind() == Kind::Float; }
  bool is_number() const { return is_bool() || is_int() || is_float(); }  // Python: bool is an int
  bool is_string() const { return kind() == Kind::String; }
  bool is_list() const { return kind() == Kind::List; }
  bool is_dict() const { return kind() == Kind::Dict; }  // plain dict or namespace
  bool is_mapping() const;                               // plain dict only
  bool is_namespace() const;
  bool is_callable() const { return kind() == Kind::Callable; }

  bool as_bool() const { return std::get<bool>(v_); }
  int64_t as_int() const;    // int or bool
  double as_double() const;  // any number
  const std::string& as_string() const { return std::get<std::string>(v_); }
  const ListValue& as_list() const { return *std::get<std::shared_ptr<ListValue>>(v_); }
  const DictValue& as_dict() const { return *std::get<std::shared_ptr<DictValue>>(v_); }
  DictValue& mutable_namespace() const;  // namespaces are the one mutable object templates see
  const Callable& as_callable() const { return *std::get<std::shared_ptr<Callable>>(v_); }
  const std::string& undefined_hint() const { return std::get<Undefined>(v_).hint; }

  bool truthy() const;
  std::string str() const;   // Python str(); Undefined prints as ""
  std::string repr() const;  // Python repr(), used inside printed lists and dicts
  std::string type_name() const;
  bool same_object(const Value& other) const;  // Python `is`

  // Items of a for loop or list(): list items, string characters or dict keys; Undefined → none.
  std::vector<Value> iterate() const;

 private:
  explicit Value(Undefined u) : v_(std::move(u)) {}
  std::variant<Undefined, std::monostate, bool, int64_t, double, std::string,
               std::shared_ptr<ListValue>, std::shared_ptr<DictValue>, std::shared_ptr<Callable>>
      v_;
};

// The most characters (or list items) one operation may build: a template comes from a model
// repo, and 'x' * 10**10 or indent(10**10) must be an error, not all of memory (found by
// fuzzing). Prompts are far smaller.
inline constexpr int64_t kMaxBuiltSize = int64_t{1} << 24;
// A float as the int64 Python's int() would give; EvalError where that needs more than 64 bits
// (the plain cast is undefined behaviour there; found by fuzzing).
inline int64_t float_to_int(double d) {
  if (!(d > -9223372036854775808.0 && d < 9223372036854775808.0))
    throw EvalError(d != d ? "cannot convert float NaN to integer" : "integer overflow converting a float");
  return static_cast<int64_t>(d);
}

inline void check_built_size(int64_t n, const char* what) {
  if (n > kMaxBuiltSize) throw EvalError(std::string(what) + " would build more than 16777216 characters or items");
}

struct ListValue {
  std::vector<Value> items;
  bool tuple = false;
};

// Insertion-ordered like a Python dict. Lookups are linear: template dicts are small.
struct DictValue {
  std::vector<std::pair<std::string, Value>> items;
  bool is_namespace = false;

  const Value* find(std::string_view key) const;
  void set(std::string key, Value value);
};

// Arguments of a call, filter or test, bound to parameters the way Python binds them.
struct Args {
  std::vector<Value> positional;
  std::vector<std::pair<std::string, Value>> keyword;

  // Values for `params` in order (nullopt where not given); too many or unknown arguments
  // are an error naming `what`.
  std::vector<std::optional<Value>> bind(std::string_view what,
                                         std::initializer_list<std::string_view> params) const;
};

bool operator==(const Value& a, const Value& b);  // Python ==
// Python <, >, <=, >= via a three-way result; unorderable types raise EvalError.
int compare(const Value& a, const Value& b);

// Python's repr() of a float, e.g. 1.0, 0.1, 1e+16, 1e-05, inf.
std::string python_float_repr(double d);
// Python's repr() of a str: quotes and escapes chosen the way CPython does.
std::string python_str_repr(std::string_view s);

struct JsonOptions {
  std::optional<std::string> indent;  // json.dumps(indent=...) as the string per level
  std::string item_separator = ", ";
  std::string key_separator = ": ";
  bool sort_keys = false;
  bool ensure_ascii = false;
};
// Python json.dumps(value, ...) as transformers' tojson filter calls it.
std::string to_json(const Value& v, const JsonOptions& options);

template <class Json>
Value Value::from_json(const Json& j) {
  switch (j.type()) {
    case Json::value_t::null:
      return Value(nullptr);
    case Json::value_t::boolean:
      return Value(j.template get<bool>());
    case Json::value_t::number_integer:
      return Value(j.template get<int64_t>());
    case Json::value_t::number_unsigned: {
      auto u = j.template get<uint64_t>();
      if (u <= static_cast<uint64_t>(INT64_MAX)) return Value(static_cast<int64_t>(u));
      return Value(static_cast<double>(u));
    }
    case Json::value_t::number_float:
      return Value(j.template get<double>());
    case Json::value_t::string:
      return Value(j.template get<std::string>());
    case Json::value_t::array: {
      std::vector<Value> items;
      for (const auto& e : j) items.push_back(from_json(e));
      return list(std::move(items));
    }
    case Json::value_t::object: {
      DictValue d;
      for (const auto& [k, e] : j.items()) d.items.emplace_back(k, from_json(e));
      return dict(std::move(d));
    }
    default:
      throw EvalError("unsupported JSON value in template context");
  }
}

}  // namespace smol::jinja
