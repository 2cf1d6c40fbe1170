#pragma once
// What a loaded Tokenizer holds, shared by the loaders (tokenizer_json.cpp, folder.cpp) and
// the encode/decode code (tokenizer.cpp, marian.cpp).
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <variant>
#include <vector>

#include "smol/tokenizer.hpp"
#include "tokenizer/added_tokens.hpp"
#include "tokenizer/bpe.hpp"
#include "tokenizer/marian.hpp"
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

// Byte-level BPE: tokenizer.json, or vocab.json + merges.txt.
struct BpeBackend {
  BpeModel model;
  PreTokenizer pre_tokenizer;
  // Tokens with normalized=false are matched in the raw text first, then the normalized ones
  // in what is left (the two tries of tokenizers' AddedVocabulary).
  AddedTokenMatcher raw_added;
  AddedTokenMatcher normalized_added;
  ScratchPool pool;
};

struct Tokenizer::Impl {
  enum Flag : uint8_t { kPresent = 1, kAdded = 2, kSpecial = 4 };

  std::string name;  // the file or folder, for messages
  std::variant<BpeBackend, MarianBackend> backend;
  std::unordered_map<std::string, int32_t> added_ids;
  std::vector<std::string> id_bytes;  // what decode emits for each id (BPE), or the text of the id's piece
  std::vector<uint8_t> id_flags;
  // What the post-processor puts around one sequence when special tokens are added.
  std::vector<int32_t> prefix_ids, suffix_ids;
  std::map<std::string, int32_t, std::less<>> special_roles;  // "eos" -> id, ...
  std::optional<bool> clean_up_spaces;

  const BpeBackend* bpe() const { return std::get_if<BpeBackend>(&backend); }
  const MarianBackend* marian() const { return std::get_if<MarianBackend>(&backend); }
};

// Builds the tokenizer from tokenizer.json text; throws smol::Error prefixed with `name`.
// `extra` (the config's special tokens) become added tokens where the file lacks them, as
// transformers' fast tokenizer adds them: the vocab's id, else the next free one.
std::shared_ptr<Tokenizer::Impl> load_tokenizer_json(std::string_view json_text,
                                                     const std::string& name,
                                                     std::vector<AddedToken> extra = {});

// Gives each token of `extra` whose content is not in `added` an id (as above) and appends it.
void append_added_tokens(const BpeModel& model, std::vector<AddedToken>& added,
                         std::vector<AddedToken> extra);

// Fills id_bytes, id_flags and added_ids from the BPE vocab and the added tokens, and builds
// the two added-token matchers (consuming `added`).
void finish_bpe_tables(Tokenizer::Impl& impl, std::vector<AddedToken> added);

// The BPE encode of tokenizer.cpp, for loaders that need ids before the Tokenizer exists.
std::vector<int32_t> encode_bpe(const Tokenizer::Impl& impl, std::string_view text);

}  // namespace smol
