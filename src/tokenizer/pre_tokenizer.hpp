#pragma once
// The pre-tokenizer pipeline (Split, Digits, ByteLevel, in a Sequence) with the exact splitting
// semantics of Hugging Face tokenizers: every step splits each piece left by the previous step,
// and empty pieces are dropped.
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/function_ref.hpp"
#include "tokenizer/regex.hpp"

namespace smol {

enum class SplitBehavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous };

struct PreTokenizerStep {
  enum class Kind { Split, Digits, ByteLevel };
  Kind kind = Kind::Split;
  Regex regex;  // Split: the pattern; Digits: \p{N}; ByteLevel: GPT-2's pattern
  SplitBehavior behavior = SplitBehavior::Isolated;
  bool invert = false;
  bool individual_digits = false;  // Digits
  bool add_prefix_space = false;   // ByteLevel
  bool use_regex = true;           // ByteLevel
};

PreTokenizerStep make_split_step(Regex regex, SplitBehavior behavior, bool invert);
PreTokenizerStep make_digits_step(bool individual_digits);
PreTokenizerStep make_byte_level_step(bool add_prefix_space, bool use_regex);

// Per-call working memory, reused across calls to avoid allocating per piece.
struct PreTokenizerScratch {
  struct Span {
    size_t begin, end;
    bool flag;  // while matching: is a match; after the behavior: to be removed
  };
  RegexScratch regex;
  std::vector<std::vector<Span>> spans;  // one list per step (steps never re-enter themselves)
  std::vector<std::string> prefixed;     // one buffer per step for ByteLevel's prefix space
};

class PreTokenizer {
 public:
  PreTokenizer() = default;
  explicit PreTokenizer(std::vector<PreTokenizerStep> steps);

  // True when the last step is ByteLevel: pieces are then raw bytes for the byte-level model.
  bool byte_level() const { return byte_level_; }
  size_t step_count() const { return steps_.size(); }

  void split(std::string_view text, PreTokenizerScratch& scratch,
             FunctionRef<void(std::string_view)> emit) const;

 private:
  void run(size_t step, std::string_view piece, PreTokenizerScratch& scratch,
           FunctionRef<void(std::string_view)> emit) const;
  void split_digits_ascii(size_t step, std::string_view piece, PreTokenizerScratch& scratch,
                          FunctionRef<void(std::string_view)> emit) const;

  std::vector<PreTokenizerStep> steps_;
  bool byte_level_ = false;
};

// The GPT-2 pattern the ByteLevel pre-tokenizer uses (Oniguruma syntax, as in tokenizers).
inline constexpr std::string_view kByteLevelPattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

}  // namespace smol
