#pragma once
// Reading the small JSON files of a model folder (config.json, index files, ...).
#include <filesystem>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace smol {

// Reads and parses a JSON file. A missing/unreadable file or malformed JSON throws smol::Error
// with a one-line message such as "<path>: invalid JSON at byte 123: <reason>".
nlohmann::json read_json_file(const std::filesystem::path& path);

// Parses JSON text; `source` names where it came from in error messages.
nlohmann::json parse_json_text(std::string_view text, const std::string& source);

}  // namespace smol
