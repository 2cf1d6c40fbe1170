#pragma once
// GPT-2's reversible byte <-> printable-character mapping used by ByteLevel pre-tokenizers and
// decoders: a vocab token such as "Ġthe" spells the bytes " the".
#include <cstdint>
#include <optional>
#include <string>

#include "smol/utf8_encode.hpp"
#include <string_view>

namespace smol::byte_level {

char32_t byte_to_char(uint8_t byte);
std::optional<uint8_t> char_to_byte(char32_t c);

// The vocab spelling of raw bytes (each byte becomes one character, UTF-8 encoded).
std::string encode(std::string_view bytes);

// The raw bytes a vocab token spells, or nullopt if it holds a character outside the table
// (Hugging Face's ByteLevel decoder then passes the token's own UTF-8 through unchanged).
std::optional<std::string> decode(std::string_view token_text);

using smol::append_utf8;

}  // namespace smol::byte_level
