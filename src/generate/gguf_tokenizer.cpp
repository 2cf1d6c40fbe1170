#include "smol/gguf_tokenizer.hpp"

#include <fmt/format.h>

#include "smol/error.hpp"

namespace smol {

Tokenizer tokenizer_from_gguf(const GgufFile& file) {
  const std::string source = file.path().string();
  return Tokenizer::from_json_text(tokenizer_json_text_from_gguf(file.metadata(), source), source);
}

ChatTemplate chat_template_from_gguf(const GgufFile& file, const Tokenizer& tokenizer) {
  const std::string source = file.path().string();
  const auto text = file.metadata().get_string("tokenizer.chat_template", source);
  if (!text) throw Error(fmt::format("{}: no chat template (metadata 'tokenizer.chat_template')", source));
  auto token_text = [&](const char* key) {
    const auto id = file.metadata().get_int(key, source);
    if (!id || *id < 0 || *id > INT32_MAX) return std::string();
    return tokenizer.token_text(static_cast<int32_t>(*id)).value_or("");
  };
  return ChatTemplate(*text, token_text("tokenizer.ggml.bos_token_id"), token_text("tokenizer.ggml.eos_token_id"));
}

Tokenizer load_tokenizer(const std::filesystem::path& model) {
  if (std::filesystem::is_regular_file(model)) return tokenizer_from_gguf(GgufFile::open(model));
  return Tokenizer::from_folder(model);
}

}  // namespace smol
