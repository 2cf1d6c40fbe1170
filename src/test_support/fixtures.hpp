#pragma once
// Where the shared ground-truth fixtures live, for tests. SMOL_SHARED (environment) wins over
// the path CMake found at configure time, so a clone anywhere can point at ../shared.
#include <cstdlib>
#include <filesystem>
#include <string>

namespace smol::testing {

inline std::filesystem::path shared_dir() {
  if (const char* env = std::getenv("SMOL_SHARED"); env && *env) return env;
  return SMOL_SHARED_DIR;
}

inline std::filesystem::path fixtures_dir() { return shared_dir() / "fixtures"; }

inline std::filesystem::path source_dir() { return SMOL_SOURCE_DIR; }

// The smol executable built alongside the tests, for CLI tests.
inline std::filesystem::path smol_binary() { return SMOL_BINARY; }

}  // namespace smol::testing
