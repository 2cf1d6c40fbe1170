// Reads tokenizer.json into a Tokenizer::Impl, rejecting every component whose effect on
// encode/decode we do not reproduce exactly.
#include <algorithm>
#include <string_view>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "smol/error.hpp"
#include "tokenizer/byte_level.hpp"
#include "tokenizer/post_processor.hpp"
#include "tokenizer/tokenizer_impl.hpp"

namespace smol {
namespace {

using nlohmann::json;

class Loader {
 public:
  explicit Loader(const std::string& name) : name_(name) {}

  [[noreturn]] void unsupported(const std::string& what) const {
    throw Error(fmt::format("{}: unsupported tokenizer component {}", name_, what));
  }
  [[noreturn]] void invalid(const std::string& what) const {
    throw Error(fmt::format("{}: invalid tokenizer.json: {}", name_, what));
  }

  bool get_bool(const json& j, const char* key, bool fallback) const {
    const auto it = j.find(key);
    if (it == j.end() || it->is_null()) return fallback;
    if (!it->is_boolean()) invalid(fmt::format("'{}' must be true or false", key));
    return it->get<bool>();
  }

  std::string type_of(const json& j, const char* where) const {
    if (!j.is_object()) invalid(fmt::format("{} must be an object", where));
    const auto it = j.find("type");
    if (it == j.end() || !it->is_string()) invalid(fmt::format("{} has no \"type\"", where));
    return it->get<std::string>();
  }

  void check_normalizer(const json& j) const {
    if (j.is_null()) return;
    const std::string type = type_of(j, "normalizer");
    if (type == "Sequence" && j.value("normalizers", json::array()).empty()) return;
    unsupported("normalizer " + type);
  }

  void parse_pre_tokenizer(const json& j, std::vector<PreTokenizerStep>& steps) const {
    if (j.is_null()) return;
    const std::string type = type_of(j, "pre_tokenizer");
    if (type == "Sequence") {
      const json& list = j.at("pretokenizers");
      if (!list.is_array()) invalid("Sequence.pretokenizers must be an array");
      for (const json& p : list) parse_pre_tokenizer(p, steps);
    } else if (type == "Digits") {
      steps.push_back(make_digits_step(get_bool(j, "individual_digits", false)));
    } else if (type == "ByteLevel") {
      steps.push_back(make_byte_level_step(get_bool(j, "add_prefix_space", true),
                                           get_bool(j, "use_regex", true)));
    } else if (type == "Split") {
      steps.push_back(parse_split(j));
    } else {
      unsupported("pre_tokenizer " + type);
    }
  }

  PreTokenizerStep parse_split(const json& j) const {
    const json& pattern = j.at("pattern");
    const bool is_regex = pattern.contains("Regex");
    if (!is_regex && !pattern.contains("String")) invalid("Split.pattern needs \"Regex\" or \"String\"");
    std::optional<Regex> regex;
    try {
      const std::string text = pattern.at(is_regex ? "Regex" : "String").get<std::string>();
      regex = is_regex ? Regex::compile(text) : Regex::literal(text);
    } catch (const Error& e) {
      throw Error(fmt::format("{}: Split pre_tokenizer: {}", name_, e.what()));
    }
    static constexpr std::pair<std::string_view, SplitBehavior> kBehaviors[] = {
        {"Removed", SplitBehavior::Removed},
        {"Isolated", SplitBehavior::Isolated},
        {"MergedWithPrevious", SplitBehavior::MergedWithPrevious},
        {"MergedWithNext", SplitBehavior::MergedWithNext},
        {"Contiguous", SplitBehavior::Contiguous}};
    const std::string behavior = j.at("behavior").get<std::string>();
    const auto it = std::find_if(std::begin(kBehaviors), std::end(kBehaviors),
                                 [&](const auto& b) { return b.first == behavior; });
    if (it == std::end(kBehaviors)) unsupported("Split behavior " + behavior);
    return make_split_step(std::move(*regex), it->second, get_bool(j, "invert", false));
  }

