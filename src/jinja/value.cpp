#include "jinja/value.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>

#include "jinja/strings.hpp"

namespace smol::jinja {

Value Value::list(std::vector<Value> items) {
  Value v;
  v.v_ = std::make_shared<ListValue>(ListValue{std::move(items), false});
  return v;
}

Value Value::tuple(std::vector<Value> items) {
  Value v;
  v.v_ = std::make_shared<ListValue>(ListValue{std::move(items), true});
  return v;
}

Value Value::dict(DictValue d) {
  d.is_namespace = false;
  Value v;
  v.v_ = std::make_shared<DictValue>(std::move(d));
  return v;
}

Value Value::namespace_object(DictValue d) {
  d.is_namespace = true;
  Value v;
  v.v_ = std::make_shared<DictValue>(std::move(d));
  return v;
}

Value Value::function(std::string name, std::function<Value(const Args&)> call) {
  Value v;
  v.v_ = std::make_shared<Callable>(Callable{std::move(name), std::move(call)});
  return v;
}

Value::Kind Value::kind() const { return static_cast<Kind>(v_.index()); }

bool Value::is_mapping() const { return is_dict() && !as_dict().is_namespace; }
bool Value::is_namespace() const { return is_dict() && as_dict().is_namespace; }

int64_t Value::as_int() const {
  if (is_bool()) return int64_t{as_bool()};
  // A template may pass anything where a builtin wants an int ('x'|replace('a', 'b', 'c')):
  // Python's TypeError, not std::bad_variant_access (found by fuzzing).
  if (!is_int()) throw EvalError("'" + type_name() + "' object cannot be interpreted as an integer");
  return std::get<int64_t>(v_);
}

double Value::as_double() const {
  return is_float() ? std::get<double>(v_) : static_cast<double>(as_int());
}

DictValue& Value::mutable_namespace() const { return *std::get<std::shared_ptr<DictValue>>(v_); }

bool Value::truthy() const {
  switch (kind()) {
    case Kind::Undefined:
    case Kind::None:
      return false;
    case Kind::Bool:
      return as_bool();
    case Kind::Int:
      return as_int() != 0;
    case Kind::Float:
      return as_double() != 0.0;
    case Kind::String:
      return !as_string().empty();
    case Kind::List:
      return !as_list().items.empty();
    case Kind::Dict:
      return is_namespace() || !as_dict().items.empty();
    case Kind::Callable:
      return true;
  }
  return false;
}

namespace {

std::string join_repr(const std::vector<Value>& items) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) out += ", ";
    out += items[i].repr();
  }
  return out;
}

std::string dict_repr(const DictValue& d) {
  std::string out = "{";
  for (size_t i = 0; i < d.items.size(); ++i) {
    if (i) out += ", ";
    out += python_str_repr(d.items[i].first) + ": " + d.items[i].second.repr();
  }
  return out + "}";
}

}  // namespace

std::string Value::str() const {
  switch (kind()) {
    case Kind::Undefined:
      return "";
    case Kind::None:
      return "None";
    case Kind::Bool:
      return as_bool() ? "True" : "False";
    case Kind::Int:
      return std::to_string(as_int());
    case Kind::Float:
      return python_float_repr(as_double());
    case Kind::String:
      return as_string();
    case Kind::List: {
      const auto& l = as_list();
      if (!l.tuple) return "[" + join_repr(l.items) + "]";
      return "(" + join_repr(l.items) + (l.items.size() == 1 ? ",)" : ")");
    }
    case Kind::Dict:
      return is_namespace() ? "<Namespace " + dict_repr(as_dict()) + ">" : dict_repr(as_dict());
    case Kind::Callable:
      return "<function " + as_callable().name + ">";
  }
  return "";
}

std::string Value::repr() const {
  if (is_string()) return python_str_repr(as_string());
  if (is_undefined()) return "Undefined";
  return str();
}

std::string Value::type_name() const {
  switch (kind()) {
    case Kind::Undefined:
      return "Undefined";
    case Kind::None:
      return "NoneType";
    case Kind::Bool:
      return "bool";
    case Kind::Int:
      return "int";
    case Kind::Float:
      return "float";
    case Kind::String:
      return "str";
    case Kind::List:
      return as_list().tuple ? "tuple" : "list";
    case Kind::Dict:
      return is_namespace() ? "Namespace" : "dict";
    case Kind::Callable:
      return "function";
  }
  return "object";
}

bool Value::same_object(const Value& other) const {
  if (kind() != other.kind()) return false;
  switch (kind()) {
    case Kind::List:
      return std::get<std::shared_ptr<ListValue>>(v_) ==
             std::get<std::shared_ptr<ListValue>>(other.v_);
    case Kind::Dict:
      return std::get<std::shared_ptr<DictValue>>(v_) ==
             std::get<std::shared_ptr<DictValue>>(other.v_);
    case Kind::Callable:
      return std::get<std::shared_ptr<Callable>>(v_) ==
             std::get<std::shared_ptr<Callable>>(other.v_);
    default:
      return *this == other;  // scalars: CPython interns the values templates compare
  }
}

