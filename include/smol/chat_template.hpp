#pragma once
// Chat templates: turns a conversation into the prompt text a chat model was trained on, by
// rendering the model's Jinja2 `chat_template` exactly as Hugging Face transformers'
// apply_chat_template(..., tokenize=False) does.
#include <filesystem>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

namespace smol {

struct ChatMessage {
  std::string role;  // "system", "user", "assistant", ...
  std::string content;
};

class ChatTemplate {
 public:
  // Parses the template once; throws smol::Error (with line and column) on bad or unsupported
  // syntax.
  ChatTemplate(std::string source, std::string bos_token, std::string eos_token);

  // Reads `chat_template` (a string, or a list of {name, template} from which `template_name`
  // is taken) and the special tokens (bos_token, eos_token, unk_token, pad_token,
  // additional_special_tokens; each a string or an {"content": ...} object) from a
  // tokenizer_config.json. Falls back to a chat_template.jinja file beside it, as newer
  // transformers versions save. Throws smol::Error if neither holds a template.
  static ChatTemplate from_tokenizer_config(const std::filesystem::path& tokenizer_config_json,
                                            const std::string& template_name = "default");

  // Rendering errors are smol::Error naming the template line and column; a template's own
  // raise_exception('msg') throws smol::Error whose what() is exactly msg.
  std::string render(const std::vector<ChatMessage>& messages, bool add_generation_prompt) const;

  // Renders with arbitrary variables, e.g. {"messages": [...], "tools": [...],
  // "add_generation_prompt": true}. Like transformers, `tools` and `documents` default to
  // None, `add_generation_prompt` to false, and the special tokens are defined; `context`
  // overrides them. Keys of a plain nlohmann::json are sorted, so tools printed with `tojson`
  // come out in sorted key order; pass an ordered_json to keep the caller's order.
  std::string render(const nlohmann::json& context) const;
  std::string render_ordered(const nlohmann::ordered_json& context) const;

  const std::string& source() const;
  const std::string& bos_token() const;
  const std::string& eos_token() const;

 private:
  struct Impl;
  explicit ChatTemplate(std::shared_ptr<const Impl> impl);
  std::shared_ptr<const Impl> impl_;  // immutable, so copies share it
};

}  // namespace smol