  // Fills everything but vocab and merges, which the parse callback already captured.
  BpeConfig parse_model(const json& m) const {
    if (!m.is_object()) invalid("model must be an object");
    const std::string type = m.contains("type") ? type_of(m, "model") : "BPE";
    if (type != "BPE") unsupported("model " + type);
    if (get_bool(m, "byte_fallback", false)) unsupported("model BPE byte_fallback");
    if (const auto d = m.find("dropout"); d != m.end() && !d->is_null() && d->get<double>() != 0.0) {
      unsupported("model BPE dropout");
    }
    for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
      const auto it = m.find(key);
      if (it != m.end() && !it->is_null() && !it->get<std::string>().empty()) {
        unsupported(fmt::format("model BPE {}", key));
      }
    }
    if (!m.contains("vocab") || !m.at("vocab").is_object()) invalid("model.vocab must be an object");
    if (!m.contains("merges") || !m.at("merges").is_array()) invalid("model.merges must be an array");
    BpeConfig config;
    if (const auto unk = m.find("unk_token"); unk != m.end() && !unk->is_null()) {
      config.unk_token = unk->get<std::string>();
    }
    config.fuse_unk = get_bool(m, "fuse_unk", false);
    config.ignore_merges = get_bool(m, "ignore_merges", false);
    return config;
  }

  void check_decoder(const json& j) const {
    if (j.is_null()) unsupported("decoder (none; only ByteLevel is supported)");
    const std::string type = type_of(j, "decoder");
    if (type != "ByteLevel") unsupported("decoder " + type);
  }

  std::vector<AddedToken> parse_added_tokens(const json& list) const {
    std::vector<AddedToken> tokens;
    if (list.is_null()) return tokens;
    if (!list.is_array()) invalid("added_tokens must be an array");
    for (const json& t : list) {
      AddedToken a;
      a.id = t.at("id").get<int32_t>();
      a.content = t.at("content").get<std::string>();
      if (a.id < 0) invalid(fmt::format("added token '{}' has negative id", a.content));
      a.special = get_bool(t, "special", false);
      a.single_word = get_bool(t, "single_word", false);
      a.lstrip = get_bool(t, "lstrip", false);
      a.rstrip = get_bool(t, "rstrip", false);
      a.normalized = get_bool(t, "normalized", !a.special);
      if (!a.content.empty()) tokens.push_back(std::move(a));
    }
    return tokens;
  }

 private:
  const std::string& name_;
};

// The vocab and merges are ~100k small JSON values; keeping them out of the DOM (a std::map
// per object) makes loading several times faster.
struct CapturedModel {
  std::vector<std::pair<std::string, int32_t>> vocab;
  std::vector<std::pair<std::string, std::string>> merges;
  std::string bad_merge;  // first merge that is neither "a b" nor ["a", "b"]
};

json parse_capturing_model(std::string_view text, CapturedModel& captured) {
  captured.vocab.reserve(1 << 16);
  captured.merges.reserve(1 << 16);
  std::vector<std::string> keys;  // keys[d]: the last key seen at depth d
  std::string vocab_key;
  auto under = [&](const char* field) {
    return keys.size() > 2 && keys[1] == "model" && keys[2] == field;
  };
  auto capture_merge = [&](const json& merge) {
    if (merge.is_string()) {
      const std::string& s = merge.get_ref<const std::string&>();
      if (s.starts_with("#version")) return;  // merges.txt header, skipped as tokenizers does
      const size_t space = s.find(' ');
      if (space != std::string::npos && s.find(' ', space + 1) == std::string::npos) {
        captured.merges.emplace_back(s.substr(0, space), s.substr(space + 1));
        return;
      }
    } else if (merge.is_array() && merge.size() == 2 && merge[0].is_string() &&
               merge[1].is_string()) {
      captured.merges.emplace_back(merge[0].get<std::string>(), merge[1].get<std::string>());
      return;
    }
    if (captured.bad_merge.empty()) captured.bad_merge = merge.dump();
  };
  return json::parse(text, [&](int depth, json::parse_event_t event, json& parsed) {
    const auto d = static_cast<size_t>(depth);
    switch (event) {
      case json::parse_event_t::key:
        keys.resize(d + 1);
        keys[d] = parsed.get<std::string>();
        // Returning false keeps the vocab's keys out of the DOM; the value event still comes.
        return !(d == 3 && under("vocab"));
      case json::parse_event_t::value:
        if (d == 3 && under("vocab") && parsed.is_number_integer()) {
          captured.vocab.emplace_back(keys[3], parsed.get<int32_t>());
          return false;
        }
        if (d == 3 && under("merges")) {
          capture_merge(parsed);
          return false;
        }
        return true;
      case json::parse_event_t::array_end:
        if (d == 3 && under("merges")) {
          capture_merge(parsed);
          return false;
        }
        return true;
      case json::parse_event_t::object_end:
        if (keys.size() > d + 1) keys.resize(d + 1);  // leaving an object: forget its keys
        return true;
      default:
        return true;
    }
  });
}

}  // namespace

