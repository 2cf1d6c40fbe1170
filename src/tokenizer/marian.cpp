#include "tokenizer/marian.hpp"

#include <algorithm>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <sentencepiece_processor.h>

#include "smol/error.hpp"
#include "tokenizer/tokenizer_config.hpp"
#include "tokenizer/utf8.hpp"

namespace smol {
namespace {

constexpr std::string_view kSpieceUnderline = "\xE2\x96\x81";  // U+2581, SentencePiece's space

std::unique_ptr<sentencepiece::SentencePieceProcessor> load_spm(const std::filesystem::path& path) {
  auto sp = std::make_unique<sentencepiece::SentencePieceProcessor>();
  const auto status = sp->Load(path.string());
  if (!status.ok()) {
    throw Error(fmt::format("{}: cannot load SentencePiece model: {}", path.string(), status.ToString()));
  }
  return sp;
}

std::unordered_map<std::string, int32_t> load_vocab(const std::filesystem::path& path) {
  const nlohmann::json j = read_json(path);
  if (!j.is_object()) throw Error(fmt::format("{}: expected {{\"piece\": id, ...}}", path.string()));
  std::unordered_map<std::string, int32_t> vocab;
  vocab.reserve(j.size());
  for (const auto& [piece, id] : j.items()) {
    if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() > INT32_MAX) {
      throw Error(fmt::format("{}: the id of '{}' must be a non-negative integer", path.string(), piece));
    }
    vocab[piece] = id.get<int32_t>();
  }
  return vocab;
}

// Python's str.isspace: Unicode White_Space plus the separators U+001C..U+001F.
bool python_space(char32_t c) {
  return utf8::is_white_space(c) || (c >= 0x1C && c <= 0x1F);
}

}  // namespace

std::string spaces_for_underlines(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t pos = 0; pos < text.size();) {
    if (text.compare(pos, kSpieceUnderline.size(), kSpieceUnderline) == 0) {
      out.push_back(' ');
      pos += kSpieceUnderline.size();
    } else {
      out.push_back(text[pos++]);
    }
  }
  return out;
}

std::string_view python_strip(std::string_view text) {
  size_t begin = 0;
  while (begin < text.size()) {
    size_t len = 0;
    if (!python_space(utf8::decode(text, begin, len))) break;
    begin += len;
  }
  size_t end = text.size();
  while (end > begin) {
    size_t start = end - 1;
    while (start > begin && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80) --start;
    size_t len = 0;
    if (!python_space(utf8::decode(text, start, len))) break;
    end = start;
  }
  return text.substr(begin, end - begin);
}

LanguageCodeSplit split_language_code(std::string_view text) {
  // re ">>.+<<": '.' is any character but '\n' and '+' is greedy, so a match starting at i
  // ends at the last "<<" of its line that leaves at least one character after ">>". The
  // bytes of a multi-byte character are never '<', '>' or '\n', so bytes stand for characters.
  auto match_end = [&](size_t i) -> size_t {
    if (text.compare(i, 2, ">>") != 0) return 0;
    size_t line_end = text.find('\n', i + 2);
    if (line_end == std::string_view::npos) line_end = text.size();
    if (line_end < i + 5) return 0;
    const size_t p = text.rfind("<<", line_end - 2);
    return p != std::string_view::npos && p >= i + 3 ? p + 2 : 0;
  };
  LanguageCodeSplit out;
  if (const size_t end = match_end(0)) out.code = std::string(text.substr(0, end));
  out.rest.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    if (const size_t end = match_end(i)) {
      i = end;
    } else {
      out.rest.push_back(text[i++]);
    }
  }
  return out;
}

