#include "server/request_guard.hpp"

#include <regex>
#include <string>

namespace smol::server {

bool constant_time_equal(std::string_view given, std::string_view expected) {
  // Every byte of `expected` is read whatever `given` holds; volatile keeps the compiler from
  // turning the loop back into an early exit.
  volatile unsigned char diff = given.size() == expected.size() ? 0 : 1;
  for (size_t i = 0; i < expected.size(); ++i) {
    const unsigned char g = i < given.size() ? static_cast<unsigned char>(given[i]) : 0;
    diff = diff | (g ^ static_cast<unsigned char>(expected[i]));
  }
  return diff == 0;
}

bool is_cors_origin(std::string_view origin) {
  static const std::regex pattern(R"([a-zA-Z][a-zA-Z0-9+.-]*://[^/\s?#@]+)");
  return origin == "*" || std::regex_match(origin.begin(), origin.end(), pattern);
}

bool origin_allowed(std::string_view origin, std::string_view host_header, std::string_view cors) {
  if (origin.empty()) return true;
  if (!host_header.empty() && (origin == "http://" + std::string(host_header) ||
                               origin == "https://" + std::string(host_header))) {
    return true;
  }
  return !cors.empty() && (cors == "*" || origin == cors);
}

}  // namespace smol::server
