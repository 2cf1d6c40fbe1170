#pragma once
// The JSON Schema keywords smol knows, shared by the converter (json_schema.cpp) and the oneOf
// disjointness check (json_schema_oneof.cpp).
#include <cmath>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

namespace smol::json_gbnf {

using Json = nlohmann::ordered_json;

inline const std::set<std::string> kAnnotations = {"$schema", "$id", "$comment", "title", "description", "examples",
                                            "default", "deprecated", "readOnly", "writeOnly", "$anchor"};
inline const std::set<std::string> kObjectWords = {"properties", "required", "additionalProperties"};
inline const std::set<std::string> kArrayWords = {"items", "prefixItems", "minItems", "maxItems", "uniqueItems"};
inline const std::set<std::string> kStringWords = {"minLength", "maxLength", "format"};
inline const std::set<std::string> kNumberWords = {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"};
inline const std::set<std::string> kOtherWords = {"type", "enum", "const", "anyOf", "oneOf", "allOf", "$ref", "$defs",
                                           "definitions", "nullable"};


inline std::string json_type(const Json& v) {
  if (v.is_object()) return "object";
  if (v.is_array()) return "array";
  if (v.is_string()) return "string";
  if (v.is_number_integer() || v.is_number_unsigned()) return "integer";
  if (v.is_number_float()) return v.get<double>() == std::floor(v.get<double>()) ? "integer" : "number";
  if (v.is_boolean()) return "boolean";
  return "null";
}

inline bool type_accepts(const std::string& type, const Json& v) {
  const std::string t = json_type(v);
  return t == type || (type == "number" && t == "integer");
}

inline bool has_any(const Json& s, const std::set<std::string>& words) {
  for (const auto& w : words) {
    if (s.contains(w)) return true;
  }
  return false;
}

// The first two branches of a oneOf list that may both match one value (nullopt: they
// exclude each other). `deref` follows a local $ref.
std::optional<std::pair<size_t, size_t>> overlapping_branches(const Json& list,
                                                               const std::function<const Json&(const std::string&)>& deref);

}  // namespace smol::json_gbnf