std::vector<Value> Value::iterate() const {
  switch (kind()) {
    case Kind::Undefined:
      return {};
    case Kind::List:
      return as_list().items;
    case Kind::String: {
      std::vector<Value> out;
      for (auto ch : utf8_chars(as_string())) out.emplace_back(ch);
      return out;
    }
    case Kind::Dict: {
      if (is_namespace()) break;
      std::vector<Value> out;
      for (const auto& [k, v] : as_dict().items) out.emplace_back(k);
      return out;
    }
    default:
      break;
  }
  throw EvalError(fmt::format("'{}' object is not iterable", type_name()));
}

const Value* DictValue::find(std::string_view key) const {
  for (const auto& [k, v] : items)
    if (k == key) return &v;
  return nullptr;
}

void DictValue::set(std::string key, Value value) {
  for (auto& [k, v] : items)
    if (k == key) {
      v = std::move(value);
      return;
    }
  items.emplace_back(std::move(key), std::move(value));
}

std::vector<std::optional<Value>> Args::bind(std::string_view what,
                                             std::initializer_list<std::string_view> params) const {
  std::vector<std::string_view> names(params);
  if (positional.size() > names.size())
    throw EvalError(fmt::format("{}() takes at most {} argument{} ({} given)", what, names.size(),
                                names.size() == 1 ? "" : "s", positional.size()));
  std::vector<std::optional<Value>> out(names.size());
  for (size_t i = 0; i < positional.size(); ++i) out[i] = positional[i];
  for (const auto& [name, value] : keyword) {
    auto it = std::find(names.begin(), names.end(), name);
    if (it == names.end())
      throw EvalError(fmt::format("{}() got an unexpected keyword argument '{}'", what, name));
    auto& slot = out[static_cast<size_t>(it - names.begin())];
    if (slot)
      throw EvalError(fmt::format("{}() got multiple values for argument '{}'", what, name));
    slot = value;
  }
  return out;
}

bool operator==(const Value& a, const Value& b) {
  using K = Value::Kind;
  if (a.is_number() && b.is_number()) {
    if (a.is_float() || b.is_float()) return a.as_double() == b.as_double();
    return a.as_int() == b.as_int();
  }
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case K::Undefined:
    case K::None:
      return true;
    case K::String:
      return a.as_string() == b.as_string();
    case K::List: {
      const auto& x = a.as_list();
      const auto& y = b.as_list();
      return x.tuple == y.tuple && x.items == y.items;
    }
    case K::Dict: {
      const auto& x = a.as_dict();
      const auto& y = b.as_dict();
      if (x.is_namespace || y.is_namespace) return a.same_object(b);
      if (x.items.size() != y.items.size()) return false;
      for (const auto& [k, v] : x.items) {
        const Value* other = y.find(k);
        if (!other || !(*other == v)) return false;
      }
      return true;
    }
    default:
      return a.same_object(b);
  }
}

int compare(const Value& a, const Value& b) {
  if (a.is_undefined()) throw EvalError(a.undefined_hint());
  if (b.is_undefined()) throw EvalError(b.undefined_hint());
  if (a.is_number() && b.is_number()) {
    if (a.is_float() || b.is_float()) {
      double x = a.as_double(), y = b.as_double();
      return x < y ? -1 : (x > y ? 1 : 0);
    }
    int64_t x = a.as_int(), y = b.as_int();
    return x < y ? -1 : (x > y ? 1 : 0);
  }
  if (a.is_string() && b.is_string()) {
    int c = a.as_string().compare(b.as_string());  // UTF-8 byte order is code-point order
    return c < 0 ? -1 : (c > 0 ? 1 : 0);
  }
  if (a.is_list() && b.is_list() && a.as_list().tuple == b.as_list().tuple) {
    const auto& x = a.as_list().items;
    const auto& y = b.as_list().items;
    for (size_t i = 0; i < x.size() && i < y.size(); ++i)
      if (!(x[i] == y[i])) return compare(x[i], y[i]);
    return x.size() < y.size() ? -1 : (x.size() > y.size() ? 1 : 0);
  }
  throw EvalError(fmt::format("'<' not supported between instances of '{}' and '{}'", a.type_name(),
                              b.type_name()));
}

std::string python_float_repr(double d) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d < 0 ? "-inf" : "inf";
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
  std::string sci(buf, res.ptr);  // shortest round-trip digits, e.g. "-1.25e+02"
  std::string sign;
  if (sci[0] == '-') {
    sign = "-";
    sci.erase(0, 1);
  }
  size_t e = sci.find('e');
  std::string digits = sci.substr(0, e);
  digits.erase(std::remove(digits.begin(), digits.end(), '.'), digits.end());
  int exponent = std::stoi(sci.substr(e + 1));
  int point = exponent + 1;  // value = 0.DIGITS × 10^point
  int n = static_cast<int>(digits.size());
  if (point > 16 || point < -3) {  // CPython switches to exponent notation outside 1e-4..1e16
    std::string mantissa = digits.substr(0, 1);
    if (n > 1) mantissa += "." + digits.substr(1);
    return fmt::format("{}{}e{}{:02d}", sign, mantissa, exponent < 0 ? '-' : '+',
                       std::abs(exponent));
  }
  if (point <= 0) return sign + "0." + std::string(static_cast<size_t>(-point), '0') + digits;
  if (point < n)
    return sign + digits.substr(0, static_cast<size_t>(point)) + "." +
           digits.substr(static_cast<size_t>(point));
  return sign + digits + std::string(static_cast<size_t>(point - n), '0') + ".0";
}

