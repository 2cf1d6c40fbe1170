#include "tokenizer/word_cache.hpp"

#include <bit>
#include <cstring>

namespace smol {

WordCache::WordCache(size_t max_entries)
    : slots_(std::bit_ceil(max_entries * 2)), max_entries_(max_entries) {}

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

const int32_t* WordCache::find(std::string_view word, size_t& count) const {
  const uint64_t h = hash_of(word);
  const size_t mask = slots_.size() - 1;
  for (size_t i = h & mask;; i = (i + 1) & mask) {
    const Slot& s = slots_[i];
    if (!s.used) return nullptr;
    if (s.hash == h && s.key_length == word.size() &&
        std::memcmp(keys_.data() + s.key_offset, word.data(), word.size()) == 0) {
      count = s.ids_length;
      return ids_.data() + s.ids_offset;
    }
  }
}

void WordCache::insert(std::string_view word, std::span<const int32_t> ids) {
  if (used_ >= max_entries_ || word.size() > kMaxWordBytes) return;
  const uint64_t h = hash_of(word);
  const size_t mask = slots_.size() - 1;
  size_t i = h & mask;
  while (slots_[i].used) {
    if (slots_[i].hash == h && slots_[i].key_length == word.size() &&
        std::memcmp(keys_.data() + slots_[i].key_offset, word.data(), word.size()) == 0) {
      return;
    }
    i = (i + 1) & mask;
  }
  Slot& s = slots_[i];
  s = Slot{h, static_cast<uint32_t>(keys_.size()), static_cast<uint32_t>(word.size()),
           static_cast<uint32_t>(ids_.size()), static_cast<uint32_t>(ids.size()), true};
  keys_.append(word);
  ids_.insert(ids_.end(), ids.begin(), ids.end());
  ++used_;
}

}  // namespace smol
