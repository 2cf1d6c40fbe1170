// JSON Schema → GBNF. Every keyword is either turned into grammar, known to be an annotation,
// or refused with its JSON pointer: a constraint is never silently dropped.
//
// What the grammar produces is a subset of what the schema accepts, chosen so that a model
// always finishes: properties in the schema's order, each once (required ones always,
// optional ones maybe); no extra properties unless additionalProperties allows them (then
// keys without escapes, none equal to a declared name; extra keys are not checked against
// each other, so a free-form object may repeat one); bounded whitespace; numbers with at
// most 16 integer digits, 16 decimals and a 2-digit exponent; under minimum/maximum, no
// exponent and decimals only where the integer part keeps the value in range (values
// between a fractional bound and the next integer are not produced).
#include <fmt/format.h>

#include <cmath>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "generate/json_schema_rules.hpp"
#include "generate/json_schema_words.hpp"
#include "smol/error.hpp"
#include "smol/grammar.hpp"

namespace smol {

namespace {

using namespace json_gbnf;

[[noreturn]] void fail(const std::string& pointer, const std::string& what) {
  throw Error(fmt::format("JSON Schema{}: {}", pointer.empty() ? "" : " at " + pointer, what));
}

class Converter {
 public:
  explicit Converter(Json root) : root_(std::move(root)) {}

  std::string run() {
    const std::string top = visit(root_, "root", "");
    std::string out = "root ::= " + top + "\n";
    for (const auto& [name, body] : rules_) out += name + " ::= " + (body.empty() ? "\"\"" : body) + "\n";
    for (const std::string& p : used_) {
      if (!rules_.count(p)) out += fmt::format("{} ::= {}\n", p, find_primitive(p)->body);
    }
    return out;
  }

 private:
  // A primitive rule by name, with the primitives it uses.
  std::string prim(const std::string& name) {
    if (used_.insert(name).second) {
      for (const char* u : find_primitive(name)->uses) prim(u);
    }
    return name;
  }

  std::string new_rule(const std::string& hint, const std::string& body) {
    std::string base;
    for (char c : hint) base += std::isalnum(static_cast<unsigned char>(c)) ? c : '-';
    if (base.empty() || base == "root" || find_primitive(base)) base = "r-" + base;
    std::string name = base;
    for (int i = 2; rules_.count(name); ++i) name = fmt::format("{}-{}", base, i);
    rules_[name] = body;
    return name;
  }

  void check_keywords(const Json& s, const std::string& ptr) {
    for (const auto& [key, _] : s.items()) {
      if (kAnnotations.count(key) || kObjectWords.count(key) || kArrayWords.count(key) || kStringWords.count(key) ||
          kNumberWords.count(key) || kOtherWords.count(key)) {
        continue;
      }
      fail(ptr, fmt::format("the keyword '{}' is not supported (smol would have to ignore it)", key));
    }
  }

  // Keywords beside `except` that constrain the value (not annotations, not $defs).
  static std::vector<std::string> constraints_besides(const Json& s, const std::set<std::string>& except) {
    std::vector<std::string> out;
    for (const auto& [key, _] : s.items()) {
      if (!kAnnotations.count(key) && !except.count(key) && key != "$defs" && key != "definitions") out.push_back(key);
    }
    return out;
  }

  const Json& resolve(const std::string& ref, const std::string& ptr) {
    if (ref.empty() || ref[0] != '#') fail(ptr, fmt::format("$ref '{}' is not a local reference (#/...)", ref));
    const Json* at = &root_;
    size_t i = 1;
    while (i < ref.size()) {
      if (ref[i] != '/') fail(ptr, fmt::format("$ref '{}' is not a JSON pointer", ref));
      size_t j = ref.find('/', i + 1);
      if (j == std::string::npos) j = ref.size();
      std::string token = ref.substr(i + 1, j - i - 1);
      for (size_t k = 0; (k = token.find('~', k)) != std::string::npos; ++k) {
        token.replace(k, 2, k + 1 < token.size() && token[k + 1] == '1' ? "/" : "~");
      }
      if (at->is_object() && at->contains(token)) {
        at = &(*at)[token];
      } else if (at->is_array() && !token.empty() && token.find_first_not_of("0123456789") == std::string::npos &&
                 std::stoul(token) < at->size()) {
        at = &(*at)[std::stoul(token)];
      } else {
        fail(ptr, fmt::format("$ref '{}' points at nothing", ref));
      }
      i = j;
    }
    return *at;
  }

