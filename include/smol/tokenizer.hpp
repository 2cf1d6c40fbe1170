#pragma once
// Byte-level BPE tokenizer read from a Hugging Face `tokenizer.json`, giving the same ids as
// Hugging Face `tokenizers` (encode with add_special_tokens=false) and the same text on decode.
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

  // No BOS/EOS is added; added/special tokens written in the text become their single ids.
  // Throws smol::Error if `text` is not valid UTF-8.
  std::vector<int32_t> encode(std::string_view text) const;
  // Invalid UTF-8 in the joined token bytes becomes U+FFFD per maximal invalid subsequence.
  // Throws smol::Error for an id outside [0, vocab_size()) that names no token.
  std::string decode(std::span<const int32_t> ids, bool skip_special = false) const;

  std::string token_bytes(int32_t id) const;  // raw bytes of one token; throws for unknown ids
  std::optional<int32_t> token_id(std::string_view token_text) const;  // e.g. "<|im_end|>", "Ġthe"
  std::optional<std::string> token_text(int32_t id) const;             // inverse of token_id
  size_t vocab_size() const;  // largest id + 1 over the model vocab and the added tokens
  bool is_special(int32_t id) const;
  bool is_added(int32_t id) const;  // special or not

  ~Tokenizer();
  Tokenizer(const Tokenizer&);
  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(const Tokenizer&);
  Tokenizer& operator=(Tokenizer&&) noexcept;

  struct Impl;

 private:
  explicit Tokenizer(std::shared_ptr<const Impl> impl);
  // Immutable after loading and shared by copies; its scratch pool is internally locked,
  // so one Tokenizer may be used from many threads at once.
  std::shared_ptr<const Impl> impl_;
};

// Streaming decoder for generation: holds back an incomplete UTF-8 sequence until a later
// token completes it. The concatenation of every push() and the final flush() equals
// Tokenizer::decode of all the ids pushed.
class StreamDecoder {
 public:
  explicit StreamDecoder(const Tokenizer& tok, bool skip_special = false);
  std::string push(int32_t id);  // text that is complete so far
  std::string flush();           // whatever is left (invalid bytes -> U+FFFD)

 private:
  Tokenizer tok_;  // a cheap shared handle, so the decoder cannot outlive the vocabulary
  bool skip_special_;
  std::string pending_;  // bytes not yet returned: at most an incomplete UTF-8 sequence
};

}  // namespace smol
