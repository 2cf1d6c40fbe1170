// The `messages` of a chat request, checked and turned into what chat templates read:
// OpenAI's wire form (tool_calls with arguments as a JSON string, content null beside them,
// tool results with tool_call_id) becomes transformers' form.
#include <fmt/format.h>

#include "server/chat_request.hpp"
#include "server/openai_api.hpp"

namespace smol::server {

using nlohmann::ordered_json;

namespace {

// A string, or a list of parts of which only text parts are supported; null is "".
std::string message_content(const ordered_json& content, const std::string& where) {
  if (content.is_null()) return "";
  if (content.is_string()) return content.get<std::string>();
  if (!content.is_array()) throw bad_field(where, "must be a string or a list of content parts");
  std::string text;
  for (const ordered_json& part : content) {
    const ordered_json* type = part.is_object() ? non_null_member(part, "type") : nullptr;
    const ordered_json* part_text = part.is_object() ? non_null_member(part, "text") : nullptr;
    if (!type || *type != "text" || !part_text || !part_text->is_string()) {
      throw bad_field(where, "supports only parts of type 'text' with a string 'text'");
    }
    text += part_text->get<std::string>();
  }
  return text;
}

std::string string_member(const ordered_json& object, const char* name, const std::string& where) {
  const ordered_json* v = non_null_member(object, name);
  if (!v || !v->is_string()) throw bad_field(where + "." + name, "must be a string");
  return v->get<std::string>();
}

// One entry of an assistant message's tool_calls, with its arguments as an object.
ordered_json template_tool_call(const ordered_json& call, const std::string& where) {
  if (!call.is_object()) throw bad_field(where, "must be an object");
  if (const ordered_json* type = non_null_member(call, "type"); type && *type != "function") {
    throw bad_field(where + ".type", "must be 'function'");
  }
  const ordered_json* function = non_null_member(call, "function");
  if (!function || !function->is_object()) throw bad_field(where + ".function", "must be an object");
  ordered_json fn = ordered_json::object();
  for (const auto& [key, value] : function->items()) {
    if (value.is_null()) continue;
    if (key == "name") {
      fn["name"] = string_member(*function, "name", where + ".function");
    } else if (key == "arguments") {
      ordered_json args = value;
      if (value.is_string()) {
        args = ordered_json::parse(value.get<std::string>(), nullptr, /*allow_exceptions=*/false);
      }
      if (!args.is_object()) {
        throw bad_field(where + ".function.arguments", "must be a JSON object, or a string holding one");
      }
      fn["arguments"] = std::move(args);
    }
  }
  if (!fn.contains("name")) throw bad_field(where + ".function.name", "must be a string");
  if (!fn.contains("arguments")) fn["arguments"] = ordered_json::object();
  ordered_json out = ordered_json::object();
  for (const auto& [key, value] : call.items()) {
    if (value.is_null()) continue;
    if (key == "id") {
      out["id"] = string_member(call, "id", where);
    } else if (key == "type") {
      out["type"] = "function";
    } else if (key == "function") {
      out["function"] = fn;
    }
  }
  return out;
}

}  // namespace

ChatMessages parse_chat_messages(const ordered_json& messages) {
  if (!messages.is_array() || messages.empty()) throw bad_field("messages", "must be a non-empty list");
  ChatMessages out;
  for (size_t i = 0; i < messages.size(); ++i) {
    const ordered_json& m = messages[i];
    const std::string where = fmt::format("messages[{}]", i);
    if (!m.is_object()) throw bad_field(where, "must be an object");
    const std::string given_role = string_member(m, "role", where);
    if (given_role != "system" && given_role != "user" && given_role != "assistant" && given_role != "developer" &&
        given_role != "tool") {
      throw bad_field(where + ".role", fmt::format("'{}' is not a known role", given_role));
    }
    // OpenAI's newer "developer" role is the system role of models that predate it.
    const std::string role = given_role == "developer" ? "system" : given_role;
    const ordered_json* calls = non_null_member(m, "tool_calls");
    if (calls && role != "assistant") throw bad_field(where + ".tool_calls", "is only for assistant messages");
    if (calls && (!calls->is_array() || calls->empty())) throw bad_field(where + ".tool_calls", "must be a non-empty list");
    if (!m.contains("content") && !calls) throw bad_field(where + ".content", "is required");
    const std::string content = message_content(m.contains("content") ? m["content"] : ordered_json(), where + ".content");
    if (role == "tool") string_member(m, "tool_call_id", where);  // OpenAI requires it too

    ordered_json t = ordered_json::object();
    t["role"] = role;
    t["content"] = content;
    for (const auto& [key, value] : m.items()) {
      if (value.is_null()) continue;
      if (key == "name") {
        t["name"] = string_member(m, "name", where);
      } else if (key == "tool_call_id") {
        t["tool_call_id"] = string_member(m, "tool_call_id", where);
      } else if (key == "tool_calls" && calls) {
        ordered_json list = ordered_json::array();
        for (size_t j = 0; j < calls->size(); ++j) {
          list.push_back(template_tool_call((*calls)[j], fmt::format("{}.tool_calls[{}]", where, j)));
        }
        t["tool_calls"] = std::move(list);
      }
    }
    out.plain.push_back({role, content});
    out.for_template.push_back(std::move(t));
  }
  return out;
}

}  // namespace smol::server
