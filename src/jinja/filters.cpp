// Jinja2's builtin filters (the subset chat templates use), with transformers'
// tojson, which is Python json.dumps with ensure_ascii=False instead of Jinja2's HTML-safe one.
#include <charconv>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "jinja/builtins.hpp"
#include "jinja/strings.hpp"

namespace smol::jinja {

namespace {

Value arg_or(const std::optional<Value>& v, Value fallback) { return v ? *v : std::move(fallback); }

int64_t length_of(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::Undefined:
      return 0;
    case Value::Kind::String:
      return static_cast<int64_t>(utf8_chars(v.as_string()).size());
    case Value::Kind::List:
      return static_cast<int64_t>(v.as_list().items.size());
    case Value::Kind::Dict:
      if (!v.is_namespace()) return static_cast<int64_t>(v.as_dict().items.size());
      break;
    default:
      break;
  }
  throw EvalError(fmt::format("object of type '{}' has no len()", v.type_name()));
}

// Jinja2's make_attrgetter: "a.b.0" looks up a, then b, then index 0.
Value lookup_path(const Value& item, const Value& attribute) {
  if (!attribute.is_string()) return get_item(item, attribute);
  Value current = item;
  for (const auto& part : py_split(attribute.as_string(), std::string("."), -1)) {
    int64_t index = 0;
    const auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), index);
    // An all-digit part too large for an integer is looked up as a string key, as Jinja does.
    const bool numeric = !part.empty() && part[0] != '-' && ec == std::errc() && end == part.data() + part.size();
    current = numeric ? get_item(current, Value(index)) : get_item(current, Value(part));
  }
  return current;
}

// Sort key: case-insensitive string comparison unless asked otherwise, like Jinja2's
// ignore_case.
Value sort_key(const Value& v, bool case_sensitive) {
  return (!case_sensitive && v.is_string()) ? Value(py_lower(v.as_string())) : v;
}

Value do_default(const Value& v, const Args& a) {
  auto p = a.bind("default", {"default_value", "boolean"});
  bool boolean = p[1] && p[1]->truthy();
  if (v.is_undefined() || (boolean && !v.truthy())) return arg_or(p[0], Value(""));
  return v;
}

Value do_tojson(const Value& v, const Args& a) {
  auto p = a.bind("tojson", {"ensure_ascii", "indent", "separators", "sort_keys"});
  JsonOptions o;
  o.ensure_ascii = p[0] && p[0]->truthy();
  if (p[1] && !p[1]->is_none()) {
    if (p[1]->is_string())
      o.indent = p[1]->as_string();
    else if (p[1]->is_int())
      o.indent = (check_built_size(p[1]->as_int(), "tojson(indent)"),
                  std::string(static_cast<size_t>(std::max<int64_t>(0, p[1]->as_int())), ' '));
    else
      throw EvalError("tojson(): indent must be an int, a str or None");
    o.item_separator.assign(1, ',');  // json.dumps drops the space after ',' when indenting
  }
  if (p[2] && !p[2]->is_none()) {
    const Value& s = *p[2];
    if (!s.is_list() || s.as_list().items.size() != 2 || !s.as_list().items[0].is_string() ||
        !s.as_list().items[1].is_string())
      throw EvalError("tojson(): separators must be a pair of strings");
    o.item_separator = s.as_list().items[0].as_string();
    o.key_separator = s.as_list().items[1].as_string();
  }
  o.sort_keys = p[3] && p[3]->truthy();
  return Value(to_json(v, o));
}

Value do_join(const Value& v, const Args& a) {
  auto p = a.bind("join", {"d", "attribute"});
  std::string sep = p[0] ? p[0]->str() : "";
  std::string out;
  bool first = true;
  for (const auto& item : v.iterate()) {
    if (!first) out += sep;
    out += (p[1] ? lookup_path(item, *p[1]) : item).str();
    first = false;
  }
  return Value(std::move(out));
}

Value do_first_last(const Value& v, bool last) {
  auto items = v.iterate();
  if (items.empty())
    return Value::undefined(
        fmt::format("No {} item, sequence was empty.", last ? "last" : "first"));
  return last ? items.back() : items.front();
}

std::optional<double> parse_python_float(const std::string& text) {
  std::string s = py_strip(text, std::nullopt, true, true);
  s.erase(std::remove(s.begin(), s.end(), '_'), s.end());
  if (s.empty()) return std::nullopt;
  char* end = nullptr;
  double d = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size()) return std::nullopt;
  return d;
}

