#include "tokenizer/word_cache.hpp"

#include <cstring>

namespace smol {

WordCache::WordCache(size_t max_entries) : slots_(1024), max_entries_(max_entries) {}

uint64_t WordCache::hash_of(std::string_view word) {
  // FNV-1a over 8-byte chunks, then a final mix: words are short, so this beats std::hash.
  uint64_t h = 0xcbf29ce484222325ull ^ word.size();
  size_t i = 0;
  for (; i + 8 <= word.size(); i += 8) {
    uint64_t chunk;
    std::memcpy(&chunk, word.data() + i, 8);
    h = (h ^ chunk) * 0x100000001b3ull;
    h ^= h >> 29;
  }
  uint64_t tail = 0;
  std::memcpy(&tail, word.data() + i, word.size() - i);
  h = (h ^ tail) * 0x100000001b3ull;
  h ^= h >> 32;
  h *= 0x9e3779b97f4a7c15ull;
  return h ^ (h >> 29);
}

bool WordCache::matches(const Slot& s, uint32_t tag, std::string_view word) const {
  return s.tag == tag && s.key_length == word.size() &&
         std::memcmp(keys_.data() + s.key_offset, word.data(), word.size()) == 0;
}

const int32_t* WordCache::find(std::string_view word, size_t& count) const {
  const uint64_t h = hash_of(word);
  const uint32_t tag = tag_of(h);
  const size_t mask = slots_.size() - 1;
  for (size_t i = h & mask;; i = (i + 1) & mask) {
    const Slot& s = slots_[i];
    if (s.tag == 0) return nullptr;
    if (matches(s, tag, word)) {
      count = s.ids_length;
      return ids_.data() + s.ids_offset;
    }
  }
}

void WordCache::grow() {
  std::vector<Slot> old(slots_.size() * 2);
  old.swap(slots_);
  const size_t mask = slots_.size() - 1;
  for (const Slot& s : old) {
    if (s.tag == 0) continue;
    const uint64_t h = hash_of(std::string_view(keys_).substr(s.key_offset, s.key_length));
    size_t i = h & mask;
    while (slots_[i].tag != 0) i = (i + 1) & mask;
    slots_[i] = s;
  }
}

void WordCache::insert(std::string_view word, std::span<const int32_t> ids) {
  if (used_ >= max_entries_ || word.size() > kMaxWordBytes || ids.size() > UINT16_MAX) return;
  if ((used_ + 1) * 2 > slots_.size()) grow();
  const uint64_t h = hash_of(word);
  const uint32_t tag = tag_of(h);
  const size_t mask = slots_.size() - 1;
  size_t i = h & mask;
  for (; slots_[i].tag != 0; i = (i + 1) & mask) {
    if (matches(slots_[i], tag, word)) return;
  }
  slots_[i] = Slot{tag, static_cast<uint32_t>(keys_.size()), static_cast<uint32_t>(ids_.size()),
                   static_cast<uint16_t>(word.size()), static_cast<uint16_t>(ids.size())};
  keys_.append(word);
  ids_.insert(ids_.end(), ids.begin(), ids.end());
  ++used_;
}

}  // namespace smol
