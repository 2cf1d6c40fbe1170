#pragma once
// Reading tool calls out of the text a model generates, as it streams: <tool_call> blocks
// holding one call {"name": ..., "arguments": {...}} (Hermes, Qwen2.5) or a list of them
// (SmolLM2-Instruct's function-calling format; an empty list is no call). Text outside the
// blocks is content. A block that is not valid JSON, or names a function not among the
// tools, stays in the content as it was written; so does everything when there is no call.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace smol::server {

struct ParsedToolCall {
  std::string name;
  std::string arguments;  // the arguments object as compact JSON text, keys as written
};

// Content and calls in the order the model wrote them.
struct ToolCallPiece {
  std::string content;                 // text, when !call
  std::optional<ParsedToolCall> call;  // a call
};

class ToolCallStream {
 public:
  explicit ToolCallStream(std::vector<std::string> tool_names);

  // New text: the pieces now certain. Text that may begin a <tool_call> tag is held back,
  // as is whitespace, which is dropped once a call was made (between and around blocks).
  std::vector<ToolCallPiece> push(std::string_view text);
  // The end of the text: what was held back (an unclosed last block counts as a call when
  // its JSON is complete).
  std::vector<ToolCallPiece> finish();
  bool made_calls() const { return calls_ > 0; }

 private:
  void emit_content(std::string_view text, std::vector<ToolCallPiece>& out);
  void close_block(std::string_view body, bool closed, std::vector<ToolCallPiece>& out);
  std::optional<std::vector<ParsedToolCall>> parse_block(std::string_view body) const;

  std::vector<std::string> names_;
  std::string buffer_;       // text not yet classified
  bool in_block_ = false;    // buffer_ is the body of an open <tool_call>
  std::string held_space_;   // whitespace waiting for the content after it
  int calls_ = 0;
};

// The whole text at once: content (pieces joined) and the calls.
struct ParsedAnswer {
  std::string content;
  std::vector<ParsedToolCall> calls;
};
ParsedAnswer parse_tool_calls(std::string_view text, const std::vector<std::string>& tool_names);

}  // namespace smol::server
