#include "tokenizer/bpe.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "smol/error.hpp"
#include "tokenizer/byte_level.hpp"
#include "tokenizer/utf8.hpp"

namespace smol {

BpeModel BpeModel::build(BpeConfig config, const std::string& name) {
  BpeModel m;
  m.vocab_.reserve(config.vocab.size());
  int32_t max_id = -1;
  for (auto& [token, id] : config.vocab) {
    if (id < 0) throw Error(fmt::format("{}: vocab token '{}' has negative id {}", name, token, id));
    max_id = std::max(max_id, id);
    m.vocab_.insert_or_assign(std::move(token), id);
  }
  m.tokens_.resize(static_cast<size_t>(max_id + 1));
  m.present_.assign(static_cast<size_t>(max_id + 1), false);
  for (const auto& [token, id] : m.vocab_) {
    m.tokens_[id] = token;
    m.present_[id] = true;
  }
  std::vector<std::pair<uint64_t, Merge>> merges;
  merges.reserve(config.merges.size());
  std::string joined;
  for (size_t rank = 0; rank < config.merges.size(); ++rank) {
    const auto& [a, b] = config.merges[rank];
    joined.assign(a).append(b);
    const auto a_id = m.token_id(a), b_id = m.token_id(b), ab_id = m.token_id(joined);
    if (!a_id || !b_id || !ab_id) {
      const std::string& missing = !a_id ? a : !b_id ? b : joined;
      throw Error(fmt::format("{}: merge {} ('{} {}') uses '{}', which is not in the vocab", name,
                              rank, a, b, missing));
    }
    merges.emplace_back(pair_key(*a_id, *b_id), Merge{static_cast<int32_t>(rank), *ab_id});
  }
  m.merges_.build(merges);
  for (int b = 0; b < 256; ++b) {
    std::string spelled;
    byte_level::append_utf8(spelled, byte_level::byte_to_char(static_cast<uint8_t>(b)));
    m.byte_ids_[b] = m.token_id(spelled).value_or(-1);
  }
  if (config.unk_token) {
    const auto unk = m.token_id(*config.unk_token);
    if (!unk) throw Error(fmt::format("{}: unk_token '{}' is not in the vocab", name, *config.unk_token));
    m.unk_id_ = *unk;
  }
  m.fuse_unk_ = config.fuse_unk;
  m.ignore_merges_ = config.ignore_merges;
  return m;
}

void BpeModel::MergeTable::build(const std::vector<std::pair<uint64_t, Merge>>& entries) {
  size_t size = 16;
  while (size < entries.size() * 2) size *= 2;
  slots_.assign(size, Slot{});
  mask_ = size - 1;
  for (const auto& [key, merge] : entries) {
    size_t i = mix(key) & mask_;
    while (slots_[i].key != kEmpty && slots_[i].key != key) i = (i + 1) & mask_;
    // A repeated pair keeps its last rank, as the reference implementation's map does.
    slots_[i] = Slot{key, merge};
  }
}

std::optional<int32_t> BpeModel::token_id(std::string_view token) const {
  const auto it = vocab_.find(token);
  if (it == vocab_.end()) return std::nullopt;
  return it->second;
}

void BpeModel::add_symbols(std::string_view word, bool byte_level, BpeScratch& scratch) const {
  auto& syms = scratch.symbols;
  syms.clear();
  // Characters missing from the vocab become the unk token (fused if asked) or are dropped
  // when there is none, as in the reference implementation.
  bool pending_unk = false;
  auto push = [&](int32_t id) {
    if (id < 0) {
      if (unk_id_ < 0) return;
      if (pending_unk && fuse_unk_) return;
      syms.push_back({unk_id_, 0, 0, true});
      pending_unk = true;
      return;
    }
    pending_unk = false;
    syms.push_back({id, 0, 0, true});
  };
  if (byte_level) {
    for (char c : word) push(byte_ids_[static_cast<uint8_t>(c)]);
  } else {
    size_t i = 0;
    while (i < word.size()) {
      const size_t len = utf8::next_sequence(word, i).length;
      push(token_id(word.substr(i, len)).value_or(-1));
      i += len;
    }
  }
  const auto n = static_cast<int32_t>(syms.size());
  for (int32_t i = 0; i < n; ++i) {
    syms[i].prev = i - 1;
    syms[i].next = i + 1 < n ? i + 1 : -1;
  }
}

void BpeModel::encode_word(std::string_view word, bool byte_level, BpeScratch& scratch,
                           std::vector<int32_t>& out) const {
  if (ignore_merges_) {
    std::string_view spelled = word;
    if (byte_level) {
      scratch.mapped = byte_level::encode(word);
      spelled = scratch.mapped;
    }
    if (const auto id = token_id(spelled)) {
      out.push_back(*id);
      return;
    }
  }
  add_symbols(word, byte_level, scratch);
  auto& syms = scratch.symbols;
  auto& heap = scratch.heap;
  heap.clear();
  // Lowest rank first, then leftmost position.
  const auto later = [](const BpeScratch::Candidate& x, const BpeScratch::Candidate& y) {
    return x.rank != y.rank ? x.rank > y.rank : x.pos > y.pos;
  };
  auto offer = [&](int32_t pos) {
    const int32_t next = syms[pos].next;
    if (next < 0) return;
    if (const Merge* m = find_merge(syms[pos].id, syms[next].id)) {
      heap.push_back({m->rank, pos, m->new_id});
      std::push_heap(heap.begin(), heap.end(), later);
    }
  };
  for (int32_t i = 0; i + 1 < static_cast<int32_t>(syms.size()); ++i) offer(i);
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), later);
    const BpeScratch::Candidate top = heap.back();
    heap.pop_back();
    BpeScratch::Symbol& left = syms[top.pos];
    if (!left.alive || left.next < 0) continue;
    // Skip entries made stale by an earlier merge of one of the two symbols.
    const Merge* m = find_merge(left.id, syms[left.next].id);
    if (!m || m->new_id != top.new_id) continue;
    BpeScratch::Symbol& right = syms[left.next];
    left.id = top.new_id;
    right.alive = false;
    left.next = right.next;
    if (right.next >= 0) syms[right.next].prev = top.pos;
    if (left.prev >= 0) offer(left.prev);
    offer(top.pos);
  }
  for (const auto& s : syms) {
    if (s.alive) out.push_back(s.id);
  }
}

}  // namespace smol
