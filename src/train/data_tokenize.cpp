// Turning a data file (plain text, JSONL text, chat JSONL) into one token stream.
#include <fmt/format.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "smol/chat_template.hpp"
#include "smol/error.hpp"
#include "smol/tokenizer.hpp"
#include "smol/train_data.hpp"

namespace smol {

TokenData TokenData::from_tokens(std::vector<int32_t> tokens, std::vector<uint8_t> scored) {
  if (!scored.empty() && scored.size() != tokens.size()) throw Error("token data: mask and tokens differ in length");
  TokenData d;
  d.owned_tokens_ = std::move(tokens);
  d.owned_scored_ = std::move(scored);
  d.tokens_ = d.owned_tokens_;
  d.scored_ = d.owned_scored_;
  return d;
}

namespace {

bool is_jsonl(const std::filesystem::path& p) {
  const std::string ext = p.extension().string();
  return ext == ".jsonl" || ext == ".json" || ext == ".ndjson";
}

struct Stream {
  std::vector<int32_t> tokens;
  std::vector<uint8_t> scored;
  bool any_unscored = false;
  void append(const std::vector<int32_t>& ids, bool score) {
    tokens.insert(tokens.end(), ids.begin(), ids.end());
    scored.insert(scored.end(), ids.size(), score ? 1 : 0);
    any_unscored |= !score && !ids.empty();
  }
};

// A conversation as (text, scored) segments: the rendering of messages[0..i) with the
// generation prompt is a prefix of the full rendering for templates like ChatML, so the text
// an assistant turn adds is exactly what follows that prefix in the rendering up to turn i.
void append_chat(Stream& out, const nlohmann::json& messages, const Tokenizer& tok, const ChatTemplate& tmpl,
                 const std::string& where) {
  if (!messages.is_array() || messages.empty()) throw Error(where + ": \"messages\" must be a non-empty array");
  for (const auto& m : messages) {
    if (!m.is_object() || !m.contains("role") || !m["role"].is_string()) {
      throw Error(where + ": every message needs a string \"role\"");
    }
  }
  auto render = [&](size_t count, bool generation_prompt) {
    nlohmann::json context = {{"messages", nlohmann::json::array()}, {"add_generation_prompt", generation_prompt}};
    for (size_t i = 0; i < count; ++i) context["messages"].push_back(messages[i]);
    return tmpl.render(context);
  };
  const std::string full = render(messages.size(), false);
  size_t consumed = 0;
  for (size_t i = 0; i < messages.size(); ++i) {
    if (messages[i]["role"] != "assistant") continue;
    const std::string prefix = render(i, true);
    const std::string upto = render(i + 1, false);
    if (full.compare(0, prefix.size(), prefix) != 0 || full.compare(0, upto.size(), upto) != 0 ||
        prefix.size() < consumed || upto.size() < prefix.size()) {
      throw Error(where + ": the chat template does not render conversations incrementally, so the assistant "
                          "turns cannot be located");
    }
    out.append(tok.encode(std::string_view(full).substr(consumed, prefix.size() - consumed)), false);
    out.append(tok.encode(std::string_view(full).substr(prefix.size(), upto.size() - prefix.size())), true);
    consumed = upto.size();
  }
  out.append(tok.encode(std::string_view(full).substr(consumed)), false);
}

}  // namespace

TokenData tokenize_corpus(const std::filesystem::path& data, const Tokenizer& tok, const ChatTemplate* tmpl,
                          int32_t separator) {
  std::ifstream in(data, std::ios::binary);
  if (!in) throw Error(data.string() + ": cannot open the data file");
  Stream out;
  bool first = true;
  bool previous_scored = true;
  auto begin_document = [&](bool scored) {
    // The separator is the target after a document's last token: scored after text documents.
    if (!first) out.append({separator}, previous_scored);
    first = false;
    previous_scored = scored;
  };
  if (!is_jsonl(data)) {
    std::ostringstream text;
    text << in.rdbuf();
    begin_document(true);
    out.append(tok.encode(text.str()), true);
  } else {
    std::string line;
    for (int line_no = 1; std::getline(in, line); ++line_no) {
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      const std::string where = fmt::format("{}:{}", data.string(), line_no);
      nlohmann::json doc;
      try {
        doc = nlohmann::json::parse(line);
      } catch (const nlohmann::json::exception& e) {  // parse_error, and out_of_range for 1e400
        throw Error(fmt::format("{}: invalid JSON: {}", where, e.what()));
      }
      if (doc.is_object() && doc.contains("text") && doc["text"].is_string()) {
        begin_document(true);
        out.append(tok.encode(doc["text"].get<std::string>()), true);
      } else if (doc.is_object() && doc.contains("messages")) {
        if (!tmpl) throw Error(where + ": chat data needs a chat template in the model's tokenizer_config.json");
        begin_document(false);
        append_chat(out, doc["messages"], tok, *tmpl, where);
      } else {
        throw Error(where + ": expected an object with \"text\" (a string) or \"messages\" (a list)");
      }
    }
  }
  if (out.tokens.empty()) throw Error(data.string() + ": no tokens in the data file");
  if (!out.any_unscored) out.scored.clear();
  return TokenData::from_tokens(std::move(out.tokens), std::move(out.scored));
}

}  // namespace smol
