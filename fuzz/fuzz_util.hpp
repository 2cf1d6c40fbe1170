#pragma once
// Helpers shared by the fuzz targets (header-only, fuzz/ only): a scratch folder per process for
// parsers that read files, whole-file reads, the paths of the real models and fixtures, and a
// sink that makes the optimiser keep a value computed from every byte a parser hands out.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <span>
#include <string>
#include <string_view>

namespace smol::fuzz {

// A folder of this process's own, on tmpfs when there is one; removed at exit.
inline const std::filesystem::path& scratch_dir() {
  static const std::filesystem::path dir = [] {
    const std::filesystem::path base = std::filesystem::exists("/dev/shm") ? "/dev/shm" : std::filesystem::temp_directory_path();
    std::filesystem::path d = base / ("smol-fuzz-" + std::to_string(::getpid()));
    std::filesystem::create_directories(d);
    static const std::filesystem::path for_exit = d;
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(for_exit, ec);
    });
    return d;
  }();
  return dir;
}

inline void write_file(const std::filesystem::path& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

inline std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline std::string_view as_text(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// The shared folder (models/, fixtures/): $SMOL_SHARED, else the one CMake found.
inline std::filesystem::path shared_dir() {
  if (const char* env = std::getenv("SMOL_SHARED"); env && *env) return env;
  return SMOL_SHARED_DIR;
}
inline std::filesystem::path source_dir() { return SMOL_SOURCE_DIR; }

// The real SmolLM2 tokenizer folder (tokenizer.json, tokenizer_config.json with its chat
// template): ../shared/models when present, else the shared fixtures (same tokenizer).
inline std::filesystem::path smollm2_dir() {
  const std::filesystem::path model = shared_dir() / "models" / "SmolLM2-135M-Instruct";
  if (std::filesystem::exists(model / "tokenizer.json")) return model;
  return shared_dir() / "fixtures" / "tiny-f32";
}

// Reads every byte, so a view or string out of bounds is an ASan report.
inline void touch(std::span<const std::byte> bytes) {
  unsigned sum = 0;
  for (std::byte b : bytes) sum += std::to_integer<unsigned>(b);
  volatile unsigned sink = sum;
  (void)sink;
}
inline void touch(std::string_view text) { touch(std::as_bytes(std::span(text.data(), text.size()))); }

}  // namespace smol::fuzz
