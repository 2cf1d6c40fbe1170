// The tokenizer as `tokenizer.ggml.*` metadata, to and from a Hugging Face tokenizer.json.
// Only byte-level BPE ("gpt2" in GGUF) is described: that is what SmolLM2 uses.
#include <algorithm>
#include <limits>
#include <iterator>
#include <map>
#include <unordered_set>

#include <fmt/format.h>

#include "formats/text_util.hpp"
#include "smol/error.hpp"
#include "smol/gguf.hpp"
#include "smol/json_file.hpp"

namespace smol {
namespace {

using formats_detail::printable;
using nlohmann::json;

// llama.cpp's llama_token_type.
enum TokenType : int32_t { kNormal = 1, kUnknown = 2, kControl = 3, kUserDefined = 4, kUnused = 5, kByte = 6 };

json byte_level(bool use_regex) {
  return {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", use_regex}};
}

// llama.cpp splits "smollm", "starcoder" and "refact" text with the regexes {\p{N}, GPT-2's}:
// each digit alone, then the byte-level split, which is Hugging Face's Digits(individual) +
// ByteLevel.
json pre_tokenizer_for(const std::string& pre, const std::string& source) {
  if (pre == "smollm" || pre == "starcoder" || pre == "refact") {
    return {{"type", "Sequence"},
            {"pretokenizers", json::array({{{"type", "Digits"}, {"individual_digits", true}}, byte_level(true)})}};
  }
  if (pre == "gpt2") return byte_level(true);
  throw Error(fmt::format("{}: tokenizer.ggml.pre '{}' is not supported (smollm, starcoder, refact or gpt2)", source,
                          printable(pre)));
}

bool is_byte_level(const json& j) {
  return j.is_object() && j.value("type", "") == "ByteLevel" && j.value("use_regex", true) &&
         !j.value("add_prefix_space", false);
}

// The GGUF name of a tokenizer.json pre-tokenizer, or an error for one llama.cpp has no name for.
std::string pre_name_for(const json& pre, const std::string& source) {
  if (is_byte_level(pre)) return "gpt2";
  if (pre.is_object() && pre.value("type", "") == "Sequence" && pre.contains("pretokenizers")) {
    const json& list = pre["pretokenizers"];
    if (list.is_array() && list.size() == 2 && list[0].is_object() && list[0].value("type", "") == "Digits" &&
        list[0].value("individual_digits", false) && is_byte_level(list[1])) {
      return "smollm";
    }
  }
  throw Error(fmt::format("{}: pre-tokenizer {} has no GGUF equivalent (expected ByteLevel, or Digits + ByteLevel)",
                          source, printable(pre.dump(), 200)));
}

// A special token named in tokenizer_config.json: a string or {"content": ...}.
std::optional<std::string> config_token(const json& config, const char* key) {
  if (!config.is_object() || !config.contains(key)) return std::nullopt;
  const json& v = config[key];
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("content") && v["content"].is_string()) return v["content"].get<std::string>();
  return std::nullopt;
}

std::optional<std::string> chat_template_of(const json& config) {
  if (!config.is_object() || !config.contains("chat_template")) return std::nullopt;
  const json& t = config["chat_template"];
  if (t.is_string()) return t.get<std::string>();
  if (t.is_array()) {
    for (const json& item : t) {
      if (item.is_object() && item.value("name", "") == "default" && item.contains("template") &&
          item["template"].is_string()) {
        return item["template"].get<std::string>();
      }
    }
  }
  return std::nullopt;
}

void set_tokenizer_keys(GgufMetadata& m, const json& tok, const json& tok_config, const ModelConfig& config,
                        const std::string& source);

// JSON string syntax for raw token bytes (no UTF-8 check: the tokenizer's parser does that).
void append_json_string(std::string& out, std::string_view s) {
  out += '"';
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += ch;
    } else if (c < 0x20) {
      fmt::format_to(std::back_inserter(out), "\\u{:04x}", c);
    } else {
      out += ch;
    }
  }
  out += '"';
}

}  // namespace

