// libFuzzer target: the GBNF compiler and the grammar matcher. The input is GBNF text, then
// optionally a NUL and the bytes that steer a walk through the compiled grammar
// (fuzz/grammar_walk.hpp). A grammar is either refused with smol::Error or compiles, and then
// every text the walk completes must be accepted again, byte by byte, by a fresh matcher.
#include "fuzz/fuzz_util.hpp"
#include "fuzz/grammar_walk.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto [gbnf, choices] =
      smol::fuzz::split_walk_input(smol::fuzz::as_text(data, size), "\x01\x07\x03\x11\x05\x0d\x02\x13\x17\x1d");
  try {
    const smol::Grammar grammar = smol::Grammar::from_gbnf(gbnf);
    smol::fuzz::walk(grammar, choices, [&](const std::string& text) {
      smol::GrammarMatcher again(grammar, smol::fuzz::walk_vocab(),
                                  {static_cast<int32_t>(smol::fuzz::walk_tokens().size()) - 1});
      if (!again.accept_bytes(text) || !again.can_end()) std::abort();  // the walk's text is a sentence
    });
  } catch (const smol::Error&) {
  }
  return 0;
}
