// The grammar as a lazily built automaton over bytes. A state is a set of grammar stacks
// (llama.cpp's representation: each stack is the terminal to match next and the positions to
// return to) plus the bytes of a UTF-8 character seen so far, which all stacks share. Stacks
// are hash-consed linked frames, states are interned, and every (state, byte) transition and
// every state's token mask is computed once.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <unordered_map>
#include <unordered_set>

#include "generate/grammar_internal.hpp"
#include "generate/grammar_vocab.hpp"
#include "smol/error.hpp"

namespace smol {

namespace {

constexpr int32_t kDead = -1;
constexpr int32_t kUnknown = -2;
constexpr uint32_t kInf = std::numeric_limits<uint32_t>::max() / 4;
constexpr size_t kMaxFrames = size_t{1} << 26;
constexpr size_t kMaxExpandWork = 1'000'000;
constexpr size_t kCacheBudgetBytes = size_t{512} << 20;

uint32_t utf8_lead_length(uint8_t b) {
  if (b >= 0xC2 && b <= 0xDF) return 2;
  if (b >= 0xE0 && b <= 0xEF) return 3;
  if (b >= 0xF0 && b <= 0xF4) return 4;
  return 0;
}

}  // namespace

struct GrammarMatcher::Automaton {
  struct Frame {
    uint32_t pos;
    uint32_t parent;
    uint32_t dist;  // fewest bytes from this position (and its parents) to the end
  };
  struct State {
    std::vector<uint32_t> stacks;  // sorted frame ids; 0 is the empty stack (accept)
    uint32_t partial = 0;          // PartialUtf8, 0: between characters
    uint32_t dist = kInf;
    bool can_end = false;
    bool finished = false;
    std::unique_ptr<int32_t[]> next;  // 256 transitions, kUnknown until computed
    std::vector<uint64_t> mask;       // allowed tokens (end ids excluded), once computed
    uint32_t mask_max_dist = 0;       // the largest dist an allowed token leads to
  };

  Automaton(const Grammar& grammar, std::shared_ptr<const GrammarVocab> v)
      : keep(grammar), g(grammar.impl()), vocab(std::move(v)), trie(vocab->impl()) {
    frames.push_back({0, 0, 0});
    std::vector<uint32_t> start;
    for (uint32_t alt : g.alternatives[g.root]) expand(alt, 0, start);
    initial = intern(std::move(start), 0);
    if (initial == kDead) throw Error("grammar: the root rule matches nothing");
  }

  uint32_t frame(uint32_t pos, uint32_t parent) {
    const uint64_t key = (uint64_t{pos} << 32) | parent;
    auto [it, added] = frame_ids.emplace(key, static_cast<uint32_t>(frames.size()));
    if (added) {
      if (frames.size() >= kMaxFrames) {
        throw Error("grammar: the matcher's stacks grew past 67 million frames (does the grammar nest without end?)");
      }
      frames.push_back({pos, parent, std::min(kInf, g.suffix_min[pos] + frames[parent].dist)});
    }
    return it->second;
  }

  // Every stack reachable from position `pos` (with `parent` to return to) whose top is a
  // terminal, or the empty stack when the root can end. Tail references push nothing.
  void expand(uint32_t pos0, uint32_t parent0, std::vector<uint32_t>& out) {
    work.clear();
    seen.clear();
    work.push_back({pos0, parent0});
    size_t steps = 0;
    while (!work.empty()) {
      auto [pos, parent] = work.back();
      work.pop_back();
      if (!seen.insert((uint64_t{pos} << 32) | parent).second) continue;
      if (++steps > kMaxExpandWork) throw Error("grammar: expanding a position never ends (left recursion?)");
      const GrammarElem& e = g.elems[pos];
      switch (e.kind) {
        case GrammarElem::End:
        case GrammarElem::Alt:
          if (parent == 0) {
            out.push_back(0);
          } else {
            work.push_back({frames[parent].pos, frames[parent].parent});
          }
          break;
        case GrammarElem::RuleRef: {
          const GrammarElem& after = g.elems[pos + 1];
          const bool tail = after.kind == GrammarElem::End || after.kind == GrammarElem::Alt;
          const uint32_t ret = tail ? parent : frame(pos + 1, parent);
          for (uint32_t alt : g.alternatives[e.value]) work.push_back({alt, ret});
          break;
        }
        case GrammarElem::Char:
          if (g.classes[e.value].min_bytes != 0xFF) out.push_back(frame(pos, parent));
          break;
      }
    }
  }