Value do_int(const Value& v, const Args& a) {
  auto p = a.bind("int", {"default", "base"});
  Value fallback = arg_or(p[0], Value(0));
  if (v.is_undefined()) throw EvalError(v.undefined_hint());
  if (p[1] && !(p[1]->is_int() && p[1]->as_int() == 10))
    throw EvalError("int(): only base 10 is supported");
  if (v.is_int() || v.is_bool()) return Value(v.as_int());
  if (v.is_float()) {
    if (!std::isfinite(v.as_double()))
      throw EvalError("cannot convert float infinity or NaN to integer");
    return Value(float_to_int(v.as_double()));
  }
  if (v.is_string()) {
    std::string s = py_strip(v.as_string(), std::nullopt, true, true);
    s.erase(std::remove(s.begin(), s.end(), '_'), s.end());
    char* end = nullptr;
    errno = 0;
    long long i = std::strtoll(s.c_str(), &end, 10);
    if (!s.empty() && end == s.c_str() + s.size() && errno == 0)
      return Value(static_cast<int64_t>(i));
    if (auto d = parse_python_float(v.as_string()); d && std::isfinite(*d))
      return Value(static_cast<int64_t>(*d));
  }
  return fallback;
}

Value do_float(const Value& v, const Args& a) {
  auto p = a.bind("float", {"default"});
  if (v.is_undefined()) throw EvalError(v.undefined_hint());
  if (v.is_number()) return Value(v.as_double());
  if (v.is_string())
    if (auto d = parse_python_float(v.as_string())) return Value(*d);
  return arg_or(p[0], Value(0.0));
}

Value do_round(const Value& v, const Args& a) {
  auto p = a.bind("round", {"precision", "method"});
  int64_t precision = p[0] ? p[0]->as_int() : 0;
  std::string method = p[1] ? p[1]->str() : "common";
  if (!v.is_number())
    throw EvalError(fmt::format("round(): expected a number, got {}", v.type_name()));
  if (method == "common") {
    if (!v.is_float() && precision >= 0) return Value(v.as_int());
    // printf rounds the exact binary value half-to-even, as CPython's round() does.
    return Value(std::strtod(
        fmt::format("{:.{}f}", v.as_double(), std::max<int64_t>(precision, 0)).c_str(), nullptr));
  }
  double scale = std::pow(10.0, static_cast<double>(precision));
  if (method == "floor") return Value(std::floor(v.as_double() * scale) / scale);
  if (method == "ceil") return Value(std::ceil(v.as_double() * scale) / scale);
  throw EvalError("round(): method must be 'common', 'ceil' or 'floor'");
}

Value do_indent(const Value& v, const Args& a) {
  auto p = a.bind("indent", {"width", "first", "blank"});
  std::string indention =
      !p[0] ? "    "
            : (p[0]->is_string()
                   ? p[0]->as_string()
                   : (check_built_size(p[0]->as_int(), "indent()"),
                      std::string(static_cast<size_t>(std::max<int64_t>(0, p[0]->as_int())), ' ')));
  bool first = p[1] && p[1]->truthy();
  bool blank = p[2] && p[2]->truthy();
  if (v.is_undefined()) throw EvalError(v.undefined_hint());
  if (!v.is_string())
    throw EvalError(fmt::format("indent(): expected a string, got {}", v.type_name()));
  auto lines = py_splitlines(v.as_string() + "\n");
  std::string out;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (i) out += "\n";
    if (i > 0 && (blank || !lines[i].empty())) out += indention;
    out += lines[i];
  }
  return Value(first ? indention + out : out);
}

Value do_sort(const Value& v, const Args& a) {
  auto p = a.bind("sort", {"reverse", "case_sensitive", "attribute"});
  bool reverse = p[0] && p[0]->truthy();
  bool case_sensitive = p[1] && p[1]->truthy();
  auto items = v.iterate();
  auto key = [&](const Value& x) {
    return sort_key(p[2] ? lookup_path(x, *p[2]) : x, case_sensitive);
  };
  std::stable_sort(items.begin(), items.end(), [&](const Value& x, const Value& y) {
    return reverse ? compare(key(y), key(x)) < 0 : compare(key(x), key(y)) < 0;
  });
  return Value::list(std::move(items));
}

