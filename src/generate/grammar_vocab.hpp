#pragma once
// The vocabulary trie the matcher walks (grammar_vocab.cpp builds it).
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "smol/grammar.hpp"

namespace smol {

struct GrammarVocab::Impl {
  static constexpr uint32_t kNoToken = 0xFFFFFFFF;
  // Trie nodes in preorder (node 0 is the root, the empty string): a node's subtree is
  // [its index, subtree_end), so a walk skips a rejected subtree with one assignment.
  struct Node {
    uint32_t subtree_end;
    uint32_t token;  // the token spelled by the path to this node, or kNoToken
    uint16_t depth;
    uint8_t byte;
  };
  std::vector<Node> nodes;
  std::vector<std::string> bytes;  // per token id; empty: never allowed (special, unknown)
  std::vector<std::pair<uint32_t, uint32_t>> aliases;  // (token, token in the trie with the same bytes)
  size_t size = 0;       // the logits row length
  uint16_t max_depth = 0;

  void build(std::vector<std::string> token_bytes, size_t logits_size);
};

}  // namespace smol