  std::string visit(const Json& s, const std::string& hint, const std::string& ptr) {
    if (s.is_boolean()) {
      if (!s.get<bool>()) fail(ptr, "the schema 'false' allows no value");
      return prim("value");
    }
    if (!s.is_object()) fail(ptr, "a schema must be an object or a boolean");
    check_keywords(s, ptr);
    if (s.contains("$ref")) {
      if (!s["$ref"].is_string()) fail(ptr + "/$ref", "must be a string");
      if (auto extra = constraints_besides(s, {"$ref"}); !extra.empty()) {
        fail(ptr, fmt::format("'{}' beside '$ref' is not supported: move it into the referenced schema", extra[0]));
      }
      const std::string ref = s["$ref"].get<std::string>();
      auto it = refs_.find(ref);
      if (it != refs_.end()) return it->second;
      const std::string name = new_rule("ref-" + ref.substr(ref.rfind('/') + 1), "");
      refs_[ref] = name;
      const std::string body = visit(resolve(ref, ptr), name, ref.substr(1));
      rules_[name] = body;
      return name;
    }
    for (const char* combiner : {"anyOf", "oneOf", "allOf"}) {
      if (!s.contains(combiner)) continue;
      const Json& list = s[combiner];
      const std::string where = ptr + "/" + combiner;
      if (!list.is_array() || list.empty()) fail(where, "must be a non-empty array of schemas");
      if (auto extra = constraints_besides(s, {combiner}); !extra.empty()) {
        fail(ptr, fmt::format("'{}' beside '{}' is not supported: move it into each branch", extra[0], combiner));
      }
      if (std::string(combiner) == "allOf") {
        if (list.size() != 1) fail(where, "with more than one schema is not supported");
        return visit(list[0], hint, where + "/0");
      }
      if (std::string(combiner) == "oneOf") check_disjoint(list, where);
      std::string body;
      for (size_t i = 0; i < list.size(); ++i) {
        body += (i ? " | " : "") + visit(list[i], fmt::format("{}-{}", hint, i), fmt::format("{}/{}", where, i));
      }
      return new_rule(hint, body);
    }
    if (s.contains("const") || s.contains("enum")) return enumeration(s, hint, ptr);

    std::vector<std::string> types;
    if (s.contains("type")) {
      const Json& t = s["type"];
      if (t.is_string()) {
        types.push_back(t.get<std::string>());
      } else if (t.is_array() && !t.empty()) {
        for (const Json& x : t) {
          if (!x.is_string()) fail(ptr + "/type", "must be a type name or a list of them");
          types.push_back(x.get<std::string>());
        }
      } else {
        fail(ptr + "/type", "must be a type name or a non-empty list of them");
      }
    } else {
      // No type: what the keywords imply, or any value.
      const int groups = has_any(s, kObjectWords) + has_any(s, kArrayWords) + has_any(s, kStringWords) +
                         has_any(s, kNumberWords);
      if (groups > 1) fail(ptr, "keywords of several types without 'type': say which types are meant");
      if (has_any(s, kObjectWords)) types = {"object"};
      else if (has_any(s, kArrayWords)) types = {"array"};
      else if (has_any(s, kStringWords)) types = {"string"};
      else if (has_any(s, kNumberWords)) types = {"number"};
    }
    if (s.contains("nullable")) {
      if (!s["nullable"].is_boolean()) fail(ptr + "/nullable", "must be true or false");
      if (s["nullable"].get<bool>() && !types.empty()) types.push_back("null");
    }
    if (types.empty()) return prim("value");
    std::string body;
    std::set<std::string> seen;
    for (const std::string& t : types) {
      if (!seen.insert(t).second) continue;
      body += (body.empty() ? "" : " | ") + typed(s, t, types.size() > 1 ? hint + "-" + t : hint, ptr);
    }
    return seen.size() == 1 ? body : new_rule(hint, body);
  }

