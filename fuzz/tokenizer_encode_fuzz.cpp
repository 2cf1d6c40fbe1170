// libFuzzer target: arbitrary bytes through real tokenizers: SmolLM2's byte-level BPE
// (tokenizer.json from ../shared) and a Marian SentencePiece pair (models/smol-apt-en-de).
// The input is encoded as text (invalid UTF-8 must be a smol::Error) and read as token ids
// (pairs of bytes) to decode and stream-decode. For SmolLM2, decode(encode(text)) == text when
// every byte of the text has a token (SmolLM2's vocabulary lacks 21 of the 256 byte-level
// characters, which tokenizers drops, as smol does), and the streamed pieces always join to
// decode's text.
#include <algorithm>
#include <array>
#include <cstdlib>

#include "fuzz/fuzz_util.hpp"
#include "smol/error.hpp"
#include "smol/tokenizer.hpp"

namespace {

const smol::Tokenizer& smollm2() {
  static const smol::Tokenizer tok = smol::Tokenizer::from_file(smol::fuzz::smollm2_dir() / "tokenizer.json");
  return tok;
}
// GPT-2's bytes_to_unicode: which bytes have a byte-level token in SmolLM2's vocabulary.
const std::array<bool, 256>& smollm2_bytes() {
  static const std::array<bool, 256> has = [] {
    std::array<bool, 256> out{};
    int next = 256;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      const int cp = printable ? b : next++;
      std::string ch;  // cp < 0x800: one or two UTF-8 bytes
      if (cp < 0x80) {
        ch += static_cast<char>(cp);
      } else {
        ch += static_cast<char>(0xC0 | (cp >> 6));
        ch += static_cast<char>(0x80 | (cp & 0x3F));
      }
      out[b] = smollm2().token_id(ch).has_value();
    }
    return out;
  }();
  return has;
}

const smol::Tokenizer& marian() {
  static const smol::Tokenizer tok = smol::Tokenizer::from_folder(smol::fuzz::source_dir() / "models/smol-apt-en-de");
  return tok;
}

void check_stream(const smol::Tokenizer& tok, const std::vector<int32_t>& ids) {
  std::string whole;
  try {
    whole = tok.decode(ids);
  } catch (const smol::Error&) {
    return;
  }
  smol::StreamDecoder stream(tok);
  std::string pieces;
  for (int32_t id : ids) pieces += stream.push(id);
  pieces += stream.flush();
  if (pieces != whole) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text = smol::fuzz::as_text(data, size);
  const smol::Tokenizer* tokenizers[] = {&smollm2(), &marian()};
  for (const smol::Tokenizer* tok : tokenizers) {
    try {
      const std::vector<int32_t> ids = tok->encode(text);
      if (tok == &smollm2() && std::all_of(text.begin(), text.end(), [](char c) { return smollm2_bytes()[uint8_t(c)]; }) &&
          tok->decode(ids) != text) {
        std::abort();
      }
      (void)tok->encode_with_special(text);
      (void)tok->encode_target(text);
      if (ids.size() <= 64) check_stream(*tok, ids);
    } catch (const smol::Error&) {
    }
    // The bytes as ids: little-endian 16-bit values, folded into the vocabulary and a little past it.
    std::vector<int32_t> ids;
    const int32_t range = static_cast<int32_t>(tok->vocab_size()) + 4;
    for (size_t i = 0; i + 1 < size; i += 2) ids.push_back((data[i] | (data[i + 1] << 8)) % range - 2);
    try {
      smol::fuzz::touch(tok->decode(ids, /*skip_special=*/true));
      // Marian's stream decoder decodes from the start at every id (quadratic): a short prefix
      // checks the invariant without making the run slow.
      if (ids.size() > 64) ids.resize(64);
      check_stream(*tok, ids);
    } catch (const smol::Error&) {
    }
  }
  return 0;
}
