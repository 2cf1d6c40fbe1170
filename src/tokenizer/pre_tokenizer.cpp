#include "tokenizer/pre_tokenizer.hpp"

#include <utility>

#include "tokenizer/utf8.hpp"

namespace smol {
namespace {

using Span = PreTokenizerScratch::Span;

// Visits all matches of `regex` in `text` and the gaps between them, in order, covering
// `text`, with Oniguruma's find_iter rule for empty matches (none right where the previous
// match ended).
void for_each_match(const Regex& regex, std::string_view text, RegexScratch& scratch,
                    FunctionRef<void(size_t, size_t, bool)> visit) {
  if (text.empty()) {
    visit(0, 0, false);
    return;
  }
  size_t prev = 0, search = 0;
  bool have_last = false;
  size_t last_match_end = 0;
  while (search <= text.size()) {
    const auto m = regex.find(text, search, scratch);
    if (!m) break;
    if (m->begin == m->end && have_last && last_match_end == m->end) {
      if (search >= text.size()) break;
      search += utf8::next_sequence(text, search).length;
      continue;
    }
    search = m->end;
    have_last = true;
    last_match_end = m->end;
    if (m->begin != prev) visit(prev, m->begin, false);
    visit(m->begin, m->end, true);
    prev = m->end;
  }
  if (prev != text.size()) visit(prev, text.size(), false);
}

// Turns (span, is_match) into (span, remove) following SplitDelimiterBehavior.
void apply_behavior(SplitBehavior behavior, std::vector<Span>& spans) {
  switch (behavior) {
    case SplitBehavior::Isolated:
      for (auto& s : spans) s.flag = false;
      return;
    case SplitBehavior::Removed:
      return;  // matches are exactly what is removed
    case SplitBehavior::Contiguous:
    case SplitBehavior::MergedWithPrevious: {
      const bool contiguous = behavior == SplitBehavior::Contiguous;
      std::vector<Span> merged;
      merged.reserve(spans.size());
      bool previous_match = false;
      for (const auto& s : spans) {
        const bool join = contiguous ? s.flag == previous_match : s.flag && !previous_match;
        if (join && !merged.empty()) {
          merged.back().end = s.end;
        } else {
          merged.push_back({s.begin, s.end, false});
        }
        previous_match = s.flag;
      }
      spans = std::move(merged);
      return;
    }
    case SplitBehavior::MergedWithNext: {
      std::vector<Span> merged;
      merged.reserve(spans.size());
      bool previous_match = false;
      for (auto it = spans.rbegin(); it != spans.rend(); ++it) {
        if (it->flag && !previous_match && !merged.empty()) {
          merged.back().begin = it->begin;
        } else {
          merged.push_back({it->begin, it->end, false});
        }
        previous_match = it->flag;
      }
      spans.assign(merged.rbegin(), merged.rend());
      return;
    }
  }
}

bool is_ascii(std::string_view s) {
  for (char c : s) {
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  }
  return true;
}

}  // namespace

PreTokenizerStep make_split_step(Regex regex, SplitBehavior behavior, bool invert) {
  PreTokenizerStep s;
  s.kind = PreTokenizerStep::Kind::Split;
  s.regex = std::move(regex);
  s.behavior = behavior;
  s.invert = invert;
  return s;
}

PreTokenizerStep make_digits_step(bool individual_digits) {
  // Rust's char::is_numeric is categories Nd, Nl and No, i.e. \p{N}. Contiguous runs of
  // single-character matches are exactly the matches of \p{N}+.
  PreTokenizerStep s;
  s.kind = PreTokenizerStep::Kind::Digits;
  s.regex = Regex::compile(individual_digits ? R"(\p{N})" : R"(\p{N}+)");
  s.individual_digits = individual_digits;
  return s;
}

PreTokenizerStep make_byte_level_step(bool add_prefix_space, bool use_regex) {
  PreTokenizerStep s;
  s.kind = PreTokenizerStep::Kind::ByteLevel;
  s.regex = Regex::compile(kByteLevelPattern);
  s.add_prefix_space = add_prefix_space;
  s.use_regex = use_regex;
  return s;
}

PreTokenizer::PreTokenizer(std::vector<PreTokenizerStep> steps) : steps_(std::move(steps)) {
  byte_level_ = !steps_.empty() && steps_.back().kind == PreTokenizerStep::Kind::ByteLevel;
}

void PreTokenizer::split(std::string_view text, PreTokenizerScratch& scratch,
                         FunctionRef<void(std::string_view)> emit) const {
  scratch.spans.resize(steps_.size());
  scratch.prefixed.resize(steps_.size());
  run(0, text, scratch, emit);
}

void PreTokenizer::run(size_t step, std::string_view piece, PreTokenizerScratch& scratch,
                       FunctionRef<void(std::string_view)> emit) const {
  if (piece.empty()) return;
  if (step == steps_.size()) {
    emit(piece);
    return;
  }
  const PreTokenizerStep& s = steps_[step];
  if (s.kind == PreTokenizerStep::Kind::Digits && is_ascii(piece)) {
    split_digits_ascii(step, piece, scratch, emit);
    return;
  }
  if (s.kind == PreTokenizerStep::Kind::ByteLevel) {
    if (s.add_prefix_space && piece.front() != ' ') {
      std::string& buffer = scratch.prefixed[step];
      buffer.clear();
      buffer.push_back(' ');
      buffer.append(piece);
      piece = buffer;
    }
    if (!s.use_regex) {
      run(step + 1, piece, scratch, emit);
      return;
    }
  }
  const SplitBehavior behavior =
      s.kind == PreTokenizerStep::Kind::Split ? s.behavior : SplitBehavior::Isolated;
  if (behavior == SplitBehavior::Isolated) {
    // Every match and gap is a piece of its own (invert changes nothing), so no list is needed.
    for_each_match(s.regex, piece, scratch.regex, [&](size_t begin, size_t end, bool) {
      if (end > begin) run(step + 1, piece.substr(begin, end - begin), scratch, emit);
    });
    return;
  }
  std::vector<Span>& spans = scratch.spans[step];
  spans.clear();
  for_each_match(s.regex, piece, scratch.regex, [&](size_t begin, size_t end, bool is_match) {
    spans.push_back({begin, end, is_match != s.invert});
  });
  apply_behavior(behavior, spans);
  for (const auto& sp : spans) {
    if (!sp.flag && sp.end > sp.begin) {
      run(step + 1, piece.substr(sp.begin, sp.end - sp.begin), scratch, emit);
    }
  }
}

// Digits on pure-ASCII text, without the regex engine: the common case.
void PreTokenizer::split_digits_ascii(size_t step, std::string_view piece,
                                      PreTokenizerScratch& scratch,
                                      FunctionRef<void(std::string_view)> emit) const {
  const bool individual = steps_[step].individual_digits;
  size_t start = 0, i = 0;
  while (i < piece.size()) {
    if (piece[i] < '0' || piece[i] > '9') {
      ++i;
      continue;
    }
    if (i > start) run(step + 1, piece.substr(start, i - start), scratch, emit);
    size_t end = i + 1;
    if (!individual) {
      while (end < piece.size() && piece[end] >= '0' && piece[end] <= '9') ++end;
    }
    run(step + 1, piece.substr(i, end - i), scratch, emit);
    start = i = end;
  }
  if (start < piece.size()) run(step + 1, piece.substr(start), scratch, emit);
}

}  // namespace smol