  std::string enumeration(const Json& s, const std::string& hint, const std::string& ptr) {
    if (auto extra = constraints_besides(s, {"const", "enum", "type", "nullable"}); !extra.empty()) {
      fail(ptr, fmt::format("'{}' beside 'enum'/'const' is not supported: list only the values that satisfy it", extra[0]));
    }
    std::vector<Json> values;
    if (s.contains("const")) values.push_back(s["const"]);
    if (s.contains("enum")) {
      if (!s["enum"].is_array() || s["enum"].empty()) fail(ptr + "/enum", "must be a non-empty array");
      for (const Json& v : s["enum"]) {
        if (!s.contains("const") || v == s["const"]) values.push_back(v);
      }
    }
    std::vector<std::string> types;
    if (s.contains("type")) {
      const Json& t = s["type"];
      if (t.is_string()) types.push_back(t.get<std::string>());
      if (t.is_array()) {
        for (const Json& x : t) types.push_back(x.get<std::string>());
      }
      if (s.value("nullable", false)) types.push_back("null");
    }
    std::string body;
    for (const Json& v : values) {
      if (!types.empty() && std::none_of(types.begin(), types.end(), [&](const std::string& t) { return type_accepts(t, v); })) {
        continue;  // a value the type refuses is never valid
      }
      body += (body.empty() ? "" : " | ") + literal(v.dump(-1, ' ', false, nlohmann::json::error_handler_t::strict));
    }
    if (body.empty()) fail(ptr, "no value of 'enum'/'const' satisfies 'type'");
    return new_rule(hint, body);
  }

  std::string typed(const Json& s, const std::string& type, const std::string& hint, const std::string& ptr) {
    if (type == "string") return string_rule(s, hint, ptr);
    if (type == "integer" || type == "number") return number_rule(s, type, hint, ptr);
    if (type == "boolean") return prim("boolean");
    if (type == "null") return prim("null");
    if (type == "object") return object_rule(s, hint, ptr);
    if (type == "array") return array_rule(s, hint, ptr);
    fail(ptr + "/type", fmt::format("'{}' is not a JSON Schema type", type));
  }

  static std::optional<uint64_t> count(const Json& s, const char* key, const std::string& ptr) {
    if (!s.contains(key)) return std::nullopt;
    const Json& v = s[key];
    if (!v.is_number_unsigned() && !(v.is_number_integer() && v.get<int64_t>() >= 0)) {
      fail(ptr + "/" + key, "must be a non-negative integer");
    }
    const uint64_t n = v.get<uint64_t>();
    if (n > 100000) fail(ptr + "/" + key, "above 100000 is not supported");
    return n;
  }

  static std::string repeat(const std::string& item, uint64_t lo, std::optional<uint64_t> hi) {
    if (hi && *hi == lo) return lo == 0 ? "" : fmt::format("{}{{{}}}", item, lo);
    if (!hi) return lo == 0 ? item + "*" : fmt::format("{}{{{},}}", item, lo);
    return fmt::format("{}{{{},{}}}", item, lo, *hi);
  }

  std::string string_rule(const Json& s, const std::string& hint, const std::string& ptr) {
    const auto lo = count(s, "minLength", ptr), hi = count(s, "maxLength", ptr);
    if (lo && hi && *hi < *lo) fail(ptr, "maxLength is below minLength");
    if (s.contains("format")) {
      if (lo || hi) fail(ptr, "minLength/maxLength with 'format' is not supported");
      if (!s["format"].is_string()) fail(ptr + "/format", "must be a string");
      const std::string f = s["format"].get<std::string>();
      if (f != "date" && f != "time" && f != "date-time" && f != "uuid") {
        fail(ptr + "/format", fmt::format("the format '{}' is not supported (date, time, date-time, uuid are)", f));
      }
      return new_rule(hint, "\"\\\"\" " + prim(f) + " \"\\\"\"");
    }
    if (!lo && !hi) return prim("string");
    const std::string body = repeat(prim("char"), lo.value_or(0), hi);
    return new_rule(hint, "\"\\\"\" " + body + " \"\\\"\"");
  }

