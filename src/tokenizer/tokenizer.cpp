#include "smol/tokenizer.hpp"

#include <fstream>

#include <fmt/format.h>

#include "smol/error.hpp"
#include "tokenizer/tokenizer_impl.hpp"
#include "tokenizer/utf8.hpp"

namespace smol {

Tokenizer::Tokenizer(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
Tokenizer::~Tokenizer() = default;
Tokenizer::Tokenizer(const Tokenizer&) = default;
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(const Tokenizer&) = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;

Tokenizer Tokenizer::from_file(const std::filesystem::path& tokenizer_json) {
  const std::string name = tokenizer_json.string();
  std::error_code ec;
  if (std::filesystem::is_directory(tokenizer_json, ec)) {
    throw Error(fmt::format("{}: is a directory, expected a tokenizer.json file", name));
  }
  std::ifstream in(tokenizer_json, std::ios::binary | std::ios::ate);
  if (!in) throw Error(fmt::format("{}: cannot open tokenizer file", name));
  std::string text(static_cast<size_t>(in.tellg()), '\0');
  in.seekg(0);
  if (!in.read(text.data(), static_cast<std::streamsize>(text.size()))) {
    throw Error(fmt::format("{}: cannot read tokenizer file", name));
  }
  return from_json_text(text, name);
}

Tokenizer Tokenizer::from_json_text(std::string_view json_text, const std::string& name) {
  return Tokenizer(load_tokenizer_json(json_text, name));
}

namespace {

void check_utf8(std::string_view text) {
  if (const auto bad = utf8::find_invalid(text)) {
    throw Error(fmt::format("tokenizer: input text is not valid UTF-8 (byte 0x{:02X} at offset {})",
                            static_cast<unsigned char>(text[*bad]), *bad));
  }
}

std::vector<int32_t> wrap(const Tokenizer::Impl& impl, std::vector<int32_t> ids) {
  ids.insert(ids.begin(), impl.prefix_ids.begin(), impl.prefix_ids.end());
  ids.insert(ids.end(), impl.suffix_ids.begin(), impl.suffix_ids.end());
  return ids;
}

}  // namespace

std::vector<int32_t> encode_bpe(const Tokenizer::Impl& impl, std::string_view text) {
  const BpeBackend& bpe = *impl.bpe();
  const auto lease = bpe.pool.acquire();
  EncodeScratch& s = *lease;
  const bool byte_level = bpe.pre_tokenizer.byte_level();
  std::vector<int32_t> ids;
  ids.reserve(text.size() / 3 + 4);

  auto encode_word = [&](std::string_view word) {
    if (byte_level && word.size() == 1) {
      if (const int32_t id = bpe.model.byte_id(static_cast<uint8_t>(word[0])); id >= 0) {
        ids.push_back(id);
        return;
      }
    }
    size_t count = 0;
    if (const int32_t* cached = s.cache.find(word, count)) {
      ids.insert(ids.end(), cached, cached + count);
      return;
    }
    const size_t before = ids.size();
    bpe.model.encode_word(word, byte_level, s.bpe, ids);
    s.cache.insert(word, std::span<const int32_t>(ids.data() + before, ids.size() - before));
  };

  bpe.raw_added.split(text, s.pre.regex, s.outer);
  for (const auto& outer : s.outer) {
    if (outer.id >= 0) {
      ids.push_back(outer.id);
      continue;
    }
    const std::string_view part = text.substr(outer.begin, outer.end - outer.begin);
    bpe.normalized_added.split(part, s.pre.regex, s.inner);
    for (const auto& inner : s.inner) {
      if (inner.id >= 0) {
        ids.push_back(inner.id);
      } else {
        bpe.pre_tokenizer.split(part.substr(inner.begin, inner.end - inner.begin), s.pre,
                                encode_word);
      }
    }
  }
  return ids;
}

std::vector<int32_t> Tokenizer::encode(std::string_view text) const {
  check_utf8(text);
  if (const MarianBackend* marian = impl_->marian()) {
    std::vector<int32_t> ids;
    marian->encode(text, /*target=*/false, ids);
    return ids;
  }
  return encode_bpe(*impl_, text);
}

std::vector<int32_t> Tokenizer::encode_with_special(std::string_view text) const {
  return wrap(*impl_, encode(text));
}

std::vector<int32_t> Tokenizer::encode_target(std::string_view text) const {
  const MarianBackend* marian = impl_->marian();
  if (!marian) return encode_with_special(text);
  check_utf8(text);
  std::vector<int32_t> ids;
  marian->encode(text, /*target=*/true, ids);
  return wrap(*impl_, std::move(ids));
}

std::string Tokenizer::decode(std::span<const int32_t> ids, bool skip_special) const {
  if (const MarianBackend* marian = impl_->marian()) {
    for (const int32_t id : ids) token_bytes(id);  // the range check, with its message
    return marian->decode(ids, skip_special);
  }
  std::string bytes;
  for (const int32_t id : ids) {
    if (skip_special && is_special(id)) continue;
    bytes += token_bytes(id);
  }
  if (!utf8::find_invalid(bytes)) return bytes;
  return utf8::lossy(bytes);
}

std::string Tokenizer::token_bytes(int32_t id) const {
  const Impl& impl = *impl_;
  if (id < 0 || static_cast<size_t>(id) >= impl.id_flags.size() || !impl.id_flags[id]) {
    throw Error(fmt::format("{}: token id {} is not in the vocabulary (size {})", impl.name, id,
                            impl.id_flags.size()));
  }
  return impl.id_bytes[id];
}

std::optional<int32_t> Tokenizer::token_id(std::string_view token_text) const {
  const auto it = impl_->added_ids.find(std::string(token_text));
  if (it != impl_->added_ids.end()) return it->second;
  if (const MarianBackend* marian = impl_->marian()) return marian->source_id(token_text);
  return impl_->bpe()->model.token_id(token_text);
}

std::optional<std::string> Tokenizer::token_text(int32_t id) const {
  if (is_added(id)) return impl_->id_bytes[id];
  if (const MarianBackend* marian = impl_->marian()) {
    if (const std::string* piece = marian->piece(id)) return *piece;
    return std::nullopt;
  }
  const BpeModel& model = impl_->bpe()->model;
  if (model.has_id(id)) return model.tokens()[id];
  return std::nullopt;
}

std::optional<int32_t> Tokenizer::special_id(std::string_view role) const {
  const auto it = impl_->special_roles.find(role);
  if (it == impl_->special_roles.end()) return std::nullopt;
  return it->second;
}

std::optional<bool> Tokenizer::clean_up_tokenization_spaces() const {
  return impl_->clean_up_spaces;
}

std::string clean_up_tokenization(std::string_view text) {
  // The replacements of transformers' PreTrainedTokenizerBase.clean_up_tokenization, in order.
  static constexpr std::pair<std::string_view, std::string_view> kRules[] = {
      {" .", "."},     {" ?", "?"},     {" !", "!"},     {" ,", ","},     {" ' ", "'"},
      {" n't", "n't"}, {" 'm", "'m"},   {" 's", "'s"},   {" 've", "'ve"}, {" 're", "'re"}};
  std::string out(text);
  for (const auto& [from, to] : kRules) {
    std::string next;
    next.reserve(out.size());
    size_t pos = 0;
    for (size_t hit = out.find(from); hit != std::string::npos; hit = out.find(from, pos)) {
      next.append(out, pos, hit - pos).append(to);
      pos = hit + from.size();
    }
    next.append(out, pos);
    out = std::move(next);
  }
  return out;
}

size_t Tokenizer::vocab_size() const { return impl_->id_flags.size(); }

bool Tokenizer::is_special(int32_t id) const {
  return id >= 0 && static_cast<size_t>(id) < impl_->id_flags.size() &&
         (impl_->id_flags[id] & Impl::kSpecial);
}

bool Tokenizer::is_added(int32_t id) const {
  return id >= 0 && static_cast<size_t>(id) < impl_->id_flags.size() &&
         (impl_->id_flags[id] & Impl::kAdded);
}

StreamDecoder::StreamDecoder(const Tokenizer& tok, bool skip_special)
    : tok_(tok), skip_special_(skip_special) {}

std::string StreamDecoder::push(int32_t id) {
  if (skip_special_ && tok_.is_special(id)) return {};
  if (tok_.impl_->marian()) {
    // SentencePiece decoding strips and joins pieces, so the text is decoded again from the
    // start and only what lies beyond the part already returned is handed out. Appending a
    // piece only ever extends that decode (trailing spaces, stripped now, reappear before the
    // next word), so returned text is never taken back.
    ids_.push_back(id);
    std::string text = tok_.decode(ids_, skip_special_);
    if (text.size() <= returned_.size() || !text.starts_with(returned_)) return {};
    std::string out = text.substr(returned_.size());
    returned_ = std::move(text);
    return out;
  }
  pending_ += tok_.token_bytes(id);
  // Everything before an unfinished trailing character can be converted now: a lead byte
  // ends any earlier sequence, so the split does not change how the bytes decode.
  const size_t ready = pending_.size() - utf8::incomplete_tail(pending_);
  std::string out = utf8::lossy(std::string_view(pending_).substr(0, ready));
  pending_.erase(0, ready);
  return out;
}

std::string StreamDecoder::flush() {
  if (tok_.impl_->marian()) {
    const std::string text = tok_.decode(ids_, skip_special_);
    std::string out = text.starts_with(returned_) ? text.substr(returned_.size()) : std::string();
    ids_.clear();
    returned_.clear();
    return out;
  }
  std::string out = utf8::lossy(pending_);
  pending_.clear();
  return out;
}

}  // namespace smol
