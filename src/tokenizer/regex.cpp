#include "tokenizer/regex.hpp"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <fmt/format.h>

#include "smol/error.hpp"

namespace smol {
namespace {

constexpr std::string_view kWordClass = "\\p{L}\\p{M}\\p{Nd}\\p{Pc}";  // Oniguruma's Unicode \w
constexpr std::string_view kHexClass = "0-9A-Fa-f";                    // Oniguruma's \h

std::string pcre2_message(int code) {
  PCRE2_UCHAR buffer[256];
  if (pcre2_get_error_message(code, buffer, sizeof buffer) < 0) return fmt::format("error {}", code);
  return reinterpret_cast<const char*>(buffer);
}

}  // namespace

std::string onig_to_pcre2(std::string_view p) {
  std::string out;
  out.reserve(p.size() + 32);
  int class_depth = 0;
  for (size_t i = 0; i < p.size(); ++i) {
    const char c = p[i];
    if (c == '\\' && i + 1 < p.size()) {
      const char d = p[++i];
      const bool in_class = class_depth > 0;
      switch (d) {
        case 's': out += "\\p{White_Space}"; break;
        case 'S': out += "\\P{White_Space}"; break;
        case 'w':
          out += in_class ? std::string(kWordClass) : fmt::format("[{}]", kWordClass);
          break;
        case 'W':
          // A negated set cannot be spliced into an enclosing class; PCRE2's \W is close.
          out += in_class ? std::string("\\W") : fmt::format("[^{}]", kWordClass);
          break;
        case 'h': out += in_class ? std::string(kHexClass) : fmt::format("[{}]", kHexClass); break;
        case 'H': out += in_class ? std::string("\\x{0}-/:-@G-`g-\\x{10FFFF}") : fmt::format("[^{}]", kHexClass); break;
        default:
          out += c;
          out += d;
      }
      continue;
    }
    out += c;
    if (c == '[') {
      if (class_depth > 0 && i + 1 < p.size() && p[i + 1] == ':') {
        const size_t close = p.find(":]", i + 2);  // POSIX bracket like [:alpha:]
        if (close != std::string_view::npos) {
          out.append(p.substr(i + 1, close + 2 - (i + 1)));
          i = close + 1;
          continue;
        }
      }
      ++class_depth;
      // A ']' right after '[' or '[^' is a literal member, not the end of the class.
      if (i + 1 < p.size() && p[i + 1] == '^') out += p[++i];
      if (i + 1 < p.size() && p[i + 1] == ']') out += p[++i];
    } else if (c == ']' && class_depth > 0) {
      --class_depth;
    }
  }
  return out;
}

RegexScratch::RegexScratch() {
  match_data_ = pcre2_match_data_create(4, nullptr);
  context_ = pcre2_match_context_create(nullptr);
  // The default 32 KiB JIT stack is plenty for tokenizer patterns, but a long run of
  // backtracking (e.g. whitespace before a lookahead) should degrade, not fail.
  jit_stack_ = pcre2_jit_stack_create(32 * 1024, 8 * 1024 * 1024, nullptr);
  if (!match_data_ || !context_ || !jit_stack_) throw std::bad_alloc();
  pcre2_jit_stack_assign(context_, nullptr, jit_stack_);
}

RegexScratch::~RegexScratch() {
  pcre2_jit_stack_free(jit_stack_);
  pcre2_match_context_free(context_);
  pcre2_match_data_free(match_data_);
}

Regex Regex::compile(std::string_view onig_pattern) {
  return build(onig_to_pcre2(onig_pattern), PCRE2_UTF | PCRE2_UCP, onig_pattern);
}

Regex Regex::literal(std::string_view text) {
  return build(std::string(text), PCRE2_UTF | PCRE2_LITERAL, text);
}

Regex Regex::build(const std::string& pattern, unsigned options, std::string_view shown) {
  int error = 0;
  PCRE2_SIZE offset = 0;
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                   options, &error, &offset, nullptr);
  if (!code) {
    throw Error(fmt::format("regex '{}': {} at offset {}", shown, pcre2_message(error), offset));
  }
  Regex r;
  r.code_ = std::shared_ptr<pcre2_code>(code, pcre2_code_free);
  r.jit_ = pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0;
  return r;
}

std::optional<Regex::Match> Regex::find(std::string_view subject, size_t start,
                                        RegexScratch& scratch) const {
  const auto* s = reinterpret_cast<PCRE2_SPTR>(subject.data());
  int rc = jit_ ? pcre2_jit_match(code_.get(), s, subject.size(), start, 0, scratch.match_data_,
                                  scratch.context_)
                : PCRE2_ERROR_JIT_STACKLIMIT;
  if (rc == PCRE2_ERROR_JIT_STACKLIMIT) {
    // The interpreter keeps its backtracking state on the heap, so it copes with inputs the
    // JIT stack cannot.
    rc = pcre2_match(code_.get(), s, subject.size(), start, PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT,
                     scratch.match_data_, scratch.context_);
  }
  if (rc == PCRE2_ERROR_NOMATCH) return std::nullopt;
  if (rc < 0) throw Error(fmt::format("tokenizer regex: match failed: {}", pcre2_message(rc)));
  const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(scratch.match_data_);
  return Match{ov[0], ov[1]};
}

}  // namespace smol