  static std::optional<double> bound(const Json& s, const char* key, const std::string& ptr) {
    if (!s.contains(key)) return std::nullopt;
    if (!s[key].is_number()) fail(ptr + "/" + key, "must be a number");
    return s[key].get<double>();
  }

  std::string number_rule(const Json& s, const std::string& type, const std::string& hint, const std::string& ptr) {
    std::optional<double> lo = bound(s, "minimum", ptr), hi = bound(s, "maximum", ptr);
    bool lo_ex = false, hi_ex = false;
    // exclusiveMinimum: a number (2019+) or a flag on minimum (draft 4).
    for (const auto& [key, target, flag] : {std::tuple{"exclusiveMinimum", &lo, &lo_ex}, std::tuple{"exclusiveMaximum", &hi, &hi_ex}}) {
      if (!s.contains(key)) continue;
      const Json& v = s[key];
      if (v.is_boolean()) {
        *flag = v.get<bool>();
      } else if (v.is_number()) {
        const double x = v.get<double>();
        const bool is_min = std::string(key) == "exclusiveMinimum";
        if (!*target || (is_min ? x >= **target : x <= **target)) {
          *target = x;
          *flag = true;
        }
      } else {
        fail(ptr + "/" + key, "must be a number");
      }
    }
    if (!lo && !hi) return prim(type);
    std::string body;
    if (type == "integer") {
      auto clamp = [](double x) { return static_cast<int64_t>(std::clamp(x, -1e16, 1e16)); };
      std::optional<int64_t> a, b;
      if (lo) a = clamp(lo_ex ? std::floor(*lo) + 1 : std::ceil(*lo));
      if (hi) b = clamp(hi_ex ? std::ceil(*hi) - 1 : std::floor(*hi));
      body = integer_range(a, b);
    } else {
      body = bounded_number(lo, lo_ex, hi, hi_ex);
    }
    if (body.empty()) {
      fail(ptr, type == "integer" ? "no integer lies within minimum/maximum"
                                  : "no number smol can produce lies within minimum/maximum (it bounds the "
                                    "integer part: give a range that holds an integer)");
    }
    return new_rule(hint, body);
  }

