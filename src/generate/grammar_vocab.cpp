// A trie over the vocabulary's byte strings, in preorder, for the grammar matcher's masks.
#include "generate/grammar_vocab.hpp"

#include <algorithm>
#include <numeric>

#include "smol/error.hpp"
#include "smol/tokenizer.hpp"

namespace smol {

void GrammarVocab::Impl::build(std::vector<std::string> token_bytes, size_t logits_size) {
  bytes = std::move(token_bytes);
  size = std::max(logits_size, bytes.size());
  bytes.resize(size);
  std::vector<uint32_t> order;
  for (uint32_t id = 0; id < bytes.size(); ++id) {
    if (!bytes[id].empty()) order.push_back(id);
  }
  std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return bytes[a] < bytes[b] || (bytes[a] == bytes[b] && a < b); });
  nodes.clear();
  nodes.push_back({0, kNoToken, 0, 0});
  std::vector<uint32_t> path{0};  // path[d]: the node at depth d of the current string
  const std::string* prev = nullptr;
  for (uint32_t id : order) {
    const std::string& s = bytes[id];
    if (s.size() > 0xFFFF) throw Error("grammar: a token longer than 65535 bytes");
    if (prev && *prev == s) {
      aliases.push_back({id, nodes[path.back()].token});
      continue;
    }
    size_t common = 0;
    if (prev) {
      while (common < prev->size() && common < s.size() && (*prev)[common] == s[common]) ++common;
    }
    while (path.size() > common + 1) {
      nodes[path.back()].subtree_end = static_cast<uint32_t>(nodes.size());
      path.pop_back();
    }
    for (size_t d = common; d < s.size(); ++d) {
      path.push_back(static_cast<uint32_t>(nodes.size()));
      nodes.push_back({0, kNoToken, static_cast<uint16_t>(d + 1), static_cast<uint8_t>(s[d])});
    }
    nodes[path.back()].token = id;
    max_depth = std::max<uint16_t>(max_depth, static_cast<uint16_t>(s.size()));
    prev = &s;
  }
  while (!path.empty()) {
    nodes[path.back()].subtree_end = static_cast<uint32_t>(nodes.size());
    path.pop_back();
  }
}

GrammarVocab::GrammarVocab(const Tokenizer& tokenizer, size_t logits_size) : impl_(std::make_unique<Impl>()) {
  std::vector<std::string> tokens(tokenizer.vocab_size());
  for (size_t id = 0; id < tokens.size(); ++id) {
    const auto t = static_cast<int32_t>(id);
    if (tokenizer.is_special(t)) continue;
    try {
      tokens[id] = tokenizer.token_bytes(t);
    } catch (const Error&) {  // an id no token has
    }
  }
  impl_->build(std::move(tokens), logits_size);
}

GrammarVocab::GrammarVocab(const std::vector<std::string>& tokens) : impl_(std::make_unique<Impl>()) {
  impl_->build(tokens, tokens.size());
}

GrammarVocab::~GrammarVocab() = default;

size_t GrammarVocab::size() const { return impl_->size; }

}  // namespace smol
