// generation_config.json / config.json -> GenerationConfig, as transformers'
// GenerationConfig.__init__ (defaults), from_pretrained and from_model_config read them.
#include "smol/generation_config.hpp"

#include <cmath>
#include <limits>

#include <fmt/format.h>

#include "smol/error.hpp"
#include "smol/json_file.hpp"

namespace smol {

namespace {

using nlohmann::json;

class Fields {
 public:
  Fields(const json& object, const std::string& source) : object_(object), source_(source) {}

  // The value of `key`, or nullptr when it is absent or null (both keep the default).
  const json* get(const char* key) const {
    const auto it = object_.find(key);
    return it == object_.end() || it->is_null() ? nullptr : &*it;
  }

  [[noreturn]] void fail(const char* key, const std::string& what) const {
    throw Error(fmt::format("{}: '{}' {}", source_, key, what));
  }

  int to_int(const char* key, const json& v) const {
    // JSON writers emit 20.0 for 20 now and then; transformers would keep a float and fail
    // later, so a whole float is read as the integer it names.
    // (Only within int64: casting 3e48 is undefined behaviour; found by fuzzing.)
    if (v.is_number_float() && std::abs(v.get<double>()) < 9.2e18 &&
        v.get<double>() == static_cast<double>(static_cast<int64_t>(v.get<double>()))) {
      return to_int(key, json(static_cast<int64_t>(v.get<double>())));
    }
    if (!v.is_number_integer()) fail(key, fmt::format("must be an integer, got {}", v.dump()));
    if (v.is_number_unsigned() ? v.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int>::max())
                               : (v.get<int64_t>() < std::numeric_limits<int>::min() ||
                                  v.get<int64_t>() > std::numeric_limits<int>::max())) {
      fail(key, fmt::format("is out of range: {}", v.dump()));
    }
    return v.get<int>();
  }
  int32_t to_token(const char* key, const json& v) const {
    const int id = to_int(key, v);
    if (id < 0) fail(key, fmt::format("must be a token id >= 0, got {}", id));
    return id;
  }

  void read(const char* key, int& out) const {
    if (const json* v = get(key)) out = to_int(key, *v);
  }
  void read(const char* key, std::optional<int>& out) const {
    if (const json* v = get(key)) out = to_int(key, *v);
  }
  void read(const char* key, double& out) const {
    if (const json* v = get(key)) out = number(key, *v);
  }
  void read(const char* key, std::optional<double>& out) const {
    if (const json* v = get(key)) out = number(key, *v);
  }
  void read(const char* key, bool& out) const {
    if (const json* v = get(key)) {
      if (!v->is_boolean()) fail(key, fmt::format("must be true or false, got {}", v->dump()));
      out = v->get<bool>();
    }
  }
  void read_token(const char* key, std::optional<int32_t>& out) const {
    if (const json* v = get(key)) out = to_token(key, *v);
  }
  // An id or a list of ids (eos_token_id, forced_eos_token_id).
  void read_tokens(const char* key, std::vector<int32_t>& out) const {
    const json* v = get(key);
    if (!v) return;
    out.clear();
    if (v->is_array()) {
      for (const json& id : *v) out.push_back(to_token(key, id));
    } else {
      out.push_back(to_token(key, *v));
    }
  }
  void read_bad_words(const char* key, std::optional<std::vector<std::vector<int32_t>>>& out) const {
    const json* v = get(key);
    if (!v) return;
    if (!v->is_array() || v->empty()) fail(key, fmt::format("must be a non-empty list of lists of ids, got {}", v->dump()));
    std::vector<std::vector<int32_t>> words;
    for (const json& word : *v) {
      if (!word.is_array() || word.empty()) {
        fail(key, fmt::format("must be a list of non-empty lists of ids, got {}", word.dump()));
      }
      std::vector<int32_t> ids;
      for (const json& id : word) ids.push_back(to_token(key, id));
      words.push_back(std::move(ids));
    }
    out = std::move(words);
  }
  void read(const char* key, EarlyStopping& out) const {
    const json* v = get(key);
    if (!v) return;
    if (v->is_boolean()) {
      out = v->get<bool>() ? EarlyStopping::True : EarlyStopping::False;
    } else if (v->is_string() && v->get<std::string>() == "never") {
      out = EarlyStopping::Never;
    } else {
      fail(key, fmt::format("must be true, false or \"never\", got {}", v->dump()));
    }
  }

 private:
  double number(const char* key, const json& v) const {
    if (!v.is_number()) fail(key, fmt::format("must be a number, got {}", v.dump()));
    return v.get<double>();
  }

  const json& object_;
  const std::string& source_;
};

}  // namespace

const char* early_stopping_name(EarlyStopping value) {
  switch (value) {
    case EarlyStopping::True: return "true";
    case EarlyStopping::Never: return "never";
    case EarlyStopping::False: break;
  }
  return "false";
}

