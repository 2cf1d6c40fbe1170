#include "tokenizer/added_tokens.hpp"

#include <algorithm>
#include <cstring>

#include "tokenizer/utf8.hpp"

namespace smol {
namespace {

size_t whitespace_run_before(std::string_view text, size_t pos) {
  while (pos > 0) {
    size_t start = pos - 1;
    while (start > 0 && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80) --start;
    size_t len = 0;
    if (!utf8::is_white_space(utf8::decode(text, start, len))) break;
    pos = start;
  }
  return pos;
}

size_t whitespace_run_after(std::string_view text, size_t pos) {
  while (pos < text.size()) {
    size_t len = 0;
    if (!utf8::is_white_space(utf8::decode(text, pos, len))) break;
    pos += len;
  }
  return pos;
}

}  // namespace

AddedTokenMatcher::AddedTokenMatcher(std::vector<AddedToken> tokens) : tokens_(std::move(tokens)) {
  bool any_single_word = false;
  for (uint32_t i = 0; i < tokens_.size(); ++i) {
    if (tokens_[i].content.empty()) continue;
    by_first_byte_[static_cast<uint8_t>(tokens_[i].content[0])].push_back(i);
    any_single_word |= tokens_[i].single_word;
  }
  for (int b = 0; b < 256; ++b) {
    if (!by_first_byte_[b].empty()) first_bytes_.push_back(static_cast<char>(b));
  }
  for (auto& group : by_first_byte_) {
    std::stable_sort(group.begin(), group.end(), [&](uint32_t a, uint32_t b) {
      return tokens_[a].content.size() > tokens_[b].content.size();
    });
  }
  // Rust regex's Unicode \w, used by tokenizers to decide what a "word" is.
  if (any_single_word) word_char_ = Regex::compile(R"([\p{Alphabetic}\p{M}\p{Nd}\p{Pc}\x{200C}\x{200D}])");
}

std::optional<std::pair<size_t, size_t>> AddedTokenMatcher::find(std::string_view text,
                                                                 size_t from) const {
  if (first_bytes_.empty()) return std::nullopt;
  for (size_t pos = from; pos < text.size(); ++pos) {
    if (first_bytes_.size() == 1) {  // e.g. every special token starts with '<'
      const void* hit = std::memchr(text.data() + pos, first_bytes_[0], text.size() - pos);
      if (!hit) return std::nullopt;
      pos = static_cast<size_t>(static_cast<const char*>(hit) - text.data());
    }
    const auto& group = by_first_byte_[static_cast<uint8_t>(text[pos])];
    for (uint32_t index : group) {
      if (text.substr(pos).starts_with(tokens_[index].content)) return std::pair{index, pos};
    }
  }
  return std::nullopt;
}

bool AddedTokenMatcher::is_word_char_before(std::string_view text, size_t pos,
                                            RegexScratch& scratch) const {
  if (pos == 0) return false;
  size_t start = pos - 1;
  while (start > 0 && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80) --start;
  return word_char_->find(text.substr(start, pos - start), 0, scratch).has_value();
}

bool AddedTokenMatcher::is_word_char_after(std::string_view text, size_t pos,
                                           RegexScratch& scratch) const {
  if (pos >= text.size()) return false;
  const size_t len = utf8::next_sequence(text, pos).length;
  return word_char_->find(text.substr(pos, len), 0, scratch).has_value();
}

void AddedTokenMatcher::split(std::string_view text, RegexScratch& scratch,
                              std::vector<Segment>& out) const {
  out.clear();
  size_t done = 0;    // end of the last emitted segment
  size_t search = 0;  // where the next match may start (matches never overlap)
  while (auto hit = find(text, search)) {
    const AddedToken& token = tokens_[hit->first];
    size_t start = hit->second, stop = start + token.content.size();
    search = stop;
    if (token.single_word && (is_word_char_before(text, start, scratch) ||
                              is_word_char_after(text, stop, scratch))) {
      continue;  // part of a longer word: leave it to the model
    }
    // An rstrip'd token may have swallowed the start of this match; tokenizers would emit
    // overlapping text here, so the match is skipped instead.
    if (start < done) continue;
    if (token.lstrip) start = std::max(whitespace_run_before(text, start), done);
    if (token.rstrip) stop = whitespace_run_after(text, stop);
    if (done < start) out.push_back({done, start, -1});
    out.push_back({start, stop, token.id});
    done = stop;
  }
  if (done < text.size() || out.empty()) out.push_back({done, text.size(), -1});
}

}  // namespace smol
