#pragma once
// The tokenizer of a Hugging Face model folder, giving the same ids and text as transformers:
// byte-level BPE from `tokenizer.json` (as Hugging Face `tokenizers`) or from `vocab.json` +
// `merges.txt` (GPT-2/RoBERTa/BART), or Marian's SentencePiece pair (`source.spm`,
// `target.spm`, `vocab.json`, as transformers' MarianTokenizer).
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace smol {

class Tokenizer {
 public:
  // Throws smol::Error naming the file for a missing/malformed file or an unsupported component.
  static Tokenizer from_file(const std::filesystem::path& tokenizer_json);
  // Same, from the JSON text itself; `name` is used in error messages.
  static Tokenizer from_json_text(std::string_view json_text, const std::string& name);
  // Picks the files as transformers' AutoTokenizer would: tokenizer.json; else vocab.json +
  // merges.txt; else source.spm + target.spm + vocab.json. The special tokens and options come
  // from tokenizer_config.json, special_tokens_map.json and added_tokens.json where present.
  // Throws smol::Error listing what was looked for when the folder has none of these.
  static Tokenizer from_folder(const std::filesystem::path& dir);

  // No BOS/EOS is added; added/special tokens written in the text become their single ids.
  // Throws smol::Error if `text` is not valid UTF-8.
  std::vector<int32_t> encode(std::string_view text) const;
  // transformers' tokenizer(text)["input_ids"] (add_special_tokens=True): encode() plus what
  // the post-processor adds (BART/RoBERTa: <s> ... </s>; Marian: ... </s>; SmolLM2: nothing).
  std::vector<int32_t> encode_with_special(std::string_view text) const;
  // tokenizer(text_target=text)["input_ids"]: Marian encodes with target.spm (and the target
  // vocab when separate_vocabs); the others as encode_with_special.
  std::vector<int32_t> encode_target(std::string_view text) const;
  // Invalid UTF-8 in the joined token bytes becomes U+FFFD per maximal invalid subsequence.
  // Throws smol::Error for an id outside [0, vocab_size()) that names no token.
  std::string decode(std::span<const int32_t> ids, bool skip_special = false) const;

  std::string token_bytes(int32_t id) const;  // raw bytes of one token; throws for unknown ids
  std::optional<int32_t> token_id(std::string_view token_text) const;  // e.g. "<|im_end|>", "Ġthe"
  std::optional<std::string> token_text(int32_t id) const;             // inverse of token_id
  size_t vocab_size() const;  // largest id + 1 over the model vocab and the added tokens
  bool is_special(int32_t id) const;
  bool is_added(int32_t id) const;  // special or not
  // The id of a special-token role as the tokenizer config names it: "bos", "eos", "unk",
  // "pad", "sep", "cls" or "mask" (nullopt when the tokenizer has none, or for from_file /
  // from_json_text, which see no config).
  std::optional<int32_t> special_id(std::string_view role) const;
  // tokenizer_config.json's clean_up_tokenization_spaces, when it says: transformers' decode
  // then passes its text through clean_up_tokenization (below); decode() never does.
  std::optional<bool> clean_up_tokenization_spaces() const;

  ~Tokenizer();
  Tokenizer(const Tokenizer&);
  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(const Tokenizer&);
  Tokenizer& operator=(Tokenizer&&) noexcept;

  struct Impl;

 private:
  friend class StreamDecoder;
  explicit Tokenizer(std::shared_ptr<const Impl> impl);
  // Immutable after loading and shared by copies; its scratch pool is internally locked,
  // so one Tokenizer may be used from many threads at once.
  std::shared_ptr<const Impl> impl_;
};

// transformers' clean_up_tokenization: removes the space before . ? ! , and in front of
// English contractions (" n't", " 's", ...).
std::string clean_up_tokenization(std::string_view text);

// Streaming decoder for generation: holds back an incomplete UTF-8 sequence until a later
// token completes it (byte-level BPE), or text the next token may still change (SentencePiece,
// whose decode strips and joins pieces). The concatenation of every push() and the final
// flush() equals Tokenizer::decode of all the ids pushed.
class StreamDecoder {
 public:
  explicit StreamDecoder(const Tokenizer& tok, bool skip_special = false);
  std::string push(int32_t id);  // text that is complete so far
  std::string flush();           // whatever is left (invalid bytes -> U+FFFD)

 private:
  Tokenizer tok_;  // a cheap shared handle, so the decoder cannot outlive the vocabulary
  bool skip_special_;
  std::string pending_;  // bytes not yet returned: at most an incomplete UTF-8 sequence
  // For tokenizers whose decode is not a concatenation of token bytes: every id pushed, and
  // the part of their decode already returned.
  std::vector<int32_t> ids_;
  std::string returned_;
};

}  // namespace smol
