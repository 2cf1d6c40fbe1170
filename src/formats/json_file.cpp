#include "smol/json_file.hpp"

#include <fstream>
#include <sstream>
#include <system_error>

#include <fmt/format.h>

#include "formats/text_util.hpp"
#include "smol/error.hpp"

namespace smol {

nlohmann::json parse_json_text(std::string_view text, const std::string& source) {
  try {
    return nlohmann::json::parse(text.begin(), text.end());
  } catch (const nlohmann::json::exception& e) {
    throw Error(fmt::format("{}: {}", source, formats_detail::describe_parse_error(e)));
  }
}

nlohmann::json read_json_file(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) throw Error(fmt::format("{}: file not found", path.string()));
  if (std::filesystem::is_directory(path, ec)) {
    throw Error(fmt::format("{}: is a directory, expected a JSON file", path.string()));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(fmt::format("{}: cannot open for reading", path.string()));
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) throw Error(fmt::format("{}: read error", path.string()));
  return parse_json_text(buffer.view(), path.string());
}

}  // namespace smol
