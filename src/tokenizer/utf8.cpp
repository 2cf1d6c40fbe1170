#include "tokenizer/utf8.hpp"

#include <cstdint>
#include <cstring>

namespace smol::utf8 {

Sequence next_sequence(std::string_view bytes, size_t pos) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data()) + pos;
  const size_t n = bytes.size() - pos;
  const unsigned b0 = p[0];
  if (b0 < 0x80) return {1, true, false};
  // Expected total length and the allowed range of the second byte (Unicode Table 3-7).
  size_t need;
  unsigned lo = 0x80, hi = 0xBF;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    need = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    need = 3;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;  // no surrogates
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    need = 4;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;  // nothing above U+10FFFF
  } else {
    return {1, false, false};
  }
  for (size_t i = 1; i < need; ++i) {
    if (i >= n) return {i, false, true};
    const unsigned b = p[i];
    const unsigned l = i == 1 ? lo : 0x80, h = i == 1 ? hi : 0xBF;
    if (b < l || b > h) return {i, false, false};
  }
  return {need, true, false};
}

std::optional<size_t> find_invalid(std::string_view bytes) {
  size_t i = 0;
  while (i < bytes.size()) {
    // Skip ASCII eight bytes at a time: most text is mostly ASCII.
    while (i + 8 <= bytes.size()) {
      uint64_t chunk;
      std::memcpy(&chunk, bytes.data() + i, 8);
      if (chunk & 0x8080808080808080ull) break;
      i += 8;
    }
    if (i >= bytes.size()) break;
    if (static_cast<unsigned char>(bytes[i]) < 0x80) {
      ++i;
      continue;
    }
    const Sequence s = next_sequence(bytes, i);
    if (!s.valid) return i;
    i += s.length;
  }
  return std::nullopt;
}

void append_lossy(std::string& out, std::string_view bytes) {
  out.reserve(out.size() + bytes.size());
  size_t i = 0;
  while (i < bytes.size()) {
    size_t start = i;
    while (i < bytes.size() && static_cast<unsigned char>(bytes[i]) < 0x80) ++i;
    out.append(bytes.substr(start, i - start));
    if (i == bytes.size()) break;
    const Sequence s = next_sequence(bytes, i);
    if (s.valid) {
      out.append(bytes.substr(i, s.length));
    } else {
      out.append("\xEF\xBF\xBD");
    }
    i += s.length;
  }
}

size_t incomplete_tail(std::string_view bytes) {
  // A character is at most 4 bytes, so only a lead byte among the last 3 can be unfinished.
  const size_t n = bytes.size();
  for (size_t k = 1; k <= 3 && k <= n; ++k) {
    const unsigned b = static_cast<unsigned char>(bytes[n - k]);
    if (b >= 0x80 && b <= 0xBF) continue;  // continuation byte: keep looking for the lead
    const Sequence s = next_sequence(bytes, n - k);
    return s.truncated && s.length == k ? k : 0;
  }
  return 0;
}

char32_t decode(std::string_view bytes, size_t pos, size_t& length) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data()) + pos;
  if (p[0] < 0x80) {
    length = 1;
    return p[0];
  }
  if (p[0] < 0xE0) {
    length = 2;
    return (char32_t(p[0] & 0x1F) << 6) | (p[1] & 0x3F);
  }
  if (p[0] < 0xF0) {
    length = 3;
    return (char32_t(p[0] & 0x0F) << 12) | (char32_t(p[1] & 0x3F) << 6) | (p[2] & 0x3F);
  }
  length = 4;
  return (char32_t(p[0] & 0x07) << 18) | (char32_t(p[1] & 0x3F) << 12) |
         (char32_t(p[2] & 0x3F) << 6) | (p[3] & 0x3F);
}

bool is_white_space(char32_t c) {
  if (c <= 0x20) return c == 0x20 || (c >= 0x09 && c <= 0x0D);
  switch (c) {
    case 0x85: case 0xA0: case 0x1680: case 0x2028: case 0x2029: case 0x202F: case 0x205F:
    case 0x3000:
      return true;
    default:
      return c >= 0x2000 && c <= 0x200A;
  }
}

}  // namespace smol::utf8
