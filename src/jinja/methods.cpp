// Methods of Python str, dict and list that the sandbox lets templates call, and the global
// functions transformers provides.
#include <fmt/format.h>

#include <algorithm>
#include <ctime>

#include "smol/error.hpp"
#include "jinja/builtins.hpp"
#include "jinja/strings.hpp"

namespace smol::jinja {

namespace {

using MethodFn = Value (*)(const Value& self, const Args& args);
struct Method {
  std::string_view name;
  MethodFn fn;
};

std::optional<std::string> optional_string(const std::optional<Value>& v, std::string_view what) {
  if (!v || v->is_none()) return std::nullopt;
  if (!v->is_string())
    throw EvalError(fmt::format("{} argument must be str or None, not {}", what, v->type_name()));
  return v->as_string();
}

std::string required_string(const std::optional<Value>& v, std::string_view what) {
  if (!v) throw EvalError(fmt::format("{}() is missing a required argument", what));
  if (!v->is_string())
    throw EvalError(fmt::format("{}() argument must be str, not {}", what, v->type_name()));
  return v->as_string();
}

int64_t optional_int(const std::optional<Value>& v, int64_t fallback, std::string_view what) {
  if (!v) return fallback;
  if (!v->is_int() && !v->is_bool())
    throw EvalError(fmt::format("{}() argument must be an integer, not {}", what, v->type_name()));
  return v->as_int();
}

Value string_list(const std::vector<std::string>& parts) {
  std::vector<Value> out(parts.begin(), parts.end());
  return Value::list(std::move(out));
}

const std::string& self_str(const Value& self) { return self.as_string(); }

Value str_strip(const Value& s, const Args& a, bool left, bool right, std::string_view name) {
  auto p = a.bind(name, {"chars"});
  return Value(py_strip(self_str(s), optional_string(p[0], name), left, right));
}

// startswith/endswith take a str or a tuple of str.
Value str_affix(const Value& s, const Args& a, bool prefix) {
  std::string_view name = prefix ? "startswith" : "endswith";
  auto p = a.bind(name, {"prefix"});
  if (!p[0]) throw EvalError(fmt::format("{}() takes at least 1 argument (0 given)", name));
  std::vector<Value> candidates =
      p[0]->is_list() ? p[0]->as_list().items : std::vector<Value>{*p[0]};
  std::string_view text = self_str(s);
  for (const auto& c : candidates) {
    if (!c.is_string())
      throw EvalError(
          fmt::format("{} first arg must be str or a tuple of str, not {}", name, c.type_name()));
    std::string_view affix = c.as_string();
    bool hit =
        affix.size() <= text.size() && (prefix ? text.substr(0, affix.size()) == affix
                                               : text.substr(text.size() - affix.size()) == affix);
    if (hit) return Value(true);
  }
  return Value(false);
}

Value str_split(const Value& s, const Args& a, bool reverse) {
  std::string_view name = reverse ? "rsplit" : "split";
  auto p = a.bind(name, {"sep", "maxsplit"});
  auto sep = optional_string(p[0], name);
  if (sep && sep->empty()) throw EvalError("empty separator");
  int64_t maxsplit = optional_int(p[1], -1, name);
  return string_list(reverse ? py_rsplit(self_str(s), sep, maxsplit)
                             : py_split(self_str(s), sep, maxsplit));
}

// Python's str.isX(): false for the empty string, else every character qualifies.
template <class Pred>
Value str_all(const Value& s, const Args& a, std::string_view name, Pred pred) {
  a.bind(name, {});
  const std::string& t = self_str(s);
  return Value(!t.empty() && std::all_of(t.begin(), t.end(), pred));
}

Value str_cased(const Value& s, const Args& a, bool upper) {
  a.bind(upper ? "isupper" : "islower", {});
  bool any_cased = false;
  for (char c : self_str(s)) {
    bool is_upper = c >= 'A' && c <= 'Z', is_lower = c >= 'a' && c <= 'z';
    if (upper ? is_lower : is_upper) return Value(false);
    any_cased = any_cased || is_upper || is_lower;
  }
  return Value(any_cased);
}

bool is_digit_char(char c) { return c >= '0' && c <= '9'; }
bool is_alpha_char(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

const Method kStrMethods[] = {
    {"strip", [](const Value& s, const Args& a) { return str_strip(s, a, true, true, "strip"); }},
    {"lstrip",
     [](const Value& s, const Args& a) { return str_strip(s, a, true, false, "lstrip"); }},
    {"rstrip",
     [](const Value& s, const Args& a) { return str_strip(s, a, false, true, "rstrip"); }},
    {"startswith", [](const Value& s, const Args& a) { return str_affix(s, a, true); }},
    {"endswith", [](const Value& s, const Args& a) { return str_affix(s, a, false); }},
    {"split", [](const Value& s, const Args& a) { return str_split(s, a, false); }},
    {"rsplit", [](const Value& s, const Args& a) { return str_split(s, a, true); }},
    {"splitlines",
     [](const Value& s, const Args& a) {
       a.bind("splitlines", {});
       return string_list(py_splitlines(self_str(s)));
     }},
    {"upper",
     [](const Value& s, const Args& a) {
       a.bind("upper", {});
       return Value(py_upper(self_str(s)));
     }},
    {"lower",
     [](const Value& s, const Args& a) {
       a.bind("lower", {});
       return Value(py_lower(self_str(s)));
     }},
    {"title",
     [](const Value& s, const Args& a) {
       a.bind("title", {});
       return Value(py_title(self_str(s)));
     }},
    {"capitalize",
     [](const Value& s, const Args& a) {
       a.bind("capitalize", {});
       return Value(py_capitalize(self_str(s)));
     }},
    {"replace",
     [](const Value& s, const Args& a) {
       auto p = a.bind("replace", {"old", "new", "count"});
       return Value(py_replace(self_str(s), required_string(p[0], "replace"),
                               required_string(p[1], "replace"),
                               optional_int(p[2], -1, "replace")));
     }},
    {"find",
     [](const Value& s, const Args& a) {
       auto p = a.bind("find", {"sub"});
       return Value(py_find(self_str(s), required_string(p[0], "find")));
     }},
    {"count",
     [](const Value& s, const Args& a) {
       auto p = a.bind("count", {"sub"});
       return Value(py_count(self_str(s), required_string(p[0], "count")));
     }},
    {"join",
     [](const Value& s, const Args& a) {
       auto p = a.bind("join", {"iterable"});
       if (!p[0]) throw EvalError("join() takes exactly one argument (0 given)");
       std::string out;
       bool first = true;
       for (const auto& item : p[0]->iterate()) {
         if (!item.is_string())
           throw EvalError(
               fmt::format("sequence item: expected str instance, {} found", item.type_name()));
         if (!first) out += self_str(s);
         out += item.as_string();
         first = false;
       }
       return Value(std::move(out));
     }},
    {"isdigit",
     [](const Value& s, const Args& a) { return str_all(s, a, "isdigit", is_digit_char); }},
    {"isalpha",
     [](const Value& s, const Args& a) { return str_all(s, a, "isalpha", is_alpha_char); }},
    {"isalnum",
     [](const Value& s, const Args& a) {
       return str_all(s, a, "isalnum", [](char c) { return is_digit_char(c) || is_alpha_char(c); });
     }},
    {"isspace",
     [](const Value& s, const Args& a) { return str_all(s, a, "isspace", is_py_space); }},
    {"islower", [](const Value& s, const Args& a) { return str_cased(s, a, false); }},
    {"isupper", [](const Value& s, const Args& a) { return str_cased(s, a, true); }},
};

Value dict_view(const Value& self, int which) {  // 0 items, 1 keys, 2 values
  std::vector<Value> out;
  for (const auto& [k, v] : self.as_dict().items) {
    if (which == 0)
      out.push_back(Value::tuple({Value(k), v}));
    else
      out.push_back(which == 1 ? Value(k) : v);
  }
  return Value::list(std::move(out));
}

const Method kDictMethods[] = {
    {"items",
     [](const Value& d, const Args& a) {
       a.bind("items", {});
       return dict_view(d, 0);
     }},
    {"keys",
     [](const Value& d, const Args& a) {
       a.bind("keys", {});
       return dict_view(d, 1);
     }},
    {"values",
     [](const Value& d, const Args& a) {
       a.bind("values", {});
       return dict_view(d, 2);
     }},
    {"get",
     [](const Value& d, const Args& a) {
       auto p = a.bind("get", {"key", "default"});
       if (!p[0]) throw EvalError("get expected at least 1 argument, got 0");
       if (p[0]->is_string())
         if (const Value* v = d.as_dict().find(p[0]->as_string())) return *v;
       return p[1] ? *p[1] : Value(nullptr);
     }},
    {"copy",
     [](const Value& d, const Args& a) {
       a.bind("copy", {});
       return d;
     }},
};

const Method kListMethods[] = {
    {"index",
     [](const Value& l, const Args& a) {
       auto p = a.bind("index", {"value"});
       const auto& items = l.as_list().items;
       for (size_t i = 0; i < items.size(); ++i)
         if (p[0] && items[i] == *p[0]) return Value(static_cast<int64_t>(i));
       throw EvalError("list.index(x): x not in list");
     }},
    {"count",
     [](const Value& l, const Args& a) {
       auto p = a.bind("count", {"value"});
       const auto& items = l.as_list().items;
       return Value(static_cast<int64_t>(std::count_if(
           items.begin(), items.end(), [&](const Value& v) { return p[0] && v == *p[0]; })));
     }},
    {"copy",
     [](const Value& l, const Args& a) {
       a.bind("copy", {});
       return l;
     }},
};

// Methods that would modify a template's inputs; the sandbox refuses them.
constexpr std::string_view kUnsafeDictMethods[] = {"pop", "popitem", "update", "clear",
                                                   "setdefault"};
constexpr std::string_view kUnsafeListMethods[] = {"append", "extend",  "insert", "pop",
                                                   "remove", "reverse", "sort",   "clear"};

template <size_t N>
Value bind_method(const Value& self, std::string_view name, const Method (&table)[N]) {
  for (const auto& m : table)
    if (m.name == name) {
      MethodFn fn = m.fn;
      return Value::function(std::string(name), [self, fn](const Args& a) { return fn(self, a); });
    }
  return Value::undefined("");
}

template <size_t N>
Value unsafe_method(const Value& self, std::string_view name, const std::string_view (&names)[N]) {
  if (std::find(std::begin(names), std::end(names), name) == std::end(names))
    return Value::undefined("");
  std::string message = fmt::format(
      "access to attribute '{}' of '{}' object is unsafe (templates "
      "cannot modify their inputs)",
      name, self.type_name());
  return Value::function(std::string(name),
                         [message](const Args&) -> Value { throw EvalError(message); });
}

}  // namespace

Value find_method(const Value& object, std::string_view name) {
  if (object.is_string()) return bind_method(object, name, kStrMethods);
  if (object.is_mapping()) {
    Value m = bind_method(object, name, kDictMethods);
    return m.is_undefined() ? unsafe_method(object, name, kUnsafeDictMethods) : m;
  }
  if (object.is_list()) {
    Value m = bind_method(object, name, kListMethods);
    return m.is_undefined() ? unsafe_method(object, name, kUnsafeListMethods) : m;
  }
  return Value::undefined("");
}

namespace {

// dict(...) and namespace(...): a mapping or list of pairs, then keyword arguments.
DictValue build_dict(const Args& args, std::string_view what) {
  if (args.positional.size() > 1)
    throw EvalError(fmt::format("{} expected at most 1 positional argument, got {}", what,
                                args.positional.size()));
  DictValue d;
  if (!args.positional.empty()) {
    const Value& init = args.positional[0];
    if (init.is_dict()) {
      d.items = init.as_dict().items;
    } else if (init.is_list()) {
      for (const auto& pair : init.as_list().items) {
        if (!pair.is_list() || pair.as_list().items.size() != 2 ||
            !pair.as_list().items[0].is_string())
          throw EvalError(fmt::format("{} needs (str key, value) pairs", what));
        d.set(pair.as_list().items[0].as_string(), pair.as_list().items[1]);
      }
    } else {
      throw EvalError(fmt::format("{} cannot be built from a {}", what, init.type_name()));
    }
  }
  for (const auto& [k, v] : args.keyword) d.set(k, v);
  return d;
}

Value range_function(const Args& args) {
  if (!args.keyword.empty()) throw EvalError("range() takes no keyword arguments");
  std::vector<int64_t> n;
  for (const auto& v : args.positional) {
    if (!v.is_int() && !v.is_bool())
      throw EvalError(
          fmt::format("'{}' object cannot be interpreted as an integer", v.type_name()));
    n.push_back(v.as_int());
  }
  if (n.empty() || n.size() > 3)
    throw EvalError(fmt::format("range expected 1 to 3 arguments, got {}", n.size()));
  int64_t start = n.size() == 1 ? 0 : n[0];
  int64_t stop = n.size() == 1 ? n[0] : n[1];
  int64_t step = n.size() == 3 ? n[2] : 1;
  if (step == 0) throw EvalError("range() arg 3 must not be zero");
  constexpr int64_t kMaxRange = 100000;  // Jinja2's sandbox limit
  std::vector<Value> out;
  for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) {
    if (static_cast<int64_t>(out.size()) >= kMaxRange)
      throw EvalError("range too big: the sandbox allows at most 100000 items");
    out.emplace_back(i);
  }
  return Value::list(std::move(out));
}

Value strftime_now(const Args& args) {
  auto p = args.bind("strftime_now", {"format"});
  std::string format = required_string(p[0], "strftime_now");
  std::time_t now = std::time(nullptr);
  std::tm local{};
  localtime_r(&now, &local);
  char buf[512];
  size_t n = std::strftime(buf, sizeof buf, format.c_str(), &local);
  if (n == 0 && !format.empty()) throw EvalError("strftime_now(): format produced no output");
  return Value(std::string(buf, n));
}

}  // namespace

DictValue global_functions() {
  DictValue g;
  g.set("range", Value::function("range", range_function));
  g.set("dict", Value::function(
                    "dict", [](const Args& a) { return Value::dict(build_dict(a, "dict()")); }));
  g.set("namespace", Value::function("namespace", [](const Args& a) {
          return Value::namespace_object(build_dict(a, "namespace()"));
        }));
  g.set("raise_exception", Value::function("raise_exception", [](const Args& a) -> Value {
          auto p = a.bind("raise_exception", {"message"});
          // Not an EvalError: the template's own message reaches the caller unchanged.
          throw Error(p[0] ? p[0]->str() : std::string("raise_exception() called"));
        }));
  g.set("strftime_now", Value::function("strftime_now", strftime_now));
  return g;
}

}  // namespace smol::jinja
