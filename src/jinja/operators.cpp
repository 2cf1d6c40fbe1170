// Python semantics of the operators, subscripts and attribute access templates use.
#include <fmt/format.h>

#include <cmath>

#include "jinja/builtins.hpp"
#include "jinja/strings.hpp"

namespace smol::jinja {

namespace {

const char* op_symbol(BinaryOp op) {
  switch (op) {
    case BinaryOp::Add:
      return "+";
    case BinaryOp::Sub:
      return "-";
    case BinaryOp::Mul:
      return "*";
    case BinaryOp::Div:
      return "/";
    case BinaryOp::FloorDiv:
      return "//";
    case BinaryOp::Mod:
      return "%";
    case BinaryOp::Pow:
      return "**";
    case BinaryOp::Concat:
      return "~";
    case BinaryOp::And:
      return "and";
    case BinaryOp::Or:
      return "or";
  }
  return "?";
}

[[noreturn]] void unsupported(BinaryOp op, const Value& a, const Value& b) {
  throw EvalError(fmt::format("unsupported operand type(s) for {}: '{}' and '{}'", op_symbol(op),
                              a.type_name(), b.type_name()));
}

// Python ints never overflow; ours are 64-bit, so say so rather than wrap.
template <class Op>
int64_t checked(int64_t x, int64_t y, Op op) {
  int64_t r = 0;
  if (op(x, y, &r)) throw EvalError("integer overflow in template arithmetic");
  return r;
}
bool add_overflow(int64_t x, int64_t y, int64_t* r) { return __builtin_add_overflow(x, y, r); }
bool sub_overflow(int64_t x, int64_t y, int64_t* r) { return __builtin_sub_overflow(x, y, r); }
bool mul_overflow(int64_t x, int64_t y, int64_t* r) { return __builtin_mul_overflow(x, y, r); }

Value repeat(const Value& seq, int64_t times) {
  const int64_t n = seq.is_string() ? static_cast<int64_t>(seq.as_string().size())
                                    : static_cast<int64_t>(seq.as_list().items.size());
  if (times > 0 && n > 0) check_built_size(times > kMaxBuiltSize / n ? kMaxBuiltSize + 1 : n * times, "'*'");
  if (seq.is_string()) {
    std::string out;
    for (int64_t i = 0; i < times; ++i) out += seq.as_string();
    return Value(std::move(out));
  }
  std::vector<Value> out;
  for (int64_t i = 0; i < times; ++i)
    out.insert(out.end(), seq.as_list().items.begin(), seq.as_list().items.end());
  return seq.as_list().tuple ? Value::tuple(std::move(out)) : Value::list(std::move(out));
}

Value arithmetic(BinaryOp op, const Value& a, const Value& b) {
  bool ints = !a.is_float() && !b.is_float();
  switch (op) {
    case BinaryOp::Add:
      if (ints) return Value(checked(a.as_int(), b.as_int(), add_overflow));
      return Value(a.as_double() + b.as_double());
    case BinaryOp::Sub:
      if (ints) return Value(checked(a.as_int(), b.as_int(), sub_overflow));
      return Value(a.as_double() - b.as_double());
    case BinaryOp::Mul:
      if (ints) return Value(checked(a.as_int(), b.as_int(), mul_overflow));
      return Value(a.as_double() * b.as_double());
    case BinaryOp::Div:
      if (b.as_double() == 0.0) throw EvalError("division by zero");
      return Value(a.as_double() / b.as_double());
    case BinaryOp::FloorDiv:
    case BinaryOp::Mod: {
      if (b.as_double() == 0.0)
        throw EvalError(op == BinaryOp::Mod ? "modulo by zero" : "integer division by zero");
      if (ints) {  // Python rounds the quotient towards negative infinity
        int64_t x = a.as_int(), y = b.as_int();
        if (x == INT64_MIN && y == -1) {  // C++'s x / y overflows (undefined); found by fuzzing
          if (op == BinaryOp::Mod) return Value(int64_t{0});
          throw EvalError("integer overflow in template arithmetic");
        }
        int64_t q = x / y, m = x % y;
        if (m != 0 && ((m < 0) != (y < 0))) {
          --q;
          m += y;
        }
        return op == BinaryOp::Mod ? Value(m) : Value(q);
      }
      // CPython's float divmod, so results match to the last bit.
      double x = a.as_double(), y = b.as_double();
      double m = std::fmod(x, y);
      double div = (x - m) / y;
      if (m != 0) {
        if ((y < 0) != (m < 0)) {
          m += y;
          div -= 1.0;
        }
      } else {
        m = std::copysign(0.0, y);
      }
      if (op == BinaryOp::Mod) return Value(m);
      if (div == 0) return Value(std::copysign(0.0, x / y));
      double q = std::floor(div);
      return Value(div - q > 0.5 ? q + 1.0 : q);
    }
    case BinaryOp::Pow:
      if (ints && b.as_int() >= 0) {
        int64_t result = 1, base = a.as_int();
        for (int64_t e = b.as_int(); e > 0; e >>= 1) {
          if (e & 1) result = checked(result, base, mul_overflow);
          if (e > 1) base = checked(base, base, mul_overflow);
        }
        return Value(result);
      }
      if (a.as_double() == 0.0 && b.as_double() < 0)
        throw EvalError("0.0 cannot be raised to a negative power");
      return Value(std::pow(a.as_double(), b.as_double()));
    default:
      unsupported(op, a, b);
  }
}

// Python's `"%s and %d" % (a, b)` for the conversions templates use: %s %r %d %i %%.
Value percent_format(const std::string& format, const Value& args) {
  std::vector<Value> values =
      (args.is_list() && args.as_list().tuple) ? args.as_list().items : std::vector<Value>{args};
  std::string out;
  size_t used = 0;
  for (size_t i = 0; i < format.size(); ++i) {
    if (format[i] != '%') {
      out += format[i];
      continue;
    }
    char conversion = i + 1 < format.size() ? format[++i] : '\0';
    if (conversion == '%') {
      out += '%';
      continue;
    }
    if (conversion != 's' && conversion != 'r' && conversion != 'd' && conversion != 'i')
      throw EvalError(
          fmt::format("unsupported format character '{}' in '%' formatting", conversion));
    if (used == values.size()) throw EvalError("not enough arguments for format string");
    const Value& v = values[used++];
    if (conversion == 's') {
      out += v.str();
    } else if (conversion == 'r') {
      out += v.repr();
    } else if (v.is_number()) {
      out += std::to_string(v.is_float() ? float_to_int(v.as_double()) : v.as_int());
    } else {
      throw EvalError(
          fmt::format("%{} format: a real number is required, not {}", conversion, v.type_name()));
    }
  }
  if (used != values.size())
    throw EvalError("not all arguments converted during string formatting");
  return Value(std::move(out));
}

}  // namespace

Value binary_op(BinaryOp op, const Value& a, const Value& b) {
  if (op == BinaryOp::Concat) return Value(a.str() + b.str());
  if (a.is_undefined()) throw EvalError(a.undefined_hint());
  if (b.is_undefined()) throw EvalError(b.undefined_hint());
  if (a.is_number() && b.is_number()) return arithmetic(op, a, b);
  if (op == BinaryOp::Add) {
    if (a.is_string() && b.is_string()) return Value(a.as_string() + b.as_string());
    if (a.is_list() && b.is_list() && a.as_list().tuple == b.as_list().tuple) {
      auto items = a.as_list().items;
      items.insert(items.end(), b.as_list().items.begin(), b.as_list().items.end());
      return a.as_list().tuple ? Value::tuple(std::move(items)) : Value::list(std::move(items));
    }
  }
  if (op == BinaryOp::Mul) {
    if ((a.is_string() || a.is_list()) && (b.is_int() || b.is_bool())) return repeat(a, b.as_int());
    if ((b.is_string() || b.is_list()) && (a.is_int() || a.is_bool())) return repeat(b, a.as_int());
  }
  if (op == BinaryOp::Mod && a.is_string()) return percent_format(a.as_string(), b);
  unsupported(op, a, b);
}

bool contains(const Value& container, const Value& item) {
  switch (container.kind()) {
    case Value::Kind::Undefined:
      return false;
    case Value::Kind::String:
      if (!item.is_string())
        throw EvalError(
            fmt::format("'in <string>' requires string as left operand, not {}", item.type_name()));
      return container.as_string().find(item.as_string()) != std::string::npos;
    case Value::Kind::List:
      for (const auto& v : container.as_list().items)
        if (v == item) return true;
      return false;
    case Value::Kind::Dict:
      if (container.is_namespace()) break;
      if (item.is_list() || item.is_dict())
        throw EvalError(fmt::format("unhashable type: '{}'", item.type_name()));
      return item.is_string() && container.as_dict().find(item.as_string()) != nullptr;
    default:
      break;
  }
  throw EvalError(fmt::format("argument of type '{}' is not iterable", container.type_name()));
}

bool compare_op(CompareOp op, const Value& a, const Value& b) {
  switch (op) {
    case CompareOp::Eq:
      return a == b;
    case CompareOp::Ne:
      return !(a == b);
    case CompareOp::Lt:
      return compare(a, b) < 0;
    case CompareOp::Le:
      return compare(a, b) <= 0;
    case CompareOp::Gt:
      return compare(a, b) > 0;
    case CompareOp::Ge:
      return compare(a, b) >= 0;
    case CompareOp::In:
      return contains(b, a);
    case CompareOp::NotIn:
      return !contains(b, a);
  }
  return false;
}

Value get_attribute(const Value& object, std::string_view name) {
  if (object.is_undefined()) throw EvalError(object.undefined_hint());
  Value method = find_method(object, name);
  if (!method.is_undefined()) return method;
  if (object.is_dict())
    if (const Value* v = object.as_dict().find(name)) return *v;
  return Value::undefined(
      fmt::format("'{} object' has no attribute '{}'", object.type_name(), name));
}

Value get_item(const Value& object, const Value& index) {
  if (object.is_undefined()) throw EvalError(object.undefined_hint());
  if ((object.is_list() || object.is_string()) && (index.is_int() || index.is_bool())) {
    int64_t i = index.as_int();
    if (object.is_list()) {
      const auto& items = object.as_list().items;
      int64_t n = static_cast<int64_t>(items.size());
      if (i < 0) i += n;
      if (i >= 0 && i < n) return items[static_cast<size_t>(i)];
    } else {
      auto chars = utf8_chars(object.as_string());
      int64_t n = static_cast<int64_t>(chars.size());
      if (i < 0) i += n;
      if (i >= 0 && i < n) return Value(chars[static_cast<size_t>(i)]);
    }
    return Value::undefined(
        fmt::format("{} object has no element {}", object.type_name(), index.as_int()));
  }
  if (object.is_dict() && index.is_string())
    if (const Value* v = object.as_dict().find(index.as_string())) return *v;
  if (index.is_string()) {
    Value method = find_method(object, index.as_string());
    if (!method.is_undefined()) return method;
  }
  return Value::undefined(
      fmt::format("'{} object' has no attribute {}", object.type_name(), index.repr()));
}

Value slice(const Value& object, const Value& start_v, const Value& stop_v, const Value& step_v) {
  if (object.is_undefined()) throw EvalError(object.undefined_hint());
  if (object.is_mapping()) throw EvalError("unhashable type: 'slice'");
  if (!object.is_list() && !object.is_string())  // slices bypass Jinja2's forgiving getitem
    throw EvalError(fmt::format("'{}' object is not subscriptable", object.type_name()));
  auto index = [](const Value& v) -> std::optional<int64_t> {
    if (v.is_undefined() || v.is_none()) return std::nullopt;
    if (!v.is_int() && !v.is_bool()) throw EvalError("slice indices must be integers or None");
    return v.as_int();
  };
  std::vector<std::string_view> chars;
  if (object.is_string()) chars = utf8_chars(object.as_string());
  int64_t n =
      static_cast<int64_t>(object.is_string() ? chars.size() : object.as_list().items.size());
  int64_t step = index(step_v).value_or(1);
  if (step == 0) throw EvalError("slice step cannot be zero");
  auto clamp = [&](std::optional<int64_t> v, int64_t fallback) {
    if (!v) return fallback;
    int64_t i = *v < 0 ? *v + n : *v;
    if (step > 0) return std::clamp<int64_t>(i, 0, n);
    return std::clamp<int64_t>(i, -1, n - 1);
  };
  int64_t start = clamp(index(start_v), step > 0 ? 0 : n - 1);
  int64_t stop = clamp(index(stop_v), step > 0 ? n : -1);
  std::vector<size_t> picked;
  for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step)
    picked.push_back(static_cast<size_t>(i));
  if (object.is_string()) {
    std::string out;
    for (size_t i : picked) out += chars[i];
    return Value(std::move(out));
  }
  std::vector<Value> out;
  for (size_t i : picked) out.push_back(object.as_list().items[i]);
  return object.as_list().tuple ? Value::tuple(std::move(out)) : Value::list(std::move(out));
}

}  // namespace smol::jinja