  std::string object_rule(const Json& s, const std::string& hint, const std::string& ptr) {
    // {"type": "object"} alone (or with additionalProperties: true) is any object.
    if (!s.contains("properties") && !s.contains("required") &&
        (!s.contains("additionalProperties") || s["additionalProperties"] == Json(true))) {
      return prim("object");
    }
    std::vector<std::pair<std::string, const Json*>> props;
    static const Json kAny = true;
    if (s.contains("properties")) {
      if (!s["properties"].is_object()) fail(ptr + "/properties", "must be an object");
      for (const auto& [k, v] : s["properties"].items()) props.push_back({k, &v});
    }
    std::set<std::string> required;
    if (s.contains("required")) {
      if (!s["required"].is_array()) fail(ptr + "/required", "must be an array of names");
      for (const Json& r : s["required"]) {
        if (!r.is_string()) fail(ptr + "/required", "must be an array of names");
        required.insert(r.get<std::string>());
      }
    }
    const Json* extra = nullptr;  // additionalProperties' schema, when extra keys are allowed
    if (s.contains("additionalProperties")) {
      const Json& a = s["additionalProperties"];
      if (!a.is_boolean() && !a.is_object()) fail(ptr + "/additionalProperties", "must be a boolean or a schema");
      if (!(a.is_boolean() && !a.get<bool>())) extra = &a;
    }
    for (const std::string& r : required) {
      if (std::none_of(props.begin(), props.end(), [&](const auto& p) { return p.first == r; })) {
        if (s.contains("additionalProperties") && !extra) {
          fail(ptr + "/required", fmt::format("'{}' is required but additionalProperties is false and it is not a property", r));
        }
        props.push_back({r, extra ? extra : &kAny});
      }
    }
    std::vector<std::string> kv;
    for (const auto& [name, schema] : props) {
      const std::string value = visit(*schema, hint + "-" + name, ptr + "/properties/" + name);
      const std::string key = Json(name).dump(-1, ' ', false, nlohmann::json::error_handler_t::strict);
      kv.push_back(new_rule(hint + "-" + name + "-kv", literal(key) + " \":\" " + prim("ws") + " " + value));
    }
    std::string extra_kv;
    if (extra) {
      std::vector<std::string> names;
      for (const auto& p : props) names.push_back(p.first);
      const std::string value = visit(*extra, hint + "-additional", ptr + "/additionalProperties");
      extra_kv = new_rule(hint + "-additional-kv", "\"\\\"\" " + key_not_in(names, hint) + " \"\\\"\" \":\" " +
                                                      prim("ws") + " " + value);
    }
    // first_i: properties i.. with none written yet; rest_i: some written (a comma first).
    const size_t n = props.size();
    std::string rest = new_rule(hint + "-rest", !extra ? "" : "( \",\" " + prim("ws") + " " + extra_kv + " )*");
    std::string first = new_rule(hint + "-first", !extra ? "" : "( " + extra_kv + " ( \",\" ws " + extra_kv + " )* )?");
    for (size_t i = n; i-- > 0;) {
      const bool req = required.count(props[i].first) > 0;
      const std::string sep = "\",\" " + prim("ws") + " " + kv[i];
      const std::string r = req ? sep + " " + rest : "( " + sep + " )? " + rest;
      const std::string f = req ? kv[i] + " " + rest : kv[i] + " " + rest + " | " + first;
      rest = new_rule(fmt::format("{}-rest{}", hint, i), r);
      first = new_rule(fmt::format("{}-first{}", hint, i), f);
    }
    return new_rule(hint, "\"{\" " + prim("ws") + " " + first + " " + prim("ws") + " \"}\"");
  }

  // A JSON key body (between the quotes) without escapes that equals none of `names`: a
  // trie of the names, leaving it at any character it does not continue with.
  struct KeyTrie {
    std::map<uint32_t, KeyTrie> next;
    bool name = false;
  };

  static std::vector<uint32_t> code_points(const std::string& s) {
    std::vector<uint32_t> out;
    for (size_t i = 0; i < s.size();) {
      const auto c = static_cast<unsigned char>(s[i]);
      const int len = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
      uint32_t cp = len == 1 ? c : c & (0x7F >> len);
      for (int k = 1; k < len && i + k < s.size(); ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
      out.push_back(cp);
      i += static_cast<size_t>(len);
    }
    return out;
  }

  std::string key_rule(const KeyTrie& t, const std::string& hint, const std::string& plain) {
    std::vector<std::string> alts;
    if (!t.name) alts.push_back("");
    std::string other = R"([^"\\\x00-\x1F\x7F)";
    for (const auto& [cp, child] : t.next) {
      if (cp == '"' || cp == '\\' || cp < 0x20 || cp == 0x7F) continue;  // no plain key continues so
      other += class_char(cp);
      alts.push_back(fmt::format("[{}] {}", class_char(cp), key_rule(child, hint, plain)));
    }
    alts.push_back(other + "] " + plain + "*");
    std::string body;
    for (size_t i = 0; i < alts.size(); ++i) body += (i ? " | " : "") + alts[i];
    return new_rule(hint + "-key", body);
  }

  std::string key_not_in(const std::vector<std::string>& names, const std::string& hint) {
    KeyTrie root;
    for (const std::string& n : names) {
      KeyTrie* t = &root;
      for (uint32_t cp : code_points(n)) t = &t->next[cp];
      t->name = true;
    }
    return key_rule(root, hint, new_rule(hint + "-key-char", R"([^"\\\x00-\x1F\x7F])"));
  }

