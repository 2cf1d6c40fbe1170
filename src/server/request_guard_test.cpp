// The checks every request passes before a handler: the API key compare and the origin rule.
#include "server/request_guard.hpp"

#include <gtest/gtest.h>

namespace smol::server {
namespace {

TEST(RequestGuard, ConstantTimeEqualIsEquality) {
  EXPECT_TRUE(constant_time_equal("Bearer sk-1", "Bearer sk-1"));
  EXPECT_TRUE(constant_time_equal("", ""));
  EXPECT_FALSE(constant_time_equal("Bearer sk-2", "Bearer sk-1"));
  EXPECT_FALSE(constant_time_equal("Bearer sk-", "Bearer sk-1"));    // a prefix
  EXPECT_FALSE(constant_time_equal("Bearer sk-11", "Bearer sk-1"));  // one byte more
  EXPECT_FALSE(constant_time_equal("", "Bearer sk-1"));
  EXPECT_FALSE(constant_time_equal(std::string_view("Bearer sk-1\0", 12), "Bearer sk-1"));
  EXPECT_FALSE(constant_time_equal("xearer sk-1", "Bearer sk-1"));  // the first byte differs
}

TEST(RequestGuard, CorsOriginsAreSchemeHostPort) {
  for (const char* ok : {"http://localhost:3000", "https://example.com", "http://127.0.0.1:8080", "*",
                         "http://[::1]:8080", "chrome-extension://abcdef"}) {
    EXPECT_TRUE(is_cors_origin(ok)) << ok;
  }
  for (const char* bad : {"", "localhost:3000", "http://", "http://example.com/", "http://example.com/path",
                          "http://a b", "http://user@example.com", "**", "http://x?y"}) {
    EXPECT_FALSE(is_cors_origin(bad)) << bad;
  }
}

TEST(RequestGuard, OnlyTheOwnOriginAndTheCorsOneAreServed) {
  // No Origin: curl, SDKs.
  EXPECT_TRUE(origin_allowed("", "127.0.0.1:8080", ""));
  // The built-in page, loaded from the server itself.
  EXPECT_TRUE(origin_allowed("http://127.0.0.1:8080", "127.0.0.1:8080", ""));
  EXPECT_TRUE(origin_allowed("http://localhost:8080", "localhost:8080", ""));
  // Any other page: refused unless --cors names it.
  EXPECT_FALSE(origin_allowed("http://evil.example", "127.0.0.1:8080", ""));
  EXPECT_FALSE(origin_allowed("http://127.0.0.1:8081", "127.0.0.1:8080", ""));
  EXPECT_FALSE(origin_allowed("null", "127.0.0.1:8080", ""));
  EXPECT_FALSE(origin_allowed("http://127.0.0.1:8080", "", ""));
  EXPECT_TRUE(origin_allowed("http://localhost:3000", "127.0.0.1:8080", "http://localhost:3000"));
  EXPECT_FALSE(origin_allowed("http://localhost:3001", "127.0.0.1:8080", "http://localhost:3000"));
  EXPECT_TRUE(origin_allowed("http://anything.example", "127.0.0.1:8080", "*"));
}

}  // namespace
}  // namespace smol::server
