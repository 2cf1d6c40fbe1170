#include "tokenizer/byte_level.hpp"

#include <array>

#include "tokenizer/utf8.hpp"

namespace smol::byte_level {
namespace {

struct Tables {
  std::array<char32_t, 256> to_char{};
  std::array<int16_t, 512> to_byte{};  // every mapped character is below U+0200
};

constexpr Tables make_tables() {
  Tables t;
  for (auto& b : t.to_byte) b = -1;
  // Printable Latin-1 bytes map to themselves; the rest are moved to U+0100.. in byte order.
  char32_t next = 256;
  for (int b = 0; b < 256; ++b) {
    const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
    const char32_t c = printable ? char32_t(b) : next++;
    t.to_char[b] = c;
    t.to_byte[c] = static_cast<int16_t>(b);
  }
  return t;
}

constexpr Tables kTables = make_tables();

}  // namespace

char32_t byte_to_char(uint8_t byte) { return kTables.to_char[byte]; }

std::optional<uint8_t> char_to_byte(char32_t c) {
  if (c >= kTables.to_byte.size() || kTables.to_byte[c] < 0) return std::nullopt;
  return static_cast<uint8_t>(kTables.to_byte[c]);
}


std::string encode(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char b : bytes) append_utf8(out, byte_to_char(static_cast<uint8_t>(b)));
  return out;
}

std::optional<std::string> decode(std::string_view token_text) {
  if (utf8::find_invalid(token_text)) return std::nullopt;
  std::string out;
  out.reserve(token_text.size());
  size_t i = 0;
  while (i < token_text.size()) {
    size_t len = 0;
    const auto byte = char_to_byte(utf8::decode(token_text, i, len));
    if (!byte) return std::nullopt;
    out.push_back(static_cast<char>(*byte));
    i += len;
  }
  return out;
}

}  // namespace smol::byte_level
