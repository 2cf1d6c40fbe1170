#include "tokenizer/post_processor.hpp"

#include <fmt/format.h>

#include "smol/error.hpp"

namespace smol {
namespace {

using nlohmann::json;

int32_t pair_id(const json& j, const char* key, const std::string& name) {
  const json& p = j.at(key);  // ["</s>", 2]
  if (!p.is_array() || p.size() != 2 || !p[1].is_number_integer()) {
    throw Error(fmt::format("{}: post_processor.{} must be [token, id]", name, key));
  }
  return p[1].get<int32_t>();
}

SequenceWrap parse_template(const json& j, const std::string& name) {
  SequenceWrap wrap;
  const json& single = j.at("single");
  const json& specials = j.value("special_tokens", json::object());
  if (!single.is_array()) throw Error(fmt::format("{}: TemplateProcessing.single must be a list", name));
  bool seen_sequence = false;
  for (const json& piece : single) {
    if (piece.contains("Sequence")) {
      if (piece.at("Sequence").value("id", "A") != "A" || seen_sequence) {
        throw Error(fmt::format("{}: TemplateProcessing.single must hold sequence A once", name));
      }
      seen_sequence = true;
    } else if (piece.contains("SpecialToken")) {
      const std::string key = piece.at("SpecialToken").at("id").get<std::string>();
      if (!specials.contains(key)) {
        throw Error(fmt::format("{}: TemplateProcessing uses special token '{}' it does not define", name, key));
      }
      for (const json& id : specials.at(key).at("ids")) {
        (seen_sequence ? wrap.suffix : wrap.prefix).push_back(id.get<int32_t>());
      }
    } else {
      throw Error(fmt::format("{}: TemplateProcessing piece {} is neither Sequence nor SpecialToken", name, piece.dump()));
    }
  }
  if (!seen_sequence) throw Error(fmt::format("{}: TemplateProcessing.single has no sequence", name));
  return wrap;
}

}  // namespace

SequenceWrap parse_post_processor(const json& j, const std::string& name) {
  if (j.is_null()) return {};
  try {
    const std::string type = j.at("type").get<std::string>();
    if (type == "Sequence") {
      // Each processor wraps what the previous one produced.
      SequenceWrap wrap;
      for (const json& p : j.at("processors")) {
        SequenceWrap inner = parse_post_processor(p, name);
        inner.prefix.insert(inner.prefix.end(), wrap.prefix.begin(), wrap.prefix.end());
        wrap.suffix.insert(wrap.suffix.end(), inner.suffix.begin(), inner.suffix.end());
        wrap.prefix = std::move(inner.prefix);
      }
      return wrap;
    }
    if (type == "ByteLevel") return {};  // offsets only
    if (type == "TemplateProcessing") return parse_template(j, name);
    if (type == "RobertaProcessing" || type == "BertProcessing") {
      return {{pair_id(j, "cls", name)}, {pair_id(j, "sep", name)}};
    }
    throw Error(fmt::format("{}: unsupported tokenizer component post_processor {}", name, type));
  } catch (const json::exception& e) {
    throw Error(fmt::format("{}: invalid post_processor: {}", name, e.what()));
  }
}

}  // namespace smol