MarianBackend::MarianBackend(const MarianFiles& files, const std::string& name)
    : source_(load_spm(files.source_spm)), target_(load_spm(files.target_spm)),
      encoder_(load_vocab(files.vocab)), separate_(files.target_vocab.has_value()),
      unk_token_(files.unk_token) {
  if (separate_) target_encoder_ = load_vocab(*files.target_vocab);
  for (const Vocab* v : {static_cast<const Vocab*>(&encoder_), static_cast<const Vocab*>(&target_encoder_)}) {
    if (v == &target_encoder_ && !separate_) continue;
    if (!v->contains(unk_token_)) {
      throw Error(fmt::format("{}: the unk token '{}' is not in {}", name, unk_token_,
                              (v == &encoder_ ? files.vocab : *files.target_vocab).string()));
    }
  }
  // The special tokens become added tokens: the vocab's id, else appended after it (as
  // PreTrainedTokenizer._add_tokens numbers them).
  std::vector<std::string> contents = {files.eos_token, files.unk_token, files.pad_token};
  contents.insert(contents.end(), files.additional_special.begin(), files.additional_special.end());
  int32_t next = static_cast<int32_t>(encoder_.size());
  std::vector<AddedToken> added;
  for (size_t i = 0; i < contents.size(); ++i) {
    const std::string& c = contents[i];
    if (c.empty() || std::any_of(specials_.begin(), specials_.end(),
                                 [&](const Special& s) { return s.content == c; })) {
      continue;
    }
    const auto it = encoder_.find(c);
    const int32_t id = it != encoder_.end() ? it->second : next++;
    // transformers decodes additional special tokens outside the vocab as separate texts.
    const bool legacy = i >= 3 && id >= static_cast<int32_t>(encoder_.size());
    specials_.push_back({c, id, legacy});
    AddedToken t;
    t.id = id;
    t.content = c;
    t.special = true;
    added.push_back(std::move(t));
  }
  eos_id_ = specials_.front().id;
  special_matcher_ = AddedTokenMatcher(std::move(added));

  const Vocab& decode_vocab = vocab(true);
  int32_t size = 0;
  for (const Vocab* v : {static_cast<const Vocab*>(&encoder_), &decode_vocab}) {
    for (const auto& [piece, id] : *v) size = std::max(size, id + 1);
  }
  for (const auto& s : specials_) size = std::max(size, s.id + 1);
  decoder_.assign(static_cast<size_t>(size), std::nullopt);
  special_flag_.assign(static_cast<size_t>(size), 0);
  for (const auto& [piece, id] : decode_vocab) decoder_[id] = piece;
  for (const auto& s : specials_) {
    decoder_[s.id] = s.content;
    special_flag_[s.id] = s.legacy ? 3 : 1;
  }
}

MarianBackend::~MarianBackend() = default;

std::optional<int32_t> MarianBackend::source_id(std::string_view piece) const {
  const auto it = encoder_.find(std::string(piece));
  if (it == encoder_.end()) return std::nullopt;
  return it->second;
}

const std::string* MarianBackend::piece(int32_t id) const {
  if (id < 0 || static_cast<size_t>(id) >= decoder_.size() || !decoder_[id]) return nullptr;
  return &*decoder_[id];
}

void MarianBackend::encode(std::string_view text, bool target, std::vector<int32_t>& out) const {
  const Vocab& v = vocab(target);
  const int32_t unk = v.at(unk_token_);
  const auto& sp = target ? *target_ : *source_;
  RegexScratch scratch;
  std::vector<AddedTokenMatcher::Segment> segments;
  std::vector<std::string> pieces;
  special_matcher_.split(text, scratch, segments);
  auto push_piece = [&](const std::string& piece) {
    const auto it = v.find(piece);
    out.push_back(it != v.end() ? it->second : unk);
  };
  for (const auto& seg : segments) {
    if (seg.id >= 0) {
      out.push_back(seg.id);
      continue;
    }
    if (seg.end == seg.begin) continue;  // transformers skips empty chunks
    // Each chunk between special tokens is tokenized on its own (PreTrainedTokenizer.tokenize).
    LanguageCodeSplit chunk = split_language_code(text.substr(seg.begin, seg.end - seg.begin));
    if (!chunk.code.empty()) push_piece(chunk.code);
    pieces.clear();
    const auto status = sp.Encode(chunk.rest, &pieces);
    if (!status.ok()) throw Error(fmt::format("tokenizer: SentencePiece encode failed: {}", status.ToString()));
    for (const auto& p : pieces) push_piece(p);
  }
}

// convert_tokens_to_string: pieces joined by target.spm, special tokens written out as text.
std::string MarianBackend::pieces_to_string(const std::vector<std::string>& tokens) const {
  std::string out, joined;
  std::vector<std::string> run;
  auto flush = [&] {
    joined.clear();
    const auto status = target_->Decode(run, &joined);
    if (!status.ok()) throw Error(fmt::format("tokenizer: SentencePiece decode failed: {}", status.ToString()));
    out += joined;
    run.clear();
  };
  for (const auto& token : tokens) {
    const bool special = std::any_of(specials_.begin(), specials_.end(),
                                     [&](const Special& s) { return s.content == token; });
    if (special) {
      flush();
      out += token;
      out += ' ';
    } else {
      run.push_back(token);
    }
  }
  flush();
  return std::string(python_strip(spaces_for_underlines(out)));
}

std::string MarianBackend::decode(std::span<const int32_t> ids, bool skip_special) const {
  // PreTrainedTokenizer._decode: legacy added tokens are texts of their own, the runs between
  // them go through convert_tokens_to_string, and the parts are joined with spaces.
  std::vector<std::string> parts, run;
  for (const int32_t id : ids) {
    const uint8_t flag = special_flag_[id];
    if (skip_special && flag) continue;
    const std::string& token = decoder_[id] ? *decoder_[id] : unk_token_;
    if (flag & 2) {
      if (!run.empty()) {
        std::string text = pieces_to_string(run);
        if (!text.empty()) parts.push_back(std::move(text));
        run.clear();
      }
      parts.push_back(token);
    } else {
      run.push_back(token);
    }
  }
  if (!run.empty()) parts.push_back(pieces_to_string(run));
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i) out += ' ';
    out += parts[i];
  }
  return out;
}

}  // namespace smol
