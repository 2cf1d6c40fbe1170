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

std::vector<int32_t> Tokenizer::encode(std::string_view text) const {
  if (const auto bad = utf8::find_invalid(text)) {
    throw Error(fmt::format("tokenizer: input text is not valid UTF-8 (byte 0x{:02X} at offset {})",
                            static_cast<unsigned char>(text[*bad]), *bad));
  }
  const Impl& impl = *impl_;
  const auto lease = impl.pool.acquire();
  EncodeScratch& s = *lease;
  const bool byte_level = impl.pre_tokenizer.byte_level();
  std::vector<int32_t> ids;
  ids.reserve(text.size() / 3 + 4);

  auto encode_word = [&](std::string_view word) {
    if (byte_level && word.size() == 1) {
      if (const int32_t id = impl.model.byte_id(static_cast<uint8_t>(word[0])); id >= 0) {
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
    impl.model.encode_word(word, byte_level, s.bpe, ids);
    s.cache.insert(word, std::span<const int32_t>(ids.data() + before, ids.size() - before));
  };

  impl.raw_added.split(text, s.pre.regex, s.outer);
  for (const auto& outer : s.outer) {
    if (outer.id >= 0) {
      ids.push_back(outer.id);
      continue;
    }
    const std::string_view part = text.substr(outer.begin, outer.end - outer.begin);
    impl.normalized_added.split(part, s.pre.regex, s.inner);
    for (const auto& inner : s.inner) {
      if (inner.id >= 0) {
        ids.push_back(inner.id);
      } else {
        impl.pre_tokenizer.split(part.substr(inner.begin, inner.end - inner.begin), s.pre,
                                 encode_word);
      }
    }
  }
  return ids;
}

std::string Tokenizer::decode(std::span<const int32_t> ids, bool skip_special) const {
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
  return impl_->model.token_id(token_text);
}

std::optional<std::string> Tokenizer::token_text(int32_t id) const {
  if (!is_added(id)) {
    if (impl_->model.has_id(id)) return impl_->model.tokens()[id];
    return std::nullopt;
  }
  return impl_->id_bytes[id];
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
  pending_ += tok_.token_bytes(id);
  // Everything before an unfinished trailing character can be converted now: a lead byte
  // ends any earlier sequence, so the split does not change how the bytes decode.
  const size_t ready = pending_.size() - utf8::incomplete_tail(pending_);
  std::string out = utf8::lossy(std::string_view(pending_).substr(0, ready));
  pending_.erase(0, ready);
  return out;
}

std::string StreamDecoder::flush() {
  std::string out = utf8::lossy(pending_);
  pending_.clear();
  return out;
}

}  // namespace smol