GenerationConfig GenerationConfig::from_json(const nlohmann::json& object, const std::string& source,
                                             bool /*from_model_config*/) {
  if (!object.is_object()) throw Error(source + ": expected a JSON object");
  // A config.json and a generation_config.json are read the same way: the generation keys
  // are taken, nulls keep the defaults, every other key is ignored.
  const Fields f(object, source);
  GenerationConfig c;
  f.read("max_length", c.max_length);
  f.read("max_new_tokens", c.max_new_tokens);
  f.read("min_length", c.min_length);
  f.read("min_new_tokens", c.min_new_tokens);
  f.read("early_stopping", c.early_stopping);
  f.read("do_sample", c.do_sample);
  f.read("num_beams", c.num_beams);
  f.read("temperature", c.temperature);
  f.read("top_k", c.top_k);
  f.read("top_p", c.top_p);
  f.read("min_p", c.min_p);
  f.read("repetition_penalty", c.repetition_penalty);
  f.read("length_penalty", c.length_penalty);
  f.read("no_repeat_ngram_size", c.no_repeat_ngram_size);
  f.read_bad_words("bad_words_ids", c.bad_words_ids);
  f.read_token("forced_bos_token_id", c.forced_bos_token_id);
  f.read_tokens("forced_eos_token_id", c.forced_eos_token_id);
  f.read_token("bos_token_id", c.bos_token_id);
  f.read_tokens("eos_token_id", c.eos_token_id);
  if (const nlohmann::json* pad = f.get("pad_token_id")) {
    // transformers only warns about a negative pad id; it is used for nothing but padding.
    const int id = f.to_int("pad_token_id", *pad);
    if (id >= 0) c.pad_token_id = id;
  }
  f.read_token("decoder_start_token_id", c.decoder_start_token_id);
  f.read("num_return_sequences", c.num_return_sequences);
  try {
    c.validate();
  } catch (const Error& e) {
    throw Error(source + ": " + e.what());
  }
  return c;
}

GenerationConfig GenerationConfig::from_folder(const std::filesystem::path& dir) {
  const std::filesystem::path generation = dir / "generation_config.json";
  if (std::filesystem::exists(generation)) {
    return from_json(read_json_file(generation), generation.string(), false);
  }
  const std::filesystem::path config = dir / "config.json";
  return from_json(read_json_file(config), config.string(), true);
}

void GenerationConfig::validate() const {
  auto fail = [](const std::string& what) { throw Error(what); };
  if (num_beams < 1) fail(fmt::format("num_beams must be >= 1, got {}", num_beams));
  if (max_length < 0) fail(fmt::format("max_length must be >= 0, got {}", max_length));
  if (max_new_tokens && *max_new_tokens <= 0) {
    fail(fmt::format("max_new_tokens must be greater than 0, got {}", *max_new_tokens));
  }
  if (min_length < 0) fail(fmt::format("min_length must be >= 0, got {}", min_length));
  if (min_new_tokens && *min_new_tokens < 0) fail(fmt::format("min_new_tokens must be >= 0, got {}", *min_new_tokens));
  if (num_return_sequences < 1) fail(fmt::format("num_return_sequences must be >= 1, got {}", num_return_sequences));
  if (num_return_sequences > 1 && num_beams == 1 && !do_sample) {
    fail(fmt::format("num_return_sequences {} needs beam search or sampling: greedy search returns one sequence",
                     num_return_sequences));
  }
  if (num_beams > 1 && num_return_sequences > num_beams) {
    fail(fmt::format("num_return_sequences ({}) must be <= num_beams ({})", num_return_sequences, num_beams));
  }
  if (do_sample && !(temperature > 0.0)) {
    fail(fmt::format("temperature must be > 0 when sampling, got {} (use do_sample false for greedy)", temperature));
  }
  if (top_k < 0) fail(fmt::format("top_k must be >= 0, got {}", top_k));
  if (!(top_p >= 0.0 && top_p <= 1.0)) fail(fmt::format("top_p must be in [0, 1], got {}", top_p));
  if (min_p && !(*min_p >= 0.0 && *min_p <= 1.0)) fail(fmt::format("min_p must be in [0, 1], got {}", *min_p));
  if (!(repetition_penalty > 0.0)) fail(fmt::format("repetition_penalty must be > 0, got {}", repetition_penalty));
  if (no_repeat_ngram_size < 0) fail(fmt::format("no_repeat_ngram_size must be >= 0, got {}", no_repeat_ngram_size));
  if (bad_words_ids) {
    if (bad_words_ids->empty()) fail("bad_words_ids must be a non-empty list of lists of ids");
    for (const auto& word : *bad_words_ids) {
      if (word.empty()) fail("bad_words_ids must not contain an empty list");
      for (int32_t id : word) {
        if (id < 0) fail(fmt::format("bad_words_ids must hold token ids >= 0, got {}", id));
      }
    }
  }
  auto check_id = [&](const char* name, std::optional<int32_t> id) {
    if (id && *id < 0) fail(fmt::format("{} must be a token id >= 0, got {}", name, *id));
  };
  check_id("forced_bos_token_id", forced_bos_token_id);
  check_id("bos_token_id", bos_token_id);
  check_id("decoder_start_token_id", decoder_start_token_id);
  for (int32_t id : forced_eos_token_id) check_id("forced_eos_token_id", id);
  for (int32_t id : eos_token_id) check_id("eos_token_id", id);
}

}  // namespace smol
