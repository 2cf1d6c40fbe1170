#pragma once
// A bounded cache from a pre-tokenized word to its BPE ids. Real text repeats a small set of
// words, so most words skip the merge loop. Keys and ids live in two arenas, so inserting
// allocates nothing per entry; when full, the cache simply stops growing (as tokenizers' does).
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace smol {

class WordCache {
 public:
  explicit WordCache(size_t max_entries = 1 << 16);

  // Null when absent; the span is valid until the next insert.
  const int32_t* find(std::string_view word, size_t& count) const;
  void insert(std::string_view word, std::span<const int32_t> ids);

  static constexpr size_t kMaxWordBytes = 256;  // longer words are rare and not worth keeping

 private:
  // 16 bytes, so that probing touches little memory: lookups are cache-miss bound.
  struct Slot {
    uint32_t tag = 0;  // high hash bits, never 0 in a used slot
    uint32_t key_offset = 0;
    uint32_t ids_offset = 0;
    uint16_t key_length = 0;
    uint16_t ids_length = 0;
  };
  static uint64_t hash_of(std::string_view word);
  static uint32_t tag_of(uint64_t hash) { return static_cast<uint32_t>(hash >> 32) | 1u; }
  bool matches(const Slot& s, uint32_t tag, std::string_view word) const;
  void grow();

  std::vector<Slot> slots_;  // open addressing, power-of-two size, grown to stay half empty
  size_t used_ = 0;
  size_t max_entries_;
  std::string keys_;
  std::vector<int32_t> ids_;
};

}  // namespace smol
