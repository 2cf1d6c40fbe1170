// libFuzzer target: a tokenizer built from fuzzed tokenizer.json text, then used: encode a few
// fixed strings (with and without special tokens), decode what came out and every id of a
// small vocabulary, stream-decode it. Anything but success or smol::Error is a bug, and the
// stream decoder must give what decode gives.
#include <algorithm>
#include <cstdlib>

#include "fuzz/fuzz_util.hpp"
#include "smol/error.hpp"
#include "smol/tokenizer.hpp"

namespace {

constexpr std::string_view kTexts[] = {
    "Hello world", "  leading\tand\n\ntrailing  ", "123 4567 ünïcödé 😀 中文", "<|im_start|>user\nhi<|im_end|>",
    "<s> a </s><unk><pad>", "it's don't ▁x Ġy", "",
};

void check_stream(const smol::Tokenizer& tok, const std::vector<int32_t>& ids, bool skip_special) {
  std::string whole;
  try {
    whole = tok.decode(ids, skip_special);
  } catch (const smol::Error&) {
    return;
  }
  smol::StreamDecoder stream(tok, skip_special);
  std::string pieces;
  for (int32_t id : ids) pieces += stream.push(id);
  pieces += stream.flush();
  if (pieces != whole) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::optional<smol::Tokenizer> tok;
  try {
    tok.emplace(smol::Tokenizer::from_json_text(smol::fuzz::as_text(data, size), "tokenizer.json"));
  } catch (const smol::Error&) {
    return 0;
  }
  for (std::string_view text : kTexts) {
    for (int mode = 0; mode < 3; ++mode) {
      try {
        const std::vector<int32_t> ids =
            mode == 0 ? tok->encode(text) : mode == 1 ? tok->encode_with_special(text) : tok->encode_target(text);
        check_stream(*tok, ids, false);
        check_stream(*tok, ids, true);
      } catch (const smol::Error&) {
      }
    }
  }
  const int32_t n = static_cast<int32_t>(std::min<size_t>(tok->vocab_size() + 2, 512));
  std::vector<int32_t> all;
  for (int32_t id = -1; id < n; ++id) {
    try {
      smol::fuzz::touch(tok->token_bytes(id));
      if (auto text = tok->token_text(id)) tok->token_id(*text);
      (void)tok->is_special(id);
      all.push_back(id);
    } catch (const smol::Error&) {
    }
  }
  check_stream(*tok, all, false);
  check_stream(*tok, all, true);
  for (const char* role : {"bos", "eos", "unk", "pad"}) (void)tok->special_id(role);
  return 0;
}
