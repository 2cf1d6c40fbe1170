#pragma once
// Training data: a corpus tokenized once into a token stream (cached beside the data file
// and memory-mapped on later runs), a held-out validation tail, and the order in which
// fixed-length windows of the stream are fed to the model.
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "smol/mapped_file.hpp"

namespace smol {

class Tokenizer;
class ChatTemplate;

// A token stream and, for chat data, which tokens are scored as targets.
class TokenData {
 public:
  static TokenData from_tokens(std::vector<int32_t> tokens, std::vector<uint8_t> scored = {});
  std::span<const int32_t> tokens() const { return tokens_; }
  // Empty: every token is scored. Else scored[i] != 0 when token i counts as a target.
  std::span<const uint8_t> scored() const { return scored_; }
  size_t size() const { return tokens_.size(); }

 private:
  friend TokenData read_token_cache(const std::filesystem::path&, uint64_t, uint64_t, int64_t);
  std::vector<int32_t> owned_tokens_;
  std::vector<uint8_t> owned_scored_;
  MappedFile mapping_;
  std::span<const int32_t> tokens_;
  std::span<const uint8_t> scored_;
};

// Tokenizes one document per the file's format, without BOS/EOS:
//  - plain text: the whole file is one document;
//  - JSONL (.jsonl / .json lines): {"text": "..."} is a document with every token scored,
//    {"messages": [{"role", "content"}, ...]} is rendered with the chat template and only the
//    assistant turns (their content and end-of-turn tokens) are scored.
// Documents are joined with the separator token (<|endoftext|>), scored as a target only after a
// text document.
TokenData tokenize_corpus(const std::filesystem::path& data, const Tokenizer& tokenizer,
                          const ChatTemplate* chat_template, int32_t separator);

// Maps a token cache file if it exists and was made with `key` from a data file of this size
// and modification time; returns empty data otherwise.
TokenData read_token_cache(const std::filesystem::path& path, uint64_t key, uint64_t data_size,
                           int64_t data_mtime_ns);

struct LoadedData {
  TokenData data;
  std::filesystem::path cache_path;
  bool from_cache = false;
  std::string note;  // a warning for the user (e.g. the cache could not be written), or empty
};

// Reads `data` through its token cache `<data>.<key>.smoltok`, where the key hashes the
// model's tokenizer.json and tokenizer_config.json (the chat template): tokenizes and writes
// the cache (atomically) on first use, maps it afterwards. A cache older than the data file or
// of another size than recorded is rebuilt.
LoadedData load_training_data(const std::filesystem::path& data, const std::filesystem::path& model_dir);

// The windows of T+1 tokens a step trains on. The stream's last `val_fraction` is held out;
// training window w starts at token w*T. With shuffle off, global row r (= step*batch + b)
// is window r mod n_windows (the fixture's order); with shuffle on, it is window
// perm_e[r mod n_windows] of epoch e = r / n_windows, perm_e a permutation drawn from the seed.
class WindowSampler {
 public:
  WindowSampler(const TokenData& data, int seq_len, double val_fraction, bool shuffle, uint64_t seed);
  int64_t train_windows() const { return train_windows_; }
  int64_t val_windows() const { return val_windows_; }
  int64_t train_tokens() const { return train_end_; }
  // Fills seq_len inputs and targets; unscored targets are -1. Returns the number scored.
  int train_row(int64_t row, int32_t* inputs, int32_t* targets) const;
  int val_row(int64_t window, int32_t* inputs, int32_t* targets) const;

 private:
  int fill(int64_t start, int32_t* inputs, int32_t* targets) const;
  const TokenData* data_;
  int seq_len_;
  bool shuffle_;
  uint64_t seed_;
  int64_t train_end_ = 0;
  int64_t train_windows_ = 0, val_windows_ = 0;
  mutable int64_t perm_epoch_ = -1;
  mutable std::vector<int64_t> perm_;
};

// Source/target pairs for an encoder-decoder, tokenized once (sources with the model's
// special tokens, targets as the target side's tokenizer writes labels), each side truncated
// to its maximum length keeping a final end-of-sequence token.
struct PairData {
  std::vector<int32_t> source_tokens, target_tokens;  // every pair's ids, concatenated
  std::vector<uint64_t> source_offsets, target_offsets;  // pair i: [offsets[i], offsets[i+1])
  int64_t truncated_sources = 0, truncated_targets = 0;

  size_t size() const { return source_offsets.empty() ? 0 : source_offsets.size() - 1; }
  std::span<const int32_t> source(size_t i) const {
    return {source_tokens.data() + source_offsets[i], source_offsets[i + 1] - source_offsets[i]};
  }
  std::span<const int32_t> target(size_t i) const {
    return {target_tokens.data() + target_offsets[i], target_offsets[i + 1] - target_offsets[i]};
  }
  void append(std::vector<int32_t> source, std::vector<int32_t> target);
};

struct PairLimits {
  int max_source_len = 0, max_target_len = 0;  // tokens, special tokens included
  int32_t eos_token_id = -1;                   // kept as the last token when truncating
};

// Reads JSONL {"source": ..., "target": ...} (one pair a line) or TSV (source<TAB>target).
PairData tokenize_pairs(const std::filesystem::path& data, const Tokenizer& tokenizer, const PairLimits& limits);

struct LoadedPairs {
  PairData data;
  std::filesystem::path cache_path;
  bool from_cache = false;
  std::string note;  // truncation counts, cache problems
};

// As load_training_data, for pairs: the cache `<data>.<key>.smolpairs` is keyed by the
// model's tokenizer files and the limits.
LoadedPairs load_pair_data(const std::filesystem::path& data, const std::filesystem::path& model_dir,
                           const PairLimits& limits);

// Which pair each batch row trains on. The last `val_fraction` of the pairs (file order) is
// held out. Global row r (= step*batch + b) is position r mod n of epoch e = r / n's order.
// With shuffle off the order is the file's; with shuffle on, the epoch's permutation (from
// the seed) is cut into chunks of 64 batches, each chunk sorted by (source, target) length
// and cut into batches of `batch` pairs, and the batches are put in a shuffled order: a
// step's pairs have similar lengths, so padding stays small.
class PairSampler {
 public:
  PairSampler(const PairData& data, int batch, double val_fraction, bool shuffle, uint64_t seed);
  int64_t train_pairs() const { return n_train_; }
  int64_t val_pairs() const { return static_cast<int64_t>(data_->size()) - n_train_; }
  int64_t train_pair(int64_t row) const;  // index into the data
  int64_t val_pair(int64_t i) const { return n_train_ + i % val_pairs(); }

 private:
  const PairData* data_;
  int batch_;
  bool shuffle_;
  uint64_t seed_;
  int64_t n_train_ = 0;
  mutable int64_t order_epoch_ = -1;
  mutable std::vector<int64_t> order_;
};

}  // namespace smol
