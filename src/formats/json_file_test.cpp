#include "smol/json_file.hpp"

#include <gtest/gtest.h>

#include "test_support/temp_files.hpp"

namespace smol {
namespace {

using testing::expect_error;
using testing::TempDir;
using testing::write_file;

TEST(JsonFile, ReadsValidFile) {
  TempDir dir;
  write_file(dir / "a.json", R"({"x": [1, 2], "y": "z"})");
  const nlohmann::json j = read_json_file(dir / "a.json");
  EXPECT_EQ(j["x"][1], 2);
  EXPECT_EQ(j["y"], "z");
}

TEST(JsonFile, MissingFileNamesPath) {
  TempDir dir;
  expect_error([&] { read_json_file(dir / "config.json"); }, {"config.json", "not found"});
}

TEST(JsonFile, DirectoryIsRejected) {
  TempDir dir;
  expect_error([&] { read_json_file(dir.path()); }, {dir.path().string(), "directory"});
}

TEST(JsonFile, MalformedJsonGivesByteOffset) {
  TempDir dir;
  write_file(dir / "config.json", "{\"a\": 1,\n \"b\": tru }");
  const std::string message =
      expect_error([&] { read_json_file(dir / "config.json"); }, {"config.json: invalid JSON at byte"});
  EXPECT_EQ(message.find("json.exception"), std::string::npos) << message;
}

TEST(JsonFile, BinaryGarbageStaysOnOneLine) {
  TempDir dir;
  write_file(dir / "config.json", std::string("{\"a\":\n\r\x01\xff\x00", 10));
  expect_error([&] { read_json_file(dir / "config.json"); }, {"config.json", "invalid JSON"});
}

TEST(JsonFile, NumberOverflowIsInvalidJson) {
  TempDir dir;
  write_file(dir / "config.json", R"({"rope_theta": 1e400})");
  expect_error([&] { read_json_file(dir / "config.json"); }, {"config.json: invalid JSON", "1e400"});
}

TEST(JsonFile, EmptyFileIsInvalid) {
  TempDir dir;
  write_file(dir / "config.json", "");
  expect_error([&] { read_json_file(dir / "config.json"); }, {"config.json", "invalid JSON"});
}

}  // namespace
}  // namespace smol