  int32_t intern(std::vector<uint32_t> stacks, uint32_t partial) {
    if (stacks.empty()) return kDead;
    std::sort(stacks.begin(), stacks.end());
    stacks.erase(std::unique(stacks.begin(), stacks.end()), stacks.end());
    std::string key(reinterpret_cast<const char*>(&partial), sizeof partial);
    key.append(reinterpret_cast<const char*>(stacks.data()), stacks.size() * sizeof(uint32_t));
    auto [it, added] = state_ids.emplace(std::move(key), static_cast<int32_t>(states.size()));
    if (!added) return it->second;
    State st;
    st.partial = partial;
    uint32_t rem = 0;
    if (partial) rem = PartialUtf8::n(partial) - PartialUtf8::k(partial);
    for (uint32_t s : stacks) {
      const Frame& f = frames[s];
      uint32_t d = f.dist;
      if (partial) d = std::min(kInf, rem + g.suffix_min[f.pos + 1] + frames[f.parent].dist);
      st.dist = std::min(st.dist, d);
    }
    st.can_end = partial == 0 && stacks.front() == 0;
    st.finished = st.can_end && stacks.size() == 1;
    st.stacks = std::move(stacks);
    states.push_back(std::move(st));
    return it->second;
  }

  int32_t advance(const std::vector<uint32_t>& stacks, uint32_t cp) {
    std::vector<uint32_t> out;
    for (uint32_t s : stacks) {
      if (s == 0) continue;
      const Frame f = frames[s];
      if (g.classes[g.elems[f.pos].value].contains(cp)) expand(f.pos + 1, f.parent, out);
    }
    return intern(std::move(out), 0);
  }

  int32_t filter(const std::vector<uint32_t>& stacks, uint32_t partial) {
    const auto [lo, hi] = PartialUtf8::range(partial);
    std::vector<uint32_t> out;
    for (uint32_t s : stacks) {
      if (s != 0 && g.classes[g.elems[frames[s].pos].value].intersects(lo, hi)) out.push_back(s);
    }
    return intern(std::move(out), partial);
  }

  int32_t compute_step(int32_t s, uint8_t b) {
    const std::vector<uint32_t> stacks = states[s].stacks;  // states may grow below
    const uint32_t partial = states[s].partial;
    if (partial == 0) {
      if (b < 0x80) return advance(stacks, b);
      const uint32_t n = utf8_lead_length(b);
      if (n == 0) return kDead;
      return filter(stacks, PartialUtf8::pack(n, 1, b & (0x7Fu >> n)));
    }
    if ((b & 0xC0) != 0x80) return kDead;
    const uint32_t n = PartialUtf8::n(partial), k = PartialUtf8::k(partial) + 1;
    const uint32_t value = (PartialUtf8::value(partial) << 6) | (b & 0x3F);
    if (k < n) return filter(stacks, PartialUtf8::pack(n, k, value));
    const auto [lo, hi] = PartialUtf8::range(PartialUtf8::pack(n, n - 1, PartialUtf8::value(partial)));
    if (value < lo || value > hi || (value >= 0xD800 && value <= 0xDFFF)) return kDead;
    return advance(stacks, value);
  }

  int32_t step(int32_t s, uint8_t b) {
    if (!states[s].next) {
      states[s].next = std::make_unique<int32_t[]>(256);
      std::fill_n(states[s].next.get(), 256, kUnknown);
      cache_bytes += 256 * sizeof(int32_t);
    }
    int32_t t = states[s].next[b];
    if (t == kUnknown) {
      t = compute_step(s, b);
      states[s].next[b] = t;
    }
    return t;
  }