  std::string array_rule(const Json& s, const std::string& hint, const std::string& ptr) {
    if (s.contains("uniqueItems")) {
      if (!s["uniqueItems"].is_boolean()) fail(ptr + "/uniqueItems", "must be true or false");
      if (s["uniqueItems"].get<bool>()) fail(ptr + "/uniqueItems", "uniqueItems: true is not supported");
    }
    const uint64_t lo = count(s, "minItems", ptr).value_or(0);
    std::optional<uint64_t> hi = count(s, "maxItems", ptr);
    if (hi && *hi < lo) fail(ptr, "maxItems is below minItems");
    std::vector<std::string> prefix;
    if (s.contains("prefixItems")) {
      if (!s["prefixItems"].is_array()) fail(ptr + "/prefixItems", "must be an array of schemas");
      for (size_t i = 0; i < s["prefixItems"].size(); ++i) {
        prefix.push_back(visit(s["prefixItems"][i], fmt::format("{}-{}", hint, i), fmt::format("{}/prefixItems/{}", ptr, i)));
      }
    }
    std::string item;
    if (s.contains("items") && s["items"] == Json(false)) {
      hi = std::min<uint64_t>(hi.value_or(prefix.size()), prefix.size());
      if (*hi < lo) fail(ptr, "minItems asks for more items than prefixItems allows with items: false");
    } else {
      item = s.contains("items") ? visit(s["items"], hint + "-item", ptr + "/items") : prim("value");
    }
    const std::string ws = prim("ws");
    if (prefix.empty() && !s.contains("prefixItems") && !s.contains("minItems") && !s.contains("maxItems") &&
        !s.contains("items")) {
      return prim("array");
    }
    std::string body;
    if (hi && *hi == 0) {
      body = "";
    } else if (prefix.empty()) {
      const std::string more = repeat("( \",\" " + ws + " " + item + " )", lo == 0 ? 0 : lo - 1,
                                      hi ? std::optional<uint64_t>(*hi - 1) : std::nullopt);
      body = item + " " + more + " " + ws;
      if (lo == 0) body = "( " + body + " )?";
    } else {
      // Element j onwards, j elements written.
      std::function<std::string(uint64_t)> from = [&](uint64_t j) -> std::string {
        if (hi && j >= *hi) return "";
        const std::string sep = j == 0 ? "" : "\",\" " + ws + " ";
        if (j >= prefix.size() && j >= lo) {
          if (j == 0) return "( " + item + " " + repeat("( \",\" " + ws + " " + item + " )", 0, hi ? std::optional<uint64_t>(*hi - 1) : std::nullopt) + " )?";
          return repeat("( \",\" " + ws + " " + item + " )", 0, hi ? std::optional<uint64_t>(*hi - j) : std::nullopt);
        }
        const std::string elem = j < prefix.size() ? prefix[j] : item;
        const std::string rest = new_rule(fmt::format("{}-from{}", hint, j + 1), from(j + 1));
        return j < lo ? sep + elem + " " + rest : "( " + sep + elem + " " + rest + " )?";
      };
      body = from(0) + " " + ws;
    }
    return new_rule(hint, "\"[\" " + ws + " " + body + " \"]\"");
  }

  void check_disjoint(const Json& list, const std::string& where) {
    const auto pair = overlapping_branches(list, [&](const std::string& ref) -> const Json& { return resolve(ref, where); });
    if (pair) {
      fail(where, fmt::format("branches {} and {} may both match one value, which oneOf forbids: smol honours "
                              "oneOf only when its branches exclude each other (different types, different "
                              "const/enum values, or a required property with different const values); use "
                              "anyOf if a value may match both",
                              pair->first, pair->second));
    }
  }

  Json root_;
  std::map<std::string, std::string> rules_;
  std::set<std::string> used_;
  std::map<std::string, std::string> refs_;
};

}  // namespace

std::string json_schema_to_gbnf(std::string_view schema_json) {
  Json schema;
  try {
    schema = Json::parse(schema_json);
  } catch (const Json::parse_error& e) {
    throw Error(fmt::format("JSON Schema: not valid JSON ({})", e.what()));
  }
  return Converter(std::move(schema)).run();
}

std::string json_object_gbnf() { return Converter(Json::parse(R"({"type": "object"})")).run(); }

}  // namespace smol