std::string tokenizer_json_text_from_gguf(const GgufMetadata& m, const std::string& source) {
  const std::string model = m.require_string("tokenizer.ggml.model", source);
  if (model != "gpt2") {
    throw Error(fmt::format("{}: tokenizer.ggml.model '{}' is not supported (only gpt2, byte-level BPE)", source,
                            printable(model)));
  }
  const std::string pre = m.get_string("tokenizer.ggml.pre", source).value_or("");
  if (pre.empty()) throw Error(fmt::format("{}: metadata 'tokenizer.ggml.pre' is missing", source));
  const GgufValue* tokens = m.find("tokenizer.ggml.tokens");
  if (!tokens || tokens->array.empty()) throw Error(fmt::format("{}: metadata 'tokenizer.ggml.tokens' is missing", source));
  m.get_strings("tokenizer.ggml.tokens", source);  // type check only
  const size_t n = tokens->array.size();
  if (n > static_cast<size_t>(std::numeric_limits<int32_t>::max())) throw Error(fmt::format("{}: too many tokens", source));
  const auto types = m.get_ints("tokenizer.ggml.token_type", source).value_or(std::vector<int64_t>{});
  if (!types.empty() && types.size() != n) {
    throw Error(fmt::format("{}: tokenizer.ggml.token_type has {} entries for {} tokens", source, types.size(), n));
  }
  m.get_strings("tokenizer.ggml.merges", source);  // type check only
  const GgufValue* merges = m.find("tokenizer.ggml.merges");

  // Written as text rather than built as a json object: a 49k-entry vocabulary costs ~10x more
  // through nlohmann's map than through a string, and the tokenizer parses text anyway.
  std::string out;
  out.reserve(64 * n);
  out += R"({"version":"1.0","truncation":null,"padding":null,"added_tokens":[)";
  bool first = true;
  for (size_t id = 0; id < n; ++id) {
    const int64_t type = types.empty() ? int64_t{kNormal} : types[id];
    if (type != kControl && type != kUnknown && type != kUserDefined) continue;
    const bool special = type != kUserDefined;
    out += first ? "" : ",";
    first = false;
    fmt::format_to(std::back_inserter(out), R"({{"id":{},"content":)", id);
    append_json_string(out, std::get<std::string>(tokens->array[id]));
    fmt::format_to(std::back_inserter(out),
                   R"(,"single_word":false,"lstrip":false,"rstrip":false,"normalized":{},"special":{}}})",
                   !special, special);
  }
  out += R"(],"normalizer":null,"pre_tokenizer":)";
  out += pre_tokenizer_for(pre, source).dump();
  out += R"(,"post_processor":null,)";
  out += R"("decoder":{"type":"ByteLevel","add_prefix_space":true,"trim_offsets":true,"use_regex":true},)";
  out += R"("model":{"type":"BPE","dropout":null,"unk_token":null,"continuing_subword_prefix":null,)";
  out += R"("end_of_word_suffix":null,"fuse_unk":false,"byte_fallback":false,"ignore_merges":false,"vocab":{)";
  std::unordered_set<std::string_view> seen;
  seen.reserve(n);
  for (size_t id = 0; id < n; ++id) {
    const std::string& text = std::get<std::string>(tokens->array[id]);
    // Duplicate strings cannot be vocabulary keys; the first id keeps the string.
    if (!seen.insert(text).second) continue;
    out += id == 0 ? "" : ",";
    append_json_string(out, text);
    fmt::format_to(std::back_inserter(out), ":{}", id);
  }
  out += R"(},"merges":[)";
  if (merges) {
    for (size_t i = 0; i < merges->array.size(); ++i) {
      out += i == 0 ? "" : ",";
      append_json_string(out, std::get<std::string>(merges->array[i]));
    }
  }
  out += "]}}";
  return out;
}

json tokenizer_json_from_gguf(const GgufMetadata& m, const std::string& source) {
  return parse_json_text(tokenizer_json_text_from_gguf(m, source), source);
}

void set_gguf_tokenizer(GgufMetadata& m, const json& tok, const json& tok_config, const ModelConfig& config,
                        const std::string& source) {
  try {
    set_tokenizer_keys(m, tok, tok_config, config, source);
  } catch (const json::exception& e) {
    throw Error(fmt::format("{}: unexpected tokenizer.json/tokenizer_config.json content: {}", source, e.what()));
  }
}