Value do_dictsort(const Value& v, const Args& a) {
  auto p = a.bind("dictsort", {"case_sensitive", "by", "reverse"});
  if (!v.is_mapping()) throw EvalError("dictsort(): expected a dict");
  bool case_sensitive = p[0] && p[0]->truthy();
  std::string by = p[1] ? p[1]->str() : "key";
  if (by != "key" && by != "value") throw EvalError("dictsort(): 'by' must be 'key' or 'value'");
  bool reverse = p[2] && p[2]->truthy();
  auto items = v.as_dict().items;
  auto key = [&](const auto& kv) {
    return sort_key(by == "key" ? Value(kv.first) : kv.second, case_sensitive);
  };
  std::stable_sort(items.begin(), items.end(), [&](const auto& x, const auto& y) {
    return reverse ? compare(key(y), key(x)) < 0 : compare(key(x), key(y)) < 0;
  });
  std::vector<Value> out;
  for (auto& [k, val] : items) out.push_back(Value::tuple({Value(k), val}));
  return Value::list(std::move(out));
}

Value do_unique(const Value& v, const Args& a) {
  auto p = a.bind("unique", {"case_sensitive", "attribute"});
  bool case_sensitive = p[0] && p[0]->truthy();
  std::vector<Value> seen, out;
  for (const auto& item : v.iterate()) {
    Value k = sort_key(p[1] ? lookup_path(item, *p[1]) : item, case_sensitive);
    if (std::find(seen.begin(), seen.end(), k) != seen.end()) continue;
    seen.push_back(k);
    out.push_back(item);
  }
  return Value::list(std::move(out));
}

Value do_min_max(const Value& v, const Args& a, bool max) {
  auto p = a.bind(max ? "max" : "min", {"case_sensitive", "attribute"});
  bool case_sensitive = p[0] && p[0]->truthy();
  auto items = v.iterate();
  if (items.empty())
    return Value::undefined(fmt::format("No aggregated item, sequence was empty."));
  auto key = [&](const Value& x) {
    return sort_key(p[1] ? lookup_path(x, *p[1]) : x, case_sensitive);
  };
  const Value* best = &items[0];
  for (const auto& item : items) {
    int c = compare(key(item), key(*best));
    if (max ? c > 0 : c < 0) best = &item;
  }
  return *best;
}

Value do_sum(const Value& v, const Args& a) {
  auto p = a.bind("sum", {"attribute", "start"});
  Value total = arg_or(p[1], Value(0));
  for (const auto& item : v.iterate())
    total = binary_op(BinaryOp::Add, total, p[0] ? lookup_path(item, *p[0]) : item);
  return total;
}

Value do_map(const Value& v, const Args& a) {
  std::vector<Value> out;
  if (a.positional.empty()) {
    std::optional<Value> attribute, fallback;
    for (const auto& [k, val] : a.keyword) {
      if (k == "attribute")
        attribute = val;
      else if (k == "default")
        fallback = val;
      else
        throw EvalError(fmt::format("map(): unexpected keyword argument '{}'", k));
    }
    if (!attribute) throw EvalError("map() needs a filter name or attribute=");
    for (const auto& item : v.iterate()) {
      Value x = lookup_path(item, *attribute);
      out.push_back(x.is_undefined() && fallback ? *fallback : x);
    }
    return Value::list(std::move(out));
  }
  std::string name = a.positional[0].str();
  FilterFn filter = find_filter(name);
  if (!filter) throw EvalError(fmt::format("map(): no filter named '{}'", name));
  Args rest{std::vector<Value>(a.positional.begin() + 1, a.positional.end()), a.keyword};
  for (const auto& item : v.iterate()) out.push_back(filter(item, rest));
  return Value::list(std::move(out));
}

// select/reject and their *attr forms: keep items whose (attribute) passes the named test.
Value do_select(const Value& v, const Args& a, bool by_attribute, bool keep_when) {
  size_t at = 0;
  std::optional<Value> attribute;
  if (by_attribute) {
    if (a.positional.empty()) throw EvalError("missing parameter for attribute name");
    attribute = a.positional[at++];
  }
  TestFn test = nullptr;
  Args rest;
  if (at < a.positional.size()) {
    std::string name = a.positional[at].str();
    test = find_test(name);
    if (!test) throw EvalError(fmt::format("no test named '{}'", name));
    rest.positional.assign(a.positional.begin() + static_cast<std::ptrdiff_t>(at) + 1,
                           a.positional.end());
    rest.keyword = a.keyword;
  }
  std::vector<Value> out;
  for (const auto& item : v.iterate()) {
    Value x = attribute ? lookup_path(item, *attribute) : item;
    bool passed = test ? test(x, rest) : x.truthy();
    if (passed == keep_when) out.push_back(item);
  }
  return Value::list(std::move(out));
}

Value do_reverse(const Value& v, const Args& a) {
  a.bind("reverse", {});
  if (v.is_string()) return slice(v, Value(), Value(), Value(-1));
  auto items = v.iterate();
  std::reverse(items.begin(), items.end());
  return Value::list(std::move(items));
}