  int32_t walk(int32_t s, std::string_view bytes) {
    for (char c : bytes) {
      s = step(s, static_cast<uint8_t>(c));
      if (s == kDead) return kDead;
    }
    return s;
  }

  struct MaskStats {
    size_t count = 0;           // tokens within the limit
    uint32_t max_dist = 0;      // the largest dist among them
    uint32_t min_dist = kInf;   // the smallest dist any valid token leads to
  };

  // Allowed tokens from state s whose resulting dist is at most `limit`.
  MaskStats compute_mask(int32_t s, uint32_t limit, std::vector<uint64_t>& bits) {
    using Node = GrammarVocab::Impl::Node;
    bits.assign((trie.size + 63) / 64, 0);
    at_depth.resize(trie.max_depth + 1u);
    at_depth[0] = s;
    MaskStats stats;
    const Node* nodes = trie.nodes.data();
    const size_t n = trie.nodes.size();
    for (size_t i = 1; i < n;) {
      const Node& node = nodes[i];
      const int32_t t = step(at_depth[node.depth - 1], node.byte);
      if (t == kDead) {
        i = node.subtree_end;
        continue;
      }
      at_depth[node.depth] = t;
      if (node.token != GrammarVocab::Impl::kNoToken) {
        const uint32_t d = states[t].dist;
        stats.min_dist = std::min(stats.min_dist, d);
        if (d <= limit) {
          bits[node.token / 64] |= uint64_t{1} << (node.token % 64);
          stats.max_dist = std::max(stats.max_dist, d);
          ++stats.count;
        }
      }
      ++i;
    }
    for (auto [token, same] : trie.aliases) {
      if ((bits[same / 64] >> (same % 64)) & 1) bits[token / 64] |= uint64_t{1} << (token % 64);
    }
    return stats;
  }

  const std::vector<uint64_t>& mask_of(int32_t s) {
    if (states[s].mask.empty()) {
      std::vector<uint64_t> bits;
      const uint32_t max_dist = compute_mask(s, kInf, bits).max_dist;
      cache_bytes += bits.size() * sizeof(uint64_t);
      states[s].mask = std::move(bits);
      states[s].mask_max_dist = max_dist;
    }
    return states[s].mask;
  }

  // Frees the memoized transitions and masks when they grow past the budget; states and
  // frames stay valid.
  void trim() {
    if (cache_bytes < kCacheBudgetBytes) return;
    for (State& st : states) {
      st.next.reset();
      st.mask = {};
    }
    cache_bytes = 0;
  }

