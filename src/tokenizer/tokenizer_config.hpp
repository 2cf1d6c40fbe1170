#pragma once
// What transformers reads besides the vocabulary of a model folder: tokenizer_config.json,
// special_tokens_map.json and added_tokens.json, merged as from_pretrained merges them.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "tokenizer/added_tokens.hpp"

namespace smol {

// One special-token role ("bos", "eos", ...) and the token that fills it. `flags_given` says
// whether the config spelled the token as an AddedToken object (its flags then win over the
// tokenizer class's defaults, e.g. BART's <mask> lstrip).
struct SpecialRole {
  std::string role;
  AddedToken token;
  bool flags_given = false;
};

struct TokenizerConfig {
  nlohmann::json json = nlohmann::json::object();  // tokenizer_config.json (empty if absent)
  std::vector<SpecialRole> roles;                  // in transformers' order: bos eos unk sep pad cls mask
  std::vector<AddedToken> additional_special;      // additional_special_tokens
  // added_tokens_decoder of tokenizer_config.json, then added_tokens.json; id -1: to be assigned.
  std::vector<AddedToken> added;
  std::optional<bool> clean_up_spaces;

  const SpecialRole* role(std::string_view name) const;
  bool get_bool(const char* key, bool fallback) const;
  std::string get_string(const char* key, const std::string& fallback) const;
  // Every special token's content: the roles, then additional_special_tokens.
  std::vector<std::string> all_special_contents() const;
};

// Reads the three files from `dir` where present; throws smol::Error naming a malformed file.
TokenizerConfig read_tokenizer_config(const std::filesystem::path& dir);

// Reads and parses one JSON file; throws smol::Error naming it.
nlohmann::json read_json(const std::filesystem::path& path);

}  // namespace smol