namespace {

void set_tokenizer_keys(GgufMetadata& m, const json& tok, const json& tok_config, const ModelConfig& config,
                        const std::string& source) {
  if (!tok.is_object() || !tok.contains("model") || !tok["model"].is_object()) {
    throw Error(fmt::format("{}: tokenizer.json has no model", source));
  }
  const json& model = tok["model"];
  if (model.value("type", "BPE") != "BPE" || model.value("byte_fallback", false)) {
    throw Error(fmt::format("{}: only byte-level BPE tokenizers can be written to GGUF", source));
  }
  if (tok.contains("normalizer") && !tok["normalizer"].is_null()) {
    throw Error(fmt::format("{}: tokenizer normalizers have no GGUF equivalent", source));
  }
  const std::string pre = pre_name_for(tok.value("pre_tokenizer", json()), source);

  // id -> (text, type); ids the tokenizer leaves out up to the embedding size are padding, as
  // llama.cpp's converter writes them, since llama.cpp wants one token per embedding row.
  std::map<int64_t, std::pair<std::string, int32_t>> by_id;
  if (!model.contains("vocab") || !model["vocab"].is_object()) throw Error(fmt::format("{}: tokenizer.json has no vocab", source));
  for (const auto& [text, id] : model["vocab"].items()) {
    if (!id.is_number_integer() || id.get<int64_t>() < 0) throw Error(fmt::format("{}: bad vocab id for '{}'", source, printable(text)));
    by_id[id.get<int64_t>()] = {text, kNormal};
  }
  for (const json& a : tok.value("added_tokens", json::array())) {
    const int64_t id = a.at("id").get<int64_t>();
    by_id[id] = {a.at("content").get<std::string>(), a.value("special", false) ? kControl : kUserDefined};
  }
  const int64_t n_tokens = std::max<int64_t>(config.vocab_size, by_id.empty() ? 0 : by_id.rbegin()->first + 1);
  if (n_tokens > config.vocab_size) {
    throw Error(fmt::format("{}: the tokenizer has token id {} but the model's vocabulary is {}", source, n_tokens - 1,
                            config.vocab_size));
  }
  std::vector<std::string> tokens(n_tokens);
  std::vector<int32_t> types(n_tokens, kUnused);
  for (int64_t id = 0; id < n_tokens; ++id) tokens[id] = fmt::format("[PAD{}]", id);
  for (auto& [id, entry] : by_id) {
    tokens[id] = entry.first;
    types[id] = entry.second;
  }
  std::vector<std::string> merges;
  for (const json& merge : model.value("merges", json::array())) {
    if (merge.is_string()) {
      merges.push_back(merge.get<std::string>());
    } else if (merge.is_array() && merge.size() == 2 && merge[0].is_string() && merge[1].is_string()) {
      merges.push_back(merge[0].get<std::string>() + " " + merge[1].get<std::string>());
    } else {
      throw Error(fmt::format("{}: merge {} is neither \"a b\" nor [\"a\", \"b\"]", source, printable(merge.dump(), 60)));
    }
  }

  auto id_of = [&](const std::optional<std::string>& text) -> std::optional<int64_t> {
    if (!text) return std::nullopt;
    for (const auto& [id, entry] : by_id) {
      if (entry.first == *text) return id;
    }
    return std::nullopt;
  };
  m.set("tokenizer.ggml.model", GgufValue::string("gpt2"));
  m.set("tokenizer.ggml.pre", GgufValue::string(pre));
  m.set("tokenizer.ggml.tokens", GgufValue::strings(tokens));
  m.set("tokenizer.ggml.token_type", GgufValue::i32s(types));
  m.set("tokenizer.ggml.merges", GgufValue::strings(merges));
  const auto bos = id_of(config_token(tok_config, "bos_token"));
  if (bos || config.bos_token_id >= 0) {
    m.set("tokenizer.ggml.bos_token_id", GgufValue::u32(static_cast<uint32_t>(bos.value_or(config.bos_token_id))));
  }
  const auto eos = id_of(config_token(tok_config, "eos_token"));
  if (eos || !config.eos_token_ids.empty()) {
    m.set("tokenizer.ggml.eos_token_id", GgufValue::u32(static_cast<uint32_t>(eos.value_or(config.eos_token_ids[0]))));
  }
  if (const auto unk = id_of(config_token(tok_config, "unk_token"))) {
    m.set("tokenizer.ggml.unknown_token_id", GgufValue::u32(static_cast<uint32_t>(*unk)));
  }
  if (const auto pad = id_of(config_token(tok_config, "pad_token"))) {
    m.set("tokenizer.ggml.padding_token_id", GgufValue::u32(static_cast<uint32_t>(*pad)));
  }
  // smol never adds BOS itself, and SmolLM2's tokenizer.json adds none either.
  const bool add_bos = tok_config.is_object() && tok_config.value("add_bos_token", false);
  m.set("tokenizer.ggml.add_bos_token", GgufValue::boolean(add_bos));
  m.set("tokenizer.ggml.add_eos_token", GgufValue::boolean(false));
  if (const auto chat = chat_template_of(tok_config)) m.set("tokenizer.chat_template", GgufValue::string(*chat));
}

}  // namespace

}  // namespace smol