  Grammar keep;  // owns the rules `g` points into
  const Grammar::Impl& g;
  std::shared_ptr<const GrammarVocab> vocab;
  const GrammarVocab::Impl& trie;
  std::vector<Frame> frames;
  std::unordered_map<uint64_t, uint32_t> frame_ids;
  std::vector<State> states;
  std::unordered_map<std::string, int32_t> state_ids;
  int32_t initial = 0;
  size_t cache_bytes = 0;
  // Scratch.
  std::vector<std::pair<uint32_t, uint32_t>> work;
  std::unordered_set<uint64_t> seen;
  std::vector<int32_t> at_depth;
  std::vector<uint64_t> filtered;
};

GrammarMatcher::GrammarMatcher(const Grammar& grammar, std::shared_ptr<const GrammarVocab> vocab,
                               std::vector<int32_t> end_ids)
    : automaton_(std::make_shared<Automaton>(grammar, std::move(vocab))), end_ids_(std::move(end_ids)) {
  state_ = automaton_->initial;
}

GrammarMatcher::~GrammarMatcher() = default;
GrammarMatcher::GrammarMatcher(const GrammarMatcher&) = default;
GrammarMatcher& GrammarMatcher::operator=(const GrammarMatcher&) = default;

bool GrammarMatcher::allows(int32_t token) {
  Automaton& a = *automaton_;
  if (std::find(end_ids_.begin(), end_ids_.end(), token) != end_ids_.end()) return can_end();
  if (token < 0 || static_cast<size_t>(token) >= a.trie.bytes.size()) return false;
  const std::string& bytes = a.trie.bytes[static_cast<size_t>(token)];
  if (bytes.empty()) return false;
  a.trim();
  const int32_t t = a.walk(state_, bytes);
  if (t == kDead) return false;
  return remaining_ == INT64_MAX || static_cast<int64_t>(a.states[t].dist) <= remaining_ - 1;
}

void GrammarMatcher::mask(std::span<float> logits) {
  Automaton& a = *automaton_;
  a.trim();
  a.mask_of(state_);
  bool use_filtered = false;
  if (remaining_ != INT64_MAX && static_cast<int64_t>(a.states[state_].mask_max_dist) > remaining_ - 1) {
    // Near the token limit: only tokens after which the rest still fits (in bytes, which
    // single-byte tokens can always spell). If none does (the limit was too small from the
    // start), the tokens that get closest to the end, so the text ends as soon as it can.
    const auto limit = static_cast<uint32_t>(std::max<int64_t>(0, remaining_ - 1));
    const auto stats = a.compute_mask(state_, limit, a.filtered);
    if (stats.count == 0 && !can_end() && stats.min_dist < kInf) a.compute_mask(state_, stats.min_dist, a.filtered);
    use_filtered = stats.count > 0 || can_end() || stats.min_dist < kInf;
  }
  const std::vector<uint64_t>* bits = use_filtered ? &a.filtered : &a.states[state_].mask;
  const float ninf = -std::numeric_limits<float>::infinity();
  const size_t n = logits.size();
  // End ids are special tokens, never in the trie: keep their logits where the text may end.
  std::vector<std::pair<size_t, float>> ends;
  if (can_end()) {
    for (int32_t id : end_ids_) {
      if (id >= 0 && static_cast<size_t>(id) < n) ends.push_back({static_cast<size_t>(id), logits[static_cast<size_t>(id)]});
    }
  }
  const size_t words = std::min(bits->size(), (n + 63) / 64);
  for (size_t w = 0; w < words; ++w) {
    const uint64_t word = (*bits)[w];
    if (word == ~uint64_t{0}) continue;
    const size_t end = std::min(n, w * 64 + 64);
    for (size_t i = w * 64; i < end; ++i) {
      if (!((word >> (i % 64)) & 1)) logits[i] = ninf;
    }
  }
  for (size_t i = words * 64; i < n; ++i) logits[i] = ninf;
  for (auto [id, value] : ends) logits[id] = value;
}

void GrammarMatcher::accept(int32_t token) {
  Automaton& a = *automaton_;
  if (std::find(end_ids_.begin(), end_ids_.end(), token) != end_ids_.end()) {
    if (!can_end()) throw Error(fmt::format("grammar: the end token {} came before the grammar was complete", token));
    return;
  }
  const std::string* bytes =
      token >= 0 && static_cast<size_t>(token) < a.trie.bytes.size() ? &a.trie.bytes[static_cast<size_t>(token)] : nullptr;
  const int32_t t = bytes && !bytes->empty() ? a.walk(state_, *bytes) : kDead;
  if (t == kDead) throw Error(fmt::format("grammar: token {} does not continue the grammar", token));
  state_ = t;
}

bool GrammarMatcher::accept_bytes(std::string_view bytes) {
  const int32_t t = automaton_->walk(state_, bytes);
  if (t == kDead) return false;
  state_ = t;
  return true;
}

bool GrammarMatcher::can_end() const { return automaton_->states[state_].can_end; }

bool GrammarMatcher::finished() const { return automaton_->states[state_].finished; }

int64_t GrammarMatcher::bytes_to_end() const { return automaton_->states[state_].dist; }

std::vector<bool> GrammarMatcher::allowed_tokens() {
  Automaton& a = *automaton_;
  a.trim();
  const std::vector<uint64_t>& bits = a.mask_of(state_);
  std::vector<bool> out(a.trie.size);
  for (size_t i = 0; i < out.size(); ++i) out[i] = (bits[i / 64] >> (i % 64)) & 1;
  if (can_end()) {
    for (int32_t id : end_ids_) {
      if (id >= 0 && static_cast<size_t>(id) < out.size()) out[static_cast<size_t>(id)] = true;
    }
  }
  return out;
}

}  // namespace smol
