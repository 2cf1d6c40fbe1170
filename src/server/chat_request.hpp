#pragma once
// The chat parts of a /v1/chat/completions request: the messages in the form chat templates
// read them (transformers' apply_chat_template), and tools with tool_choice.
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "smol/chat_template.hpp"
#include "smol/grammar.hpp"

namespace smol::server {

// object[name] unless it is missing or null.
inline const nlohmann::ordered_json* non_null_member(const nlohmann::ordered_json& object, const char* name) {
  auto it = object.find(name);
  if (it == object.end() || it->is_null()) return nullptr;
  return &*it;
}

struct ChatMessages {
  // role and content of each message (content parts joined, null as ""): what an
  // encoder-decoder reads.
  std::vector<ChatMessage> plain;
  // Each message as transformers' templates expect it, keys in the client's order: role,
  // content (a string; null becomes "" as vLLM does), name, tool_call_id, and tool_calls with
  // function.arguments parsed from OpenAI's JSON string into an object (transformers' chat
  // templating docs: arguments are a dict, not a string); "developer" becomes "system".
  nlohmann::ordered_json for_template = nlohmann::ordered_json::array();
};

// Throws ApiError(400) naming the message field that is wrong.
ChatMessages parse_chat_messages(const nlohmann::ordered_json& messages);

enum class ToolChoice { None, Auto, Required, Function };

// How the model writes a tool call. Both are parsed; a constrained call is written the way
// the model's chat template shows it.
enum class ToolCallSyntax {
  Hermes,      // <tool_call>\n{"name": ..., "arguments": {...}}\n</tool_call>, one block per call
  SmolLM2List  // <tool_call>[{"name": ..., "arguments": {...}}, ...]</tool_call>
};
// Hermes when the template itself writes or describes <tool_call> blocks, else SmolLM2's list
// (SmolLM2-Instruct's template does not mention tools; its model card's prompt uses lists).
ToolCallSyntax tool_call_syntax(const ChatTemplate& chat_template);

struct ChatTools {
  nlohmann::ordered_json tools;     // the request's list as given: the template's `tools`
  std::vector<std::string> names;   // function names, in order
  ToolChoice choice = ToolChoice::Auto;
  std::string function;             // ToolChoice::Function: the name it must call
  bool parallel = true;             // parallel_tool_calls: several calls in one answer
};

// `tools`, `tool_choice` and `parallel_tool_calls` of a request body (nullopt: no tools).
// Throws ApiError(400) for a malformed tool, a duplicate or invalid name, a parameters schema
// smol cannot compile, or a tool_choice that is unknown or names no tool.
std::optional<ChatTools> parse_chat_tools(const nlohmann::ordered_json& body);

// The grammar of the answer tool_choice "required" or a named function asks for: one call
// (several with parallel_tool_calls under "required") whose name is a tool's and whose
// arguments are valid under that tool's `parameters` schema.
Grammar tool_call_grammar(const ChatTools& tools, ToolCallSyntax syntax);

}  // namespace smol::server
