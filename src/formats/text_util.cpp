#include "formats/text_util.hpp"

#include <fmt/format.h>

namespace smol::formats_detail {

std::string printable(std::string_view text, size_t max_len) {
  std::string out;
  out.reserve(std::min(text.size(), max_len) + 8);
  for (const char c : text) {
    if (out.size() >= max_len) {
      out += "...";
      break;
    }
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte >= 0x7f || c == '\\') {
      out += fmt::format("\\x{:02x}", byte);
    } else {
      out += c;
    }
  }
  return out;
}

std::string describe_parse_error(const nlohmann::json::exception& error) {
  // nlohmann's text is "[json.exception.parse_error.101] parse error at line L, column C: why";
  // the byte offset is more useful for binary headers, so keep only "why".
  std::string_view what = error.what();
  if (const auto* parse = dynamic_cast<const nlohmann::json::parse_error*>(&error)) {
    if (const auto colon = what.find(": "); colon != std::string_view::npos) what.remove_prefix(colon + 2);
    return fmt::format("invalid JSON at byte {}: {}", parse->byte, printable(what, 200));
  }
  if (const auto bracket = what.find("] "); bracket != std::string_view::npos) what.remove_prefix(bracket + 2);
  return fmt::format("invalid JSON: {}", printable(what, 200));
}

std::string json_type_name(const nlohmann::json& value) {
  if (value.is_number_integer()) return "integer";
  if (value.is_number_float()) return "number";
  return value.type_name();
}

}  // namespace smol::formats_detail