Value do_escape(const Value& v, const Args& a) {
  a.bind("escape", {});
  std::string out;
  for (char c : v.str()) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&#34;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return Value(std::move(out));
}

Value do_items(const Value& v, const Args& a) {
  a.bind("items", {});
  if (v.is_undefined()) return Value::list({});
  if (!v.is_mapping()) throw EvalError("Can only get item pairs from a mapping.");
  return find_method(v, "items").as_callable().call(Args{});
}

template <class F>
Value string_filter(const Value& v, const Args& a, std::string_view name, F f) {
  a.bind(name, {});
  return Value(f(v.str()));
}

struct NamedFilter {
  std::string_view name;
  FilterFn fn;
};

const NamedFilter kFilters[] = {
    {"abs",
     [](const Value& v, const Args& a) {
       a.bind("abs", {});
       if (v.is_float()) return Value(std::fabs(v.as_double()));
       if (v.is_int() || v.is_bool()) return Value(std::abs(v.as_int()));
       throw EvalError(fmt::format("bad operand type for abs(): '{}'", v.type_name()));
     }},
    {"attr",
     [](const Value& v, const Args& a) {
       auto p = a.bind("attr", {"name"});
       return get_attribute(v, p[0] ? p[0]->str() : "");
     }},
    {"capitalize", [](const Value& v,
                      const Args& a) { return string_filter(v, a, "capitalize", py_capitalize); }},
    {"count",
     [](const Value& v, const Args& a) {
       a.bind("count", {});
       return Value(length_of(v));
     }},
    {"d", do_default},
    {"default", do_default},
    {"dictsort", do_dictsort},
    {"e", do_escape},
    {"escape", do_escape},
    {"first",
     [](const Value& v, const Args& a) {
       a.bind("first", {});
       return do_first_last(v, false);
     }},
    {"float", do_float},
    {"indent", do_indent},
    {"int", do_int},
    {"items", do_items},
    {"join", do_join},
    {"last",
     [](const Value& v, const Args& a) {
       a.bind("last", {});
       return do_first_last(v, true);
     }},
    {"length",
     [](const Value& v, const Args& a) {
       a.bind("length", {});
       return Value(length_of(v));
     }},
    {"list",
     [](const Value& v, const Args& a) {
       a.bind("list", {});
       return Value::list(v.iterate());
     }},
    {"lower", [](const Value& v, const Args& a) { return string_filter(v, a, "lower", py_lower); }},
    {"map", do_map},
    {"max", [](const Value& v, const Args& a) { return do_min_max(v, a, true); }},
    {"min", [](const Value& v, const Args& a) { return do_min_max(v, a, false); }},
    {"reject", [](const Value& v, const Args& a) { return do_select(v, a, false, false); }},
    {"rejectattr", [](const Value& v, const Args& a) { return do_select(v, a, true, false); }},
    {"replace",
     [](const Value& v, const Args& a) {
       auto p = a.bind("replace", {"old", "new", "count"});
       if (!p[0] || !p[1]) throw EvalError("replace() needs the old and new strings");
       int64_t count = (p[2] && !p[2]->is_none()) ? p[2]->as_int() : -1;
       return Value(py_replace(v.str(), p[0]->str(), p[1]->str(), count));
     }},
    {"reverse", do_reverse},
    {"round", do_round},
    {"safe",
     [](const Value& v, const Args& a) {
       a.bind("safe", {});
       return v;
     }},
    {"select", [](const Value& v, const Args& a) { return do_select(v, a, false, true); }},
    {"selectattr", [](const Value& v, const Args& a) { return do_select(v, a, true, true); }},
    {"sort", do_sort},
    {"string",
     [](const Value& v, const Args& a) {
       a.bind("string", {});
       return Value(v.str());
     }},
    {"sum", do_sum},
    {"title",
     [](const Value& v, const Args& a) { return string_filter(v, a, "title", jinja_title); }},
    {"tojson", do_tojson},
    {"trim",
     [](const Value& v, const Args& a) {
       auto p = a.bind("trim", {"chars"});
       std::optional<std::string> chars;
       if (p[0] && !p[0]->is_none()) chars = p[0]->str();
       return Value(py_strip(v.str(), chars, true, true));
     }},
    {"unique", do_unique},
    {"upper", [](const Value& v, const Args& a) { return string_filter(v, a, "upper", py_upper); }},
};

}  // namespace

FilterFn find_filter(std::string_view name) {
  for (const auto& f : kFilters)
    if (f.name == name) return f.fn;
  return nullptr;
}

}  // namespace smol::jinja