void finish_bpe_tables(Tokenizer::Impl& impl, std::vector<AddedToken> added) {
  const BpeModel& model = std::get<BpeBackend>(impl.backend).model;
  size_t size = model.tokens().size();
  for (const auto& a : added) size = std::max(size, static_cast<size_t>(a.id) + 1);
  impl.id_bytes.assign(size, {});
  impl.id_flags.assign(size, 0);
  const auto& tokens = model.tokens();
  for (size_t id = 0; id < tokens.size(); ++id) {
    if (!model.has_id(static_cast<int32_t>(id))) continue;
    // The ByteLevel decoder passes through tokens it cannot map, as tokenizers does.
    impl.id_bytes[id] = byte_level::decode(tokens[id]).value_or(tokens[id]);
    impl.id_flags[id] = Tokenizer::Impl::kPresent;
  }
  for (const auto& a : added) {
    // Added tokens decode to their content verbatim (not through the byte-level table).
    impl.id_bytes[a.id] = a.content;
    impl.id_flags[a.id] = Tokenizer::Impl::kPresent | Tokenizer::Impl::kAdded |
                          (a.special ? Tokenizer::Impl::kSpecial : 0);
    impl.added_ids[a.content] = a.id;
  }
  std::vector<AddedToken> raw, normalized;
  for (auto& a : added) (a.normalized ? normalized : raw).push_back(std::move(a));
  auto& bpe = std::get<BpeBackend>(impl.backend);
  bpe.raw_added = AddedTokenMatcher(std::move(raw));
  bpe.normalized_added = AddedTokenMatcher(std::move(normalized));
}

void append_added_tokens(const BpeModel& model, std::vector<AddedToken>& added,
                         std::vector<AddedToken> extra) {
  for (auto& t : extra) {
    const bool known = std::any_of(added.begin(), added.end(),
                                   [&](const AddedToken& a) { return a.content == t.content; });
    if (known) continue;
    if (t.id >= 0) {
      // added_tokens_decoder gave the id
    } else if (const auto id = model.token_id(t.content)) {
      t.id = *id;
    } else {
      // tokenizers' AddedVocabulary: after the model's vocab, or after the largest added id.
      int32_t next = static_cast<int32_t>(model.vocab_size());
      for (const auto& a : added) next = std::max(next, a.id + 1);
      t.id = next;
    }
    added.push_back(std::move(t));
  }
}

std::shared_ptr<Tokenizer::Impl> load_tokenizer_json(std::string_view json_text,
                                                     const std::string& name,
                                                     std::vector<AddedToken> extra) {
  json root;
  CapturedModel captured;
  try {
    root = parse_capturing_model(json_text, captured);
  } catch (const json::exception& e) {  // parse_error, and out_of_range for 1e400
    throw Error(fmt::format("{}: malformed JSON: {}", name, e.what()));
  }
  const Loader loader(name);
  if (!root.is_object()) loader.invalid("the top level must be an object");
  auto impl = std::make_shared<Tokenizer::Impl>();
  impl->name = name;
  try {
    loader.check_normalizer(root.value("normalizer", json()));
    std::vector<PreTokenizerStep> steps;
    loader.parse_pre_tokenizer(root.value("pre_tokenizer", json()), steps);
    for (size_t i = 0; i + 1 < steps.size(); ++i) {
      if (steps[i].kind == PreTokenizerStep::Kind::ByteLevel) {
        loader.unsupported("pre_tokenizer ByteLevel followed by another pre-tokenizer");
      }
    }
    BpeBackend& bpe = std::get<BpeBackend>(impl->backend);
    bpe.pre_tokenizer = PreTokenizer(std::move(steps));
    if (!root.contains("model")) loader.invalid("no \"model\"");
    BpeConfig config = loader.parse_model(root.at("model"));
    if (!captured.bad_merge.empty()) {
      loader.invalid(fmt::format("merge {} is neither \"a b\" nor [\"a\", \"b\"]", captured.bad_merge));
    }
    config.vocab = std::move(captured.vocab);
    config.merges = std::move(captured.merges);
    bpe.model = BpeModel::build(std::move(config), name);
    loader.check_decoder(root.value("decoder", json()));
    SequenceWrap wrap = parse_post_processor(root.value("post_processor", json()), name);
    impl->prefix_ids = std::move(wrap.prefix);
    impl->suffix_ids = std::move(wrap.suffix);
    std::vector<AddedToken> added = loader.parse_added_tokens(root.value("added_tokens", json()));
    append_added_tokens(bpe.model, added, std::move(extra));
    finish_bpe_tables(*impl, std::move(added));
  } catch (const json::exception& e) {
    // Wrong types or missing keys inside an otherwise well-formed file.
    throw Error(fmt::format("{}: invalid tokenizer.json: {}", name, e.what()));
  }
  return impl;
}

}  // namespace smol
