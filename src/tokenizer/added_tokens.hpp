#pragma once
// Finds added tokens (special or not) in raw text the way Hugging Face tokenizers'
// AddedVocabulary does: leftmost-longest, non-overlapping, with single_word / lstrip / rstrip.
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/regex.hpp"

namespace smol {

struct AddedToken {
  int32_t id = 0;
  std::string content;
  bool single_word = false;
  bool lstrip = false;
  bool rstrip = false;
  bool normalized = false;
  bool special = false;
};

class AddedTokenMatcher {
 public:
  struct Segment {
    size_t begin, end;
    int32_t id;  // -1: plain text to pre-tokenize
  };

  AddedTokenMatcher() = default;
  explicit AddedTokenMatcher(std::vector<AddedToken> tokens);

  bool empty() const { return tokens_.empty(); }
  // Splits `text` into plain segments and added-token segments covering it in order.
  void split(std::string_view text, RegexScratch& scratch, std::vector<Segment>& out) const;

 private:
  // Leftmost-longest match at or after `from`: index into tokens_, and its start.
  std::optional<std::pair<size_t, size_t>> find(std::string_view text, size_t from) const;
  bool is_word_char_before(std::string_view text, size_t pos, RegexScratch& scratch) const;
  bool is_word_char_after(std::string_view text, size_t pos, RegexScratch& scratch) const;

  std::vector<AddedToken> tokens_;
  std::array<std::vector<uint32_t>, 256> by_first_byte_;  // longest first
  std::string first_bytes_;  // the distinct first bytes, to skip ahead with memchr
  std::optional<Regex> word_char_;  // only needed for single_word tokens
};

}  // namespace smol
