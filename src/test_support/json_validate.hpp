#pragma once
// For tests of JSON-constrained generation: a strict JSON parse (no duplicate keys, no
// non-finite numbers) and a JSON Schema validator for the keywords smol's converter supports,
// written from the JSON Schema 2020-12 validation spec independently of the converter.
#include <cmath>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace smol::testing {

// Parses `text` as one JSON document; returns an error (empty when fine) and sets `out`.
inline std::string strict_json_parse(const std::string& text, nlohmann::json& out) {
  using nlohmann::json;
  std::vector<std::set<std::string>> keys;
  std::string error;
  auto cb = [&](int, json::parse_event_t event, json& parsed) {
    if (event == json::parse_event_t::object_start) keys.emplace_back();
    if (event == json::parse_event_t::object_end && !keys.empty()) keys.pop_back();
    if (event == json::parse_event_t::key && !keys.empty() && !keys.back().insert(parsed.get<std::string>()).second &&
        error.empty()) {
      error = "duplicate key " + parsed.dump();
    }
    if (event == json::parse_event_t::value && parsed.is_number_float() && !std::isfinite(parsed.get<double>()) &&
        error.empty()) {
      error = "a number that is not finite";
    }
    return true;
  };
  try {
    out = json::parse(text, cb);
  } catch (const json::parse_error& e) {
    return e.what();
  }
  return error;
}

class SchemaValidator {
 public:
  explicit SchemaValidator(nlohmann::json schema) : root_(std::move(schema)) {}

  // The first reason `v` fails the schema, or "" when it validates.
  std::string validate(const nlohmann::json& v) const { return check(v, root_, "$"); }

 private:
  using json = nlohmann::json;

  const json& resolve(const std::string& ref) const {
    const json* at = &root_;
    if (ref == "#") return root_;
    return at->at(json::json_pointer(ref.substr(1)));
  }

  static size_t code_points(const std::string& s) {
    size_t n = 0;
    for (unsigned char c : s) n += (c & 0xC0) != 0x80;
    return n;
  }

  static bool is_type(const json& v, const std::string& t) {
    if (t == "object") return v.is_object();
    if (t == "array") return v.is_array();
    if (t == "string") return v.is_string();
    if (t == "boolean") return v.is_boolean();
    if (t == "null") return v.is_null();
    if (t == "number") return v.is_number();
    if (t == "integer") return v.is_number_integer() || (v.is_number_float() && std::floor(v.get<double>()) == v.get<double>());
    return false;
  }

  static bool valid_date(const std::string& s) {
    static const std::regex re(R"(^(\d{4})-(\d{2})-(\d{2})$)");
    std::smatch m;
    if (!std::regex_match(s, m, re)) return false;
    const int y = std::stoi(m[1]), mo = std::stoi(m[2]), d = std::stoi(m[3]);
    const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    static const int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return mo >= 1 && mo <= 12 && d >= 1 && d <= kDays[mo - 1] + (mo == 2 && leap);
  }

  static bool valid_time(const std::string& s) {
    static const std::regex re(R"(^(\d{2}):(\d{2}):(\d{2})(\.\d+)?([zZ]|[+-](\d{2}):(\d{2}))$)");
    std::smatch m;
    if (!std::regex_match(s, m, re)) return false;
    if (std::stoi(m[1]) > 23 || std::stoi(m[2]) > 59 || std::stoi(m[3]) > 59) return false;
    return !m[6].matched || (std::stoi(m[6]) <= 23 && std::stoi(m[7]) <= 59);
  }

  static bool valid_format(const std::string& f, const std::string& s) {
    if (f == "date") return valid_date(s);
    if (f == "time") return valid_time(s);
    if (f == "date-time") {
      const size_t t = s.find_first_of("Tt");
      return t != std::string::npos && valid_date(s.substr(0, t)) && valid_time(s.substr(t + 1));
    }
    if (f == "uuid") {
      static const std::regex re(R"(^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$)");
      return std::regex_match(s, re);
    }
    return true;
  }

