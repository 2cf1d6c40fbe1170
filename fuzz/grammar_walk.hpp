#pragma once
// The walk shared by the grammar fuzz targets (fuzz/ only): a matcher over a small vocabulary
// of every single byte plus multi-byte tokens that cross terminals or split a UTF-8 character,
// driven by the fuzzer's bytes. At every step the matcher's three views of the same question
// must agree: allowed_tokens(), allows() and mask(); an allowed token must be accepted, and a
// refused one must throw and change nothing. Whatever text the walk builds is handed to
// `on_complete` each time the grammar says it may end.
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "smol/error.hpp"
#include "smol/grammar.hpp"

namespace smol::fuzz {

inline const std::vector<std::string>& walk_tokens() {
  static const std::vector<std::string> tokens = [] {
    std::vector<std::string> t;
    for (int b = 0; b < 256; ++b) t.emplace_back(1, static_cast<char>(b));
    for (const char* s : {"{\"", "\":", "\": ", "\",", "\"}", "}\n", "true", "false", "null", "  ", "\n  ", "12",
                          "-0.", "e+", "\\u00", "\\\"", "\xC3\xA9", "\xE2\x82", "\xAC\"", "\xF0\x9F\x98", "ab",
                          "abc", "2024-", "-01-", "T12:", "00Z", "[1,", "]}", "0000", "-4"}) {
      t.emplace_back(s);
    }
    t.emplace_back("");  // the end token
    return t;
  }();
  return tokens;
}

inline std::shared_ptr<const GrammarVocab> walk_vocab() {
  static const std::shared_ptr<const GrammarVocab> vocab = std::make_shared<GrammarVocab>(walk_tokens());
  return vocab;
}

// A target's input: the text (GBNF or a schema) up to the first NUL, and after it the walk's
// choices (`fallback` when there is no NUL, e.g. a seed that is a plain grammar file).
struct WalkInput {
  std::string_view text, choices;
};
inline WalkInput split_walk_input(std::string_view input, std::string_view fallback) {
  const size_t nul = input.find('\0');
  if (nul == std::string_view::npos) return {input, fallback};
  return {input.substr(0, nul), input.substr(nul + 1)};
}

// Walks `grammar` with one choice per byte of `choices` (at most 256 steps).
inline void walk(const Grammar& grammar, std::string_view choices,
                 const std::function<void(const std::string&)>& on_complete) {
  const auto& tokens = walk_tokens();
  const int32_t end = static_cast<int32_t>(tokens.size()) - 1;
  GrammarMatcher m(grammar, walk_vocab(), {end});
  std::string text;
  std::vector<float> logits(tokens.size());
  for (size_t step = 0; step < choices.size() && step < 256; ++step) {
    if (m.can_end()) on_complete(text);
    const std::vector<bool> allowed = m.allowed_tokens();
    std::fill(logits.begin(), logits.end(), 0.0f);
    m.mask(logits);
    std::vector<int32_t> ok;
    for (int32_t t = 0; t <= end; ++t) {
      const bool a = m.allows(t);
      if (a != allowed[t] || a != std::isfinite(logits[t])) std::abort();  // three answers to one question
      if (a) ok.push_back(t);
    }
    if (m.can_end() != allowed[end]) std::abort();
    const auto c = static_cast<unsigned char>(choices[step]);
    if (ok.empty() || ok == std::vector<int32_t>{end}) {
      if (!m.can_end() && ok.empty()) std::abort();  // a dead end the grammar did not report
      return;
    }
    if (c >= 0xF0 && step + 1 < choices.size()) {  // now and then, try a refused token
      const int32_t t = static_cast<unsigned char>(choices[step + 1]) % end;
      if (!m.allows(t)) {
        try {
          m.accept(t);
          std::abort();  // accepted a refused token
        } catch (const Error&) {
        }
      }
    }
    const int32_t t = ok[c % ok.size()];
    if (t == end) return;
    const int64_t before = m.bytes_to_end();
    if (before < 0) std::abort();
    m.accept(t);
    text += tokens[t];
  }
  if (m.can_end()) on_complete(text);
}

}  // namespace smol::fuzz
