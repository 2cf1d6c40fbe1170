// libFuzzer target: arbitrary bytes through real tokenizers: SmolLM2's byte-level BPE
// (tokenizer.json from ../shared) and a Marian SentencePiece pair (models/smol-apt-en-de).
// The input is encoded as text (invalid UTF-8 must be a smol::Error) and read as token ids
// (pairs of bytes) to decode and stream-decode. For SmolLM2, decode(encode(text)) == text, and
// the streamed pieces always join to decode's text.
#include <cstdlib>

#include "fuzz/fuzz_util.hpp"
#include "smol/error.hpp"
#include "smol/tokenizer.hpp"

namespace {

const smol::Tokenizer& smollm2() {
  static const smol::Tokenizer tok = smol::Tokenizer::from_file(smol::fuzz::smollm2_dir() / "tokenizer.json");
  return tok;
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
      if (tok == &smollm2() && tok->decode(ids) != text) std::abort();
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