  std::string check(const json& v, const json& s, const std::string& at) const {
    if (s.is_boolean()) return s.get<bool>() ? "" : at + ": schema false";
    if (s.contains("$ref")) return check(v, resolve(s["$ref"]), at);
    if (s.contains("type")) {
      std::vector<std::string> types;
      if (s["type"].is_string()) types.push_back(s["type"]);
      else for (const auto& t : s["type"]) types.push_back(t);
      if (s.value("nullable", false)) types.push_back("null");
      bool ok = false;
      for (const auto& t : types) ok |= is_type(v, t);
      if (!ok) return fmt::format("{}: {} is not of type {}", at, v.dump(), s["type"].dump());
    }
    if (s.contains("const") && v != s["const"]) return at + ": not the const";
    if (s.contains("enum") && std::find(s["enum"].begin(), s["enum"].end(), v) == s["enum"].end()) {
      return at + ": " + v.dump() + " not in the enum";
    }
    if (s.contains("anyOf")) {
      bool ok = false;
      for (const auto& b : s["anyOf"]) ok |= check(v, b, at).empty();
      if (!ok) return at + ": matches no anyOf branch";
    }
    if (s.contains("oneOf")) {
      int n = 0;
      for (const auto& b : s["oneOf"]) n += check(v, b, at).empty();
      if (n != 1) return fmt::format("{}: matches {} oneOf branches", at, n);
    }
    if (s.contains("allOf")) {
      for (const auto& b : s["allOf"]) {
        if (auto e = check(v, b, at); !e.empty()) return e;
      }
    }
    if (v.is_string()) {
      const std::string str = v.get<std::string>();
      if (s.contains("minLength") && code_points(str) < s["minLength"].get<size_t>()) return at + ": too short";
      if (s.contains("maxLength") && code_points(str) > s["maxLength"].get<size_t>()) return at + ": too long";
      if (s.contains("format") && !valid_format(s["format"], str)) return at + ": not a " + s["format"].get<std::string>();
    }
    if (v.is_number()) {
      const double x = v.get<double>();
      if (s.contains("minimum") && x < s["minimum"].get<double>()) return at + ": below minimum";
      if (s.contains("maximum") && x > s["maximum"].get<double>()) return at + ": above maximum";
      if (s.contains("exclusiveMinimum") && s["exclusiveMinimum"].is_number() && x <= s["exclusiveMinimum"].get<double>()) {
        return at + ": not above exclusiveMinimum";
      }
      if (s.contains("exclusiveMaximum") && s["exclusiveMaximum"].is_number() && x >= s["exclusiveMaximum"].get<double>()) {
        return at + ": not below exclusiveMaximum";
      }
    }
    if (v.is_array()) {
      if (s.contains("minItems") && v.size() < s["minItems"].get<size_t>()) return at + ": too few items";
      if (s.contains("maxItems") && v.size() > s["maxItems"].get<size_t>()) return at + ": too many items";
      size_t first = 0;
      if (s.contains("prefixItems")) {
        for (; first < s["prefixItems"].size() && first < v.size(); ++first) {
          if (auto e = check(v[first], s["prefixItems"][first], fmt::format("{}[{}]", at, first)); !e.empty()) return e;
        }
      }
      if (s.contains("items")) {
        for (size_t i = first; i < v.size(); ++i) {
          if (auto e = check(v[i], s["items"], fmt::format("{}[{}]", at, i)); !e.empty()) return e;
        }
      }
    }
    if (v.is_object()) {
      if (s.contains("required")) {
        for (const auto& r : s["required"]) {
          if (!v.contains(r.get<std::string>())) return at + ": missing " + r.dump();
        }
      }
      for (const auto& [k, x] : v.items()) {
        const std::string where = at + "." + k;
        if (s.contains("properties") && s["properties"].contains(k)) {
          if (auto e = check(x, s["properties"][k], where); !e.empty()) return e;
        } else if (s.contains("additionalProperties")) {
          if (auto e = check(x, s["additionalProperties"], where); !e.empty()) return e;
        }
      }
    }
    return "";
  }

  json root_;
};

}  // namespace smol::testing
