#pragma once
// UTF-8 helpers with the exact error semantics of Rust's String::from_utf8_lossy (which is what
// Hugging Face tokenizers use when decoding): each maximal subpart of an ill-formed sequence
// becomes one U+FFFD.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace smol::utf8 {

// How the bytes at some position start: a well-formed character of `length` bytes, or an
// ill-formed maximal subpart of `length` bytes (>= 1) to be replaced by one U+FFFD.
// `truncated` is set when the subpart is ill-formed only because the input ended.
struct Sequence {
  size_t length;
  bool valid;
  bool truncated;
};
Sequence next_sequence(std::string_view bytes, size_t pos);

// Offset of the first byte that is not part of well-formed UTF-8, if any.
std::optional<size_t> find_invalid(std::string_view bytes);

void append_lossy(std::string& out, std::string_view bytes);
inline std::string lossy(std::string_view bytes) {
  std::string out;
  append_lossy(out, bytes);
  return out;
}

// Number of bytes at the end that start a well-formed character the input has not finished.
size_t incomplete_tail(std::string_view bytes);

// Code point of the well-formed character at `pos` (caller guarantees validity); sets `length`.
char32_t decode(std::string_view bytes, size_t pos, size_t& length);

// Unicode White_Space property (what Oniguruma's and Rust regex's `\s` mean).
bool is_white_space(char32_t c);

}  // namespace smol::utf8
