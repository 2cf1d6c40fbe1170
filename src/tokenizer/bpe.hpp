#pragma once
// The BPE model: vocab, merges by rank, and the merge loop of Hugging Face tokenizers
// (a min-heap on (rank, position), stale entries skipped), so ties and odd vocabs resolve
// the same way.
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace smol {

struct BpeConfig {
  std::vector<std::pair<std::string, int32_t>> vocab;
  std::vector<std::pair<std::string, std::string>> merges;  // in rank order
  std::optional<std::string> unk_token;
  bool fuse_unk = false;
  bool ignore_merges = false;
};

struct BpeScratch {
  struct Symbol {
    int32_t id;
    int32_t prev, next;
    bool alive;
  };
  struct Candidate {
    int32_t rank;
    int32_t pos;
    int32_t new_id;
  };
  std::vector<Symbol> symbols;
  std::vector<Candidate> heap;
  std::string mapped;  // the vocab spelling of a byte-level word, for ignore_merges
};

class BpeModel {
 public:
  BpeModel() = default;
  // Throws smol::Error (prefixed with `name`) when a merge or the unk token is not in the vocab.
  static BpeModel build(BpeConfig config, const std::string& name);

  std::optional<int32_t> token_id(std::string_view token) const;
  // Vocab spelling of every id (empty where the vocab has no such id).
  const std::vector<std::string>& tokens() const { return tokens_; }
  size_t vocab_size() const { return vocab_.size(); }  // entries, as tokenizers counts them
  bool has_id(int32_t id) const {
    return id >= 0 && static_cast<size_t>(id) < present_.size() && present_[id];
  }

  // Appends the ids of one pre-tokenized word. With `byte_level` the word is raw bytes, each
  // starting as the token spelling that byte; otherwise each UTF-8 character starts as itself.
  void encode_word(std::string_view word, bool byte_level, BpeScratch& scratch,
                   std::vector<int32_t>& out) const;
  // Id of the token for one raw byte (byte-level vocabs have all 256), or -1.
  int32_t byte_id(uint8_t byte) const { return byte_ids_[byte]; }

 private:
  struct Merge {
    int32_t rank;
    int32_t new_id;
  };
  static uint64_t pair_key(int32_t a, int32_t b) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
  }
  // Open addressing on the pair key: one probe is usually one cache line, where a node-based
  // map costs two or three misses; this lookup dominates encoding words not yet cached.
  class MergeTable {
   public:
    void build(const std::vector<std::pair<uint64_t, Merge>>& entries);
    const Merge* find(uint64_t key) const {
      if (slots_.empty()) return nullptr;
      for (size_t i = mix(key) & mask_;; i = (i + 1) & mask_) {
        const Slot& s = slots_[i];
        if (s.key == key) return &s.merge;
        if (s.key == kEmpty) return nullptr;
      }
    }

   private:
    static constexpr uint64_t kEmpty = ~0ull;  // no real pair: ids are below 2^31
    struct Slot {
      uint64_t key = kEmpty;
      Merge merge{};
    };
    static size_t mix(uint64_t key) {
      key *= 0x9e3779b97f4a7c15ull;
      return static_cast<size_t>(key ^ (key >> 32));
    }
    std::vector<Slot> slots_;
    size_t mask_ = 0;
  };

  const Merge* find_merge(int32_t a, int32_t b) const { return merges_.find(pair_key(a, b)); }
  void add_symbols(std::string_view word, bool byte_level, BpeScratch& scratch) const;

  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>> vocab_;
  std::vector<std::string> tokens_;
  std::vector<bool> present_;
  MergeTable merges_;
  std::array<int32_t, 256> byte_ids_{};
  int32_t unk_id_ = -1;
  bool fuse_unk_ = false;
  bool ignore_merges_ = false;
};

}  // namespace smol