std::string python_str_repr(std::string_view s) {
  bool has_single = s.find('\'') != std::string_view::npos;
  bool has_double = s.find('"') != std::string_view::npos;
  char quote = (has_single && !has_double) ? '"' : '\'';
  std::string out(1, quote);
  for (auto ch : utf8_chars(s)) {
    unsigned char c = static_cast<unsigned char>(ch[0]);
    if (ch.size() == 1 && (c == static_cast<unsigned char>(quote) || c == '\\')) {
      out += '\\';
      out += ch;
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (ch.size() == 1 && (c < 0x20 || c == 0x7f)) {
      out += fmt::format("\\x{:02x}", c);
    } else if (ch.size() == 2 && c == 0xc2 &&
               (static_cast<unsigned char>(ch[1]) <= 0xa0 ||
                static_cast<unsigned char>(ch[1]) == 0xad)) {
      out += fmt::format("\\x{:02x}", static_cast<unsigned char>(ch[1]));  // C1 controls, nbsp
    } else {
      out += ch;
    }
  }
  out += quote;
  return out;
}

namespace {

void json_string(std::string& out, std::string_view s, bool ensure_ascii) {
  out += '"';
  for (auto ch : utf8_chars(s)) {
    unsigned char c = static_cast<unsigned char>(ch[0]);
    switch (c) {
      case '"':
        out += "\\\"";
        continue;
      case '\\':
        out += "\\\\";
        continue;
      case '\n':
        out += "\\n";
        continue;
      case '\r':
        out += "\\r";
        continue;
      case '\t':
        out += "\\t";
        continue;
      case '\b':
        out += "\\b";
        continue;
      case '\f':
        out += "\\f";
        continue;
      default:
        break;
    }
    if (c < 0x20) {
      out += fmt::format("\\u{:04x}", c);
    } else if (ensure_ascii && (c >= 0x7f)) {
      uint32_t cp = ch.size() == 1 ? c : c & (0x3f >> (ch.size() - 1));
      for (size_t i = 1; i < ch.size(); ++i) cp = (cp << 6) | (static_cast<uint32_t>(ch[i]) & 0x3f);
      if (cp >= 0x10000) {
        cp -= 0x10000;
        out += fmt::format("\\u{:04x}\\u{:04x}", 0xd800 + (cp >> 10), 0xdc00 + (cp & 0x3ff));
      } else {
        out += fmt::format("\\u{:04x}", cp);
      }
    } else {
      out += ch;
    }
  }
  out += '"';
}

void json_value(std::string& out, const Value& v, const JsonOptions& o, int depth) {
  auto newline = [&](int level) {
    if (!o.indent) return;
    out += '\n';
    for (int i = 0; i < level; ++i) out += *o.indent;
  };
  switch (v.kind()) {
    case Value::Kind::None:
      out += "null";
      return;
    case Value::Kind::Bool:
      out += v.as_bool() ? "true" : "false";
      return;
    case Value::Kind::Int:
      out += std::to_string(v.as_int());
      return;
    case Value::Kind::Float: {
      double d = v.as_double();
      if (std::isnan(d))
        out += "NaN";
      else if (std::isinf(d))
        out += d < 0 ? "-Infinity" : "Infinity";
      else
        out += python_float_repr(d);
      return;
    }
    case Value::Kind::String:
      json_string(out, v.as_string(), o.ensure_ascii);
      return;
    case Value::Kind::List: {
      const auto& items = v.as_list().items;
      if (items.empty()) {
        out += "[]";
        return;
      }
      out += '[';
      for (size_t i = 0; i < items.size(); ++i) {
        if (i) out += o.item_separator;
        newline(depth + 1);
        json_value(out, items[i], o, depth + 1);
      }
      newline(depth);
      out += ']';
      return;
    }
    case Value::Kind::Dict: {
      if (v.is_namespace()) break;
      auto items = v.as_dict().items;
      if (items.empty()) {
        out += "{}";
        return;
      }
      if (o.sort_keys)
        std::stable_sort(items.begin(), items.end(),
                         [](const auto& a, const auto& b) { return a.first < b.first; });
      out += '{';
      for (size_t i = 0; i < items.size(); ++i) {
        if (i) out += o.item_separator;
        newline(depth + 1);
        json_string(out, items[i].first, o.ensure_ascii);
        out += o.key_separator;
        json_value(out, items[i].second, o, depth + 1);
      }
      newline(depth);
      out += '}';
      return;
    }
    default:
      break;
  }
  throw EvalError(fmt::format("Object of type {} is not JSON serializable", v.type_name()));
}

}  // namespace

std::string to_json(const Value& v, const JsonOptions& options) {
  std::string out;
  json_value(out, v, options, 0);
  return out;
}

}  // namespace smol::jinja
