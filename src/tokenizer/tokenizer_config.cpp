#include "tokenizer/tokenizer_config.hpp"

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "smol/error.hpp"

namespace smol {
namespace {

using nlohmann::json;

constexpr const char* kRoles[] = {"bos", "eos", "unk", "sep", "pad", "cls", "mask"};

// A token written as a string or as {"content": ..., "lstrip": ..., ...} (AddedToken.__getstate__).
std::optional<AddedToken> parse_token(const json& j, bool special, bool& flags_given,
                                      const std::string& where) {
  AddedToken t;
  t.special = special;
  t.normalized = !special;
  t.id = -1;
  flags_given = false;
  if (j.is_null()) return std::nullopt;
  if (j.is_string()) {
    t.content = j.get<std::string>();
  } else if (j.is_object() && j.contains("content") && j.at("content").is_string()) {
    flags_given = true;
    t.content = j.at("content").get<std::string>();
    auto flag = [&](const char* key, bool fallback) {
      const auto it = j.find(key);
      return it != j.end() && it->is_boolean() ? it->get<bool>() : fallback;
    };
    t.single_word = flag("single_word", false);
    t.lstrip = flag("lstrip", false);
    t.rstrip = flag("rstrip", false);
    t.special = flag("special", special);
    t.normalized = flag("normalized", !t.special);
  } else {
    throw Error(fmt::format("{}: a special token must be a string or an object with \"content\"", where));
  }
  if (t.content.empty()) return std::nullopt;
  return t;
}

}  // namespace

json read_json(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(fmt::format("{}: cannot open file", path.string()));
  std::ostringstream text;
  text << in.rdbuf();
  try {
    return json::parse(text.str());
  } catch (const json::exception& e) {  // parse_error, and out_of_range for 1e400
    throw Error(fmt::format("{}: malformed JSON: {}", path.string(), e.what()));
  }
}

const SpecialRole* TokenizerConfig::role(std::string_view name) const {
  for (const auto& r : roles) {
    if (r.role == name) return &r;
  }
  return nullptr;
}

bool TokenizerConfig::get_bool(const char* key, bool fallback) const {
  const auto it = json.find(key);
  return it != json.end() && it->is_boolean() ? it->get<bool>() : fallback;
}

std::string TokenizerConfig::get_string(const char* key, const std::string& fallback) const {
  const auto it = json.find(key);
  return it != json.end() && it->is_string() ? it->get<std::string>() : fallback;
}

std::vector<std::string> TokenizerConfig::all_special_contents() const {
  std::vector<std::string> out;
  auto add = [&](const std::string& s) {
    if (std::find(out.begin(), out.end(), s) == out.end()) out.push_back(s);
  };
  for (const auto& r : roles) add(r.token.content);
  for (const auto& t : additional_special) add(t.content);
  return out;
}

TokenizerConfig read_tokenizer_config(const std::filesystem::path& dir) {
  TokenizerConfig config;
  const auto config_path = dir / "tokenizer_config.json";
  const auto map_path = dir / "special_tokens_map.json";
  const auto added_path = dir / "added_tokens.json";
  std::error_code ec;
  if (std::filesystem::is_regular_file(config_path, ec)) config.json = read_json(config_path);
  if (!config.json.is_object()) throw Error(fmt::format("{}: expected a JSON object", config_path.string()));
  // special_tokens_map.json overrides the values tokenizer_config.json gave (from_pretrained).
  json specials = config.json;
  if (std::filesystem::is_regular_file(map_path, ec)) {
    const json map = read_json(map_path);
    if (!map.is_object()) throw Error(fmt::format("{}: expected a JSON object", map_path.string()));
    for (const auto& [key, value] : map.items()) specials[key] = value;
  }
  try {
    for (const char* role : kRoles) {
      const auto it = specials.find(std::string(role) + "_token");
      if (it == specials.end()) continue;
      bool flags_given = false;
      if (auto t = parse_token(*it, true, flags_given, config_path.string())) {
        config.roles.push_back({role, std::move(*t), flags_given});
      }
    }
    if (const auto it = specials.find("additional_special_tokens");
        it != specials.end() && it->is_array()) {
      for (const json& j : *it) {
        bool flags_given = false;
        if (auto t = parse_token(j, true, flags_given, config_path.string())) {
          config.additional_special.push_back(std::move(*t));
        }
      }
    }
    if (const auto it = config.json.find("added_tokens_decoder");
        it != config.json.end() && it->is_object()) {
      for (const auto& [key, value] : it->items()) {
        bool flags_given = false;
        auto t = parse_token(value, false, flags_given, config_path.string());
        if (!t) continue;
        t->id = std::stoi(key);
        if (t->id < 0) throw Error(fmt::format("{}: added token '{}' has a negative id", config_path.string(), t->content));
        config.added.push_back(std::move(*t));
      }
      std::stable_sort(config.added.begin(), config.added.end(),
                       [](const AddedToken& a, const AddedToken& b) { return a.id < b.id; });
    }
  } catch (const json::exception& e) {
    throw Error(fmt::format("{}: {}", config_path.string(), e.what()));
  } catch (const std::logic_error& e) {  // std::stoi on a key that is not a number
    throw Error(fmt::format("{}: added_tokens_decoder keys must be ids", config_path.string()));
  }
  if (std::filesystem::is_regular_file(added_path, ec)) {
    const json added = read_json(added_path);
    if (!added.is_object()) throw Error(fmt::format("{}: expected {{\"token\": id, ...}}", added_path.string()));
    const auto special = config.all_special_contents();
    for (const auto& item : added.items()) {
      const std::string& content = item.key();  // a plain name: clang 14 cannot capture a structured binding
      const json& id = item.value();
      if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() > INT32_MAX) {
        throw Error(fmt::format("{}: the id of '{}' must be a non-negative integer", added_path.string(), content));
      }
      const bool known = std::any_of(config.added.begin(), config.added.end(),
                                     [&](const AddedToken& a) { return a.content == content; });
      if (known || content.empty()) continue;
      AddedToken t;
      t.id = id.get<int32_t>();
      t.content = content;
      t.special = std::find(special.begin(), special.end(), content) != special.end();
      t.normalized = !t.special;
      config.added.push_back(std::move(t));
    }
  }
  if (const auto it = config.json.find("clean_up_tokenization_spaces");
      it != config.json.end() && it->is_boolean()) {
    config.clean_up_spaces = it->get<bool>();
  }
  return config;
}

}  // namespace smol
