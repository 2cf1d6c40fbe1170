#include "server/tool_call_parser.hpp"

#include <algorithm>

#include <nlohmann/json.hpp>

namespace smol::server {

using nlohmann::ordered_json;

namespace {

constexpr std::string_view kOpen = "<tool_call>";
constexpr std::string_view kClose = "</tool_call>";

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

// The longest end of `text` that is the start of `tag` (not all of it).
size_t partial_tag_at_end(std::string_view text, std::string_view tag) {
  for (size_t n = std::min(text.size(), tag.size() - 1); n > 0; --n) {
    if (text.substr(text.size() - n) == tag.substr(0, n)) return n;
  }
  return 0;
}

}  // namespace

ToolCallStream::ToolCallStream(std::vector<std::string> tool_names) : names_(std::move(tool_names)) {}

void ToolCallStream::emit_content(std::string_view text, std::vector<ToolCallPiece>& out) {
  size_t end = text.size();
  while (end > 0 && is_space(text[end - 1])) --end;
  if (end == 0) {  // only whitespace: it waits for what follows
    held_space_.append(text);
    return;
  }
  std::string content = calls_ > 0 ? std::string() : std::move(held_space_);
  held_space_.clear();
  content.append(text.substr(0, end));
  held_space_.assign(text.substr(end));
  out.push_back({std::move(content), std::nullopt});
}

std::optional<std::vector<ParsedToolCall>> ToolCallStream::parse_block(std::string_view body) const {
  const ordered_json doc = ordered_json::parse(trim(body), nullptr, /*allow_exceptions=*/false);
  auto parse_call = [&](const ordered_json& c) -> std::optional<ParsedToolCall> {
    if (!c.is_object() || !c.contains("name") || !c["name"].is_string()) return std::nullopt;
    const std::string name = c["name"].get<std::string>();
    if (std::find(names_.begin(), names_.end(), name) == names_.end()) return std::nullopt;
    ordered_json args = ordered_json::object();
    for (const char* key : {"arguments", "parameters"}) {  // Llama-style templates say "parameters"
      if (!c.contains(key)) continue;
      args = c[key];
      if (args.is_string()) args = ordered_json::parse(args.get<std::string>(), nullptr, false);
      break;
    }
    if (!args.is_object()) return std::nullopt;
    return ParsedToolCall{name, args.dump()};
  };
  std::vector<ParsedToolCall> calls;
  if (doc.is_array()) {
    for (const ordered_json& c : doc) {
      auto call = parse_call(c);
      if (!call) return std::nullopt;
      calls.push_back(std::move(*call));
    }
    return calls;
  }
  auto call = parse_call(doc);
  if (!call) return std::nullopt;
  calls.push_back(std::move(*call));
  return calls;
}

void ToolCallStream::close_block(std::string_view body, bool closed, std::vector<ToolCallPiece>& out) {
  auto calls = parse_block(body);
  if (!calls) {
    emit_content(std::string(kOpen) + std::string(body) + (closed ? std::string(kClose) : std::string()), out);
    return;
  }
  held_space_.clear();
  for (ParsedToolCall& call : *calls) {
    out.push_back({"", std::move(call)});
    ++calls_;
  }
}

std::vector<ToolCallPiece> ToolCallStream::push(std::string_view text) {
  std::vector<ToolCallPiece> out;
  buffer_.append(text);
  while (true) {
    if (!in_block_) {
      const size_t at = buffer_.find(kOpen);
      if (at == std::string::npos) {
        const size_t keep = partial_tag_at_end(buffer_, kOpen);
        emit_content(std::string_view(buffer_).substr(0, buffer_.size() - keep), out);
        buffer_.erase(0, buffer_.size() - keep);
        return out;
      }
      emit_content(std::string_view(buffer_).substr(0, at), out);
      buffer_.erase(0, at + kOpen.size());
      in_block_ = true;
    } else {
      const size_t at = buffer_.find(kClose);
      if (at == std::string::npos) return out;
      close_block(std::string_view(buffer_).substr(0, at), true, out);
      buffer_.erase(0, at + kClose.size());
      in_block_ = false;
    }
  }
}

std::vector<ToolCallPiece> ToolCallStream::finish() {
  std::vector<ToolCallPiece> out;
  if (in_block_) {
    close_block(buffer_, false, out);
  } else {
    emit_content(buffer_, out);
  }
  buffer_.clear();
  in_block_ = false;
  // Without a call the text comes back exactly as written, whitespace included.
  if (calls_ == 0 && !held_space_.empty()) out.push_back({std::move(held_space_), std::nullopt});
  held_space_.clear();
  return out;
}

ParsedAnswer parse_tool_calls(std::string_view text, const std::vector<std::string>& tool_names) {
  ToolCallStream stream(tool_names);
  std::vector<ToolCallPiece> pieces = stream.push(text);
  for (ToolCallPiece& p : stream.finish()) pieces.push_back(std::move(p));
  ParsedAnswer answer;
  for (ToolCallPiece& p : pieces) {
    if (p.call) {
      answer.calls.push_back(std::move(*p.call));
    } else {
      answer.content += p.content;
    }
  }
  return answer;
}

}  // namespace smol::server
