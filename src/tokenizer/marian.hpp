#pragma once
// Marian's SentencePiece tokenizer with the semantics of transformers' MarianTokenizer: the
// source (or target) SentencePiece model cuts text into pieces, vocab.json maps the pieces to
// ids (a piece it lacks becomes <unk>), and a leading ">>xx<<" language code stays one token.
// Decoding maps ids back to pieces through the target vocab and joins them with target.spm.
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tokenizer/added_tokens.hpp"

namespace sentencepiece {
class SentencePieceProcessor;
}

namespace smol {

struct MarianFiles {
  std::filesystem::path source_spm, target_spm, vocab;
  std::optional<std::filesystem::path> target_vocab;  // set with separate_vocabs
  std::string unk_token = "<unk>", eos_token = "</s>", pad_token = "<pad>";
  std::vector<std::string> additional_special;
};

class MarianBackend {
 public:
  struct Special {
    std::string content;
    int32_t id;
    bool legacy;  // an additional special token outside vocab.json: decoded as its own text
  };

  // Throws smol::Error naming the file for an unreadable model or vocab, or a vocab without
  // the unk token.
  MarianBackend(const MarianFiles& files, const std::string& name);
  ~MarianBackend();
  MarianBackend(const MarianBackend&) = delete;
  MarianBackend& operator=(const MarianBackend&) = delete;

  // transformers' tokenize + convert_tokens_to_ids (no </s>); `target`: as in text_target mode.
  void encode(std::string_view text, bool target, std::vector<int32_t>& out) const;
  // transformers' decode (without clean_up_tokenization); every id must be below id_count().
  std::string decode(std::span<const int32_t> ids, bool skip_special) const;

  const std::vector<Special>& specials() const { return specials_; }  // eos, unk, pad, additional
  int32_t eos_id() const { return eos_id_; }
  std::optional<int32_t> source_id(std::string_view piece) const;
  // What decode turns an id into before joining: a special token's text or the vocab's piece.
  const std::string* piece(int32_t id) const;
  size_t id_count() const { return decoder_.size(); }  // largest id + 1 over both directions

 private:
  using Vocab = std::unordered_map<std::string, int32_t>;
  const Vocab& vocab(bool target) const { return target && separate_ ? target_encoder_ : encoder_; }
  std::string pieces_to_string(const std::vector<std::string>& tokens) const;

  std::unique_ptr<sentencepiece::SentencePieceProcessor> source_, target_;
  Vocab encoder_, target_encoder_;
  bool separate_ = false;
  std::vector<std::optional<std::string>> decoder_;  // id -> piece (target side); specials win
  std::vector<Special> specials_;
  std::vector<uint8_t> special_flag_;  // per id: 1 special, 2 also legacy
  AddedTokenMatcher special_matcher_;
  std::string unk_token_;
  int32_t eos_id_ = 0;
};

// The parts of transformers' language_code_re handling: a ">>xx<<" match at the very start is
// returned as the code, and every match anywhere is removed from the rest (re.sub).
struct LanguageCodeSplit {
  std::string code;  // empty when the text does not start with one
  std::string rest;
};
LanguageCodeSplit split_language_code(std::string_view text);

// Every U+2581 (SentencePiece's word boundary) replaced by a space.
std::string spaces_for_underlines(std::string_view text);

// Python's str.strip(): removes leading and trailing characters for which str.isspace() holds.
std::string_view python_strip(std::string_view text);

}  // namespace smol
