// Tokenizer::from_folder: finds the tokenizer files of a model folder as transformers'
// AutoTokenizer does and builds the tokenizer its fast (or, for Marian, slow) class would.
#include <algorithm>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "smol/error.hpp"
#include "tokenizer/byte_level.hpp"
#include "tokenizer/tokenizer_config.hpp"
#include "tokenizer/tokenizer_impl.hpp"

namespace smol {
namespace {

namespace fs = std::filesystem;

bool is_file(const fs::path& p) {
  std::error_code ec;
  return fs::is_regular_file(p, ec);
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(fmt::format("{}: cannot open file", path.string()));
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// merges.txt as GPT2Tokenizer reads it: split("\n")[1:-1], so the first line (the "#version"
// header) and whatever follows the last newline are dropped, then each line splits on
// whitespace into a pair.
std::vector<std::pair<std::string, std::string>> read_merges(const fs::path& path) {
  const std::string text = read_text(path);
  std::vector<std::string_view> lines;
  for (size_t begin = 0;;) {
    const size_t end = text.find('\n', begin);
    if (end == std::string::npos) break;  // the last piece is dropped
    lines.emplace_back(text.data() + begin, end - begin);
    begin = end + 1;
  }
  std::vector<std::pair<std::string, std::string>> merges;
  merges.reserve(lines.size());
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; };
  for (size_t i = 1; i < lines.size(); ++i) {
    std::vector<std::string_view> parts;
    const std::string_view line = lines[i];
    for (size_t p = 0; p < line.size();) {
      while (p < line.size() && space(line[p])) ++p;
      size_t q = p;
      while (q < line.size() && !space(line[q])) ++q;
      if (q > p) parts.push_back(line.substr(p, q - p));
      p = q;
    }
    if (parts.size() != 2) {
      throw Error(fmt::format("{}: line {} is not a merge \"a b\"", path.string(), i + 1));
    }
    merges.emplace_back(std::string(parts[0]), std::string(parts[1]));
  }
  return merges;
}

std::string model_type(const fs::path& dir) {
  if (!is_file(dir / "config.json")) return {};
  const nlohmann::json config = read_json(dir / "config.json");
  return config.is_object() ? config.value("model_type", std::string()) : std::string();
}

AddedToken special_token(std::string content, bool lstrip = false) {
  AddedToken t;
  t.id = -1;
  t.content = std::move(content);
  t.special = true;
  t.lstrip = lstrip;
  return t;
}

// The special tokens of the tokenizer class, overridden by what the config names.
std::vector<SpecialRole> roles_with_defaults(const TokenizerConfig& config,
                                             std::vector<SpecialRole> defaults) {
  for (const auto& given : config.roles) {
    auto it = std::find_if(defaults.begin(), defaults.end(),
                           [&](const SpecialRole& d) { return d.role == given.role; });
    SpecialRole role = given;
    // A plain string takes the class's flags (BART's <mask> keeps lstrip=True).
    if (!given.flags_given && it != defaults.end()) {
      const AddedToken& d = it->token;
      role.token.lstrip = d.lstrip;
      role.token.rstrip = d.rstrip;
      role.token.single_word = d.single_word;
    }
    if (it != defaults.end()) {
      *it = std::move(role);
    } else {
      defaults.push_back(std::move(role));
    }
  }
  return defaults;
}

std::vector<AddedToken> config_tokens(const TokenizerConfig& config,
                                      const std::vector<SpecialRole>& roles) {
  const auto specials = config.all_special_contents();
  std::vector<AddedToken> tokens = config.added;
  for (auto& t : tokens) {
    if (std::find(specials.begin(), specials.end(), t.content) != specials.end()) t.special = true;
  }
  for (const auto& r : roles) tokens.push_back(r.token);
  for (const auto& t : config.additional_special) tokens.push_back(t);
  return tokens;
}

void set_roles(Tokenizer::Impl& impl, const std::vector<SpecialRole>& roles) {
  for (const auto& r : roles) {
    const auto it = impl.added_ids.find(r.token.content);
    if (it != impl.added_ids.end()) impl.special_roles[r.role] = it->second;
  }
}

std::shared_ptr<Tokenizer::Impl> load_json_folder(const fs::path& dir, const TokenizerConfig& config) {
  const fs::path path = dir / "tokenizer.json";
  auto impl = load_tokenizer_json(read_text(path), path.string(), config_tokens(config, config.roles));
  set_roles(*impl, config.roles);
  return impl;
}

// vocab.json + merges.txt, converted as transformers' GPT2Converter / RobertaConverter do.
std::shared_ptr<Tokenizer::Impl> load_bpe_files(const fs::path& dir, const TokenizerConfig& config) {
  const std::string name = (dir / "vocab.json").string();
  std::string cls = config.get_string("tokenizer_class", "");
  const bool gpt2 = cls.empty() ? model_type(dir) == "gpt2" : cls.starts_with("GPT2");
  std::vector<SpecialRole> defaults;
  if (gpt2) {
    for (const char* role : {"bos", "eos", "unk"}) defaults.push_back({role, special_token("<|endoftext|>")});
  } else {
    // In transformers' SPECIAL_TOKENS_ATTRIBUTES order, which numbers the tokens it appends.
    defaults = {{"bos", special_token("<s>")},   {"eos", special_token("</s>")},
                {"unk", special_token("<unk>")}, {"sep", special_token("</s>")},
                {"pad", special_token("<pad>")}, {"cls", special_token("<s>")},
                {"mask", special_token("<mask>", /*lstrip=*/true)}};  // "behaves like a normal word"
  }
  const std::vector<SpecialRole> roles = roles_with_defaults(config, std::move(defaults));

  const nlohmann::json vocab = read_json(dir / "vocab.json");
  if (!vocab.is_object()) throw Error(fmt::format("{}: expected {{\"token\": id, ...}}", name));
  BpeConfig bpe_config;
  bpe_config.vocab.reserve(vocab.size());
  for (const auto& [token, id] : vocab.items()) {
    if (!id.is_number_integer()) throw Error(fmt::format("{}: the id of '{}' must be an integer", name, token));
    bpe_config.vocab.emplace_back(token, id.get<int32_t>());
  }
  bpe_config.merges = read_merges(dir / "merges.txt");

  auto impl = std::make_shared<Tokenizer::Impl>();
  impl->name = name;
  BpeBackend& bpe = std::get<BpeBackend>(impl->backend);
  bpe.model = BpeModel::build(std::move(bpe_config), name);
  std::vector<PreTokenizerStep> steps;
  steps.push_back(make_byte_level_step(config.get_bool("add_prefix_space", false), /*use_regex=*/true));
  bpe.pre_tokenizer = PreTokenizer(std::move(steps));
  std::vector<AddedToken> added;
  append_added_tokens(bpe.model, added, config_tokens(config, roles));
  finish_bpe_tables(*impl, std::move(added));
  set_roles(*impl, roles);
  auto role_id = [&](const char* role) -> std::optional<int32_t> {
    const auto it = impl->special_roles.find(role);
    if (it == impl->special_roles.end()) return std::nullopt;
    return it->second;
  };
  if (!gpt2) {  // RobertaProcessing: <s> A </s>
    const auto cls_id = role_id("cls"), sep_id = role_id("sep");
    if (cls_id) impl->prefix_ids = {*cls_id};
    if (sep_id) impl->suffix_ids = {*sep_id};
  } else if (config.get_bool("add_bos_token", false)) {
    if (const auto bos = role_id("bos")) impl->prefix_ids = {*bos};
  }
  return impl;
}

std::shared_ptr<Tokenizer::Impl> load_marian(const fs::path& dir, const TokenizerConfig& config) {
  MarianFiles files;
  files.source_spm = dir / "source.spm";
  files.target_spm = dir / "target.spm";
  files.vocab = dir / "vocab.json";
  if (config.get_bool("separate_vocabs", false)) {
    // The config may hold the path the tokenizer was saved from; the file sits in the folder.
    fs::path target = dir / fs::path(config.get_string("target_vocab_file", "target_vocab.json")).filename();
    if (!is_file(target)) target = dir / "target_vocab.json";
    if (!is_file(target)) {
      throw Error(fmt::format("{}: separate_vocabs is set but there is no target_vocab.json", dir.string()));
    }
    files.target_vocab = target;
  }
  for (const auto& r : config.roles) {
    if (r.role == "unk") files.unk_token = r.token.content;
    if (r.role == "eos") files.eos_token = r.token.content;
    if (r.role == "pad") files.pad_token = r.token.content;
  }
  for (const auto& t : config.additional_special) files.additional_special.push_back(t.content);

  auto impl = std::make_shared<Tokenizer::Impl>();
  impl->name = dir.string();
  const MarianBackend& marian = impl->backend.emplace<MarianBackend>(files, impl->name);
  const size_t size = marian.id_count();
  impl->id_bytes.assign(size, {});
  impl->id_flags.assign(size, Tokenizer::Impl::kPresent);
  for (size_t id = 0; id < size; ++id) {
    // transformers decodes an id missing from the vocab as the unk token.
    const std::string* piece = marian.piece(static_cast<int32_t>(id));
    impl->id_bytes[id] = spaces_for_underlines(piece ? *piece : files.unk_token);
  }
  for (const auto& s : marian.specials()) {
    impl->id_bytes[s.id] = s.content;
    impl->id_flags[s.id] |= Tokenizer::Impl::kAdded | Tokenizer::Impl::kSpecial;
    impl->added_ids[s.content] = s.id;
  }
  impl->suffix_ids = {marian.eos_id()};
  impl->special_roles["eos"] = marian.eos_id();
  impl->special_roles["unk"] = impl->added_ids.at(files.unk_token);
  impl->special_roles["pad"] = impl->added_ids.at(files.pad_token);
  for (const auto& r : config.roles) {
    if (const auto id = marian.source_id(r.token.content); id && !impl->special_roles.contains(r.role)) {
      impl->special_roles[r.role] = *id;
    }
  }
  return impl;
}

}  // namespace

Tokenizer Tokenizer::from_folder(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    throw Error(fmt::format("{}: not a folder (expected a model folder with its tokenizer files)", dir.string()));
  }
  const TokenizerConfig config = read_tokenizer_config(dir);
  std::shared_ptr<Impl> impl;
  if (is_file(dir / "tokenizer.json")) {
    impl = load_json_folder(dir, config);
  } else if (is_file(dir / "vocab.json") && is_file(dir / "merges.txt")) {
    impl = load_bpe_files(dir, config);
  } else if (is_file(dir / "source.spm") && is_file(dir / "target.spm") && is_file(dir / "vocab.json")) {
    impl = load_marian(dir, config);
  } else {
    throw Error(fmt::format("{}: no tokenizer found (looked for tokenizer.json, vocab.json + merges.txt, "
                            "source.spm + target.spm + vocab.json)", dir.string()));
  }
  impl->clean_up_spaces = config.clean_up_spaces;
  return Tokenizer(std::move(impl));
}

}  // namespace smol
