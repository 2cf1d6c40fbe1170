#pragma once
// PCRE2 (JIT) regexes for tokenizer.json patterns, which are written for Oniguruma (what the
// Rust tokenizers library uses). Patterns are translated so that `\s`, `\S`, `\w`, `\h` keep
// Oniguruma's Unicode meaning (e.g. `\s` is White_Space, which includes U+0085 NEL while
// PCRE2's own `\s` does not).
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

struct pcre2_real_code_8;
struct pcre2_real_match_data_8;
struct pcre2_real_match_context_8;
struct pcre2_real_jit_stack_8;

namespace smol {

// Mutable match state; one per thread of use (Regex itself is immutable and shareable).
class RegexScratch {
 public:
  RegexScratch();
  ~RegexScratch();
  RegexScratch(const RegexScratch&) = delete;
  RegexScratch& operator=(const RegexScratch&) = delete;

 private:
  friend class Regex;
  pcre2_real_match_data_8* match_data_ = nullptr;
  pcre2_real_match_context_8* context_ = nullptr;
  pcre2_real_jit_stack_8* jit_stack_ = nullptr;
};

class Regex {
 public:
  struct Match {
    size_t begin;
    size_t end;
  };
  // Throws smol::Error("regex <pattern>: <reason>") when the pattern does not compile.
  static Regex compile(std::string_view onig_pattern);
  static Regex literal(std::string_view text);

  // First match at or after byte `start` of `subject` (valid UTF-8, `start` on a character
  // boundary); lookbehinds see the whole subject.
  std::optional<Match> find(std::string_view subject, size_t start, RegexScratch& scratch) const;

 private:
  static Regex build(const std::string& pattern, unsigned options, std::string_view shown);
  std::shared_ptr<pcre2_real_code_8> code_;
  bool jit_ = false;
};

// Rewrites Oniguruma escapes whose meaning differs in PCRE2 (see the header comment).
std::string onig_to_pcre2(std::string_view pattern);

}  // namespace smol
