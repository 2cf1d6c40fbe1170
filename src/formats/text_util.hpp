#pragma once
// Keeping error messages to one readable line even when the input is hostile.
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace smol::formats_detail {

// Escapes control and non-ASCII bytes as \xNN and cuts to `max_len` characters, so names taken
// from a file cannot break a message across lines.
std::string printable(std::string_view text, size_t max_len = 120);

// "invalid JSON at byte N: <reason>" from an exception nlohmann's parser threw (a syntax
// error, or a number too large for a double).
std::string describe_parse_error(const nlohmann::json::exception& error);

// The JSON type of a value as a user would say it ("string", "integer", "object", ...).
std::string json_type_name(const nlohmann::json& value);

}  // namespace smol::formats_detail
