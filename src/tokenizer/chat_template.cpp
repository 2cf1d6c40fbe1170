#include "smol/chat_template.hpp"

#include <fmt/format.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "smol/error.hpp"
#include "jinja/template.hpp"

namespace smol {

struct ChatTemplate::Impl {
  std::string source;
  std::string bos_token;
  std::string eos_token;
  jinja::DictValue special_tokens;  // variables transformers passes from special_tokens_map
  jinja::Template compiled;

  Impl(std::string src, std::string bos, std::string eos, jinja::DictValue specials,
       std::string name)
      : source(std::move(src)),
        bos_token(std::move(bos)),
        eos_token(std::move(eos)),
        special_tokens(std::move(specials)),
        compiled(source, std::move(name)) {}

  // apply_chat_template's render call: tools=None, documents=None, add_generation_prompt,
  // then the special tokens, then the caller's variables.
  std::string render(const jinja::Value& context) const {
    if (!context.is_mapping()) throw Error("chat template context must be a JSON object");
    jinja::DictValue vars;
    vars.set("tools", jinja::Value(nullptr));
    vars.set("documents", jinja::Value(nullptr));
    vars.set("add_generation_prompt", jinja::Value(false));
    for (const auto& [k, v] : special_tokens.items) vars.set(k, v);
    for (const auto& [k, v] : context.as_dict().items) vars.set(k, v);
    return compiled.render(vars);
  }
};

ChatTemplate::ChatTemplate(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}

ChatTemplate::ChatTemplate(std::string source, std::string bos_token, std::string eos_token) {
  jinja::DictValue specials;
  specials.set("bos_token", jinja::Value(bos_token));
  specials.set("eos_token", jinja::Value(eos_token));
  impl_ = std::make_shared<const Impl>(std::move(source), std::move(bos_token),
                                       std::move(eos_token), std::move(specials), "chat template");
}

namespace {

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(fmt::format("{}: cannot open file", path.string()));
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A special token is saved either as its text or as an AddedToken object {"content": ...}.
std::optional<std::string> token_text(const nlohmann::ordered_json& config, const char* key,
                                      const std::filesystem::path& path) {
  auto it = config.find(key);
  if (it == config.end() || it->is_null()) return std::nullopt;
  if (it->is_string()) return it->get<std::string>();
  if (it->is_object() && it->contains("content") && (*it)["content"].is_string())
    return (*it)["content"].get<std::string>();
  throw Error(fmt::format("{}: '{}' must be a string or an object with a string 'content'",
                          path.string(), key));
}

std::string select_template(const nlohmann::ordered_json& value, const std::string& wanted,
                            const std::filesystem::path& path) {
  if (value.is_string()) return value.get<std::string>();
  if (!value.is_array())
    throw Error(
        fmt::format("{}: 'chat_template' must be a string or a list of "
                    "{{\"name\", \"template\"}} objects",
                    path.string()));
  std::string names;
  for (const auto& entry : value) {
    if (!entry.is_object() || !entry.contains("name") || !entry.contains("template") ||
        !entry["name"].is_string() || !entry["template"].is_string())
      throw Error(
          fmt::format("{}: each 'chat_template' entry needs string 'name' and "
                      "'template'",
                      path.string()));
    if (entry["name"] == wanted) return entry["template"].get<std::string>();
    names += (names.empty() ? "'" : ", '") + entry["name"].get<std::string>() + "'";
  }
  throw Error(fmt::format("{}: no chat template named '{}' (it has {})", path.string(), wanted,
                          names.empty() ? "none" : names));
}

}  // namespace

ChatTemplate ChatTemplate::from_tokenizer_config(const std::filesystem::path& path,
                                                 const std::string& template_name) {
  nlohmann::ordered_json config;
  try {
    config = nlohmann::ordered_json::parse(read_file(path));
  } catch (const nlohmann::json::exception& e) {
    throw Error(fmt::format("{}: invalid JSON: {}", path.string(), e.what()));
  }
  if (!config.is_object()) throw Error(fmt::format("{}: expected a JSON object", path.string()));

  std::string source;
  std::string name = path.string() + ": chat_template";
  auto sibling = path.parent_path() / "chat_template.jinja";
  if (auto it = config.find("chat_template"); it != config.end() && !it->is_null()) {
    source = select_template(*it, template_name, path);
  } else if (std::filesystem::exists(sibling)) {
    source = read_file(sibling);
    name = sibling.string();
  } else {
    throw Error(
        fmt::format("{}: no 'chat_template' (and no chat_template.jinja beside it); "
                    "this model has no chat template",
                    path.string()));
  }

  jinja::DictValue specials;
  std::string bos, eos;
  for (const char* key : {"bos_token", "eos_token", "unk_token", "pad_token"}) {
    if (auto text = token_text(config, key, path)) {
      specials.set(key, jinja::Value(*text));
      if (std::string_view(key) == "bos_token") bos = *text;
      if (std::string_view(key) == "eos_token") eos = *text;
    }
  }
  if (auto it = config.find("additional_special_tokens"); it != config.end() && it->is_array()) {
    std::vector<jinja::Value> extra;
    for (size_t i = 0; i < it->size(); ++i) {
      const auto& t = (*it)[i];
      if (t.is_string())
        extra.emplace_back(t.get<std::string>());
      else if (t.is_object() && t.contains("content") && t["content"].is_string())
        extra.emplace_back(t["content"].get<std::string>());
    }
    specials.set("additional_special_tokens", jinja::Value::list(std::move(extra)));
  }
  return ChatTemplate(std::make_shared<const Impl>(
      std::move(source), std::move(bos), std::move(eos), std::move(specials), std::move(name)));
}

std::string ChatTemplate::render(const std::vector<ChatMessage>& messages,
                                 bool add_generation_prompt) const {
  std::vector<jinja::Value> list;
  for (const auto& m : messages) {
    jinja::DictValue d;
    d.set("role", jinja::Value(m.role));
    d.set("content", jinja::Value(m.content));
    list.push_back(jinja::Value::dict(std::move(d)));
  }
  jinja::DictValue context;
  context.set("messages", jinja::Value::list(std::move(list)));
  context.set("add_generation_prompt", jinja::Value(add_generation_prompt));
  return impl_->render(jinja::Value::dict(std::move(context)));
}

namespace {

template <class Json>
jinja::Value context_value(const Json& context) {
  try {
    return jinja::Value::from_json(context);
  } catch (const jinja::EvalError& e) {
    throw Error(fmt::format("chat template context: {}", e.what()));
  }
}

}  // namespace

std::string ChatTemplate::render(const nlohmann::json& context) const {
  return impl_->render(context_value(context));
}

std::string ChatTemplate::render_ordered(const nlohmann::ordered_json& context) const {
  return impl_->render(context_value(context));
}

const std::string& ChatTemplate::source() const { return impl_->source; }
const std::string& ChatTemplate::bos_token() const { return impl_->bos_token; }
const std::string& ChatTemplate::eos_token() const { return impl_->eos_token; }

}  // namespace smol
