#pragma once
// What a loaded Tokenizer holds, shared by the loader (tokenizer_json.cpp) and the
// encode/decode code (tokenizer.cpp).
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "smol/tokenizer.hpp"
#include "tokenizer/added_tokens.hpp"
#include "tokenizer/bpe.hpp"
#include "tokenizer/pre_tokenizer.hpp"
#include "tokenizer/word_cache.hpp"

namespace smol {

// Working memory of one encode call; pooled so that steady-state encoding allocates little
// and the word cache survives between calls.
struct EncodeScratch {
  PreTokenizerScratch pre;
  BpeScratch bpe;
  WordCache cache;
  std::vector<AddedTokenMatcher::Segment> outer, inner;
};

// Hands each concurrent caller its own scratch; one thread reuses the same one every call.
class ScratchPool {
 public:
  class Lease {
   public:
    Lease(const ScratchPool& pool, std::unique_ptr<EncodeScratch> scratch)
        : pool_(&pool), scratch_(std::move(scratch)) {}
    ~Lease() { pool_->give_back(std::move(scratch_)); }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    EncodeScratch& operator*() const { return *scratch_; }

   private:
    const ScratchPool* pool_;
    std::unique_ptr<EncodeScratch> scratch_;
  };

  Lease acquire() const {
    std::unique_ptr<EncodeScratch> scratch;
    {
      std::lock_guard lock(mutex_);
      if (!free_.empty()) {
        scratch = std::move(free_.back());
        free_.pop_back();
      }
    }
    if (!scratch) scratch = std::make_unique<EncodeScratch>();
    return Lease(*this, std::move(scratch));
  }

 private:
  static constexpr size_t kMaxKept = 64;
  void give_back(std::unique_ptr<EncodeScratch> scratch) const {
    std::lock_guard lock(mutex_);
    if (free_.size() < kMaxKept) free_.push_back(std::move(scratch));
  }
  mutable std::mutex mutex_;
  mutable std::vector<std::unique_ptr<EncodeScratch>> free_;
};

struct Tokenizer::Impl {
  enum Flag : uint8_t { kPresent = 1, kAdded = 2, kSpecial = 4 };

  std::string name;  // the file, for messages
  BpeModel model;
  PreTokenizer pre_tokenizer;
  // Tokens with normalized=false are matched in the raw text first, then the normalized ones
  // in what is left (the two tries of tokenizers' AddedVocabulary).
  AddedTokenMatcher raw_added;
  AddedTokenMatcher normalized_added;
  std::unordered_map<std::string, int32_t> added_ids;
  std::vector<std::string> id_bytes;  // what decode emits for each id
  std::vector<uint8_t> id_flags;
  ScratchPool pool;
};

// Builds the tokenizer from tokenizer.json text; throws smol::Error prefixed with `name`.
std::shared_ptr<Tokenizer::Impl> load_tokenizer_json(std::string_view json_text,
                                                     const std::string& name);

}  // namespace smol
