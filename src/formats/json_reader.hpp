#pragma once
// Typed, validated reads of one JSON object's keys (config.json, generation_config.json and
// the like); every failure is a smol::Error naming the file and the key.
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "formats/text_util.hpp"
#include "smol/error.hpp"

namespace smol {

// Typed reads of one key of one file; every failure names both.
class JsonReader {
 public:
  JsonReader(const nlohmann::json& object, const std::string& source) : object_(object), source_(source) {}

  const nlohmann::json* find(const char* key) const {
    const auto it = object_.find(key);
    return it == object_.end() ? nullptr : &*it;
  }
  bool has(const char* key) const {
    const nlohmann::json* v = find(key);
    return v != nullptr && !v->is_null();
  }

  [[noreturn]] void fail(const char* key, const std::string& what) const {
    throw Error(fmt::format("{}: key '{}' {}", source_, key, what));
  }
  [[noreturn]] void wrong_type(const char* key, const char* expected, const nlohmann::json& got) const {
    fail(key, fmt::format("must be {}, got {} {}", expected, formats_detail::json_type_name(got), formats_detail::printable(got.dump(), 40)));
  }

  int integer(const char* key, const nlohmann::json& v) const {
    if (!v.is_number_integer()) wrong_type(key, "an integer", v);
    if (v.is_number_unsigned() ? v.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int>::max())
                               : v.get<int64_t>() < std::numeric_limits<int>::min()) {
      fail(key, fmt::format("value {} is out of range", v.dump()));
    }
    return v.get<int>();
  }
  int required_positive(const char* key) const {
    if (!has(key)) fail(key, "is missing");
    return positive(key, integer(key, *find(key)));
  }
  int optional_positive(const char* key, int fallback) const {
    return has(key) ? positive(key, integer(key, *find(key))) : fallback;
  }
  int positive(const char* key, int value) const {
    if (value <= 0) fail(key, fmt::format("must be positive, got {}", value));
    return value;
  }
  float positive_number(const char* key, float fallback) const {
    if (!has(key)) return fallback;
    const nlohmann::json& v = *find(key);
    if (!v.is_number()) wrong_type(key, "a number", v);
    const double d = v.get<double>();
    if (!(d > 0) || d > std::numeric_limits<float>::max()) fail(key, fmt::format("must be positive and finite, got {}", v.dump()));
    return static_cast<float>(d);
  }
  float number(const char* key, float fallback) const {
    if (!has(key)) return fallback;
    const nlohmann::json& v = *find(key);
    if (!v.is_number()) wrong_type(key, "a number", v);
    const double d = v.get<double>();
    if (!(std::abs(d) <= std::numeric_limits<float>::max())) fail(key, fmt::format("must be finite, got {}", v.dump()));
    return static_cast<float>(d);
  }
  int optional_nonnegative(const char* key, int fallback) const {
    if (!has(key)) return fallback;
    const int value = integer(key, *find(key));
    if (value < 0) fail(key, fmt::format("must not be negative, got {}", value));
    return value;
  }
  // A single token id, or -1 when the key is absent or null.
  int optional_token_id(const char* key) const { return has(key) ? token_id(key, *find(key)) : -1; }
  bool boolean(const char* key, bool fallback) const {
    if (!has(key)) return fallback;
    const nlohmann::json& v = *find(key);
    if (!v.is_boolean()) wrong_type(key, "true or false", v);
    return v.get<bool>();
  }
  std::string string(const char* key, const std::string& fallback) const {
    if (!has(key)) return fallback;
    const nlohmann::json& v = *find(key);
    if (!v.is_string()) wrong_type(key, "a string", v);
    return v.get<std::string>();
  }
  // A token id, or a list of them (eos_token_id may be either).
  std::vector<int> token_ids(const char* key) const {
    std::vector<int> ids;
    if (!has(key)) return ids;
    const nlohmann::json& v = *find(key);
    if (v.is_array()) {
      for (const nlohmann::json& item : v) ids.push_back(token_id(key, item));
    } else {
      ids.push_back(token_id(key, v));
    }
    return ids;
  }
  int token_id(const char* key, const nlohmann::json& v) const {
    if (!v.is_number_integer()) wrong_type(key, "a token id or a list of token ids", v);
    const int id = integer(key, v);
    if (id < 0) fail(key, fmt::format("must not be negative, got {}", id));
    return id;
  }

 private:
  const nlohmann::json& object_;
  const std::string& source_;
};

}  // namespace smol
