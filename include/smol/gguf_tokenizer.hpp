#pragma once
// The tokenizer and chat template a model carries, whether it is a Hugging Face folder
// (tokenizer.json, tokenizer_config.json) or a .gguf file (tokenizer.ggml.* metadata).
#include <filesystem>

#include "smol/chat_template.hpp"
#include "smol/gguf.hpp"
#include "smol/tokenizer.hpp"

namespace smol {

// Builds the equivalent tokenizer.json in memory and loads it; smol::Error names the file.
Tokenizer tokenizer_from_gguf(const GgufFile& file);

// `tokenizer.chat_template`, with bos/eos text from the tokenizer; smol::Error when absent.
ChatTemplate chat_template_from_gguf(const GgufFile& file, const Tokenizer& tokenizer);

// The tokenizer of a model path without loading its weights: <folder>/tokenizer.json, or the
// metadata of a .gguf file (any regular file is read as GGUF).
Tokenizer load_tokenizer(const std::filesystem::path& model);

}  // namespace smol
